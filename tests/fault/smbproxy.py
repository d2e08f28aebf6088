#!/usr/bin/python3
"""A seeded fault-injection proxy for SMB2 over TCP, for loopback tests only.

It listens on a loopback address (127.0.0.0/8 or ::1) and forwards every accepted
connection to one upstream SMB server on a loopback address (the DFS tests' servers are on
127.0.0.N added to lo); it refuses any other address, for the upstream and for
the listener, before it opens a socket. It reads the MS-SMB2 2.1 Direct TCP framing (a
4-byte header: a zero byte, then a 24-bit big-endian length) in both directions, so a
fault happens between two frames, or inside one when it is a truncation. Python 3.11
standard library only.

Every random choice comes from random.Random(seed); the seed is printed (or read from
FaultProxy.seed), so a failing run is replayed by passing the same seed. Each accepted
connection gets its own generator drawn from the proxy's, and each direction of it its
own, so the schedule of faults depends only on the seed, the order of connections and
the frames each direction carries, not on thread timing.

Faults
    cut        close both sides (FIN), now or after N frames of a connection (N drawn
               from a range for each connection)
    truncate   forward only the first part of a frame, then close both sides
    reset      close both sides with RST (SO_LINGER 0)
    stall      hold the frames of one direction or both for T ms, connection kept open
    delay      hold every frame T ms before forwarding it (frames of one direction stay
               in order, so this also caps that direction at one frame per T ms)
    blackhole  accept, never connect upstream and never forward (client times out);
               connections already open swallow their frames while it is on
    down       accept new connections and close them at once, like a server that is gone

As a library

    from smbproxy import FaultProxy
    with FaultProxy(("127.0.0.1", smbd_port), seed=7) as p:   # start() ... stop()
        connect the client to ("127.0.0.1", p.port)
        p.cut_now()                    # FIN both sides of every open connection
        p.truncate_next("s2c")         # the next frame to the client is cut short
        p.reset_now()                  # RST both sides of every open connection
        p.stall(500, "c2s")            # "c2s", "s2c" or "both"; stall(0) ends it
        p.set_delay(20, "both")        # per-frame latency, 0 to turn off
        p.set_down(True, for_ms=2000)  # refuse new connections (for_ms None: until off)
        p.set_blackhole(True)
        p.set_cut_after(3, 10, truncate=False)   # each new connection: cut after N frames
        p.chaos(0.05, ("cut", "reset", "stall", "delay", "truncate"))  # per frame
        p.stats()   -> {"connections": ..., "frames_c2s": ..., "faults": {"cut": ...}, ...}
        p.faults()  -> [{"conn": 0, "dir": "s2c", "frame": 12, "kind": "cut", ...}, ...]
        p.observe(fn)                  # fn(direction, frame) for every frame, as it arrives

  Thread-safe: every method may be called from any thread while the proxy runs.
  stop() closes every socket and joins every thread it started, within about a second.
  ValueError for a non-loopback address, a bad direction or a bad fault kind.

As a program

    /usr/bin/python3 tests/fault/smbproxy.py --upstream 127.0.0.1:PORT
        [--listen 127.0.0.1:0] [--seed N] [--chaos RATE]
        [--kinds cut,reset,stall,delay,truncate,blackhole]
        [--stall-range 50:500] [--delay-range 1:50] [--delay MS]
        [--cut-after LO[:HI]] [--truncate] [--port-file F]
        [--control 127.0.0.1:0] [--control-port-file F] [--verbose]

  prints "seed=N" and then "port=P control=C" on stdout when it is listening, writes P to
  the port file and C to the control port file (each written whole, by a rename), logs each
  fault to stderr with --verbose, and on SIGTERM or SIGINT prints one summary line
  ("fault-proxy: connections=... faults=cut:1,...") and exits 0. Exit 2 on a bad argument.

Control protocol (the --control port, always on loopback): one command a line, one reply
line each, any number of commands per connection.

    cut                        -> ok N   (N: connections closed)
    truncate [c2s|s2c|both]    -> ok N   (connections armed)
    reset                      -> ok N
    stall MS [c2s|s2c|both]    -> ok     (replaces a running stall; 0 ends it)
    delay MS [c2s|s2c|both]    -> ok     (0 turns it off)
    down on|off|MS             -> ok     (MS: down for MS milliseconds)
    blackhole on|off           -> ok
    cut-after LO[:HI] [truncate] | cut-after off -> ok
    chaos RATE [kind,kind...]  -> ok     (RATE 0 turns it off)
    stats                      -> one JSON object
    faults                     -> one JSON array
    quit                       -> closes this control connection
  A bad command gets "error: WHAT". From a shell:
    exec 3<>/dev/tcp/127.0.0.1/$CONTROL; echo cut >&3; read -r reply <&3
"""
import argparse
import errno
import ipaddress
import json
import os
import random
import select
import selectors
import signal
import socket
import struct
import sys
import threading
import time

