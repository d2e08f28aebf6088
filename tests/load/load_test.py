#!/usr/bin/python3
"""Load and endurance, opt-in (not in the default CI run): figures for the closing note of
an issue, with pass/fail on what must hold.

    /usr/bin/python3 tests/load/load_test.py BUILD_DIR [--minutes 10] [--procs 64]
                                            [--mounts 50]        (as root: smbd, FUSE)

  mixed I/O   PROCS processes on one mount for MINUTES: each creates, writes, reads back
              and checks, appends, renames, lists, stats and removes its own files in a
              loop. Must hold: zero errors and zero wrong reads. Figures: operations, the
              daemon's RSS at the start (after a minute of warm-up), the end and the
              peak, sampled every 5 s.
  many mounts MOUNTS smbgate mounts of one smbd started at once. Must hold: every mount
              up, exactly one authentication each (no retry storm). Figures: the
              authentication time p50/p95/max as logged by each mount.

Prints "ok NAME" / "FAIL NAME: detail" and the figures, then "load: N passed, M failed".
"""
import argparse
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import re
from multiprocessing import Process, Queue

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))
from checks import check, summary, wait_for  # noqa: E402

LOCAL_SMBD = os.path.join(ROOT, "deploy", "local-smbd.sh")


def mount(binary, port, secret, mnt, log, opts="cache=strict"):
    os.makedirs(mnt, exist_ok=True)
    p = subprocess.Popen([binary, "mount", f"//127.0.0.1:{port}/demo", mnt, "--credentials", secret,
                          "--foreground", "-o", opts], stdout=open(log, "ab"), stderr=subprocess.STDOUT)
    return p


