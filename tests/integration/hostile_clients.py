#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Hostile clients against the live `svmm broker` and a live VM's control socket (TAP).

Each case does one thing a local user (broker) or the VM's owner (control
socket) can do: send every kind of descriptor (a file on the sender's FUSE
mount whose FLUSH is never answered, a pipe, a socket, an eventfd, a memfd,
/dev/kvm), hundreds of descriptors in one message, half and oversized
messages, requests without reading the replies, requests faster than replies,
floods of connections, and (item 5) more idle connections than the broker has
slots. After each: the service still answers a well-behaved client within
1 s (a hang detector: a stuck service never answers), its descriptor count is
back where it was, and its resident memory has not grown. At the end SIGTERM
must still end the broker. Needs root (FUSE mounts, a second uid) and, for
the VM, /dev/kvm; what cannot run says skip with the reason, never passes.
"""
import errno
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fuse_stall  # noqa: E402

SVMM = os.environ["SVMM"]
GUEST = os.environ.get("SVMM_TEST_GUEST")
ANSWER_S = 1.0           # a well-behaved client's bound
RSS_SLACK_KB = 256       # allocator noise; a leak per message or connection is far larger
UID = 1000               # the hostile local user
BROKER_REPLY = 32 + 332 + 256
SCM_MAX_FD = 253         # the kernel's limit of descriptors in one message

n = 0
failed = 0



def ok(desc):
    global n
    n += 1
    print("ok %d - %s" % (n, desc), flush=True)


def not_ok(desc, *detail):
    global n, failed
    n += 1
    failed += 1
    print("not ok %d - %s" % (n, desc), flush=True)
    for d in detail:
        print("# %s" % d, flush=True)


def skip(desc, why):
    global n
    n += 1
    print("ok %d - %s # SKIP %s" % (n, desc, why), flush=True)


# --- the two protocols, from outside svmm -------------------------------------------------

def broker_request(rid, path, rtype=1, target=1):
    p = path.encode()
    return struct.pack("=HHIIIII", 1, rtype, rid, target, 0, len(p), 0) + p.ljust(4096, b"\0")


def control_request(rtype, target=0, path=""):
    p = path.encode()
    return struct.pack("=HHIIIII", 1, rtype, 0, target, 0, len(p), 0) + p.ljust(4096, b"\0")


CONTROL_ATTACH, CONTROL_LIST = 1, 3
CONTROL_TARGET_IMAGE = 2


def seqpacket(path, timeout=ANSWER_S):
    """A connection, within timeout: a full backlog (EAGAIN) is waited out, as a blocking connect would."""
    deadline = time.monotonic() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.settimeout(timeout)
        try:
            s.connect(path)
            return s
        except BlockingIOError:
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def ask_broker(path, rid=1):
    """A well-behaved client's OPEN; (id, status, reason) of the reply, or raises."""
    with seqpacket(path) as s:
        s.send(broker_request(rid, "/dev/bus/usb/001/001"))
        msg = s.recv(BROKER_REPLY + 1)
    if len(msg) != BROKER_REPLY:
        raise OSError("reply of %d bytes" % len(msg))
    _, _, rid, status = struct.unpack_from("=HHII", msg)
    return rid, status, msg[32 + 332:].split(b"\0")[0].decode()


def ask_vm(path):
    """A well-behaved `usb list`; the reply's status, or raises."""
    with seqpacket(path) as s:
        s.send(control_request(CONTROL_LIST))
        msg = s.recv(8192)
    if len(msg) < 24:
        raise OSError("reply of %d bytes" % len(msg))
    return struct.unpack_from("=HHI", msg)[2]


def send_with_fds(sock, data, fds):
    """sendmsg with SCM_RIGHTS; 'sent', or 'kernel refused' (SO_PASSRIGHTS: EPERM)."""
    try:
        socket.send_fds(sock, [data], fds)
        return "sent"
    except PermissionError:
        return "kernel refused"


# --- what is watched ----------------------------------------------------------------------

