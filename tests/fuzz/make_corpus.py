#!/usr/bin/env python3
"""Writes the seed corpus of a fuzz target (tests/fuzz/corpus/TARGET/).

xhci: each seed is a guest session in the encoding fuzz_xhci.c documents: a
setup byte, then operations. The seeds walk the paths the fuzzer should
start from (init, commands, enumeration, control and bulk transfers, BOT
commands, hot-plug, MSI-X and moderation), so mutations begin deep in the
controller. The other targets' seeds come from corpus_decoders.py: a valid
message of each type, the shipped policy, real descriptor sets.
The bug-* files beside them are fuzzer findings kept as reproducers, not
written by this script.

Usage: make_corpus.py OUTDIR           (the xhci seeds)
       make_corpus.py TARGET OUTDIR    (control, broker, device, policy, descriptors)
"""
import os
import struct
import sys

# Setup flags.
INIT, SS_DISK, HS_DISK, BRING_UP, MSIX, MODERATE = 1, 2, 4, 8, 16, 32

# Opcodes, in fuzz_xhci.c's enum order.
(BAR_WRITE, BAR_READ, CFG_WRITE, CFG_READ, MEM_WRITE, DOORBELL, DOORBELL_FD, TURNS, TIMERS,
 EVENTS, COMMAND, CONTEXT, TRANSFER, CONTROL, BOT, HOTPLUG, PORT, DRAIN) = range(18)

# TRB types and bits.
NORMAL, SETUP, DATA, STATUS, LINK, NOOP = 1, 2, 3, 4, 6, 8
ENABLE_SLOT, DISABLE_SLOT, ADDRESS, CONFIGURE, EVALUATE = 9, 10, 11, 12, 13
RESET_EP, STOP_EP, SET_TR_DEQ, RESET_DEVICE, CMD_NOOP = 14, 15, 16, 17, 23
IOC, ISP, CH, IDT = 1 << 5, 1 << 2, 1 << 4, 1 << 6


def trb_type(t):
    return t << 10


class Seed:
    def __init__(self, flags):
        self.b = bytearray([flags])

    def op(self, code, fmt="", *vals):
        self.b += bytes([code]) + struct.pack("<" + fmt, *vals)
        return self

    def turns(self, n=1):
        return self.op(TURNS, "B", n - 1)

    def command(self, control, param=0, status=0):
        return self.op(COMMAND, "QII", param, status, control)

    def context(self, sel, slot, add, drop=0, port=9, speed=4, ep_type=0, mps=512):
        return self.op(CONTEXT, "BBIIBBBH", sel, slot, add, drop, port, speed, ep_type, mps)

    def transfer(self, slot, dci, flags, param, status, control):
        return self.op(TRANSFER, "BBBIII", slot, dci, flags, param, status, control)

    def control(self, slot, rtype, req, value, index, length, no_data=False):
        setup = rtype | req << 8 | value << 16 | index << 32 | length << 48
        return self.op(CONTROL, "BQB", slot, setup, 1 if no_data else 0)

    def bot(self, slot, cdb, host_len, data_in, chunk=0x10000):
        flags = (1 if data_in else 0) | ((len(cdb) - 1) & 0xF) << 1
        cdb = bytes(cdb) + bytes(16 - len(cdb))
        self.op(BOT, "BB", slot, flags)
        return self._raw(cdb + struct.pack("<I", host_len)[:3] + struct.pack("<H", chunk & 0xFFFF))

    def _raw(self, data):
        self.b += data
        return self


def read10(lba, blocks):
    return [0x28, 0, *struct.pack(">I", lba), 0, *struct.pack(">H", blocks), 0]


def write10(lba, blocks):
    return [0x2A, 0, *struct.pack(">I", lba), 0, *struct.pack(">H", blocks), 0]


