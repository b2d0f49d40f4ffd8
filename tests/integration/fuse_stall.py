# SPDX-License-Identifier: MIT
"""A FUSE file whose close() by a chosen process never returns.

A minimal FUSE server speaking the raw /dev/fuse protocol (INIT, LOOKUP,
GETATTR, OPEN, RELEASE; ENOSYS for the rest) with one file, "f". It answers
FLUSH from everyone except the victim pid, whose FLUSH it reads and never
answers: that process's close() of the file then waits uninterruptibly, which
is what a hostile local user does to a service that close()s a descriptor the
user sent it.

stall_fd(victim_pid) runs the server in a child process, mounted in the child's
own mount namespace (root: a private one; otherwise a new user namespace), and
returns (fd, handle): fd is open on the file, in this process. handle.flushes()
says whether the victim has sent a FLUSH yet; handle.stop() ends the server,
which aborts the connection and frees any process stuck on it.
"""
import ctypes
import os
import socket
import struct
import threading

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
MS_NOSUID, MS_NODEV, MS_REC, MS_PRIVATE = 2, 4, 0x4000, 0x40000

LOOKUP, FORGET, GETATTR, OPEN, RELEASE, FLUSH, INIT = 1, 2, 3, 14, 18, 25, 26
INTERRUPT, BATCH_FORGET = 36, 42
IN_HEADER = struct.Struct("=IIQQIIIHH")  # len opcode unique nodeid uid gid pid extlen pad
OUT_HEADER = struct.Struct("=IiQ")
ENOSYS, ENOENT = 38, 2
ROOT, FILE = 1, 2

_libc = ctypes.CDLL(None, use_errno=True)


def _check(r, what):
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, "%s: %s" % (what, os.strerror(e)))


def _attr(ino):
    mode = 0o040755 if ino == ROOT else 0o100644
    # ino size blocks atime mtime ctime atimensec mtimensec ctimensec mode nlink uid gid rdev blksize flags
    return struct.pack("=QQQQQQIIIIIIIIII", ino, 0, 0, 0, 0, 0, 0, 0, 0, mode,
                       2 if ino == ROOT else 1, 0, 0, 0, 4096, 0)


def _reply(dev, unique, error=0, body=b""):
    os.write(dev, OUT_HEADER.pack(OUT_HEADER.size + len(body), -error, unique) + body)


def _serve(dev, victim, flushed):
    while True:
        try:
            req = os.read(dev, 1 << 17)
        except OSError:
            return  # unmounted or aborted
        length, op, unique, node, _, _, pid, _, _ = IN_HEADER.unpack_from(req)
        body = req[IN_HEADER.size:length]
        if op in (FORGET, BATCH_FORGET, INTERRUPT):
            continue
        if op == INIT:
            # major minor max_readahead flags max_background congestion max_write time_gran
            # max_pages map_alignment flags2 max_stack_depth, then padding to 64 bytes
            out = struct.pack("=IIIIHHIIHHII", 7, 31, 0, 0, 16, 12, 4096, 1, 1, 0, 0, 0)
            _reply(dev, unique, 0, out.ljust(64, b"\0"))
        elif op == LOOKUP:
            if node == ROOT and body.rstrip(b"\0") == b"f":
                _reply(dev, unique, 0, struct.pack("=QQQQII", FILE, 0, 0, 0, 0, 0) + _attr(FILE))
            else:
                _reply(dev, unique, ENOENT)
        elif op == GETATTR:
            _reply(dev, unique, 0, struct.pack("=QII", 0, 0, 0) + _attr(node))
        elif op == OPEN:
            _reply(dev, unique, 0, struct.pack("=QIi", 1, 0, 0))
        elif op == FLUSH:
            if pid == victim:
                flushed.send(b"F")  # read and never answered
            else:
                _reply(dev, unique)
        elif op == RELEASE:
            _reply(dev, unique)
        else:
            _reply(dev, unique, ENOSYS)


def _own_namespace():
    """A mount namespace where this process may mount FUSE: private as root, else a user namespace."""
    if os.geteuid() == 0:
        _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    else:
        uid, gid = os.getuid(), os.getgid()
        _check(_libc.unshare(CLONE_NEWUSER | CLONE_NEWNS), "unshare(CLONE_NEWUSER|CLONE_NEWNS)")
        with open("/proc/self/setgroups", "w") as f:
            f.write("deny")
        with open("/proc/self/uid_map", "w") as f:
            f.write("0 %d 1" % uid)
        with open("/proc/self/gid_map", "w") as f:
            f.write("0 %d 1" % gid)
    _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")


def _child(link, victim, mnt):
    _own_namespace()
    dev = os.open("/dev/fuse", os.O_RDWR | os.O_CLOEXEC)
    opts = "fd=%d,rootmode=40000,user_id=0,group_id=0" % dev
    _check(_libc.mount(b"svmm-test", mnt.encode(), b"fuse", MS_NOSUID | MS_NODEV, opts.encode()),
           "mount fuse")
    threading.Thread(target=_serve, args=(dev, victim, link), daemon=True).start()
    fd = os.open(os.path.join(mnt, "f"), os.O_RDWR | os.O_CLOEXEC)
    socket.send_fds(link, [b"fd"], [fd])
    os.close(fd)  # our own FLUSH is answered
    link.recv(1)  # until the test says stop (or dies)
    # Exiting closes /dev/fuse, which aborts the connection: whoever waits on it is freed.


class Stall:
    def __init__(self, pid, link):
        self.pid, self.link = pid, link

    def flushes(self):
        """True once the victim has sent a FLUSH (its close() is stuck)."""
        self.link.setblocking(False)
        try:
            return self.link.recv(16).startswith(b"F")
        except BlockingIOError:
            return False
        finally:
            self.link.setblocking(True)

    def stop(self):
        try:
            self.link.send(b"q")
        except OSError:
            pass
        self.link.close()
        os.waitpid(self.pid, 0)


def stall_fd(victim, workdir):
    """(fd, Stall) for a file whose close() by pid victim hangs; raises OSError (with why) if FUSE cannot be mounted."""
    mnt = os.path.join(workdir, "fuse")
    os.makedirs(mnt, exist_ok=True)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:
        # Whatever happens, this child never returns into the caller's code.
        try:
            ours.close()
            _child(theirs, victim, mnt)
        except BaseException as e:
            try:
                theirs.send(b"E" + str(e).encode()[:200])  # why, if the caller still listens
            except BaseException:
                pass
        finally:
            os._exit(1)
    theirs.close()
    ours.settimeout(10)
    msg, fds, _, _ = socket.recv_fds(ours, 256, 1)
    ours.settimeout(None)
    if not fds:
        os.waitpid(pid, 0)
        raise OSError(msg[1:].decode(errors="replace") or "the FUSE server did not start")
    return fds[0], Stall(pid, ours)