def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def settled_fd_count(pid, want=None):
    """The fewest fds seen over 200 ms (or want, once seen): a client's connection
    just answered goes in the service's own time, slower under ASan."""
    n = fd_count(pid)
    for _ in range(20):
        if n == want:
            break
        time.sleep(0.01)
        n = min(n, fd_count(pid))
    return n


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Service:
    def __init__(self, name, pid, ask):
        self.name, self.pid, self.ask = name, pid, ask
        self.fds = self.rss = 0
        # Under ASan, freed memory sits in quarantine and every allocation grows shadow and
        # metadata: VmRSS says nothing about leaks there (LeakSanitizer does), so it is not compared.
        with open("/proc/%d/maps" % pid) as f:
            self.asan = "asan" in f.read()

    def baseline(self):
        for _ in range(20):
            self.ask()  # warm: first requests allocate what every later one reuses
        self.fds, self.rss = settled_fd_count(self.pid), rss_kb(self.pid)

    def answers(self, case):
        """Only that a good client is answered (while hostile clients are still connected)."""
        try:
            self.ask()
            ok("%s: %s answers a good client within %gs" % (case, self.name, ANSWER_S))
        except OSError as e:
            not_ok("%s: %s answers a good client within %gs" % (case, self.name, ANSWER_S),
                   "error: %s" % e, "wchan: %s" % wchan(self.pid))

    def check(self, case):
        """The case's verdict: answered, same fds, no growth. Closed peers are noticed in the
        service's own time, so the fd count is read again after each answer, a bounded number of times."""
        try:
            for _ in range(50):
                self.ask()
                fds = settled_fd_count(self.pid, self.fds)
                if fds == self.fds:
                    break
        except OSError as e:
            not_ok("%s: %s still answers a good client within %gs" % (case, self.name, ANSWER_S),
                   "error: %s" % e, "wchan: %s" % wchan(self.pid))
            return False
        rss = rss_kb(self.pid)
        if fds != self.fds or (rss > self.rss + RSS_SLACK_KB and not self.asan):
            not_ok("%s: %s answers, no fd or memory growth" % (case, self.name),
                   "fds %d -> %d, VmRSS %d -> %d kB" % (self.fds, fds, self.rss, rss))
            return False
        ok("%s: %s answers, fds %d, VmRSS %d -> %d kB%s" % (case, self.name, fds, self.rss, rss,
                                                            " (ASan: not compared)" if self.asan else ""))
        return True


def mount_id(pid, fd):
    with open("/proc/%s/fdinfo/%s" % (pid, fd)) as f:
        for line in f:
            if line.startswith("mnt_id:"):
                return int(line.split()[1])
    return -1


def fds_on_mount_of(pid, ours):
    """How many of pid's fds are on the mount our fd ours is on."""
    mine, n = mount_id("self", ours), 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            n += mount_id(pid, fd) == mine
        except OSError:
            pass
    return n


def wchan(pid):
    try:
        with open("/proc/%d/wchan" % pid) as f:
            return f.read() or "-"
    except OSError:
        return "gone"


# --- descriptors of every kind --------------------------------------------------------------

def fd_kinds(victim_pid, workdir):
    """[(name, fd or None, why-not)] ; every fd is the caller's to close."""
    kinds = []
    r, w = os.pipe()
    os.close(r)
    kinds.append(("pipe", w, None))
    a, b = socket.socketpair()
    kinds.append(("socket", a.detach(), None))
    b.close()
    kinds.append(("eventfd", os.eventfd(0), None))
    kinds.append(("memfd", os.memfd_create("svmm-hostile"), None))
    try:
        kinds.append(("/dev/kvm", os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC), None))
    except OSError as e:
        kinds.append(("/dev/kvm", None, "cannot open /dev/kvm: %s" % e.strerror))
    return kinds


def fuse_case(svc, workdir, send, while_stalled=None):
    """A file on our FUSE mount whose FLUSH by the service is never answered. send(fd) delivers it;
    while_stalled(fd) runs before the FUSE server ends."""
    case = "a FUSE file whose FLUSH is never answered, sent to the %s" % svc.name
    try:
        fd, stall = fuse_stall.stall_fd(svc.pid, workdir)
    except OSError as e:
        skip(case, "cannot mount FUSE here: %s" % e)
        return None
    try:
        try:
            how = send(fd)
        except OSError as e:
            how = "no answer to the sender: %s" % (e or type(e).__name__)
        if while_stalled:
            while_stalled(fd)
        if svc.check(case + " (%s)" % how):
            if stall.flushes():
                not_ok("%s: the %s never closed it" % (case, svc.name), "it sent FLUSH: its close() is stuck")
            else:
                ok("%s: the %s never closed it (no FLUSH)" % (case, svc.name))
    finally:
        stall.stop()  # frees the service if it did get stuck, so the run can end
        close_quietly(fd)


