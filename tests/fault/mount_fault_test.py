#!/usr/bin/python3
"""Nothing lost when the network or the server fails: a real smbgate mount through the
seeded fault proxy (tests/fault/smbproxy.py) to a real smbd, with TCP cuts and resets
injected and smbd killed (-9) and started again on the same port, while applications
work on the mount. Every check is about what the applications see: exit codes, errors,
the bytes on the server.

    /usr/bin/python3 tests/fault/mount_fault_test.py BUILD_DIR     (as root: smbd, FUSE)

Environment: SMBGATE_FAULT_SEED (the proxy's seed; printed either way),
SMBGATE_FAULT_BIG_MIB (the size of the copied file, 1024 by default),
SMBGATE_FAULT_CUTS (cuts of the model-checked run, 100 by default).

Checks
  copy in     `cp` of a big file into the mount with cuts, resets and one smbd kill -9 +
              restart on the way: exit 0, the server's copy byte-identical
  copy out    `cp` of it out of the mount with cuts and a kill -9: exit 0, identical
  model run   random writes, reads, truncates and fsyncs on several files checked against
              an in-memory model while the proxy cuts the connection N times: zero errors
              seen by the application, every read as the model says, the files on the
              server as the model says
  lock        an fcntl lock held through a cut is the holder's after it: another mount
              cannot take it, and gets it once the holder lets go
  outage      with the server unreachable: on the `hard` mount a create waits and then
              succeeds when the server is back; a signal interrupts a waiting process at
              once (EINTR); on a `soft,soft_timeout=2` mount the create fails with EIO
              after about 2 s

Prints "ok NAME" / "FAIL NAME: detail" per check, the figures (cuts injected, bytes
copied, application errors), and "mount-faults: N passed, M failed"; exit 1 on failure.
"""
import errno
import fcntl
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
from checks import check, summary, wait_for  # noqa: E402
from smbproxy import FaultProxy  # noqa: E402

LOCAL_SMBD = os.path.join(ROOT, "deploy", "local-smbd.sh")


