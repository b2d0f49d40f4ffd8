"""Seeds of the decoder fuzz targets, in the input encodings their harnesses
document (fuzz_control.c, fuzz_broker.c, fuzz_device.c, fuzz_policy.c,
fuzz_descriptors.c): one valid message of each type in each direction, the
shipped policy and rules using every condition, and real descriptor sets.
Messages are written without their trailing zero bytes (the harnesses pad a
message to its size), so each seed is small. Layouts follow
common/*_protocol.h (native order: x86-64, little endian).

Used by make_corpus.py TARGET OUTDIR.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def trim(b):
    return bytes(b).rstrip(b"\0") or b"\0"


# --- control protocol (common/control_protocol.h) --------------------------
C_ATTACH, C_DETACH, C_LIST, C_STOP = 1, 2, 3, 4
T_NODE, T_IMAGE, T_ID = 1, 2, 3


def control_request(ctype, port=0, target=0, flags=0, path=b""):
    return struct.pack("<HHIIIII", 1, ctype, port, target, flags, len(path), 0) + path


def control_reply(ctype, status=0, port=0, message=b"", ports=(), total=0):
    b = struct.pack("<HHIIIII", 1, ctype, status, port, len(ports), total, 0)
    b += message.ljust(256, b"\0")
    for (p, vendor, product, speed, kind, bus, dev) in ports:
        b += struct.pack("<IHHBBHBBH", p, vendor, product, speed, kind, 0, bus, dev, 0)
    return b


def control_seeds():
    req, rep = 0x00, 0x01
    fd = 1 << 2
    s = {
        "req-attach-node": bytes([req]) + control_request(C_ATTACH, target=T_NODE,
                                                          path=b"/dev/bus/usb/001/004"),
        "req-attach-image-ro": bytes([req | fd]) + control_request(C_ATTACH, target=T_IMAGE, flags=1,
                                                                   path=b"/var/lib/vm/disk.img"),
        "req-attach-id": bytes([req]) + control_request(C_ATTACH, target=T_ID,
                                                        path=b"0781:5581:4C530001"),
        "req-attach-port": bytes([req]) + control_request(C_ATTACH, target=T_ID, path=b"1-2.3"),
        "req-detach": bytes([req]) + control_request(C_DETACH, port=3),
        "req-list": bytes([req]) + control_request(C_LIST),
        "req-stop": bytes([req]) + control_request(C_STOP),
        "rep-attach-ok": bytes([rep | C_ATTACH << 4]) + control_reply(C_ATTACH, port=2),
        "rep-detach-error": bytes([rep | C_DETACH << 4]) + control_reply(
            C_DETACH, status=3, port=9, message=b"port 9 is empty"),
        "rep-list": bytes([rep | C_LIST << 4]) + control_reply(
            C_LIST, ports=[(1, 0x0781, 0x5581, 4, 1, 2, 5), (5, 0x1d6b, 0x0104, 3, 2, 0, 0)], total=8),
        "rep-stop": bytes([rep | C_STOP << 4]) + control_reply(C_STOP),
    }
    return {k: trim(v) for k, v in s.items()}


# --- broker protocol (common/broker_protocol.h) -----------------------------
B_OPEN, B_RELEASE = 1, 2


def broker_request(btype, rid, target=0, handle=0, path=b""):
    return struct.pack("<HHIIIII", 1, btype, rid, target, handle, len(path), 0) + path.ljust(4096, b"\0")


def broker_device(vendor, product, cls, speed, bus, dev, classes, serial=b"", port=b""):
    interfaces = 0
    cl = bytearray(32)
    for n, c in classes.items():
        interfaces |= 1 << n
        cl[n] = c
    return (struct.pack("<HHBBBBI", vendor, product, cls, speed, bus, dev, interfaces) + bytes(cl)
            + serial.ljust(256, b"\0") + port.ljust(32, b"\0"))


def broker_reply(btype, rid, status=0, handle=0, flags=0, allowed=0, device=None, reason=b""):
    device = device or broker_device(0, 0, 0, 0, 0, 0, {})
    return (struct.pack("<HHIIIII", 1, btype, rid, status, handle, flags, allowed) + device
            + reason.ljust(256, b"\0"))


def broker_seeds():
    req, rep = 0x00, 0x01

    def fds(n):
        return n << 2
    stick = broker_device(0x0781, 0x5581, 0, 4, 2, 5, {0: 0x08}, b"4C530001", b"2-1")
    composite = broker_device(0x046d, 0x0825, 0xef, 3, 1, 7, {0: 0x0e, 1: 0x0e, 2: 0x01, 3: 0x01},
                              b"", b"1-2.3")
    s = {
        "req-open-node": bytes([req]) + broker_request(B_OPEN, 1, 1, path=b"/dev/bus/usb/002/005"),
        "req-open-id": bytes([req]) + broker_request(B_OPEN, 2, 2, path=b"0781:5581:4C530001"),
        "req-open-port": bytes([req]) + broker_request(B_OPEN, 3, 2, path=b"1-2.3"),
        "req-release": bytes([req]) + broker_request(B_RELEASE, 4, handle=7),
        "rep-open-ok": bytes([rep | fds(1)]) + broker_reply(B_OPEN, 1, handle=7, flags=1, allowed=1,
                                                            device=stick),
        "rep-open-restricted": bytes([rep | fds(1)]) + broker_reply(
            B_OPEN, 9, handle=3, flags=3, allowed=0x3, device=composite),
        "rep-open-refused": bytes([rep]) + broker_reply(
            B_OPEN, 2, status=3, device=composite,
            reason=b"refused by /etc/svmm/usb.policy:3 (deny interface-class 03)"),
        "rep-release": bytes([rep | 0x20]) + broker_reply(B_RELEASE, 4, handle=7),
    }
    return {k: trim(v) for k, v in s.items()}


# --- device protocol (common/device_protocol.h) -----------------------------
(HELLO, MEM_REGION, CFG_READ, CFG_WRITE, BAR_READ, BAR_WRITE, DOORBELL_FD, IRQ_FD, USB_ATTACH,
 USB_DETACH, USB_PORT_INFO, SHUTDOWN, REPLY, MSIX_ROUTE, INTX_LEVEL, PORT_GONE, BAR_WRITE_POSTED,
 REG_MIRROR) = range(1, 19)


def devmsg(mtype, seq, payload=b""):
    return struct.pack("<HHI", 2, mtype, seq) + payload


def device_seeds():
    one_fd = 1 << 1
    s = {
        "hello": (0, devmsg(HELLO, 0, struct.pack("<II", 2, 0))),
        # The xHCI device's answer: its description (struct devproto_desc).
        "hello-desc": (0, devmsg(HELLO, 0, struct.pack("<IIIIHHHHHHIIIIII", 2, 0, 0x10000, 0x3000, 65, 4,
                                                       1, 4, 16, 4, 0x44, 0x2020, 32, 0, 0x10000, 3))),
        "mem-region": (one_fd, devmsg(MEM_REGION, 1, struct.pack("<QQQ", 0x100000, 0x4000000, 0x100000))),
        "cfg-read": (0, devmsg(CFG_READ, 2, struct.pack("<IIQ", 0x4, 2, 0))),
        "cfg-write": (0, devmsg(CFG_WRITE, 3, struct.pack("<IIQ", 0x10, 4, 0xfebf0000))),
        "bar-read": (0, devmsg(BAR_READ, 4, struct.pack("<IIQQ", 0, 4, 0x20, 0))),
        "bar-write": (0, devmsg(BAR_WRITE, 5, struct.pack("<IIQQ", 0, 8, 0x2038, 0x150008))),
        "bar-write-posted": (0, devmsg(BAR_WRITE_POSTED, 6, struct.pack("<IIQQ", 0, 4, 0x3000, 1))),
        "reg-mirror": (one_fd, devmsg(REG_MIRROR, 7, struct.pack("<II", 4096, 0))),
        "doorbell-value": (one_fd, devmsg(DOORBELL_FD, 8, struct.pack("<IIII", 1, 1, 3, 0))),
        "irq-vector": (one_fd, devmsg(IRQ_FD, 9, struct.pack("<II", 0, 0))),
        "irq-intx": (one_fd, devmsg(IRQ_FD, 10, struct.pack("<II", 0xffff, 0))),
        "attach-usbfs": (one_fd, devmsg(USB_ATTACH, 11, struct.pack("<IIIII", 1, 6, 2, 5, 0x3))),
        "attach-image": (one_fd, devmsg(USB_ATTACH, 12, struct.pack("<IIIII", 2, 1, 0, 0, 0))),
        "detach": (0, devmsg(USB_DETACH, 13, struct.pack("<II", 1, 0))),
        "port-info": (0, devmsg(USB_PORT_INFO, 14, struct.pack("<II", 9, 0))),
        "shutdown": (0, devmsg(SHUTDOWN, 15)),
        "reply": (0, devmsg(REPLY, 14, struct.pack("<IIQHHBBHII", 0, 9, 0, 0x0781, 0x5581, 4, 1, 0, 2, 5))),
        "msix-route": (0, devmsg(MSIX_ROUTE, 0, struct.pack("<IIQII", 1, 0, 0xfee00000, 0x4021, 0))),
        "intx-level": (0, devmsg(INTX_LEVEL, 0, struct.pack("<II", 1, 0))),
        "port-gone": (0, devmsg(PORT_GONE, 0, struct.pack("<II", 2, 0))),
    }
    seeds = {k: trim(bytes([sel]) + m) for k, (sel, m) in s.items()}
    seeds["mirror-linux-irq"] = mirror_seed()
    return seeds


def mirror_seed():
    """The register mirror as the xHCI device fills it, and Linux's interrupt handler's accesses."""
    usbsts, intr, usbcmd, portsc = 0x44, 0x2020, 0x40, 0x480
    regs = [(usbsts, 0x8), (usbcmd, 0x5), (intr, 0x3), (intr + 4, 4000), (intr + 0x18, 0x150000 | 8),
            (intr + 0x1c, 0), (portsc, 0x206e1)]
    b = struct.pack("<HHBB", usbsts, intr, 1 | 3 << 5, len(regs))  # one interrupter set of 4 << 3 bytes
    for off, val in regs:
        b += struct.pack("<HI", off, val)
    b += struct.pack("<HHBII", 0, len(regs), 1, 0x000d1b36, 10)

    def op(kind, off, size_log2, arg=0):
        return struct.pack("<BHBI", kind, off, size_log2, arg)
    b += (op(1, usbsts, 2) + op(0, usbsts, 2) + op(1, intr + 0x18, 3) + op(0, intr, 2)
          + op(1, intr + 0x18, 3) + op(2, 0, 0, 0) + op(1, intr + 0x18, 3) + op(3, 0, 2)
          + op(0, usbcmd, 2) + op(1, portsc, 2) + op(2, 0, 0, 0) + op(1, portsc, 2) + op(3, 0x2e, 1))
    return bytes([0x80]) + b


# --- USB policy (broker/usb_policy.h) ---------------------------------------
def policy_device(vendor, product, cls, classes, serial=b"", port=b""):
    interfaces = 0
    cl = bytearray(32)
    for n, c in classes.items():
        interfaces |= 1 << n
        cl[n] = c
    head = struct.pack("<HHBBBBI", vendor, product, cls, 3, 1, 4, interfaces) + bytes(cl)
    return head + bytes([len(serial)]) + serial + bytes([len(port)]) + port


def policy_seeds():
    with open(os.path.join(HERE, "..", "..", "policy", "usb.policy"), "rb") as f:
        shipped = f.read()
    stick = policy_device(0x0781, 0x5567, 0, {0: 0x08}, b"SER 1", b"1-2.3")
    keyboard = policy_device(0x046d, 0xc31c, 0, {0: 0x03, 1: 0x03}, b"", b"1-4")
    hub = policy_device(0x05e3, 0x0610, 0x09, {0: 0x09}, b"", b"1-1")
    composite = policy_device(0x046d, 0x0825, 0xef, {0: 0x0e, 1: 0x0e, 2: 0x01, 3: 0x01}, b"ABC123",
                              b"2-1.4.2")
    every_condition = (b"# every condition, quoted serials, CRLF\r\n"
                       b"deny interface-class 03\r\n"
                       b"deny class e0\n"
                       b"allow port 1-2.3\n"
                       b"allow serial \"SER 1\"\n"
                       b"allow serial ABC123\n"
                       b"allow id 0781:5567 serial \"SER 1\" port 1-2.3 class 00 interface-class 08\n"
                       b"allow-detach id 046d:*\n"
                       b"allow-interface interface-class 08\n"
                       b"deny-interface interface-class 01\n"
                       b"\tallow-detach all   # the catch-all\n")
    interfaces = (b"allow-interface interface-class 0e\n"
                  b"deny-interface interface-class 0e port 2-1.4.2\n"
                  b"allow-detach all\n")
    return {
        "shipped-stick": stick + shipped,
        "shipped-hub": hub + shipped,
        "every-condition-stick": stick + every_condition,
        "every-condition-keyboard": keyboard + every_condition,
        "every-condition-composite": composite + every_condition,
        "interfaces-composite": composite + interfaces,
        "deny-default": keyboard + b"allow id 0781:5567\n",
        "empty": stick,
    }


# --- descriptors of a passed-through device ----------------------------------
def dev_desc(bcd_usb, cls, mps0, vendor, product, nconfigs):
    return struct.pack("<BBHBBBBHHHBBBB", 18, 1, bcd_usb, cls, 0, 0, mps0, vendor, product, 0x0100,
                       1, 2, 3, nconfigs)


def config(value, interfaces, attrs=0x80, power=50):
    body = b"".join(interfaces)
    nifs = len({i[2] for i in interfaces if i[1] == 4})
    return struct.pack("<BBHBBBBB", 9, 2, 9 + len(body), nifs, value, 0, attrs, power) + body


def iface(number, alt, neps, cls, sub=0, proto=0):
    return struct.pack("<BBBBBBBBB", 9, 4, number, alt, neps, cls, sub, proto, 0)


def ep(addr, attrs, mps, interval=0):
    return struct.pack("<BBBBHB", 7, 5, addr, attrs, mps, interval)


def ss_comp(burst=0, attrs=0, bytes_per_interval=0):
    return struct.pack("<BBBBH", 6, 48, burst, attrs, bytes_per_interval)


def descriptor_seeds():
    # A high-speed and a SuperSpeed Bulk-Only mass storage stick.
    stick_hs = dev_desc(0x0200, 0, 64, 0x0781, 0x5567, 1) + config(
        1, [iface(0, 0, 2, 8, 6, 0x50), ep(0x81, 2, 512), ep(0x02, 2, 512)])
    stick_ss = dev_desc(0x0320, 0, 9, 0x0781, 0x5581, 1) + config(
        1, [iface(0, 0, 2, 8, 6, 0x50), ep(0x81, 2, 1024), ss_comp(15), ep(0x02, 2, 1024), ss_comp(15)],
        power=112)
    # A HID keyboard: class descriptor between interface and endpoint.
    hid = struct.pack("<BBHBBBH", 9, 0x21, 0x0111, 0, 1, 0x22, 63)
    keyboard = dev_desc(0x0110, 0, 8, 0x046d, 0xc31c, 1) + config(
        1, [iface(0, 0, 1, 3, 1, 1), hid, ep(0x81, 3, 8, 10)], attrs=0xa0)
    # A composite webcam-like device: IAD, class-specific blocks, alternate
    # settings, a 9-byte audio endpoint, and two configurations.
    iad = struct.pack("<BBBBBBBB", 8, 11, 0, 2, 0x0e, 3, 0, 0)
    vc_header = struct.pack("<BBBHHIB", 13, 0x24, 1, 0x0100, 13, 48000000, 1) + b"\x01"
    audio_ep = struct.pack("<BBBBHBBB", 9, 5, 0x83, 5, 192, 4, 0, 0)
    cs_ep = struct.pack("<BBBBBH", 7, 0x25, 1, 1, 0, 0)
    cam_cfg1 = config(1, [iad, iface(0, 0, 1, 0x0e, 1), vc_header, ep(0x87, 3, 16, 8),
                          iface(1, 0, 0, 0x0e, 2), iface(1, 1, 1, 0x0e, 2), ep(0x81, 5, 0x1400, 1),
                          iface(2, 0, 0, 1, 2), iface(2, 1, 1, 1, 2), audio_ep, cs_ep])
    cam_cfg2 = config(2, [iface(0, 0, 1, 0xff), ep(0x81, 2, 512)])
    webcam = dev_desc(0x0200, 0xef, 64, 0x046d, 0x0825, 2) + cam_cfg1 + cam_cfg2
    # A hub (class 09): the broker refuses it, but its descriptors still parse.
    hub = dev_desc(0x0210, 9, 64, 0x05e3, 0x0610, 1) + config(
        1, [iface(0, 0, 1, 9, 0, 1), ep(0x81, 3, 1, 12)], attrs=0xe0, power=0)

    # Mode 1: svmm's own function descriptions (fuzz_descriptors.c's layout).
    def function(speed, vendor, product, cls, sub, proto, power, class_desc, eps):
        b = bytes([1 | (speed - 1) << 1]) + struct.pack("<HHBBBBH", vendor, product, cls, sub, proto, 1, power)
        b += bytes([len(class_desc)]) + class_desc + bytes([len(eps)])
        for (interrupt, mps, interval, burst) in eps:
            b += bytes([1 if interrupt else 0])
            if interrupt:
                b += struct.pack("<H", mps)
            b += bytes([interval, burst])
        return b
    s = {
        "stick-hs": stick_hs,
        "stick-ss": stick_ss,
        "keyboard": keyboard,
        "webcam-two-configs": webcam,
        "hub": hub,
    }
    s = {k: b"\0" + v for k, v in s.items()}
    s["function-mass-storage-ss"] = function(4, 0x1d6b, 0x0104, 8, 6, 0x50, 200, b"",
                                             [(False, 0, 0, 15), (False, 0, 0, 15)])
    s["function-mass-storage-hs"] = function(3, 0x1d6b, 0x0104, 8, 6, 0x50, 100, b"",
                                             [(False, 0, 0, 0), (False, 0, 0, 0)])
    s["function-hid-fs"] = function(1, 0x1d6b, 0x0105, 3, 1, 1, 100, hid, [(True, 8, 10, 0)])
    return s


# --- a device's identity in sysfs (fuzz_identity.c) -------------------------
def identity(vendor, product, cls, bus, dev, devpath, serial, speed, interfaces, removable=b"removable\n"):
    fields = [vendor, product, cls, bus, dev, devpath, serial, speed, b"%d\n" % len(interfaces), removable]
    for (suffix, number, icls, isub, iproto) in interfaces:
        fields += [suffix, number, icls, isub, iproto]
    return b"\0".join(fields)


def identity_seeds():
    return {
        "stick": identity(b"0781\n", b"5581\n", b"00\n", b"1\n", b"4\n", b"2\n", b"4C530001\n", b"5000\n",
                          [(b"1.0", b"00\n", b"08\n", b"06\n", b"50\n")]),
        "composite-behind-hub": identity(
            b"046d\n", b"0825\n", b"ef\n", b"1\n", b"4\n", b"2.3.1\n", b"", b"480\n",
            [(b"1.0", b"00\n", b"0e\n", b"01\n", b"00\n"), (b"1.1", b"01\n", b"0e\n", b"02\n", b"00\n"),
             (b"1.2", b"02\n", b"01\n", b"01\n", b"00\n"), (b"1.3", b"03\n", b"01\n", b"02\n", b"00\n")]),
        "hub": identity(b"05e3\n", b"0610\n", b"09\n", b"1\n", b"4\n", b"1\n", b"", b"480\n",
                        [(b"1.0", b"00\n", b"09\n", b"00\n", b"00\n")]),
        "utf8-serial-low-speed": identity(b"046d\n", b"c31c\n", b"00\n", b"1\n", b"4\n", b"4\n",
                                          "Ärger 1".encode() + b"\n", b"1.5\n",
                                          [(b"1.0", b"00\n", b"03\n", b"01\n", b"01\n"),
                                           (b"1.1", b"01\n", b"03\n", b"00\n", b"00\n")]),
        "internal-camera": identity(b"04f2\n", b"b6dd\n", b"ef\n", b"1\n", b"4\n", b"5\n", b"", b"480\n",
                                    [(b"1.0", b"00\n", b"0e\n", b"01\n", b"00\n")], removable=b"fixed\n"),
    }


TARGETS = {
    "control": control_seeds,
    "broker": broker_seeds,
    "device": device_seeds,
    "policy": policy_seeds,
    "identity": identity_seeds,
    "descriptors": descriptor_seeds,
}


def seeds(target):
    return TARGETS[target]()