def close_quietly(fd):
    """Our own copy of the FUSE file: once its server is gone, close() reports ENOTCONN."""
    try:
        os.close(fd)
    except OSError:
        pass


# --- the broker ---------------------------------------------------------------------------

def as_uid(uid, fn):
    """Runs fn() in a child that has switched to uid; returns (pid, pipe to tell it to end)."""
    r, w = os.pipe()
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(w)
        os.close(ready_r)
        try:
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            keep = fn()
            os.write(ready_w, b"%d" % len(keep))
            os.read(r, 1)
        finally:
            os._exit(0)
    os.close(r)
    os.close(ready_w)
    got = os.read(ready_r, 16)
    os.close(ready_r)
    return pid, w, int(got or b"0")


def end_child(pid, w):
    os.close(w)
    os.waitpid(pid, 0)


def broker_cases(workdir):
    sock = os.path.join(workdir, "broker.sock")
    policy = os.path.join(workdir, "usb.policy")
    with open(policy, "w") as f:
        f.write("allow-detach all\n")
    log = open(os.path.join(workdir, "broker.log"), "w")
    broker = subprocess.Popen([SVMM, "broker", "--socket", sock, "--policy", policy],
                              stderr=log, stdin=subprocess.DEVNULL)
    for _ in range(100):
        if os.path.exists(sock):
            break
        time.sleep(0.1)
    # Local users reach it through its group; the hostile uid is made one of them.
    os.chown(sock, 0, UID)
    try:
        broker_attacks(broker, sock, workdir)
    finally:
        if broker.poll() is None:
            broker.kill()
            broker.wait()


