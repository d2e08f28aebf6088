#!/usr/bin/python3
"""Self-test of tests/fault/smbproxy.py with no smbd: a fake upstream on 127.0.0.1 that
speaks only the Direct TCP framing (MS-SMB2 2.1) and echoes each frame back, and a
client that sends frames through the proxy and checks that each fault really happens.

    /usr/bin/python3 tests/fault/smbproxy_test.py

Prints "ok   NAME" or "FAIL NAME: detail" per check and closes with
"fault-proxy: N passed, M failed"; exits 1 if any failed. Standard library only.
"""
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
from checks import check, summary, wait_for  # noqa: E402
from smbproxy import FaultProxy  # noqa: E402



def frame(payload):
    return b"\x00" + len(payload).to_bytes(3, "big") + payload


class EchoServer:
    """Echoes every Direct TCP frame back on the connection it came from. Counts the
    connections it accepted and the bytes it received."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.wake_r, self.wake_w = os.pipe()
        self.accepted = 0
        self.received = 0
        self.threads = []
        self.lock = threading.Lock()
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    def _accept(self):
        while True:
            r, _, _ = select.select([self.sock, self.wake_r], [], [])
            if self.wake_r in r:
                return
            c, _ = self.sock.accept()
            with self.lock:
                self.accepted += 1
            t = threading.Thread(target=self._serve, args=(c,), daemon=True)
            self.threads.append(t)
            t.start()

    def _recv(self, c, n):
        buf = b""
        while len(buf) < n:
            r, _, _ = select.select([c, self.wake_r], [], [])
            if self.wake_r in r:
                return None
            try:
                data = c.recv(n - len(buf))
            except OSError:
                return None
            if not data:
                return None
            buf += data
            with self.lock:
                self.received += len(data)
        return buf

    def _serve(self, c):
        with c:
            while True:
                header = self._recv(c, 4)
                if header is None:
                    return
                n = int.from_bytes(header[1:], "big")
                body = self._recv(c, n) if n else b""
                if body is None:
                    return
                try:
                    c.sendall(header + body)
                except OSError:
                    return

    def stop(self):
        os.write(self.wake_w, b"x")
        self.acceptor.join(5)
        for t in self.threads:
            t.join(5)
        self.sock.close()
        os.close(self.wake_r)
        os.close(self.wake_w)


def connect(port, timeout=3.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_all(s, n):
    """Up to n bytes: fewer only if the peer closed. Raises on reset or timeout."""
    buf = b""
    while len(buf) < n:
        data = s.recv(n - len(buf))
        if not data:
            break
        buf += data
    return buf


def roundtrip(s, payload):
    s.sendall(frame(payload))
    return recv_all(s, 4 + len(payload))


def outcome(s, timeout=2.0):
    """What the client sees next: "eof", "reset", "timeout" or "data"."""
    s.settimeout(timeout)
    try:
        data = s.recv(65536)
    except ConnectionResetError:
        return "reset"
    except socket.timeout:
        return "timeout"
    return "data" if data else "eof"



def open_fds():
    return set(os.listdir("/proc/self/fd"))


def test_passthrough(echo):
    with FaultProxy(("127.0.0.1", echo.port), seed=1) as p:
        with connect(p.port) as s:
            sizes = [0, 1, 63, 64 * 1024, 3 * 1024 * 1024 + 7]
            good = True
            for n in sizes:
                payload = os.urandom(n)
                if roundtrip(s, payload) != frame(payload):
                    good = False
            check("passthrough: frames of 0 B to 3 MiB come back intact", good)
            wait_for(lambda: p.stats()["frames_s2c"] == len(sizes), 1)
            st = p.stats()
            check("passthrough: counters count frames and bytes each way",
                  st["frames_c2s"] == len(sizes) and st["frames_s2c"] == len(sizes)
                  and st["bytes_c2s"] == st["bytes_s2c"] and st["connections"] == 1
                  and st["active"] == 1, json.dumps(st))


def test_refuse_non_loopback():
    bad = []
    for host in ("10.0.0.1", "192.168.1.1", "0.0.0.0", "128.0.0.1", "example.com",
                 "localhost", "::"):
        try:
            FaultProxy((host, 445))
            bad.append(host)
        except ValueError as e:
            if "127.0.0.0/8 or ::1" not in str(e):
                bad.append(f"{host}: {e}")
    check("refuses a non-loopback upstream (no name lookup)", not bad, str(bad))
    try:
        FaultProxy(("127.0.0.1", 445), listen=("0.0.0.0", 0))
        check("refuses a non-loopback listen address", False)
    except ValueError:
        check("refuses a non-loopback listen address", True)
    FaultProxy(("::1", 445))   # accepted, never started
    r = subprocess.run([sys.executable, os.path.join(HERE, "smbproxy.py"),
                        "--upstream", "192.0.2.1:445"], capture_output=True, text=True,
                       timeout=10)
    check("program: a non-loopback upstream exits 2 with a clear error",
          r.returncode == 2 and "not loopback" in r.stderr and not r.stdout,
          f"rc={r.returncode} err={r.stderr.strip()!r}")


def test_ipv6_and_upstream_down(echo):
    with FaultProxy(("127.0.0.1", echo.port), listen=("::1", 0), seed=12) as p:
        with socket.create_connection(("::1", p.port), timeout=3) as s:
            check("listens on ::1 too", roundtrip(s, b"six") == frame(b"six"))
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    gone = closed.getsockname()[1]
    closed.close()   # bound and closed: nothing listens on it
    with FaultProxy(("127.0.0.1", gone), seed=13) as p:
        with connect(p.port) as s:
            o = outcome(s)
        check("upstream not listening: the client is closed, counted",
              o in ("eof", "reset") and wait_for(lambda: p.stats()["upstream_errors"] == 1, 1),
              f"{o} {p.stats()['upstream_errors']}")
    p = FaultProxy(("127.0.0.1", echo.port), listen=("127.0.0.1", echo.port))
    fds = open_fds()
    try:
        p.start()
        check("start on a port in use raises OSError", False)
    except OSError:
        check("start on a port in use raises OSError and leaves nothing open",
              open_fds() <= fds)


def test_cut(echo):
    with FaultProxy(("127.0.0.1", echo.port), seed=2) as p:
        s1, s2 = connect(p.port), connect(p.port)
        roundtrip(s1, b"hello")
        roundtrip(s2, b"hello")
        n = p.cut_now()
        o1, o2 = outcome(s1), outcome(s2)
        check("cut_now: both clients see EOF", n == 2 and o1 == "eof" and o2 == "eof",
              f"n={n} {o1} {o2}")
        s1.close()
        s2.close()
        check("cut_now: counted, connections gone",
              p.stats()["faults"]["cut"] == 2 and wait_for(lambda: p.stats()["active"] == 0, 2),
              json.dumps(p.stats()))
        with connect(p.port) as s:
            check("cut_now: a new connection works after a cut",
                  roundtrip(s, b"again") == frame(b"again"))


def test_truncate(echo):
    with FaultProxy(("127.0.0.1", echo.port), seed=3) as p:
        with connect(p.port) as s:
            roundtrip(s, b"x")
            p.truncate_next("s2c")
            payload = os.urandom(1000)
            s.sendall(frame(payload))
            got = recv_all(s, 1004)
            f = p.faults()[-1]
            check("truncate s2c: the client gets part of a frame, then EOF",
                  0 < len(got) < 1004 and got == frame(payload)[:len(got)]
                  and f["kind"] == "truncate" and f["sent"] == len(got),
                  f"got {len(got)} bytes, fault {f}")
    with FaultProxy(("127.0.0.1", echo.port), seed=3) as p:
        before = echo.received
        p.set_cut_after(2, 2, truncate=True)
        with connect(p.port) as s:
            ok1 = roundtrip(s, b"a" * 100) == frame(b"a" * 100)
            s.sendall(frame(b"b" * 100))
            got = recv_all(s, 104)
            wait_for(lambda: echo.received - before > 104, 1)
            upstream_got = echo.received - before
            check("cut-after 2 with truncate: the 3rd frame reaches the server in part",
                  ok1 and got == b"" and 104 < upstream_got < 208,
                  f"first ok={ok1} client got {len(got)} server got {upstream_got}")


def test_reset(echo):
    with FaultProxy(("127.0.0.1", echo.port), seed=4) as p:
        with connect(p.port) as s:
            roundtrip(s, b"hi")
            p.reset_now()
            o = outcome(s)
            check("reset_now: the client sees ECONNRESET", o == "reset", o)
        check("reset_now: counted", p.stats()["faults"]["reset"] == 1)


def test_stall(echo):
    with FaultProxy(("127.0.0.1", echo.port), seed=5) as p:
        with connect(p.port) as s:
            roundtrip(s, b"warm")
            for direction in ("s2c", "c2s", "both"):
                p.stall(300, direction)
                t0 = time.monotonic()
                ok = roundtrip(s, b"stalled") == frame(b"stalled")
                dt = time.monotonic() - t0
                check(f"stall 300 ms {direction}: delivered after >= 300 ms, still open",
                      ok and 0.3 <= dt < 1.5, f"ok={ok} took {dt:.3f}s")
            t0 = time.monotonic()
            ok = roundtrip(s, b"after") == frame(b"after")
            dt = time.monotonic() - t0
            check("stall: forwarding resumes at full speed", ok and dt < 0.25, f"{dt:.3f}s")
            p.stall(5000, "s2c")
            threading.Timer(0.1, p.stall, args=(0, "s2c")).start()
            t0 = time.monotonic()
            ok = roundtrip(s, b"early") == frame(b"early")
            dt = time.monotonic() - t0
            check("stall 0: ends a running 5 s stall at once", ok and 0.1 <= dt < 0.6,
                  f"ok={ok} took {dt:.3f}s")


def test_delay(echo):
    with FaultProxy(("127.0.0.1", echo.port), seed=6) as p:
        with connect(p.port) as s:
            p.set_delay(60)
            t0 = time.monotonic()
            ok = all(roundtrip(s, b"d") == frame(b"d") for _ in range(3))
            dt = time.monotonic() - t0
            check("delay 60 ms: 3 round trips (6 frames) take >= 360 ms",
                  ok and 0.36 <= dt < 1.5, f"{dt:.3f}s")
            p.set_delay(0)
            t0 = time.monotonic()
            roundtrip(s, b"d")
            check("delay 0: back to no latency", time.monotonic() - t0 < 0.12)


def test_blackhole(echo):
    with FaultProxy(("127.0.0.1", echo.port), seed=7) as p:
        before = echo.accepted
        p.set_blackhole(True)
        with connect(p.port) as s:
            s.sendall(frame(b"into the void"))
            o = outcome(s, timeout=0.4)
            check("blackhole: accepted, nothing comes back, connection stays open",
                  o == "timeout" and echo.accepted == before, f"{o}")
        p.set_blackhole(False)
        with connect(p.port) as s:
            check("blackhole off: new connections are forwarded again",
                  roundtrip(s, b"back") == frame(b"back"))


def test_down(echo):
    with FaultProxy(("127.0.0.1", echo.port), seed=8) as p:
        p.set_down(True)
        results = []
        for _ in range(2):
            with connect(p.port) as s:
                results.append(outcome(s))
        check("down: new connections are closed at once",
              all(r in ("eof", "reset") for r in results) and p.stats()["refused"] == 2,
              f"{results} {p.stats()['refused']}")
        p.set_down(False)
        with connect(p.port) as s:
            check("down off: connections work again", roundtrip(s, b"up") == frame(b"up"))
        p.set_down(True, for_ms=300)
        with connect(p.port) as s:
            first = outcome(s)
        time.sleep(0.35)
        with connect(p.port) as s:
            check("down for 300 ms: refused, then up by itself",
                  first in ("eof", "reset") and roundtrip(s, b"up") == frame(b"up"), first)


def test_cut_after_range(echo):
    ns = []
    for _ in range(2):
        with FaultProxy(("127.0.0.1", echo.port), seed=1234) as p:
            p.set_cut_after(2, 9)
            counts = []
            for _ in range(4):
                with connect(p.port) as s:
                    n = 0
                    while n < 20 and roundtrip(s, b"f") == frame(b"f"):
                        n += 1
                    counts.append(n)
            ns.append((counts, [f["frame"] for f in p.faults()]))
    frames = ns[0][1]
    check("cut-after 2..9: each connection cut at its drawn frame, within the range",
          all(2 <= f <= 9 for f in frames) and len(frames) == 4
          and all(c == f // 2 for c, f in zip(ns[0][0], frames)), str(ns[0]))
    check("cut-after: the same seed draws the same N per connection", ns[0] == ns[1],
          f"{ns[0]} vs {ns[1]}")


def chaos_roundtrip(p, s, conn_id, payload):
    """One round trip through a chaotic proxy: the echo, or None once the connection is
    cut, reset, truncated or blackholed. A blackhole is told from a slow machine by the
    proxy's own log, so a loaded machine cannot change the schedule."""
    s.sendall(frame(payload))
    want = 4 + len(payload)
    buf = b""
    end = time.monotonic() + 10
    s.settimeout(0.05)
    while len(buf) < want and time.monotonic() < end:
        try:
            data = s.recv(want - len(buf))
        except socket.timeout:
            if any(f["conn"] == conn_id and f["kind"] == "blackhole" for f in p.faults()):
                return None
            continue
        except OSError:
            return None
        if not data:
            return None
        buf += data
    return buf