KINDS = ("cut", "truncate", "reset", "stall", "delay", "blackhole")
DIRECTIONS = ("c2s", "s2c")
# MS-SMB2 2.1: the length is 24 bits, so no frame is longer than this.
MAX_FRAME = 0xFFFFFF
# How long to wait for the upstream's connect before the client is closed.
CONNECT_TIMEOUT = 5.0
JOIN_TIMEOUT = 5.0


def require_loopback(host, what):
    """Returns `host` if it is a loopback address (127.0.0.0/8, ::1); ValueError otherwise
    (no name lookup)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{what} {host!r} is not an IP address; this proxy only uses "
                         "127.0.0.0/8 or ::1") from None
    if not address.is_loopback:
        raise ValueError(f"{what} {host} is not loopback; this proxy only uses 127.0.0.0/8 "
                         "or ::1")
    return str(address)


def parse_hostport(text, what):
    """'127.0.0.1:445' or '[::1]:445' -> (host, port), checked to be loopback."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{what} {text!r} is not HOST:PORT")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return require_loopback(host, what), int(port)


def _directions(direction):
    if direction == "both":
        return DIRECTIONS
    if direction in DIRECTIONS:
        return (direction,)
    raise ValueError(f"direction {direction!r} is not c2s, s2c or both")


def _range(value, what):
    lo, hi = (value, value) if isinstance(value, (int, float)) else value
    lo, hi = int(lo), int(hi)
    if lo < 0 or hi < lo:
        raise ValueError(f"{what} range {value!r} is not 0 <= LO <= HI")
    return lo, hi


class _Closed(Exception):
    """The connection is ending (a fault, a peer's EOF or stop()); the pump returns."""


class _Conn:
    """One client connection and its upstream. Two pumps (one a direction) move frames;
    whoever ends the connection records how (FIN or RST) and wakes both through a pipe
    that stays readable, and the connection's thread closes the sockets once both pumps
    are out, so no socket is closed under a thread still using it."""

    def __init__(self, proxy, conn_id, client, conn_seed):
        self.proxy = proxy
        self.id = conn_id
        self.client = client
        self.upstream = None
        self.rng = random.Random(conn_seed)
        self.rng_dir = {"c2s": random.Random(conn_seed * 4 + 1),
                        "s2c": random.Random(conn_seed * 4 + 2)}
        self.wake_r, self.wake_w = os.pipe()
        self.lock = threading.Lock()
        self.end_mode = None          # None while open, then "fin" or "rst"
        self.frames = 0               # both directions, for cut-after
        self.cut_at = None            # frame index at which cut-after fires
        self.cut_truncate = False
        self.truncate_armed = set()   # directions whose next frame is truncated
        self.hold_until = {"c2s": 0.0, "s2c": 0.0}   # chaos stalls of this connection
        self.blackholed = False
        self.thread = None

    # --- ending --------------------------------------------------------------------------

    def end(self, mode):
        """Ends the connection with "fin" or "rst" unless it is already ending."""
        with self.lock:
            if self.end_mode is not None:
                return False
            self.end_mode = mode
        try:
            os.write(self.wake_w, b"x")
        except OSError:
            pass
        return True

    def ending(self):
        return self.end_mode is not None

    def close_sockets(self):
        for sock in (self.client, self.upstream):
            if sock is None:
                continue
            try:
                if self.end_mode == "rst":
                    # A zero linger makes close() send RST and drop unsent data.
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                    struct.pack("ii", 1, 0))
                else:
                    sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            sock.close()
        os.close(self.wake_r)
        os.close(self.wake_w)

    # --- waiting -------------------------------------------------------------------------

    def wait(self, seconds):
        """Sleeps `seconds` unless the connection ends first (then _Closed)."""
        if seconds > 0:
            ready, _, _ = select.select([self.wake_r], [], [], seconds)
            if ready:
                raise _Closed()
        if self.ending():
            raise _Closed()

    def _wait_io(self, sock, write, deadline=None):
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        rl = [self.wake_r] + ([] if write else [sock])
        wl = [sock] if write else []
        r, w, _ = select.select(rl, wl, [], timeout)
        if self.wake_r in r:
            raise _Closed()
        return bool(r or w)

    def recv_exact(self, sock, n, source):
        """Reads exactly n bytes; _Closed on the connection ending. On the peer's EOF or
        reset the connection ends the same way, which the other side then sees."""
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            self._wait_io(sock, write=False)
            try:
                k = sock.recv_into(view[got:], n - got)
            except (BlockingIOError, InterruptedError):
                continue
            except ConnectionResetError:
                self.proxy._note_peer_end(self, source, "rst")
                self.end("rst")
                raise _Closed() from None
            except OSError:
                self.end("fin")
                raise _Closed() from None
            if k == 0:
                self.proxy._note_peer_end(self, source, "fin")
                self.end("fin")
                raise _Closed()
            got += k
        return bytes(buf)

    def send_all(self, sock, data):
        view = memoryview(data)
        while view:
            self._wait_io(sock, write=True)
            try:
                k = sock.send(view)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                self.end("rst")
                raise _Closed() from None
            view = view[k:]


