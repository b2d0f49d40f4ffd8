#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The benchmark image: every 512-byte block holds 64 little-endian words,
word i of block lba = lba << 32 | seed << 16 | i (bench_main.c, block_word).

  image.py create PATH MIB     every block with the read seed (0x5a5a)
  image.py check PATH LBA COUNT SEED
                               the blocks the guest wrote carry its write seed
"""
import struct
import sys

READ_SEED = 0x5A5A
BLOCK = 512


def block(lba, seed):
    low = struct.pack("<64I", *[(seed & 0xFFFF) << 16 | i for i in range(64)])
    out = bytearray(BLOCK)
    out[0::8] = low[0::4]
    out[1::8] = low[1::4]
    out[2::8] = low[2::4]
    out[3::8] = low[3::4]
    hi = struct.pack("<I", lba)
    for k in range(4):
        out[4 + k::8] = bytes([hi[k]]) * 64
    return bytes(out)


def create(path, mib):
    blocks = mib * 2048
    with open(path, "wb") as f:
        for start in range(0, blocks, 2048):
            f.write(b"".join(block(lba, READ_SEED) for lba in range(start, start + 2048)))


def check(path, lba, count, seed):
    bad = 0
    with open(path, "rb") as f:
        f.seek(lba * BLOCK)
        for n in range(lba, lba + count):
            if f.read(BLOCK) != block(n, seed):
                if bad < 5:
                    print(f"image: block {n} does not hold the write pattern (seed {seed:#x})", file=sys.stderr)
                bad += 1
    if bad:
        print(f"image: {bad} of {count} written blocks wrong", file=sys.stderr)
    return bad == 0


def main(argv):
    if len(argv) == 4 and argv[1] == "create":
        create(argv[2], int(argv[3]))
        return 0
    if len(argv) == 6 and argv[1] == "check":
        return 0 if check(argv[2], int(argv[3]), int(argv[4]), int(argv[5], 0)) else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