def chaos_run(echo, seed):
    """Lockstep traffic through a chaotic proxy: 6 connections, up to 25 round trips."""
    with FaultProxy(("127.0.0.1", echo.port), seed=seed) as p:
        p.chaos(0.08, ("cut", "reset", "stall", "delay", "truncate", "blackhole"),
                stall_ms=(5, 20), delay_ms=(1, 5))
        for conn_id in range(6):
            with connect(p.port) as s:
                for i in range(25):
                    payload = bytes([i]) * (i * 37)
                    if chaos_roundtrip(p, s, conn_id, payload) != frame(payload):
                        break
        return [(f["conn"], f["dir"], f["frame"], f["kind"], f.get("ms"), f.get("sent"))
                for f in p.faults()]


def test_chaos_seed(echo):
    a = chaos_run(echo, 99)
    b = chaos_run(echo, 99)
    c = chaos_run(echo, 100)
    kinds = {f[3] for f in a}
    check("chaos: the same seed gives the same fault schedule", a == b and len(a) >= 3,
          f"{a} vs {b}")
    check("chaos: another seed gives another schedule", a != c, f"{a}")
    check("chaos: several kinds were drawn", len(kinds) >= 3, str(sorted(kinds)))


def test_framing_error(echo):
    with FaultProxy(("127.0.0.1", echo.port), seed=9) as p:
        with connect(p.port) as s:
            s.sendall(b"\xfe\x00\x00\x04SMB2")
            o = outcome(s)
            check("framing: a first byte other than 0 closes the connection",
                  o in ("eof", "reset") and p.stats()["framing_errors"] == 1, o)


