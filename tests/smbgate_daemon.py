"""`smbgate mount --foreground` as the Python suites (tests/dfs, tests/domain) drive it: a
daemon with /metrics on a free loopback port, its log in a file, stopped with SIGTERM."""
import os
import signal
import socket
import subprocess
import urllib.request

from checks import wait_for


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Daemon:
    """The mount of `share` on `mnt` with the credentials `creds`; `options` go after the
    metrics, logging ones in `-o`. `up` tells whether it mounted within 30 s.

    `prefix`: argv that ends by exec'ing the rest (a mount namespace of the test's, say);
    the mount is then in that namespace, and `path` is where this process reaches it
    (through /proc/PID/root); without a prefix `path` is `mnt`."""

    def __init__(self, binary, share, mnt, creds, log, options="", prefix=None):
        os.makedirs(mnt, exist_ok=True)
        self.mnt = mnt
        self.log = log
        self.port = free_port()
        opts = f"metrics=127.0.0.1:{self.port},log_format=json,log_level=info" + (f",{options}" if options else "")
        self.p = subprocess.Popen((prefix or []) + [binary, "mount", share, mnt, "--credentials", creds,
                                                    "--foreground", "-o", opts],
                                  stdout=open(log, "ab"), stderr=subprocess.STDOUT)
        self.path = f"/proc/{self.p.pid}/root{os.path.abspath(mnt)}" if prefix else mnt
        self.up = wait_for(lambda: os.path.ismount(self.path) or self.p.poll() is not None, 30) and \
            self.p.poll() is None

    def metrics(self):
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5).read().decode()
        except OSError:
            return ""

    def value(self, name, **labels):
        """The sum of the series of `name` whose labels include `labels`."""
        total = 0.0
        for line in self.metrics().splitlines():
            if not line.startswith(name) or line.startswith("#"):
                continue
            head, _, val = line.rpartition(" ")
            series = head[len(name):]
            if series and series[0] not in "{":
                continue  # another metric with this prefix
            if all(f'{k}="{v}"' in series for k, v in labels.items()):
                total += float(val)
        return total

    def log_text(self):
        return open(self.log, errors="replace").read()

    def stop(self):
        """SIGTERM, then SIGKILL after 30 s; the exit code. A mount left behind is detached."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        if os.path.ismount(self.mnt):
            subprocess.run(["fusermount3", "-uz", self.mnt], capture_output=True)
        return rc
