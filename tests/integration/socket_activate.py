#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Starts a command the way systemd starts a socket-activated service
# (sd_listen_fds(3)): binds and listens on PATH, puts the socket at fd 3 (and
# copies at 4, 5... for --fds N), sets LISTEN_PID to the pid the command will
# have (exec keeps it) and LISTEN_FDS, and execs.
#
#   socket_activate.py [--type seqpacket|stream] [--fds N] [--other-pid] PATH CMD...
#
# --type stream and --fds 2 are what a wrong unit would pass; --other-pid sets
# LISTEN_PID to a process that is not the command (variables left behind by a parent).
import argparse
import os
import socket
import sys

TYPES = {"seqpacket": socket.SOCK_SEQPACKET, "stream": socket.SOCK_STREAM}

ap = argparse.ArgumentParser()
ap.add_argument("--type", choices=TYPES, default="seqpacket")
ap.add_argument("--fds", type=int, default=1)
ap.add_argument("--other-pid", action="store_true")
ap.add_argument("path")
ap.add_argument("cmd", nargs=argparse.REMAINDER)
args = ap.parse_args()
if not args.cmd or args.fds < 1:
    ap.error("need a command and --fds of at least 1")

old = os.umask(0o117)  # SocketMode=0660, as svmm-broker.socket asks
s = socket.socket(socket.AF_UNIX, TYPES[args.type])
s.bind(args.path)
os.umask(old)
s.listen(16)
fd = s.detach()  # may already be 3
for i in range(args.fds):
    if fd != 3 + i:
        os.dup2(fd, 3 + i, inheritable=True)
    else:
        os.set_inheritable(fd, True)
if fd >= 3 + args.fds:
    os.close(fd)
os.environ["LISTEN_PID"] = str(os.getppid() if args.other_pid else os.getpid())
os.environ["LISTEN_FDS"] = str(args.fds)
os.environ["LISTEN_FDNAMES"] = ":".join(["svmm-broker.socket"] * args.fds)
os.execvp(args.cmd[0], args.cmd)