def control(port, *lines):
    with socket.create_connection(("127.0.0.1", port), timeout=3) as c:
        f = c.makefile("rw")
        replies = []
        for line in lines:
            f.write(line + "\n")
            f.flush()
            replies.append(f.readline().rstrip("\n"))
        return replies


def test_control(echo):
    with FaultProxy(("127.0.0.1", echo.port), seed=10, control=("127.0.0.1", 0)) as p:
        with connect(p.port) as s:
            roundtrip(s, b"c")
            # A frame is counted once sent, which may be just after the client has it.
            wait_for(lambda: p.stats()["frames_s2c"] == 1, 1)
            r = control(p.control_port, "stats", "delay 0", "stall 250 s2c", "bogus",
                        "stall x", "down maybe", "chaos 2")
            st = json.loads(r[0])
            check("control: stats is a JSON line with the counters",
                  st["connections"] == 1 and st["frames_s2c"] == 1 and st["seed"] == 10, r[0])
            check("control: stall and delay reply ok", r[1:3] == ["ok", "ok"], str(r))
            check("control: bad commands get an error line",
                  all(x.startswith("error: ") for x in r[3:]), str(r[3:]))
            t0 = time.monotonic()
            roundtrip(s, b"c")
            check("control: the stall took effect", time.monotonic() - t0 >= 0.2)
            r = control(p.control_port, "cut")
            check("control: cut closes the open connection",
                  r == ["ok 1"] and outcome(s) == "eof", str(r))
        with connect(p.port) as s:
            r = control(p.control_port, "reset")
            check("control: reset", r == ["ok 1"] and outcome(s) == "reset", str(r))
        control(p.control_port, "down on")
        with connect(p.port) as s:
            o = outcome(s)
        r = control(p.control_port, "down off", "faults", "blackhole off",
                    "cut-after 3:5 truncate", "cut-after off", "chaos 0", "truncate s2c")
        check("control: down on refuses; the other commands reply ok",
              o in ("eof", "reset") and r[0] == "ok" and isinstance(json.loads(r[1]), list)
              and r[2:] == ["ok", "ok", "ok", "ok", "ok 0"], f"{o} {r}")