def broker_attacks(broker, sock, workdir):
    svc = Service("broker", broker.pid, lambda: ask_broker(sock))
    try:
        svc.baseline()
    except OSError as e:
        not_ok("the broker answers a good client", str(e))
        return

    def send_to_broker(fd):
        with seqpacket(sock) as s:
            how = send_with_fds(s, broker_request(9, "/dev/bus/usb/001/001"), [fd])
            if how == "sent":
                msg = s.recv(BROKER_REPLY + 1)
                reason = msg[32 + 332:].split(b"\0")[0].decode()
                return "refused: " + reason
            return how

    fuse_case(svc, workdir, send_to_broker)
    for name, fd, why in fd_kinds(broker.pid, workdir):
        case = "a %s sent with a request" % name
        if fd is None:
            skip(case, why)
            continue
        try:
            how = send_to_broker(fd)
            svc.check(case + " (%s)" % how)
        except OSError as e:
            not_ok(case, str(e))
        finally:
            os.close(fd)

    # Hundreds of descriptors in one message.
    r, w = os.pipe()
    many = [os.dup(w) for _ in range(SCM_MAX_FD)]
    try:
        with seqpacket(sock) as s:
            how = send_with_fds(s, broker_request(10, "/dev/bus/usb/001/001"), many)
            if how == "sent":
                s.recv(BROKER_REPLY + 1)
        svc.check("%d descriptors in one message (%s)" % (SCM_MAX_FD, how))
    finally:
        for fd in many + [r, w]:
            os.close(fd)

    # Half, oversized and empty messages.
    with seqpacket(sock) as s:
        for size in (1, 100, 4119, 4121, 65536):
            s.send(broker_request(11, "/dev/bus/usb/001/001")[:size].ljust(size, b"\0"))
            s.recv(BROKER_REPLY + 1)
        s.send(b"")
    svc.check("messages of 1, 100, 4119, 4121, 65536 and 0 bytes")

    # A client that never reads its replies: its replies fill its socket, and the broker drops it.
    s = seqpacket(sock)
    sent, dropped = 0, False
    try:
        for i in range(2000):
            s.send(broker_request(i + 1, "/dev/bus/usb/001/001"))  # waits (1 s at most) for room
            sent += 1
    except (ConnectionResetError, BrokenPipeError):
        dropped = True
    except socket.timeout:
        pass
    case = "a client that sent %d requests and reads no reply" % sent
    svc.answers(case)
    if dropped:
        ok("%s: the broker closed its connection" % case)
    else:
        not_ok("%s: the broker closed its connection" % case, "still connected")
    s.close()
    svc.check(case)

    # Requests faster than replies: every reply comes, in order.
    with seqpacket(sock, timeout=10) as s:
        for i in range(32):
            s.send(broker_request(100 + i, "/dev/bus/usb/001/001"))
        ids = [struct.unpack_from("=HHI", s.recv(BROKER_REPLY + 1))[2] for _ in range(32)]
    if ids == list(range(100, 132)):
        ok("32 requests sent before any reply: 32 replies, in order")
    else:
        not_ok("32 requests sent before any reply: 32 replies, in order", "ids %s" % ids)
    svc.check("requests faster than replies")

    # A flood of connections from one local user, each closed at once.
    def flood():
        for _ in range(1000):
            try:
                socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET).connect(sock)
            except OSError:
                pass
        return []
    pid, w, _ = as_uid(UID, flood)
    end_child(pid, w)
    svc.check("1000 connections opened and closed by uid %d" % UID)

    # Item 5: more idle connections from one local user than the broker has slots.
    def hold():
        keep = []
        for _ in range(100):
            try:
                c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                c.connect(sock)
                keep.append(c)
            except OSError:
                break
        return keep
    pid, w, held = as_uid(UID, hold)
    try:
        svc_ok = True
        try:
            _, status, reason = ask_broker(sock)
        except OSError as e:
            svc_ok = False
            not_ok("with %d idle connections of uid %d, a VM's request is answered" % (held, UID),
                   "error: %s" % e)
        if svc_ok:
            ok("with %d idle connections of uid %d, a VM's request is answered (%s)" % (held, UID, reason))
        if GUEST and os.access("/dev/kvm", os.W_OK):
            vm_with_broker(workdir, sock, held)
        else:
            skip("a VM started with --broker gets its answer", "needs /dev/kvm and the test guest")
    finally:
        end_child(pid, w)
    svc.check("idle connections of one uid")

    # SIGTERM ends the broker, even right after it was sent a FUSE file whose FLUSH hangs.
    case = "SIGTERM ends the broker (exit 0) after a FUSE file was sent to it"
    try:
        fd, stall = fuse_stall.stall_fd(broker.pid, workdir)
    except OSError as e:
        fd, stall = None, None
        case = "SIGTERM ends the broker (exit 0); no FUSE here: %s" % e
    try:
        if fd is not None:
            try:
                send_to_broker(fd)
            except OSError:
                pass
        broker.send_signal(signal.SIGTERM)
        try:
            status = broker.wait(timeout=10)
            if status == 0:
                ok(case)
            else:
                not_ok(case, "exit %d" % status)
        except subprocess.TimeoutExpired:
            not_ok(case, "still running 10 s later: %s" % wchan(broker.pid))
    finally:
        if stall:
            stall.stop()
            close_quietly(fd)


# --- a VM ---------------------------------------------------------------------------------

def start_vm(workdir, tag, *extra):
    sock = os.path.join(workdir, "%s.sock" % tag)
    out = open(os.path.join(workdir, "%s.out" % tag), "w+")
    err = open(os.path.join(workdir, "%s.err" % tag), "w")
    vm = subprocess.Popen([SVMM, "run", "--control", sock, *extra, "--params", "echo", GUEST],
                          stdin=subprocess.PIPE, stdout=out, stderr=err)
    for _ in range(300):
        out.seek(0)
        if "waiting for a byte" in out.read():
            return vm, sock
        if vm.poll() is not None:
            break
        time.sleep(0.1)
    vm.kill()
    vm.wait()
    with open(os.path.join(workdir, "%s.err" % tag)) as f:
        raise OSError("the VM did not start: %s" % f.read()[-300:])


def stop_vm(vm):
    vm.kill()
    vm.wait()


def vm_with_broker(workdir, broker_sock, held):
    case = "with %d idle connections of uid %d, a VM started with --broker gets the broker's answer" % (held, UID)
    try:
        vm, sock = start_vm(workdir, "vmb", "--broker", broker_sock)
    except OSError as e:
        not_ok(case, str(e))
        return
    try:
        r = subprocess.run([SVMM, "usb", "attach", "00:00:00:00", "/dev/bus/usb/001/001", sock],
                           capture_output=True, text=True, timeout=30)
        out = (r.stdout + r.stderr).strip()
        # No device here: the broker's answer is a refusal in its words; anything else is not its answer.
        if out.startswith(("no_such_device:", "failed_to_open_device:", "invalid_request:")) and \
                "did not answer" not in out:
            ok("%s (%s)" % (case, out))
        else:
            not_ok(case, out)
    finally:
        stop_vm(vm)