def unmount(p, mnt):
    subprocess.run(["fusermount3", "-u", mnt], capture_output=True)
    try:
        p.wait(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        subprocess.run(["fusermount3", "-uz", mnt], capture_output=True)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def worker(root, idx, until, q):
    rng = random.Random(idx)
    d = os.path.join(root, f"w{idx}")
    ops = errors = wrong = 0
    first_error = ""
    try:
        os.makedirs(d, exist_ok=True)
    except OSError as e:
        q.put((0, 1, 0, f"mkdir {d}: {e}"))
        return
    n = 0
    while time.time() < until:
        n += 1
        name = os.path.join(d, f"f{n % 16}")
        try:
            data = rng.randbytes(rng.choice((1, 100, 4096, 65536, 300000)))
            with open(name, "wb") as f:
                f.write(data)
            ops += 1
            with open(name, "rb") as f:
                if f.read() != data:
                    wrong += 1
            ops += 1
            with open(name, "ab") as f:
                f.write(b"tail")
            os.stat(name)
            ops += 2
            if n % 4 == 0:
                os.rename(name, name + ".r")
                os.unlink(name + ".r")
                ops += 2
            if n % 8 == 0:
                os.listdir(d)
                ops += 1
        except OSError as e:
            errors += 1
            if not first_error:
                first_error = f"{name}: {e}"
    q.put((ops, errors, wrong, first_error))


def mixed_io(binary, server_dir, port, work, minutes, procs):
    mnt = os.path.join(work, "mnt")
    log = os.path.join(work, "mixed.log")
    p = mount(binary, port, os.path.join(server_dir, "secret"), mnt, log)
    if not wait_for(lambda: os.path.ismount(mnt) or p.poll() is not None, 20) or p.poll() is not None:
        check("mixed I/O: mount", False, open(log).read()[-1000:])
        return
    try:
        until = time.time() + minutes * 60
        q = Queue()
        ws = [Process(target=worker, args=(mnt, i, until, q)) for i in range(procs)]
        for w in ws:
            w.start()
        samples = []
        warm = time.time() + min(60, minutes * 60 / 10)
        start_rss = None
        while any(w.is_alive() for w in ws):
            time.sleep(5)
            r = rss_kib(p.pid)
            samples.append(r)
            if start_rss is None and time.time() >= warm:
                start_rss = r
        results = [q.get() for _ in ws]
        for w in ws:
            w.join()
        ops = sum(r[0] for r in results)
        errors = sum(r[1] for r in results)
        wrong = sum(r[2] for r in results)
        first = next((r[3] for r in results if r[3]), "")
        end_rss = rss_kib(p.pid)
        start_rss = start_rss or samples[0]
        print(f"  mixed I/O: {procs} processes, {minutes} min, {ops} operations ({ops / (minutes * 60):.0f}/s), "
              f"errors {errors}, wrong reads {wrong}; daemon RSS {start_rss / 1024:.1f} MiB after warm-up, "
              f"{end_rss / 1024:.1f} MiB at the end, peak {max(samples) / 1024:.1f} MiB", flush=True)
        check("mixed I/O: zero errors", errors == 0, first)
        check("mixed I/O: zero wrong reads", wrong == 0)
        check("mixed I/O: RSS growth after warm-up under 50%", end_rss <= start_rss * 1.5,
              f"{start_rss} -> {end_rss} KiB")
    finally:
        unmount(p, mnt)


def many_mounts(binary, server_dir, port, work, count):
    ps = []
    t0 = time.monotonic()
    for i in range(count):
        mnt = os.path.join(work, f"m{i}")
        log = os.path.join(work, f"m{i}.log")
        ps.append((mount(binary, port, os.path.join(server_dir, "secret"), mnt, log), mnt, log))
    try:
        up = wait_for(lambda: all(os.path.ismount(m) or p.poll() is not None for p, m, _ in ps), 120)
        took = time.monotonic() - t0
        mounted = sum(1 for p, m, _ in ps if os.path.ismount(m))
        durations, attempts = [], []
        for _, _, log in ps:
            text = open(log).read()
            lines = [l for l in text.splitlines() if " authentication " in l or '"authentication"' in l]
            attempts.append(len(lines))
            for l in lines:
                m = re.search(r"duration_ms=([0-9.]+)", l)
                if m:
                    durations.append(float(m.group(1)))
        durations.sort()
        p95 = durations[int(len(durations) * 0.95) - 1] if durations else 0
        print(f"  many mounts: {mounted}/{count} up in {took:.1f} s; authentication ms p50 "
              f"{statistics.median(durations) if durations else 0:.1f}, p95 {p95:.1f}, "
              f"max {max(durations) if durations else 0:.1f}; attempts per mount {min(attempts)}..{max(attempts)}",
              flush=True)
        check(f"many mounts: all {count} up", up and mounted == count)
        check("many mounts: one authentication each (no retry storm)", all(a == 1 for a in attempts),
              f"attempts {attempts}")
    finally:
        for p, m, _ in ps:
            subprocess.run(["fusermount3", "-u", m], capture_output=True)
        for p, m, _ in ps:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.send_signal(signal.SIGKILL)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--procs", type=int, default=64)
    ap.add_argument("--mounts", type=int, default=50)
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("skip load: needs root (smbd, FUSE)")
        return 0
    binary = os.path.join(a.build, "smbgate")
    work = tempfile.mkdtemp(prefix="smbgate-load.")
    server_dir = os.path.join(work, "smbd")
    os.makedirs(server_dir)
    r = subprocess.run([LOCAL_SMBD, "start", server_dir], capture_output=True, text=True, timeout=60)
    if not check("smbd starts", r.returncode == 0, r.stderr.strip()):
        return summary("load")
    try:
        port = int(open(os.path.join(server_dir, "port")).read())
        if a.procs:
            mixed_io(binary, server_dir, port, work, a.minutes, a.procs)
        if a.mounts:
            many_mounts(binary, server_dir, port, work, a.mounts)
    finally:
        subprocess.run([LOCAL_SMBD, "stop", server_dir], capture_output=True, timeout=60)
        shutil.rmtree(work, ignore_errors=True)
    return summary("load")


if __name__ == "__main__":
    sys.exit(main())