def test_stop_clean(echo):
    threads_before = set(threading.enumerate())
    fds_before = open_fds()
    p = FaultProxy(("127.0.0.1", echo.port), seed=11, control=("127.0.0.1", 0)).start()
    clients = [connect(p.port) for _ in range(4)]
    for c in clients:
        roundtrip(c, b"x")
    p.stall(10000)                     # pumps waiting inside a stall
    clients[0].sendall(frame(b"held"))
    p.set_delay(10000, "c2s")
    clients[1].sendall(frame(b"held"))
    ctl = socket.create_connection(("127.0.0.1", p.control_port))
    wait_for(lambda: False, 0.1)
    alive = p.threads()
    t0 = time.monotonic()
    p.stop()
    dt = time.monotonic() - t0
    check("stop: prompt with stalled and delayed connections", dt < 1.0, f"{dt:.3f}s")
    check("stop: every thread joined", not p.threads() and len(alive) >= 9,
          f"before stop {sorted(t.name for t in alive)}, after {p.threads()}")
    leftover = [t for t in threading.enumerate()
                if t not in threads_before and t.name.startswith("smbproxy")]
    check("stop: no proxy thread left in the process", not leftover, str(leftover))
    for c in clients:
        c.close()
    ctl.close()
    # The echo server closes its side of each upstream connection when it sees the EOF.
    wait_for(lambda: open_fds() <= fds_before, 2)
    fds_after = open_fds()
    check("stop: no socket or pipe left open", fds_after <= fds_before,
          f"new fds {sorted(fds_after - fds_before)}")
    p.stop()   # twice is harmless