def vm_cases(workdir):
    if not GUEST or not os.access("/dev/kvm", os.W_OK):
        skip("hostile clients on a VM's control socket", "needs /dev/kvm and the test guest")
        return
    try:
        vm, sock = start_vm(workdir, "vm")
    except OSError as e:
        not_ok("a VM starts", str(e))
        return
    svc = Service("VMM", vm.pid, lambda: ask_vm(sock))
    try:
        svc.baseline()

        def send_list(fd):
            with seqpacket(sock) as s:
                how = send_with_fds(s, control_request(CONTROL_LIST), [fd])
                msg = s.recv(8192)
                return "%s, status %d: %s" % (how, struct.unpack_from("=HHI", msg)[2],
                                               msg[24:280].split(b"\0")[0].decode())

        def send_image(fd):
            with seqpacket(sock) as s:
                how = send_with_fds(s, control_request(CONTROL_ATTACH, CONTROL_TARGET_IMAGE, "x.img"), [fd])
                msg = s.recv(8192)
                return "image attach %s, status %d: %s" % (how, struct.unpack_from("=HHI", msg)[2],
                                                            msg[24:280].split(b"\0")[0].decode())

        def parked(fd):
            # A refused image on FUSE is parked, not closed (common/fdpass.h): one more fd, for good.
            n = fds_on_mount_of(vm.pid, fd)
            if n == 1:
                ok("the refused FUSE image is kept open (parked), not closed")
                svc.fds += 1
            else:
                not_ok("the refused FUSE image is kept open (parked), not closed", "%d fds on FUSE" % n)

        fuse_case(svc, workdir, send_list)
        fuse_case(svc, workdir, send_image, parked)
        for name, fd, why in fd_kinds(vm.pid, workdir):
            for kind, send in (("list", send_list), ("image attach", send_image)):
                case = "a %s sent with a %s request" % (name, kind)
                if fd is None:
                    skip(case, why)
                    continue
                try:
                    svc.check("%s (%s)" % (case, send(fd)))
                except OSError as e:
                    not_ok(case, str(e))
            if fd is not None:
                os.close(fd)

        r, w = os.pipe()
        many = [os.dup(w) for _ in range(SCM_MAX_FD)]
        try:
            with seqpacket(sock) as s:
                send_with_fds(s, control_request(CONTROL_LIST), many)
                s.recv(8192)
            svc.check("%d descriptors in one message" % SCM_MAX_FD)
        finally:
            for fd in many + [r, w]:
                os.close(fd)

        for size in (1, 100, 4119, 4121, 65536, 0):
            with seqpacket(sock) as s:
                s.send(control_request(CONTROL_LIST)[:size].ljust(size, b"\0"))
                try:
                    s.recv(8192)
                except OSError:
                    pass
        svc.check("messages of 1, 100, 4119, 4121, 65536 and 0 bytes")

        quiet = []
        for _ in range(200):
            c = seqpacket(sock, timeout=10)
            c.send(control_request(CONTROL_LIST))
            quiet.append(c)  # never read
        svc.answers("200 clients that ask and never read, still connected")
        for c in quiet:
            c.close()
        svc.check("200 clients that asked and never read")

        idle = [seqpacket(sock, timeout=10) for _ in range(200)]
        svc.answers("200 clients that connect and say nothing, still connected")
        for c in idle:
            c.close()
        svc.check("200 clients that connected and said nothing")

        with seqpacket(sock) as s:
            try:
                for _ in range(16):
                    s.send(control_request(CONTROL_LIST))
            except (ConnectionResetError, BrokenPipeError):
                pass  # one request per connection: the VMM closes it after the first reply
        svc.check("16 requests on one connection, faster than replies")
    finally:
        stop_vm(vm)


def main():
    if os.geteuid() != 0:
        print("1..0 # SKIP needs root: FUSE mounts and a second uid")
        return 0
    workdir = tempfile.mkdtemp(prefix="svmm-hostile.", dir=os.environ.get("TMPDIR", "/var/tmp"))
    os.chmod(workdir, 0o755)
    try:
        broker_cases(workdir)
        vm_cases(workdir)
    finally:
        subprocess.run(["rm", "-rf", workdir])
    print("1..%d" % n)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