class Server:
    """deploy/local-smbd.sh in a private directory; kill9() is the crash."""

    def __init__(self, d):
        self.d = d

    def start(self):
        r = subprocess.run([LOCAL_SMBD, "start", self.d], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("local-smbd.sh start: " + r.stderr.strip())
        self.port = int(open(os.path.join(self.d, "port")).read())

    @property
    def share(self):
        return os.path.join(self.d, "share")

    def kill9_and_restart(self):
        pid = int(open(os.path.join(self.d, "smbd.pid")).read())
        try:
            os.killpg(pid, signal.SIGKILL)  # smbd and every child: a crash, nothing flushed by smbd
        except ProcessLookupError:
            pass
        time.sleep(0.3)
        r = subprocess.run([LOCAL_SMBD, "restart", self.d], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("local-smbd.sh restart: " + r.stderr.strip())

    def stop(self):
        subprocess.run([LOCAL_SMBD, "stop", self.d], capture_output=True, timeout=60)


class Mount:
    def __init__(self, binary, port, secret, mnt, log, opts="cache=strict"):
        self.mnt = mnt
        os.makedirs(mnt, exist_ok=True)
        self.log = log
        self.p = subprocess.Popen(
            [binary, "mount", f"//127.0.0.1:{port}/demo", mnt, "--credentials", secret, "--foreground",
             "-o", opts + ",log_level=info"],
            stdout=open(log, "ab"), stderr=subprocess.STDOUT)
        if not wait_for(lambda: os.path.ismount(mnt) or self.p.poll() is not None, 20):
            raise RuntimeError(f"mount of {mnt} did not come up; log {log}")
        if self.p.poll() is not None:
            raise RuntimeError(f"smbgate exited {self.p.returncode}: {open(log).read()[-2000:]}")

    def stop(self):
        subprocess.run(["fusermount3", "-u", self.mnt], capture_output=True)
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            subprocess.run(["fusermount3", "-uz", self.mnt], capture_output=True)


class Injector(threading.Thread):
    """Cuts (FIN) or resets (RST) every connection through the proxy about every `every`
    seconds (counting only those that met a connection), `kill9` times kills smbd instead,
    until stop() or `limit` faults."""

    def __init__(self, proxy, server, rng, every, limit=None, kill9=0, progress=None):
        super().__init__(daemon=True)
        self.proxy, self.server, self.rng = proxy, server, rng
        self.every, self.limit, self.kill9_left = every, limit, kill9
        # With `progress` (a counter the workload advances), each fault waits until the
        # application got something done since the last one: faults land on working
        # connections, not on the reconnect of the previous fault.
        self.progress = progress
        self.halt = threading.Event()
        self.cuts = self.resets = self.kills = 0
        self.error = None

    def run(self):
        try:
            seen = self.progress() if self.progress else 0
            while not self.halt.wait(self.every * (0.5 + self.rng.random())):
                if self.limit is not None and self.total() >= self.limit:
                    return
                if self.progress:
                    if self.progress() <= seen:
                        continue
                    seen = self.progress()
                if self.kill9_left and self.rng.random() < 0.25:
                    self.kill9_left -= 1
                    self.kills += 1
                    self.server.kill9_and_restart()
                elif self.rng.random() < 0.7:
                    # Only a fault that met a connection counts.
                    self.cuts += 1 if self.proxy.cut_now() else 0
                else:
                    self.resets += 1 if self.proxy.reset_now() else 0
        except Exception as e:  # reported by the check that reads it
            self.error = e

    def total(self):
        return self.cuts + self.resets + self.kills

    def stop(self):
        self.halt.set()
        self.join()

    def figures(self):
        return f"{self.cuts} cuts, {self.resets} resets, {self.kills} smbd kill -9"


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                return h.hexdigest()
            h.update(b)


def copy_checks(binary, server, proxy, mount, rng, work):
    size_mib = int(os.environ.get("SMBGATE_FAULT_BIG_MIB", "1024"))
    src = os.path.join(work, "big.src")
    with open(src, "wb") as f:
        gen = random.Random(rng.random())
        for _ in range(size_mib):
            f.write(gen.randbytes(1 << 20))
    want = sha256(src)

    inj = Injector(proxy, server, rng, every=0.25, kill9=1, progress=lambda: proxy.stats()["frames_c2s"])
    inj.start()
    t0 = time.monotonic()
    r = subprocess.run(["cp", src, os.path.join(mount.mnt, "big.bin")], capture_output=True, text=True)
    secs = time.monotonic() - t0
    inj.stop()
    print(f"  copy in: {size_mib} MiB in {secs:.1f} s with {inj.figures()}", flush=True)
    check("copy in: cp exits 0", r.returncode == 0 and inj.error is None, (r.stderr.strip() or str(inj.error)))
    check("copy in: faults were injected", inj.total() >= 3, inj.figures())
    on_server = os.path.join(server.share, "big.bin")
    check("copy in: the server's file is byte-identical",
          os.path.exists(on_server) and sha256(on_server) == want)

    out = os.path.join(work, "big.out")
    inj = Injector(proxy, server, rng, every=0.25, kill9=1, progress=lambda: proxy.stats()["frames_c2s"])
    inj.start()
    t0 = time.monotonic()
    r = subprocess.run(["cp", os.path.join(mount.mnt, "big.bin"), out], capture_output=True, text=True)
    secs = time.monotonic() - t0
    inj.stop()
    print(f"  copy out: {size_mib} MiB in {secs:.1f} s with {inj.figures()}", flush=True)
    check("copy out: cp exits 0", r.returncode == 0 and inj.error is None, (r.stderr.strip() or str(inj.error)))
    check("copy out: the copy is byte-identical", os.path.exists(out) and sha256(out) == want)
    os.unlink(src)
    if os.path.exists(out):
        os.unlink(out)
    return size_mib


def model_run(server, proxy, mount, rng, cuts_wanted):
    files = [f"model-{i}.dat" for i in range(4)]
    model = {n: bytearray() for n in files}
    fds = {}
    for n in files:
        fds[n] = os.open(os.path.join(mount.mnt, n), os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    done = [0]
    inj = Injector(proxy, server, rng, every=0.03, limit=cuts_wanted, progress=lambda: done[0])
    inj.start()
    errors, mismatches, ops = [], [], 0
    deadline = time.monotonic() + 240
    while (inj.is_alive() or ops < 200) and time.monotonic() < deadline:
        n = rng.choice(files)
        fd, m = fds[n], model[n]
        kind = rng.random()
        ops += 1
        try:
            if kind < 0.5:
                off = rng.randrange(0, 1 << 20)
                data = rng.randbytes(rng.randrange(1, 64 << 10))
                if os.pwrite(fd, data, off) != len(data):
                    errors.append(f"short write on {n}")
                if len(m) < off:
                    m.extend(b"\0" * (off - len(m)))
                m[off:off + len(data)] = data
            elif kind < 0.85:
                off = rng.randrange(0, max(1, len(m) + 1))
                length = rng.randrange(1, 128 << 10)
                got = os.pread(fd, length, off)
                if got != bytes(m[off:off + length]):
                    mismatches.append(f"{n} [{off}, +{length})")
            elif kind < 0.95:
                size = rng.randrange(0, 1 << 20)
                os.ftruncate(fd, size)
                if size < len(m):
                    del m[size:]
                else:
                    m.extend(b"\0" * (size - len(m)))
            else:
                os.fsync(fd)
        except OSError as e:
            errors.append(f"{n}: {e}")
        done[0] = ops
    inj.stop()
    for n in files:
        try:
            os.fsync(fds[n])
            os.close(fds[n])
        except OSError as e:
            errors.append(f"close {n}: {e}")
    print(f"  model run: {ops} operations with {inj.figures()}; application errors: {len(errors)}, "
          f"wrong reads: {len(mismatches)}", flush=True)
    check(f"model run: {cuts_wanted} faults injected", inj.total() >= cuts_wanted and inj.error is None,
          f"{inj.figures()} {inj.error or ''}")
    check("model run: zero errors seen by the application", not errors, "; ".join(errors[:5]))
    check("model run: every read as the model says", not mismatches, "; ".join(mismatches[:5]))
    same = all(open(os.path.join(server.share, n), "rb").read() == bytes(model[n]) for n in files)
    check("model run: the server's files are as the model says", same)
    return inj, len(errors)


def lock_checks(binary, server, proxy, mount, work):
    path = os.path.join(mount.mnt, "lock.dat")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    os.pwrite(fd, b"x" * 200, 0)
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 100, 0)
    # A second mount straight to smbd: another client.
    other = Mount(binary, server.port, os.path.join(server.d, "secret"), os.path.join(work, "other"),
                  os.path.join(work, "other.log"))
    try:
        ofd = os.open(os.path.join(other.mnt, "lock.dat"), os.O_RDWR)

        def other_gets_it():
            try:
                fcntl.lockf(ofd, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 10)
                return True
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                return False

        check("lock: held before the cut", not other_gets_it())
        os.close(ofd)  # Samba reclaims an open only while no other open of the file exists
        proxy.cut_now()
        time.sleep(0.2)
        try:
            os.pwrite(fd, b"y", 150)  # the holder carries on: reconnect, reclaim
            wrote = True
        except OSError as e:
            wrote = str(e)
        check("lock: the holder's write after the cut succeeds", wrote is True, str(wrote))
        ofd = os.open(os.path.join(other.mnt, "lock.dat"), os.O_RDWR)
        check("lock: still held after the cut (another mount cannot take it)", not other_gets_it())
        fcntl.lockf(fd, fcntl.LOCK_UN, 100, 0)
        check("lock: free once the holder lets go", wait_for(other_gets_it, 5))
        os.close(ofd)
    finally:
        os.close(fd)
        other.stop()


WAITER = """
import os, signal, sys
signal.signal(signal.SIGUSR1, lambda *a: sys.exit(42))
try:
    with open(sys.argv[1], "w") as f:
        f.write("x")
except OSError as e:
    print(e.errno, file=sys.stderr)
    sys.exit(3)
"""


def outage_checks(binary, server, proxy, mount, work):
    def waiter(path):
        return subprocess.Popen([sys.executable, "-c", WAITER, path], stderr=subprocess.PIPE, text=True)

    proxy.set_down(True)
    proxy.reset_now()
    try:
        p = waiter(os.path.join(mount.mnt, "outage-hard.txt"))
        time.sleep(3)
        check("outage: hard: a create waits for the server", p.poll() is None, f"exited {p.poll()}")
        q = waiter(os.path.join(mount.mnt, "outage-intr.txt"))
        time.sleep(1)
        t0 = time.monotonic()
        q.send_signal(signal.SIGUSR1)
        try:
            rc = q.wait(timeout=5)
        except subprocess.TimeoutExpired:
            q.kill()
            rc = None
        check("outage: a signal interrupts a process waiting for the server", rc == 42,
              f"exit {rc} after {time.monotonic() - t0:.1f} s")
    finally:
        proxy.set_down(False)
    t0 = time.monotonic()
    try:
        rc = p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = None
    check("outage: hard: the create succeeds once the server is back", rc == 0 and
          os.path.exists(os.path.join(server.share, "outage-hard.txt")),
          f"exit {rc} {p.stderr.read().strip() if rc is not None else ''}")
    print(f"  outage: the waiting create finished {time.monotonic() - t0:.1f} s after the server came back",
          flush=True)

    # soft: mounted while the server is there, then it goes away.
    soft = Mount(binary, proxy.port, os.path.join(server.d, "secret"), os.path.join(work, "soft"),
                 os.path.join(work, "soft.log"), opts="cache=strict,soft,soft_timeout=2")
    try:
        proxy.set_down(True)
        proxy.reset_now()
        t0 = time.monotonic()
        p = waiter(os.path.join(soft.mnt, "outage-soft.txt"))
        try:
            rc = p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = None
        took = time.monotonic() - t0
        err = p.stderr.read().strip() if rc is not None else ""
        check("outage: soft: the create fails with EIO after soft_timeout",
              rc == 3 and err == str(errno.EIO) and 1.5 <= took <= 8, f"exit {rc} errno {err} after {took:.1f} s")
    finally:
        proxy.set_down(False)
        soft.stop()


def main():
    if len(sys.argv) != 2:
        print("usage: mount_fault_test.py BUILD_DIR", file=sys.stderr)
        return 2
    binary = os.path.join(sys.argv[1], "smbgate")
    missing = [b for b in ("smbd", "smbpasswd", "fusermount3") if not shutil.which(b)]
    if missing:
        print(f"skip mount-faults: {', '.join(missing)} not installed", flush=True)
        return 0
    if os.geteuid() != 0 or not os.path.exists("/dev/fuse"):
        print("skip mount-faults: needs root and /dev/fuse", flush=True)
        return 0
    seed = int(os.environ.get("SMBGATE_FAULT_SEED", str(random.SystemRandom().randrange(1 << 31))))
    rng = random.Random(seed)
    work = tempfile.mkdtemp(prefix="smbgate-faults.")
    server = Server(os.path.join(work, "smbd"))
    os.makedirs(server.d)
    mount = None
    try:
        server.start()
        with FaultProxy(("127.0.0.1", server.port), seed=seed) as proxy:
            print(f"seed={seed} smbd={server.port} proxy={proxy.port} (SMBGATE_FAULT_SEED={seed} replays it)",
                  flush=True)
            mount = Mount(binary, proxy.port, os.path.join(server.d, "secret"), os.path.join(work, "mnt"),
                          os.path.join(work, "smbgate.log"))
            try:
                mib = copy_checks(binary, server, proxy, mount, rng, work)
                inj, errs = model_run(server, proxy, mount, rng, int(os.environ.get("SMBGATE_FAULT_CUTS", "100")))
                lock_checks(binary, server, proxy, mount, work)
                outage_checks(binary, server, proxy, mount, work)
                print(f"figures: copied {mib} MiB in and out; model run {inj.figures()}; "
                      f"application errors {errs}", flush=True)
            except Exception as e:
                check("fault run", False, f"{type(e).__name__}: {e}")
            finally:
                mount.stop()
                log = open(mount.log).read()
                check("smbgate logged no crash", "terminate called" not in log and "Segmentation" not in log)
                print("  smbgate log: " + str(log.count("reconnected to the server")) + " reconnects, " +
                      str(log.count("refused to give back a durable handle")) + " refused reclaims", flush=True)
    except Exception as e:
        check("setup", False, f"{type(e).__name__}: {e}")
    finally:
        server.stop()
        if os.environ.get("SMBGATE_KEEP_FAULT_DIR"):
            print(f"kept {work}", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return summary("mount-faults")


if __name__ == "__main__":
    sys.exit(main())
