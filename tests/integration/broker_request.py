#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# A client speaking the broker protocol (common/broker_protocol.h) from outside svmm:
# broker_request.py SOCK KIND [ARG], KIND open PATH, junk, or fd PATH (a descriptor sent along);
# prints the reply's size, descriptor count, status and reason.
import os, socket, struct, sys
PATH_MAX, REPLY_SIZE = 4096, 32 + 332 + 256
def request(rtype, rid, target, handle, path):
    p = path.encode()
    return struct.pack("=HHIIIII", 1, rtype, rid, target, handle, len(p), 0) + p.ljust(PATH_MAX, b"\0")
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
kind = sys.argv[2]
if kind == "open":
    s.send(request(1, 42, 1, 0, sys.argv[3]))
elif kind == "junk":
    s.send(b"junk")
elif kind == "fd":
    r, w = os.pipe()
    try:
        socket.send_fds(s, [request(1, 43, 1, 0, sys.argv[3])], [w])
    except PermissionError:
        print("refused by the kernel")  # SO_PASSRIGHTS off on the broker's socket (Linux 6.16)
        sys.exit(0)
msg, fds, _, _ = socket.recv_fds(s, REPLY_SIZE + 1, 4)
status = struct.unpack_from("=I", msg, 8)[0]
reason = msg[32 + 332:].split(b"\0")[0].decode()
names = ["ok", "invalid_request", "no_available_port", "no_such_port", "no_such_device",
         "failed_to_open_device", "device_dead", "internal_error"]
print(len(msg), len(fds), names[status] if status < len(names) else status, reason)
