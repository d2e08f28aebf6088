#!/usr/bin/python3
"""tests/fault/smbproxy.py in front of a real smbd, with smbclient as the client: the
framing holds for real SMB2/3 traffic (mandatory signing, as deploy/local-smbd.sh sets
it up), and each fault reaches a real client as the error it should be.

    /usr/bin/python3 tests/fault/smbproxy_smbd_test.py      (as root, for smbd)

Starts smbd with deploy/local-smbd.sh in a temporary directory and stops it at the end.
The password goes to smbclient in an authentication file (-A), never in argv. Prints
"ok   NAME" or "FAIL NAME: detail" per check, or one "skip" line when smbd, smbclient
or root is missing, and closes with "fault-proxy-smbd: N passed, M failed"; exits 1 if
any failed.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
from checks import check, summary, wait_for  # noqa: E402
from smbproxy import FaultProxy  # noqa: E402




class Smbclient:
    def __init__(self, port, auth_file):
        self.port = port
        self.auth_file = auth_file

    def argv(self, command):
        return ["smbclient", "//127.0.0.1/demo", "-p", str(self.port), "-A", self.auth_file,
                "-m", "SMB3", "-c", command]

    def run(self, command="ls", timeout=30):
        """(returncode, output, seconds); returncode None if it was still waiting."""
        t0 = time.monotonic()
        try:
            r = subprocess.run(self.argv(command), capture_output=True, text=True,
                               timeout=timeout)
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) \
                else (e.stdout or "")
            return None, out, time.monotonic() - t0
        return r.returncode, r.stdout + r.stderr, time.monotonic() - t0

    def start(self, command="ls"):
        return subprocess.Popen(self.argv(command), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)


def last_line(text):
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1].strip() if lines else ""


def run_checks(d):
    port = int(open(os.path.join(d, "port")).read())
    # An authentication file of our own, from the Secret-style files the script wrote.
    auth = os.path.join(d, "proxy-auth.txt")
    user = open(os.path.join(d, "secret", "username")).read()
    password = open(os.path.join(d, "secret", "password")).read()
    fd = os.open(auth, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"username={user}\npassword={password}\ndomain=DEMO\n")
    with open(os.path.join(d, "share", "through-the-proxy.txt"), "w") as f:
        f.write("hello\n")

    with FaultProxy(("127.0.0.1", port), seed=20261202) as p:
        print(f"seed={p.seed} smbd={port} proxy={p.port}", flush=True)
        client = Smbclient(p.port, auth)

        rc, out, _ = client.run("ls")
        st = p.stats()
        frames = st["frames_c2s"] + st["frames_s2c"]
        check("smbclient ls through the proxy lists the share",
              rc == 0 and "through-the-proxy.txt" in out, f"rc={rc} {last_line(out)!r}")
        check("the proxy parsed every frame of the session (signed SMB3)",
              frames >= 10 and st["framing_errors"] == 0 and st["faults"]["cut"] == 0
              and st["bytes_c2s"] > 0 and st["bytes_s2c"] > 0, str(st))

        # The same session cut short, at two points: in the middle of the session setup
        # and half-way, during the directory listing (the last frames, tree disconnect
        # and logoff, come after smbclient has its answer).
        mid = frames // 2 + 1
        for cut_at in (5, mid):
            p.set_cut_after(cut_at)
            rc, out, _ = client.run("ls")
            check(f"cut after {cut_at} frames: smbclient fails with a disconnect",
                  rc not in (0, None) and "NT_STATUS_" in out
                  and p.faults()[-1]["kind"] == "cut", f"rc={rc} {last_line(out)!r}")
        p.set_cut_after(mid, truncate=True)
        rc, out, _ = client.run("ls")
        f = p.faults()[-1]
        check("truncated mid-frame: smbclient fails",
              rc not in (0, None) and f["kind"] == "truncate" and f["sent"] < f["length"],
              f"rc={rc} {last_line(out)!r} {f}")
        p.set_cut_after(None)

        # Faults on demand in the middle of a session: the server's replies are held by a
        # stall, and the connection is cut or reset while smbclient waits for one.
        for name, fault in (("cut_now", p.cut_now), ("reset_now", p.reset_now)):
            before = p.stats()["frames_c2s"]
            p.stall(3000, "s2c")
            proc = client.start("ls")
            wait_for(lambda: p.stats()["frames_c2s"] > before, 5)
            n = fault()
            out, _ = proc.communicate(timeout=30)
            check(f"{name} during a session: smbclient fails",
                  n == 1 and proc.returncode != 0 and "NT_STATUS_" in out,
                  f"n={n} rc={proc.returncode} {last_line(out)!r}")
            p.stall(0)

        p.stall(1500, "s2c")
        rc, out, secs = client.run("ls")
        check("stall 1500 ms: smbclient still succeeds, >= 1.5 s later",
              rc == 0 and secs >= 1.5 and "through-the-proxy.txt" in out,
              f"rc={rc} {secs:.2f}s {last_line(out)!r}")

        p.set_down(True)
        rc, out, _ = client.run("ls")
        check("down: smbclient cannot connect", rc not in (0, None) and "NT_STATUS_" in out,
              f"rc={rc} {last_line(out)!r}")
        p.set_down(False)

        p.set_blackhole(True)
        rc, out, secs = client.run("ls", timeout=2)
        check("blackhole: smbclient gets no answer (still waiting after 2 s)", rc is None,
              f"rc={rc} {last_line(out)!r}")
        p.set_blackhole(False)

        rc, out, _ = client.run("ls")
        check("after every fault, the same server still works through the proxy",
              rc == 0 and "through-the-proxy.txt" in out, f"rc={rc} {last_line(out)!r}")
        print(p.summary(), flush=True)
    return True


def main():
    missing = [b for b in ("smbd", "smbclient", "smbpasswd") if not shutil.which(b)]
    if missing:
        print(f"skip fault-proxy-smbd: {', '.join(missing)} not installed", flush=True)
        return 0
    if os.geteuid() != 0:
        print("skip fault-proxy-smbd: smbd needs root here (run with sudo)", flush=True)
        return 0
    script = os.path.join(ROOT, "deploy", "local-smbd.sh")
    d = tempfile.mkdtemp(prefix="smbproxy-smbd.")
    try:
        r = subprocess.run([script, "start", d], capture_output=True, text=True, timeout=60)
        if not check("local-smbd.sh start", r.returncode == 0, r.stderr.strip()):
            return 1
        try:
            run_checks(d)
        except Exception as e:   # one failure, and the server is still stopped below
            check("integration run", False, f"{type(e).__name__}: {e}")
        finally:
            subprocess.run([script, "stop", d], capture_output=True, timeout=60)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return summary("fault-proxy-smbd")


if __name__ == "__main__":
    sys.exit(main())