def test_program(echo):
    with tempfile.TemporaryDirectory() as d:
        port_file = os.path.join(d, "port")
        ctl_file = os.path.join(d, "control")
        proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "smbproxy.py"), "--upstream",
             f"127.0.0.1:{echo.port}", "--seed", "42", "--port-file", port_file,
             "--control-port-file", ctl_file], stdout=subprocess.PIPE, text=True)
        try:
            first = proc.stdout.readline().strip()
            second = proc.stdout.readline().strip()
            port = int(open(port_file).read())
            ctl = int(open(ctl_file).read())
            check("program: prints seed=N and the ports, writes the port files",
                  first == "seed=42" and second == f"port={port} control={ctl}",
                  f"{first!r} {second!r}")
            with connect(port) as s:
                ok = roundtrip(s, b"prog") == frame(b"prog")
                r = control(ctl, "cut")
                check("program: forwards, and cut over the control port closes",
                      ok and r == ["ok 1"] and outcome(s) == "eof", f"{ok} {r}")
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=5)
            line = out.strip().splitlines()[-1] if out.strip() else ""
            check("program: SIGTERM prints one summary line and exits 0",
                  proc.returncode == 0 and line.startswith("fault-proxy: ")
                  and "connections=1" in line and "cut:1" in line and "seed=42" in line,
                  f"rc={proc.returncode} {line!r}")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()


def test_random_seed():
    a = FaultProxy(("127.0.0.1", 445))
    b = FaultProxy(("127.0.0.1", 445))
    check("no seed given: a random one is chosen and readable",
          isinstance(a.seed, int) and a.seed != b.seed, f"{a.seed} {b.seed}")


def main():
    t0 = time.monotonic()
    echo = EchoServer()
    tests = [
        lambda: test_passthrough(echo), test_refuse_non_loopback,
        lambda: test_ipv6_and_upstream_down(echo), lambda: test_cut(echo),
        lambda: test_truncate(echo), lambda: test_reset(echo), lambda: test_stall(echo),
        lambda: test_delay(echo), lambda: test_blackhole(echo), lambda: test_down(echo),
        lambda: test_cut_after_range(echo), lambda: test_chaos_seed(echo),
        lambda: test_framing_error(echo), lambda: test_control(echo),
        lambda: test_stop_clean(echo), lambda: test_program(echo), test_random_seed,
    ]
    try:
        for test in tests:
            try:
                test()
            except Exception as e:   # a test that raises is one failure, not the end
                import traceback
                traceback.print_exc()
                check(getattr(test, "__name__", "test"), False, f"{type(e).__name__}: {e}")
    finally:
        echo.stop()
    print(f"took {time.monotonic() - t0:.1f}s", flush=True)
    return summary("fault-proxy")


if __name__ == "__main__":
    sys.exit(main())