class FaultProxy:
    """A TCP proxy from a loopback port to a loopback SMB server that injects faults.

    upstream: (host, port), host in 127.0.0.0/8 or ::1. listen: (host, port), port 0 for a free
    one. seed: an int, or None for a random one (read it back from .seed). control: None,
    or (host, port) of a loopback port for the line protocol of the module docstring.
    log: None or a callable taking one line per fault. ValueError for a non-loopback
    address. Every public method is thread-safe."""

    def __init__(self, upstream, listen=("127.0.0.1", 0), seed=None, control=None,
                 log=None):
        self.upstream = (require_loopback(upstream[0], "upstream"), int(upstream[1]))
        self.listen = (require_loopback(listen[0], "listen address"), int(listen[1]))
        self.control_listen = None if control is None else (
            require_loopback(control[0], "control address"), int(control[1]))
        self.seed = int(seed) if seed is not None else random.SystemRandom().getrandbits(63)
        self._rng = random.Random(self.seed)
        self._log = log
        self._lock = threading.Lock()
        self._conns = {}
        self._next_id = 0
        self._threads = []
        self._listener = None
        self._control = None
        self._port = self._control_port = None
        self._control_clients = {}
        self._wake_r = self._wake_w = None
        self._acceptor = None
        self._running = False
        # Settings, read by the pumps under _lock.
        self._down_until = 0.0
        self._blackhole = False
        self._stall_until = {"c2s": 0.0, "s2c": 0.0}
        self._delay = {"c2s": 0.0, "s2c": 0.0}
        self._cut_after = None        # (lo, hi, truncate)
        self._chaos_rate = 0.0
        self._chaos_kinds = ()
        self._stall_range = (50, 500)
        self._delay_range = (1, 50)
        self._counters = {
            "connections": 0, "active": 0, "refused": 0, "upstream_errors": 0,
            "frames_c2s": 0, "frames_s2c": 0, "bytes_c2s": 0, "bytes_s2c": 0,
            "swallowed": 0, "framing_errors": 0, "peer_fin": 0, "peer_rst": 0,
        }
        self._fault_counts = {kind: 0 for kind in KINDS + ("down",)}
        self._fault_log = []
        self._observers = []

    # --- life cycle ----------------------------------------------------------------------

    def start(self):
        """Binds the listener (and the control port) and starts accepting. Returns self.
        OSError if a port cannot be bound (nothing is left open then); RuntimeError if
        it was started before."""
        if self._listener is not None:
            raise RuntimeError("FaultProxy.start() called twice")
        try:
            self._listener = self._bind(self.listen, 64)
            if self.control_listen is not None:
                self._control = self._bind(self.control_listen, 8)
        except OSError:
            for sock in (self._listener, self._control):
                if sock is not None:
                    sock.close()
            raise
        self._port = self._listener.getsockname()[1]
        self._control_port = None if self._control is None else \
            self._control.getsockname()[1]
        self._wake_r, self._wake_w = os.pipe()
        self._running = True
        self._acceptor = threading.Thread(target=self._accept_loop, name="smbproxy-accept",
                                          daemon=True)
        self._acceptor.start()
        return self

    @staticmethod
    def _bind(address, backlog):
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(backlog)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        return sock

    def stop(self):
        """Closes the listener and every connection (FIN) and joins every thread."""
        if not self._running:
            return
        self._running = False
        os.write(self._wake_w, b"x")
        self._acceptor.join(JOIN_TIMEOUT)
        with self._lock:
            conns = list(self._conns.values())
        for conn in conns:
            conn.end("fin")
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(JOIN_TIMEOUT)
        for sock in [self._listener, self._control] + list(self._control_clients):
            if sock is not None:
                sock.close()
        self._control_clients.clear()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self):
        """The listening port (None before start(); kept after stop())."""
        return self._port

    @property
    def control_port(self):
        """The control protocol's port, or None without one."""
        return self._control_port

    def threads(self):
        """The threads this proxy started that are still alive (for leak checks)."""
        with self._lock:
            return [t for t in self._threads + [self._acceptor] if t and t.is_alive()]

    # --- faults on demand ----------------------------------------------------------------

    def cut_now(self, truncate=False):
        """Closes both sides of every open connection with FIN; with truncate, arms each
        to cut its next frame (either direction) short instead. Returns how many."""
        if truncate:
            return self.truncate_next("both")
        n = 0
        for conn in self._live():
            if conn.end("fin"):
                self._fault(conn, None, None, "cut", source="manual")
                n += 1
        return n

    def truncate_next(self, direction="both"):
        """Arms every open connection: the next frame going `direction` is forwarded
        only in part, then both sides are closed. Returns how many were armed."""
        dirs = _directions(direction)
        conns = self._live()
        for conn in conns:
            with conn.lock:
                conn.truncate_armed.update(dirs)
        return len(conns)

    def reset_now(self):
        """Closes both sides of every open connection with RST. Returns how many."""
        n = 0
        for conn in self._live():
            if conn.end("rst"):
                self._fault(conn, None, None, "reset", source="manual")
                n += 1
        return n

    def stall(self, ms, direction="both"):
        """Holds every frame going `direction` (c2s, s2c, both) for the next `ms`
        milliseconds, on open and new connections; nothing is closed. Replaces a stall
        already running in that direction, so stall(0) ends it now."""
        dirs = _directions(direction)
        until = time.monotonic() + ms / 1000.0
        with self._lock:
            for d in dirs:
                self._stall_until[d] = until
            if ms > 0:
                self._fault_counts["stall"] += 1
                self._fault_log.append({"conn": None, "dir": direction, "frame": None,
                                        "kind": "stall", "ms": ms, "source": "manual"})
        if ms > 0:
            self._emit(f"stall {ms} ms {direction}")

    def set_delay(self, ms, direction="both"):
        """Holds each frame going `direction` `ms` milliseconds before forwarding it."""
        dirs = _directions(direction)
        with self._lock:
            for d in dirs:
                self._delay[d] = max(0, ms) / 1000.0

    def set_down(self, down, for_ms=None):
        """While down, new connections are accepted and closed at once (counted as
        "refused"); for_ms ends it by itself after that many milliseconds."""
        with self._lock:
            if not down:
                self._down_until = 0.0
            elif for_ms is None:
                self._down_until = float("inf")
            else:
                self._down_until = time.monotonic() + for_ms / 1000.0

    def set_blackhole(self, on):
        """While on, new connections never reach the upstream and open ones drop their
        frames; nothing is closed, so the client waits for its own timeout."""
        with self._lock:
            self._blackhole = bool(on)

    def set_cut_after(self, lo, hi=None, truncate=False):
        """Each connection accepted from now on is cut after N frames (both directions
        counted), N drawn from [lo, hi] with the seeded generator; with truncate the
        frame after the Nth is forwarded in part first. lo None turns it off."""
        with self._lock:
            if lo is None:
                self._cut_after = None
            else:
                lo_, hi_ = _range((lo, lo if hi is None else hi), "cut-after")
                self._cut_after = (lo_, hi_, bool(truncate))

    def chaos(self, rate, kinds=("cut", "reset", "stall", "delay", "truncate"),
              stall_ms=None, delay_ms=None):
        """Before each frame, with probability `rate`, injects one of `kinds` (chosen by
        the seeded generator): cut, truncate, reset, stall (this direction of this
        connection, stall_ms (lo, hi)), delay (this frame, delay_ms (lo, hi)), blackhole
        (this connection goes silent). rate 0 turns it off."""
        kinds = tuple(kinds)
        for kind in kinds:
            if kind not in KINDS:
                raise ValueError(f"fault kind {kind!r} is not one of {', '.join(KINDS)}")
        if not 0 <= rate <= 1:
            raise ValueError(f"chaos rate {rate} is not between 0 and 1")
        if rate > 0 and not kinds:
            raise ValueError("chaos needs at least one fault kind")
        with self._lock:
            self._chaos_rate = float(rate)
            self._chaos_kinds = kinds
            if stall_ms is not None:
                self._stall_range = _range(stall_ms, "stall")
            if delay_ms is not None:
                self._delay_range = _range(delay_ms, "delay")

    # --- reading -------------------------------------------------------------------------

    def stats(self):
        """The counters: connections, active, refused, upstream_errors, frames_c2s,
        frames_s2c, bytes_c2s, bytes_s2c, swallowed, framing_errors, peer_fin, peer_rst,
        and faults {kind: count}; seed and port too."""
        with self._lock:
            out = dict(self._counters)
            out["faults"] = dict(self._fault_counts)
        out["seed"] = self.seed
        out["port"] = self._port
        return out

    def faults(self):
        """Every fault so far, in order: {"conn", "dir", "frame", "kind", "source", ...};
        conn and frame are None for faults not tied to one (manual stall)."""
        with self._lock:
            return [dict(f) for f in self._fault_log]

    def summary(self):
        """One line of counters for a log."""
        s = self.stats()
        faults = ",".join(f"{k}:{v}" for k, v in s.pop("faults").items())
        s.pop("port")
        return "fault-proxy: " + " ".join(f"{k}={v}" for k, v in s.items()) + \
            f" faults={faults}"

    # --- internals -----------------------------------------------------------------------

    def _live(self):
        with self._lock:
            return [c for c in self._conns.values() if not c.ending()]

    def _emit(self, line):
        if self._log is not None:
            self._log(line)

    def _count(self, key, n=1):
        with self._lock:
            self._counters[key] += n

    def _fault(self, conn, direction, frame, kind, source, **extra):
        entry = {"conn": None if conn is None else conn.id, "dir": direction,
                 "frame": frame, "kind": kind, "source": source}
        entry.update(extra)
        with self._lock:
            self._fault_counts[kind] += 1
            self._fault_log.append(entry)
        self._emit(" ".join(f"{k}={v}" for k, v in entry.items() if v is not None))

    def _note_peer_end(self, conn, source, how):
        if not conn.ending():
            self._count("peer_rst" if how == "rst" else "peer_fin")

    def _accept_loop(self):
        sel = selectors.DefaultSelector()
        sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        sel.register(self._listener, selectors.EVENT_READ, "proxy")
        if self._control is not None:
            sel.register(self._control, selectors.EVENT_READ, "control")
        try:
            while self._running:
                for key, _ in sel.select():
                    if key.data == "wake":
                        return
                    if key.data == "proxy":
                        self._accept_one()
                    elif key.data == "control":
                        self._accept_control(sel)
                    else:
                        self._serve_control(sel, key.fileobj)
        finally:
            sel.close()

    def _accept_one(self):
        try:
            client, _ = self._listener.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return
        client.setblocking(False)
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            conn_id = self._next_id
            self._next_id += 1
            # Drawn for every accepted socket, refused or not, so that connection N gets
            # the same generator in every run with this seed.
            conn_seed = self._rng.getrandbits(64)
            self._counters["connections"] += 1
            down = time.monotonic() < self._down_until
            if down:
                self._counters["refused"] += 1
                self._fault_counts["down"] += 1
        if down:
            self._emit(f"conn={conn_id} refused (down)")
            client.close()
            return
        conn = _Conn(self, conn_id, client, conn_seed)
        with self._lock:
            conn.blackholed = self._blackhole
            if self._cut_after is not None:
                lo, hi, truncate = self._cut_after
                conn.cut_at = conn.rng.randint(lo, hi)
                conn.cut_truncate = truncate
            self._conns[conn_id] = conn
            self._counters["active"] += 1
            conn.thread = threading.Thread(target=self._run_conn, args=(conn,),
                                           name=f"smbproxy-conn{conn_id}", daemon=True)
        if conn.blackholed:
            self._fault(conn, None, None, "blackhole", source="manual")
        conn.thread.start()
        with self._lock:
            # Only started threads are listed, so a finished one is one that is dead.
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(conn.thread)

    def _run_conn(self, conn):
        pump = None
        try:
            if conn.blackholed:
                self._swallow(conn, conn.client)
                return
            if not self._connect_upstream(conn):
                return
            pump = threading.Thread(target=self._pump, args=(conn, "s2c"),
                                    name=f"smbproxy-conn{conn.id}-s2c", daemon=True)
            pump.start()
            with self._lock:
                self._threads.append(pump)
            self._pump(conn, "c2s")
        finally:
            conn.end("fin")
            if pump is not None:
                pump.join()
            conn.close_sockets()
            with self._lock:
                self._conns.pop(conn.id, None)
                self._counters["active"] -= 1

    def _connect_upstream(self, conn):
        family = socket.AF_INET6 if ":" in self.upstream[0] else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        conn.upstream = sock
        err = sock.connect_ex(self.upstream)
        try:
            if err not in (0, errno.EINPROGRESS):
                raise OSError(err, os.strerror(err))
            if err == errno.EINPROGRESS and not conn._wait_io(sock, True,
                                                time.monotonic() + CONNECT_TIMEOUT):
                raise OSError("connect timed out")
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                raise OSError(err, os.strerror(err))
        except _Closed:
            return False
        except OSError as e:
            self._count("upstream_errors")
            self._emit(f"conn={conn.id} upstream {self.upstream[0]}:{self.upstream[1]}: {e}")
            conn.end("fin")
            return False
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return True

    def _swallow(self, conn, sock):
        """Reads and drops whatever arrives until the connection ends."""
        try:
            while True:
                conn._wait_io(sock, write=False)
                try:
                    data = sock.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    return
                if not data:
                    return
                self._count("swallowed", len(data))
        except _Closed:
            return

    def _pump(self, conn, direction):
        src, dst = ((conn.client, conn.upstream) if direction == "c2s"
                    else (conn.upstream, conn.client))
        try:
            while True:
                header = conn.recv_exact(src, 4, direction)
                length = int.from_bytes(header[1:], "big")
                if header[0] != 0:
                    # Not Direct TCP framing (MS-SMB2 2.1): nothing after it can be trusted.
                    self._count("framing_errors")
                    self._emit(f"conn={conn.id} {direction}: first byte {header[0]:#04x} "
                               "is not 0; closing")
                    conn.end("fin")
                    return
                frame = header + (conn.recv_exact(src, length, direction) if length else b"")
                self._forward(conn, direction, dst, frame)
        except _Closed:
            return

    def observe(self, fn):
        """Calls fn(direction, frame) with every frame (its 4-byte length included) as it
        arrives, before any fault, on the proxy's threads: to look at what a client sends."""
        with self._lock:
            self._observers.append(fn)

    def _forward(self, conn, direction, dst, frame):
        with self._lock:
            observers = list(self._observers)
        for fn in observers:
            fn(direction, frame)
        with conn.lock:
            index = conn.frames
            conn.frames += 1
            armed = direction in conn.truncate_armed
            conn.truncate_armed.discard(direction)
        with self._lock:
            blackhole = self._blackhole or conn.blackholed
            rate, kinds = self._chaos_rate, self._chaos_kinds
            stall_range, delay_range = self._stall_range, self._delay_range
        if blackhole:
            self._count("swallowed", len(frame))
            return
        if conn.cut_at is not None and index >= conn.cut_at:
            if conn.cut_truncate:
                self._truncate(conn, direction, dst, frame, index, "cut-after")
            else:
                self._fault(conn, direction, index, "cut", source="cut-after")
                conn.end("fin")
            raise _Closed()
        if armed:
            self._truncate(conn, direction, dst, frame, index, "manual")
            raise _Closed()
        extra_wait = 0.0
        if rate > 0:
            rng = conn.rng_dir[direction]
            if rng.random() < rate:
                kind = rng.choice(kinds)
                if kind == "cut":
                    self._fault(conn, direction, index, "cut", source="chaos")
                    conn.end("fin")
                    raise _Closed()
                if kind == "reset":
                    self._fault(conn, direction, index, "reset", source="chaos")
                    conn.end("rst")
                    raise _Closed()
                if kind == "truncate":
                    self._truncate(conn, direction, dst, frame, index, "chaos")
                    raise _Closed()
                if kind == "blackhole":
                    self._fault(conn, direction, index, "blackhole", source="chaos")
                    conn.blackholed = True
                    self._count("swallowed", len(frame))
                    return
                if kind == "stall":
                    ms = rng.randint(*stall_range)
                    self._fault(conn, direction, index, "stall", source="chaos", ms=ms)
                    conn.hold_until[direction] = time.monotonic() + ms / 1000.0
                if kind == "delay":
                    ms = rng.randint(*delay_range)
                    self._fault(conn, direction, index, "delay", source="chaos", ms=ms)
                    extra_wait = ms / 1000.0
        # A stall may be replaced (ended or extended) while we wait: re-read it often.
        while True:
            with self._lock:
                until = max(self._stall_until[direction], conn.hold_until[direction])
            left = until - time.monotonic()
            if left <= 0:
                break
            conn.wait(min(left, 0.02))
        with self._lock:
            delay = self._delay[direction]
        conn.wait(delay + extra_wait)
        conn.send_all(dst, frame)
        with self._lock:
            self._counters["frames_" + direction] += 1
            self._counters["bytes_" + direction] += len(frame)

    def _truncate(self, conn, direction, dst, frame, index, source):
        # At least one byte goes and at least one is missing, so the peer always holds a
        # partial frame; a header-only frame is cut inside its header.
        keep = conn.rng_dir[direction].randint(1, len(frame) - 1)
        self._fault(conn, direction, index, "truncate", source=source, sent=keep,
                    length=len(frame))
        try:
            conn.send_all(dst, frame[:keep])
        finally:
            conn.end("fin")

    # --- control protocol ----------------------------------------------------------------

    def _accept_control(self, sel):
        try:
            sock, _ = self._control.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return
        sock.setblocking(False)
        self._control_clients[sock] = b""
        sel.register(sock, selectors.EVENT_READ, "client")

    def _serve_control(self, sel, sock):
        try:
            data = sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        buf = self._control_clients.get(sock, b"") + data
        lines = buf.split(b"\n")
        self._control_clients[sock] = lines.pop()
        close = not data or len(self._control_clients[sock]) > 4096
        for raw in lines:
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            if line == "quit":
                close = True
                break
            reply = self.command(line)
            try:
                sock.settimeout(2.0)
                sock.sendall(reply.encode() + b"\n")
                sock.setblocking(False)
            except OSError:
                close = True
                break
        if close:
            sel.unregister(sock)
            self._control_clients.pop(sock, None)
            sock.close()

    def command(self, line):
        """Runs one control-protocol command and returns its reply line (no newline)."""
        words = line.split()
        if not words:
            return "error: empty command"
        cmd, args = words[0].lower(), words[1:]
        try:
            if cmd == "cut" and not args:
                return f"ok {self.cut_now()}"
            if cmd == "reset" and not args:
                return f"ok {self.reset_now()}"
            if cmd == "truncate" and len(args) <= 1:
                return f"ok {self.truncate_next(*(args or ['both']))}"
            if cmd in ("stall", "delay") and len(args) in (1, 2):
                ms = int(args[0])
                if ms < 0:
                    raise ValueError(f"{args[0]} is negative")
                if cmd == "stall":
                    self.stall(ms, *args[1:])
                else:
                    self.set_delay(ms, *args[1:])
                return "ok"
            if cmd == "down" and len(args) == 1:
                if args[0] in ("on", "off"):
                    self.set_down(args[0] == "on")
                else:
                    self.set_down(True, for_ms=int(args[0]))
                return "ok"
            if cmd == "blackhole" and len(args) == 1 and args[0] in ("on", "off"):
                self.set_blackhole(args[0] == "on")
                return "ok"
            if cmd == "cut-after" and len(args) in (1, 2):
                if args[0] == "off" and len(args) == 1:
                    self.set_cut_after(None)
                    return "ok"
                if len(args) == 2 and args[1] != "truncate":
                    raise ValueError(f"{args[1]!r} is not 'truncate'")
                lo, hi = (args[0].split(":", 1) + [None])[:2]
                self.set_cut_after(int(lo), None if hi is None else int(hi),
                                   truncate=len(args) == 2)
                return "ok"
            if cmd == "chaos" and len(args) in (1, 2):
                kinds = args[1].split(",") if len(args) == 2 else \
                    ("cut", "reset", "stall", "delay", "truncate")
                self.chaos(float(args[0]), kinds)
                return "ok"
            if cmd == "stats" and not args:
                return json.dumps(self.stats(), sort_keys=True)
            if cmd == "faults" and not args:
                return json.dumps(self.faults())
        except (ValueError, TypeError) as e:
            return f"error: {e}"
        return f"error: unknown command {line!r}; see the module docstring"