def seeds():
    s = {}
    # Init, No-Ops, an unknown command, HCRST and init again by hand.
    s["init-noop"] = (Seed(INIT).command(trb_type(CMD_NOOP)).command(trb_type(CMD_NOOP))
                      .command(trb_type(1)).op(EVENTS).op(BAR_READ, "IB", 0x58, 3))
    # Enumeration by ops: port reset, Enable Slot, Address Device, GET_DESCRIPTOR, SET_CONFIGURATION.
    s["enumerate-ss"] = (Seed(INIT | SS_DISK)
                         .op(PORT, "BI", 8, (1 << 9) | (1 << 31))
                         .command(trb_type(ENABLE_SLOT))
                         .context(0, 1, 3, port=9, speed=4, mps=512)
                         .control(1, 0x80, 6, 0x100, 0, 18).turns(2)
                         .control(1, 0x80, 6, 0x200, 0, 64).turns(2)
                         .control(1, 0x80, 6, 0xF00, 0, 64).turns(2)
                         .control(1, 0x80, 6, 0x303, 0x409, 64).turns(2)
                         .control(1, 0x00, 9, 1, 0, 0, True).turns(2)
                         .context(1, 1, 1 | 8 | 16, mps=1024).op(EVENTS))
    s["enumerate-hs"] = (Seed(INIT | HS_DISK)
                         .op(PORT, "BI", 0, (1 << 9) | (1 << 4))
                         .command(trb_type(ENABLE_SLOT))
                         .context(4, 1, 3, port=1, speed=3, mps=64)
                         .context(0, 1, 3, port=1, speed=3, mps=64)
                         .context(2, 1, 2, mps=64)
                         .control(1, 0x80, 6, 0x300, 0, 255).turns(3)
                         .control(1, 0x80, 6, 0x600, 0, 10).control(1, 0x80, 6, 0x700, 0, 64)
                         .turns(3).op(EVENTS))
    # BOT commands on a configured device: INQUIRY, READ CAPACITY, READ(10), WRITE(10).
    s["bot-read-write"] = (Seed(BRING_UP)
                           .bot(1, [0x12, 0, 0, 0, 36, 0], 36, True).turns(3)
                           .bot(1, [0x25] + [0] * 9, 8, True).turns(3)
                           .bot(1, read10(0, 128), 0x10000, True).turns(4).op(EVENTS)
                           .bot(1, write10(8, 16), 0x2000, False, 0x1000).turns(4)
                           .bot(1, read10(8, 16), 0x2000, True, 0x800).turns(4).op(EVENTS))
    s["bot-sense-mode"] = (Seed(BRING_UP)
                           .bot(1, [0x00] * 6, 0, False).turns(3)
                           .bot(1, [0x03, 0, 0, 0, 18, 0], 18, True).turns(3)
                           .bot(1, [0x1A, 0, 0x3F, 0, 192, 0], 192, True).turns(3)
                           .bot(1, [0x28, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 8, 0], 4096, True)
                           .turns(3).op(EVENTS))
    # The rest of the SCSI command set the disk knows.
    s["bot-commands"] = (Seed(BRING_UP)
                         .bot(1, [0x1E, 0, 0, 0, 1, 0], 0, False)
                         .bot(1, [0x1B, 0, 0, 0, 2, 0], 0, False)
                         .bot(1, [0x1E, 0, 0, 0, 0, 0], 0, False)
                         .bot(1, [0x1B, 0, 0, 0, 2, 0], 0, False)
                         .bot(1, [0x25] + [0] * 9, 0, False)
                         .bot(1, [0x1B, 0, 0, 0, 3, 0], 0, False).turns(4).op(EVENTS)
                         .bot(1, [0x2F, 0, 0, 0, 0, 0, 0, 0, 8, 0], 0, False)
                         .bot(1, [0x9E, 0x10] + [0] * 8 + [0, 0, 0, 32, 0, 0], 32, True)
                         .bot(1, [0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0], 16, True).turns(4).op(EVENTS)
                         .bot(1, [0x35] + [0] * 9, 0, False)
                         .bot(1, [0x5A, 0, 0x3F, 0, 0, 0, 0, 0, 192, 0], 192, True)
                         .bot(1, [0x23, 0, 0, 0, 0, 0, 0, 0, 12, 0], 12, True).turns(4).op(EVENTS)
                         .bot(1, [0x12, 1, 0xB0, 0, 64, 0], 64, True)
                         .bot(1, [0x12, 1, 0x83, 0, 64, 0], 64, True)
                         .bot(1, [0x08, 0, 0, 4, 2, 0], 1024, True).turns(4).op(EVENTS)
                         .bot(1, [0x8A, 0] + [0] * 7 + [2, 0, 0, 0, 1, 0, 0], 512, False)
                         .bot(1, [0x88, 0] + [0] * 7 + [2, 0, 0, 0, 1, 0, 0], 512, True)
                         .turns(4).op(EVENTS))
    # An invalid CBW stalls both pipes until Reset Recovery (class reset, CLEAR_FEATURE(HALT)).
    s["bot-reset-recovery"] = (Seed(BRING_UP)
                               .transfer(1, 4, 1 | 4, 0x5000, 31, trb_type(NORMAL) | IOC).turns(2)
                               .transfer(1, 3, 1 | 4, 0x6000, 13, trb_type(NORMAL) | IOC).turns(2)
                               .op(EVENTS)
                               .command(trb_type(RESET_EP) | 3 << 16 | 1 << 24)
                               .control(1, 0x21, 0xFF, 0, 0, 0, True).turns(2)
                               .control(1, 0x02, 1, 0, 0x81, 0, True).turns(2)
                               .control(1, 0x02, 1, 0, 0x02, 0, True).turns(2)
                               .bot(1, [0x12, 0, 0, 0, 36, 0], 36, True).turns(4).op(EVENTS))
    # Stop Endpoint with TDs held, Reset Endpoint, Set TR Dequeue.
    s["stop-reset-ep"] = (Seed(BRING_UP)
                          .transfer(1, 3, 1 | 4, 0, 512, trb_type(NORMAL) | IOC)
                          .command(trb_type(STOP_EP) | 3 << 16 | 1 << 24).turns(2)
                          .command(trb_type(SET_TR_DEQ) | 3 << 16 | 1 << 24, 0x108000 + 1024 * 2 | 1)
                          .transfer(1, 1, 4, 0, 0, trb_type(7) | IOC)
                          .command(trb_type(RESET_EP) | 1 << 16 | 1 << 24)
                          .command(trb_type(RESET_DEVICE) | 1 << 24)
                          .command(trb_type(DISABLE_SLOT) | 1 << 24).op(EVENTS))
    # MSI-X, moderation, timers, masking through the table and PBA reads.
    s["msix-imod"] = (Seed(INIT | MSIX | MODERATE)
                      .command(trb_type(CMD_NOOP)).command(trb_type(CMD_NOOP)).op(TIMERS)
                      .op(BAR_WRITE, "IBQ", 0x400C, 2, 1).command(trb_type(CMD_NOOP))
                      .op(BAR_READ, "IB", 0x5000, 2).op(BAR_WRITE, "IBQ", 0x400C, 2, 0)
                      .op(CFG_WRITE, "HBI", 0x72, 1, 0xC003).op(CFG_READ, "HB", 0x70, 2)
                      .op(EVENTS).op(TIMERS).op(DRAIN))
    # Hot-plug while enumerated, doorbells through the eventfd path.
    s["hotplug"] = (Seed(BRING_UP | HS_DISK)
                    .op(DOORBELL_FD, "B", 1).op(HOTPLUG, "B", 0).turns(2).op(HOTPLUG, "B", 0)
                    .op(HOTPLUG, "B", 2).op(HOTPLUG, "B", 3).op(EVENTS).op(DOORBELL_FD, "B", 0))
    # Raw memory and registers: a second event ring segment, ERDP games.
    s["raw-erst"] = (Seed(INIT)
                     .op(MEM_WRITE, "IB", 0x410, 16)._raw(struct.pack("<QII", 0x150000, 16, 0))
                     .op(BAR_WRITE, "IBQ", 0x2028, 2, 2).op(BAR_WRITE, "IBQ", 0x2030, 3, 0x100400)
                     .command(trb_type(CMD_NOOP)).op(BAR_WRITE, "IBQ", 0x2038, 3, 0x150000 | 8)
                     .op(DOORBELL, "BI", 0, 0).op(EVENTS))
    return s


def main():
    if len(sys.argv) == 3:
        import corpus_decoders
        target, out = sys.argv[1], sys.argv[2]
        found = corpus_decoders.seeds(target)
    else:
        out = sys.argv[1]
        found = {name: seed.b for name, seed in seeds().items()}
    os.makedirs(out, exist_ok=True)
    for name, data in found.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
