#!/usr/bin/env python3
"""Tests deploy/image/smbgate-fuse-fd (the receiving end of the chart's mode: fdpassing)
against a stand-in node helper that passes an ordinary file's descriptor instead of a mounted
/dev/fuse one.

    fdpass_test.py PATH-TO-COMPILED-smbgate-fuse-fd

Prints one line per case and `RESULT passed=N failed=M`. Standard library only.
"""
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

LAUNCHER = sys.argv[1] if len(sys.argv) > 1 else ""
results = {"passed": 0, "failed": 0}


def case(name):
    def wrap(fn):
        try:
            fn()
            results["passed"] += 1
            print(f"ok   fdpass: {name}")
        except AssertionError as e:
            results["failed"] += 1
            print(f"FAIL fdpass: {name}: {e}")
        except Exception as e:
            results["failed"] += 1
            print(f"FAIL fdpass: {name}: {type(e).__name__}: {e}")
        return fn
    return wrap


class Helper(threading.Thread):
    """Listens on `path` (after `delay` s), answers one client with `reply` and the
    descriptor of a file holding b"FUSE" (unless send_fd is false), then waits for EOF."""

    def __init__(self, path, reply=b"OK\n", send_fd=True, delay=0.0):
        super().__init__(daemon=True)
        self.path, self.reply, self.send_fd, self.delay = path, reply, send_fd, delay
        self.request = None
        self.eof = threading.Event()
        self.ready = threading.Event()

    def run(self):
        time.sleep(self.delay)
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(self.path)
        srv.listen(1)
        srv.settimeout(10)
        self.ready.set()
        conn, _ = srv.accept()
        conn.settimeout(10)
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = conn.recv(1)
            if not chunk:
                break
            buf += chunk
        self.request = buf
        with tempfile.TemporaryFile() as f:
            f.write(b"FUSE")
            f.seek(0)
            if self.send_fd:
                socket.send_fds(conn, [self.reply], [f.fileno()])
            else:
                conn.sendall(self.reply)
        # The launcher keeps the connection across exec: EOF means the daemon is gone.
        while conn.recv(64):
            pass
        self.eof.set()
        conn.close()
        srv.close()


def run(args, timeout=20):
    return subprocess.run([LAUNCHER] + args, capture_output=True, text=True, timeout=timeout)


def sock_path(d):
    return os.path.join(d, "fuse.sock")


@case("receives the descriptor as fd 3 and execs the program with it")
def _():
    with tempfile.TemporaryDirectory() as d:
        h = Helper(sock_path(d))
        h.start()
        h.ready.wait(5)
        # The child reads the passed file through /dev/fd/3 (what smbgate is given) and shows
        # that the helper connection is still open in it.
        r = run(["--socket", sock_path(d), "--volume", "smbgate-share", "--fd", "3", "--timeout", "5",
                 "--", "sh", "-c", 'cat /dev/fd/3; echo; for f in /proc/$$/fd/*; do readlink "$f" || :; done'])
        assert r.returncode == 0, f"exit {r.returncode}: {r.stderr}"
        lines = r.stdout.splitlines()
        assert lines[0] == "FUSE", f"fd 3 holds {lines[0]!r}"
        assert any(x.startswith("socket:") for x in lines[1:]), "the helper connection is inherited"
        assert h.request == b"SMBGATE-FUSE-FD 1 volume=smbgate-share\n", f"request {h.request!r}"
        assert h.eof.wait(5), "the helper saw EOF after the program exited"
        assert "got the mounted /dev/fuse descriptor" in r.stderr, r.stderr


@case("waits for a helper that starts later; --ro is in the request")
def _():
    with tempfile.TemporaryDirectory() as d:
        h = Helper(sock_path(d), delay=1.5)
        h.start()
        t0 = time.monotonic()
        r = run(["--socket", sock_path(d), "--volume", "data", "--ro", "--timeout", "10",
                 "--", "sh", "-c", "cat <&3"])
        assert r.returncode == 0, f"exit {r.returncode}: {r.stderr}"
        assert r.stdout == "FUSE", r.stdout
        assert time.monotonic() - t0 >= 1.0, "it did wait"
        assert "waiting for the node helper" in r.stderr, r.stderr
        assert h.request == b"SMBGATE-FUSE-FD 1 volume=data ro\n", f"request {h.request!r}"


@case("a refusal is reported with the helper's reason, exit 1")
def _():
    with tempfile.TemporaryDirectory() as d:
        h = Helper(sock_path(d), reply=b"ERR volume data is not an emptyDir of this pod\n", send_fd=False)
        h.start()
        h.ready.wait(5)
        r = run(["--socket", sock_path(d), "--volume", "data", "--timeout", "5", "--", "true"])
        assert r.returncode == 1, f"exit {r.returncode}"
        assert "refused: volume data is not an emptyDir of this pod" in r.stderr, r.stderr


@case("OK without a descriptor fails")
def _():
    with tempfile.TemporaryDirectory() as d:
        h = Helper(sock_path(d), send_fd=False)
        h.start()
        h.ready.wait(5)
        r = run(["--socket", sock_path(d), "--volume", "data", "--timeout", "5", "--", "true"])
        assert r.returncode == 1 and "without a descriptor" in r.stderr, f"{r.returncode} {r.stderr}"


@case("no helper: gives up after --timeout with a hint")
def _():
    with tempfile.TemporaryDirectory() as d:
        t0 = time.monotonic()
        r = run(["--socket", sock_path(d), "--volume", "data", "--timeout", "1", "--", "true"])
        assert r.returncode == 1, f"exit {r.returncode}"
        assert time.monotonic() - t0 < 5, "bounded wait"
        assert "is the node helper running" in r.stderr, r.stderr


@case("usage errors exit 2 (bad volume name, missing program)")
def _():
    r = run(["--socket", "/nonexistent", "--volume", "../etc", "--", "true"])
    assert r.returncode == 2, f"exit {r.returncode}"
    r = run(["--socket", "/nonexistent", "--volume", "data"])
    assert r.returncode == 2, f"exit {r.returncode}"
    r = run(["--socket", "/nonexistent", "--volume", "data", "--fd", "1", "--", "true"])
    assert r.returncode == 2, f"exit {r.returncode}"


print(f"RESULT passed={results['passed']} failed={results['failed']}")
sys.exit(1 if results["failed"] else 0)