def _parse_range(text, what):
    lo, _, hi = text.partition(":")
    try:
        return _range((int(lo), int(hi or lo)), what)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{what} {text!r}: {e}") from None


def _write_file(path, text):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="smbproxy.py", description="Seeded SMB2 fault-injection proxy (loopback only).")
    ap.add_argument("--upstream", required=True, help="127.0.0.1:PORT or [::1]:PORT")
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--chaos", type=float, default=0.0, metavar="RATE",
                    help="probability of a fault before each frame")
    ap.add_argument("--kinds", default="cut,reset,stall,delay,truncate",
                    help=f"comma-separated, of {','.join(KINDS)}")
    ap.add_argument("--stall-range", default="50:500", metavar="LO:HI",
                    type=lambda t: _parse_range(t, "stall range"))
    ap.add_argument("--delay-range", default="1:50", metavar="LO:HI",
                    type=lambda t: _parse_range(t, "delay range"))
    ap.add_argument("--delay", type=int, default=0, metavar="MS", help="per-frame latency")
    ap.add_argument("--cut-after", metavar="LO[:HI]",
                    type=lambda t: _parse_range(t, "cut-after"))
    ap.add_argument("--truncate", action="store_true",
                    help="with --cut-after: cut inside the next frame")
    ap.add_argument("--port-file")
    ap.add_argument("--control", default="127.0.0.1:0", help="control port, HOST:PORT")
    ap.add_argument("--control-port-file")
    ap.add_argument("--verbose", action="store_true", help="log each fault to stderr")
    args = ap.parse_args(argv)

    def log(line):
        print(f"smbproxy: {line}", file=sys.stderr, flush=True)

    try:
        proxy = FaultProxy(parse_hostport(args.upstream, "upstream"),
                           listen=parse_hostport(args.listen, "listen address"),
                           seed=args.seed,
                           control=parse_hostport(args.control, "control address"),
                           log=log if args.verbose else None)
        if args.chaos:
            proxy.chaos(args.chaos, [k for k in args.kinds.split(",") if k],
                        stall_ms=args.stall_range, delay_ms=args.delay_range)
    except ValueError as e:
        print(f"smbproxy: {e}", file=sys.stderr)
        return 2
    if args.delay:
        proxy.set_delay(args.delay)
    if args.cut_after:
        proxy.set_cut_after(*args.cut_after, truncate=args.truncate)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"seed={proxy.seed}", flush=True)
    try:
        proxy.start()
    except OSError as e:
        print(f"smbproxy: listen on {args.listen}: {e}", file=sys.stderr)
        return 2
    # The files first: a reader of stdout may go straight for them.
    if args.port_file:
        _write_file(args.port_file, f"{proxy.port}\n")
    if args.control_port_file:
        _write_file(args.control_port_file, f"{proxy.control_port}\n")
    print(f"port={proxy.port} control={proxy.control_port}", flush=True)
    while not stop.is_set():
        stop.wait(0.5)
    proxy.stop()
    print(proxy.summary(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
