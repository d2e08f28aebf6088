#!/usr/bin/python3
"""Ordinary programs on an smbgate mount of a real smbd, each result asserted: what works
on a local disk must work on the mount.

    /usr/bin/python3 tests/apps/apps_test.py BUILD_DIR        (as root: smbd, FUSE)

  sqlite      three processes inserting in transactions at once (rollback journal): every
              row there, PRAGMA integrity_check ok; WAL mode works or is refused, never
              corrupts
  save        an editor-style save (write a temporary file, rename it over the old one)
              while another process has the old file open and reads it
  rotate      log rotation: a writer keeps its file open while it is renamed and a new one
              is created; both files get what they should
  git         clone, gc, checkout of another branch, status clean, fsck
  rsync       rsync -a into and out of the mount; --checksum finds no difference, mtimes kept
  tar         tar -x onto the mount, then tar -d (compare) clean; cp -a keeps times
  make        a small C project built twice: the second run builds nothing
  venv        a Python venv on the mount, a wheel built in the test installed into it
              with pip --no-index, and imported

Prints "ok NAME" / "FAIL NAME: detail" per check and "apps: N passed, M failed".
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))
from checks import check, summary, thread_stacks, wait_for  # noqa: E402

LOCAL_SMBD = os.path.join(ROOT, "deploy", "local-smbd.sh")
PY = "/usr/bin/python3"


# Called when a command outlives its time, before it is killed: a process
# stuck in a FUSE request may not die, and waiting for it would say nothing.
ON_TIMEOUT = []


def run(cmd, cwd=None, env=None, timeout=120):
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        for fn in ON_TIMEOUT:
            fn()
        p.kill()
        try:
            p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            print(f"  {cmd[0]} did not die (stuck in the kernel)", flush=True)
        raise
    return subprocess.CompletedProcess(cmd, p.returncode, out, err)


SQLITE_WORKER = r"""
import sqlite3, sys
path, ident, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c = sqlite3.connect(path, timeout=120)
for k in range(n):
    with c:
        c.execute("insert into t values (?, ?)", (ident, k))
c.close()
"""


def sqlite_checks(mnt):
    import sqlite3
    db = os.path.join(mnt, "app.db")
    c = sqlite3.connect(db)
    c.execute("create table t(who integer, k integer)")
    c.commit()
    c.close()
    ps = [subprocess.Popen([PY, "-c", SQLITE_WORKER, db, str(i), "40"], stderr=subprocess.PIPE, text=True)
          for i in range(3)]
    errs = [p.communicate(timeout=300)[1].strip() for p in ps]
    c = sqlite3.connect(db)
    rows = c.execute("select count(*), count(distinct who) from t").fetchone()
    ok = c.execute("pragma integrity_check").fetchone()[0]
    c.close()
    check("sqlite: three writers, rollback journal: every row, integrity ok",
          all(p.returncode == 0 for p in ps) and rows == (120, 3) and ok == "ok",
          f"exit {[p.returncode for p in ps]} rows {rows} integrity {ok} {' | '.join(e for e in errs if e)[:300]}")

    wal = os.path.join(mnt, "wal.db")
    c = sqlite3.connect(wal)
    try:
        mode = c.execute("pragma journal_mode=wal").fetchone()[0]
        c.execute("create table t(who integer, k integer)")
        c.commit()
        c.close()
        outcome = f"journal_mode={mode}"
        ps = [subprocess.Popen([PY, "-c", SQLITE_WORKER, wal, str(i), "20"], stderr=subprocess.PIPE, text=True)
              for i in range(2)]
        errs = [p.communicate(timeout=300)[1].strip() for p in ps]
        c = sqlite3.connect(wal)
        rows = c.execute("select count(*) from t").fetchone()[0]
        integrity = c.execute("pragma integrity_check").fetchone()[0]
        c.close()
        # Within one mount WAL works: every row, no error, integrity ok.
        check(f"sqlite: WAL mode, two writers of one mount ({outcome}, {rows} rows, integrity {integrity})",
              mode == "wal" and integrity == "ok" and rows == 40 and not any(errs), " | ".join(errs)[:300])
    except sqlite3.Error as e:
        check(f"sqlite: WAL refused with a clear error ({e})", True)


def save_checks(mnt):
    cfg = os.path.join(mnt, "app.conf")
    with open(cfg, "w") as f:
        f.write("old\n")
    reader = open(cfg)  # another process's view: kept open across the save
    tmp = cfg + ".tmp"
    with open(tmp, "w") as f:
        f.write("new\n")
        f.flush()
        os.fsync(f.fileno())
    try:
        os.rename(tmp, cfg)
        renamed = True
    except OSError as e:
        renamed = e
    check("save: rename of the new file over one another process has open", renamed is True, str(renamed))
    old = reader.read()
    reader.close()
    check("save: the open file still reads the old content", old == "old\n", repr(old))
    check("save: the name has the new content", open(cfg).read() == "new\n")
    check("save: no temporary left", not os.path.exists(tmp))


def rotate_checks(mnt):
    log = os.path.join(mnt, "app.log")
    w = open(log, "a", buffering=1)
    w.write("one\n")
    try:
        os.rename(log, log + ".1")
        with open(log, "a") as n:
            n.write("fresh\n")
        w.write("two\n")
        w.close()
        a, b = open(log + ".1").read(), open(log).read()
        check("rotate: the writer's file follows the rename", a == "one\ntwo\n", repr(a))
        check("rotate: the new file is separate", b == "fresh\n", repr(b))
    except OSError as e:
        check("rotate: rename of an open log and a new one in its place", False, str(e))


def git_checks(mnt, work):
    src = os.path.join(work, "repo")
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@example.invalid")
    run(["git", "init", "-q", "-b", "main", src], env=env)
    for i in range(30):
        with open(os.path.join(src, f"f{i}.txt"), "w") as f:
            f.write(f"{i}\n" * 100)
    run(["git", "add", "."], cwd=src, env=env)
    run(["git", "commit", "-qm", "one"], cwd=src, env=env)
    run(["git", "checkout", "-qb", "other"], cwd=src, env=env)
    with open(os.path.join(src, "other.txt"), "w") as f:
        f.write("other\n")
    os.unlink(os.path.join(src, "f0.txt"))
    run(["git", "add", "-A"], cwd=src, env=env)
    run(["git", "commit", "-qm", "two"], cwd=src, env=env)
    run(["git", "checkout", "-q", "main"], cwd=src, env=env)
    dst = os.path.join(mnt, "clone")
    steps = [(["git", "clone", "-q", src, dst], None), (["git", "gc", "-q"], dst),
             (["git", "checkout", "-q", "other"], dst), (["git", "fsck", "--no-progress"], dst)]
    for cmd, cwd in steps:
        r = run(cmd, cwd=cwd, env=env)
        if not check(f"git: {' '.join(cmd[1:2])}", r.returncode == 0, (r.stderr or r.stdout).strip()[:300]):
            return
    st = run(["git", "status", "--porcelain"], cwd=dst, env=env)
    check("git: status clean after checkout", st.returncode == 0 and st.stdout == "", st.stdout[:300])
    check("git: the other branch's files", os.path.exists(os.path.join(dst, "other.txt")) and
          not os.path.exists(os.path.join(dst, "f0.txt")))


def make_tree(root):
    os.makedirs(os.path.join(root, "a", "b"), exist_ok=True)
    for i in range(20):
        with open(os.path.join(root, "a", f"x{i}"), "wb") as f:
            f.write(os.urandom(1000 * i + 1))
    with open(os.path.join(root, "a", "b", "deep"), "w") as f:
        f.write("deep\n")
    os.utime(os.path.join(root, "a", "x3"), (1_600_000_000, 1_600_000_000))


def rsync_checks(mnt, work):
    if not shutil.which("rsync"):
        check("rsync: installed", False, "rsync missing (deploy/install-deps.sh installs it)")
        return
    src = os.path.join(work, "rs-src")
    make_tree(src)
    r = run(["rsync", "-a", src + "/", os.path.join(mnt, "rs") + "/"])
    check("rsync: -a into the mount", r.returncode == 0, r.stderr[:300])
    # Content and mtimes: SMB keeps no unix owners or modes (README, "What SMB cannot give").
    compare = ["rsync", "-rlt", "--checksum", "--dry-run", "-i"]
    r = run(compare + [src + "/", os.path.join(mnt, "rs") + "/"])
    check("rsync: --checksum finds no difference (content and mtimes)", r.returncode == 0 and r.stdout == "",
          r.stdout[:300])
    back = os.path.join(work, "rs-back")
    r = run(["rsync", "-a", os.path.join(mnt, "rs") + "/", back + "/"])
    r2 = run(compare + [src + "/", back + "/"])
    check("rsync: -a out of the mount, identical", r.returncode == 0 and r2.stdout == "", (r.stderr + r2.stdout)[:300])


def metric(port, name):
    """The sum of a metric's samples on the daemon's /metrics."""
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    total = 0.0
    for line in body.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def copy_checks(mnt, share, metrics_port):
    """cp on the mount: copy_file_range(2) becomes a server-side copy, so the data never crosses the
    connection (smbgate_bytes_written_total does not grow by it)."""
    src = os.path.join(mnt, "cp-src.bin")
    data = os.urandom(24 << 20)
    with open(src, "wb") as f:
        f.write(data)
    written = metric(metrics_port, "smbgate_bytes_written_total")
    r = run(["cp", src, os.path.join(mnt, "cp-dst.bin")])
    check("cp: exits 0", r.returncode == 0, r.stderr[:300])
    same = open(os.path.join(share, "cp-dst.bin"), "rb").read() == data
    check("cp: the server's copy is identical", same)
    moved = metric(metrics_port, "smbgate_bytes_written_total") - written
    check("cp: a server-side copy (FSCTL_SRV_COPYCHUNK_WRITE): no data written through the connection",
          moved < (1 << 20), f"{moved:.0f} bytes written")
    # Through the syscall, at an offset, into the middle of a file.
    with open(src, "rb") as fi, open(os.path.join(mnt, "cp-mid.bin"), "wb+") as fo:
        fo.write(b"x" * 100)
        fo.flush()
        n = os.copy_file_range(fi.fileno(), fo.fileno(), 5000, 10, 50)
        fo.seek(0)
        got = fo.read()
    check("cp: copy_file_range at offsets", n == 5000 and got == b"x" * 50 + data[10:5010],
          f"copied {n}, {len(got)} bytes")
    for name in ("cp-src.bin", "cp-dst.bin", "cp-mid.bin"):
        os.unlink(os.path.join(mnt, name))


def tar_checks(mnt, work):
    src = os.path.join(work, "tar-src")
    make_tree(src)
    tarball = os.path.join(work, "t.tar")
    run(["tar", "-cf", tarball, "-C", src, "."])
    dst = os.path.join(mnt, "tar")
    os.makedirs(dst)
    r = run(["tar", "-xf", tarball, "-C", dst])
    check("tar: -x onto the mount", r.returncode == 0, r.stderr[:300])
    r = run(["tar", "-df", tarball, "-C", dst])
    # tar -d also compares modes and owners, which SMB does not keep: only
    # content, size and mtime differences count.
    diffs = [l for l in r.stdout.splitlines() if "Mode differs" not in l and "Uid differs" not in l
             and "Gid differs" not in l]
    check("tar: -d finds no content, size or mtime difference", not diffs, "\n".join(diffs)[:300])
    r = run(["cp", "-a", os.path.join(src, "a"), os.path.join(mnt, "cpa")])
    st_src = os.stat(os.path.join(src, "a", "x3"))
    st_dst = os.stat(os.path.join(mnt, "cpa", "x3"))
    check("tar: cp -a keeps mtimes", r.returncode == 0 and int(st_src.st_mtime) == int(st_dst.st_mtime),
          f"{r.stderr[:200]} {st_src.st_mtime} vs {st_dst.st_mtime}")


def make_checks(mnt):
    d = os.path.join(mnt, "proj")
    os.makedirs(d)
    with open(os.path.join(d, "main.c"), "w") as f:
        f.write('#include "util.h"\nint main(void) { return util() - 42; }\n')
    with open(os.path.join(d, "util.c"), "w") as f:
        f.write('#include "util.h"\nint util(void) { return 42; }\n')
    with open(os.path.join(d, "util.h"), "w") as f:
        f.write("int util(void);\n")
    with open(os.path.join(d, "Makefile"), "w") as f:
        f.write("app: main.o util.o\n\tcc -o $@ $^\n%.o: %.c util.h\n\tcc -c -o $@ $<\n")
    r1 = run(["make", "-C", d])
    r_app = run([os.path.join(d, "app")]) if r1.returncode == 0 else None
    check("make: builds, and the program runs", r1.returncode == 0 and r_app is not None and r_app.returncode == 0,
          (r1.stderr or "")[:300])
    r2 = run(["make", "-C", d])
    check("make: the second run builds nothing (mtimes hold)",
          r2.returncode == 0 and "cc " not in r2.stdout, r2.stdout[:300])


def venv_checks(mnt, work):
    pkg = os.path.join(work, "pkg")
    os.makedirs(os.path.join(pkg, "smbgate_probe"))
    with open(os.path.join(pkg, "smbgate_probe", "__init__.py"), "w") as f:
        f.write("ANSWER = 42\n")
    with open(os.path.join(pkg, "pyproject.toml"), "w") as f:
        f.write('[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
                '[project]\nname = "smbgate-probe"\nversion = "1.0"\n')
    wheels = os.path.join(work, "wheels")
    r = run([PY, "-m", "pip", "wheel", "--no-index", "--no-build-isolation", "--no-deps", "-w", wheels, pkg])
    if not check("venv: a wheel built for the test", r.returncode == 0, (r.stderr or r.stdout)[-300:]):
        return
    venv = os.path.join(mnt, "venv")
    r = run([PY, "-m", "venv", venv])
    if not check("venv: created on the mount", r.returncode == 0, r.stderr[-300:]):
        return
    r = run([os.path.join(venv, "bin", "pip"), "install", "--no-index", "--find-links", wheels, "smbgate-probe"])
    check("venv: pip install --no-index of the wheel", r.returncode == 0, (r.stderr or r.stdout)[-300:])
    r = run([os.path.join(venv, "bin", "python"), "-c", "import smbgate_probe; print(smbgate_probe.ANSWER)"])
    check("venv: the installed package imports", r.returncode == 0 and r.stdout.strip() == "42", r.stderr[-300:])


def main():
    if len(sys.argv) != 2:
        print("usage: apps_test.py BUILD_DIR", file=sys.stderr)
        return 2
    if os.geteuid() != 0 or not os.path.exists("/dev/fuse") or not shutil.which("smbd"):
        print("skip apps: needs root, /dev/fuse and smbd", flush=True)
        return 0
    binary = os.path.join(sys.argv[1], "smbgate")
    work = tempfile.mkdtemp(prefix="smbgate-apps.")
    server = os.path.join(work, "smbd")
    os.makedirs(server)
    mnt = os.path.join(work, "mnt")
    os.makedirs(mnt)
    r = run([LOCAL_SMBD, "start", server], timeout=60)
    if not check("smbd starts", r.returncode == 0, r.stderr.strip()):
        return summary("apps")
    p = None
    try:
        port = int(open(os.path.join(server, "port")).read())
        log = os.path.join(work, "smbgate.log")
        with socket.socket() as sk:
            sk.bind(("127.0.0.1", 0))
            metrics_port = sk.getsockname()[1]
        p = subprocess.Popen([binary, "mount", f"//127.0.0.1:{port}/demo", mnt, "--credentials",
                              os.path.join(server, "secret"), "--foreground", "-o",
                              f"metrics=127.0.0.1:{metrics_port}"],
                             stdout=open(log, "ab"), stderr=subprocess.STDOUT)
        if not check("mount", wait_for(lambda: os.path.ismount(mnt), 20), open(log).read()[-500:]):
            return summary("apps")

        def stuck(daemon=p):
            # Where the daemon is, and what it last said.
            print("daemon threads:\n" + thread_stacks(daemon.pid), flush=True)
            print("daemon log (end):\n" + open(log, errors="replace").read()[-4000:], flush=True)

        ON_TIMEOUT.append(stuck)
        for name, fn in (("sqlite", lambda: sqlite_checks(mnt)), ("save", lambda: save_checks(mnt)),
                         ("rotate", lambda: rotate_checks(mnt)), ("git", lambda: git_checks(mnt, work)),
                         ("rsync", lambda: rsync_checks(mnt, work)), ("tar", lambda: tar_checks(mnt, work)),
                         ("make", lambda: make_checks(mnt)), ("venv", lambda: venv_checks(mnt, work)),
                         ("cp", lambda: copy_checks(mnt, os.path.join(server, "share"), metrics_port))):
            t0 = time.monotonic()
            try:
                fn()
            except Exception as e:
                check(f"{name}: ran", False, f"{type(e).__name__}: {e}")
            print(f"  {name}: {time.monotonic() - t0:.1f} s", flush=True)
    finally:
        if p:
            subprocess.run(["fusermount3", "-u", mnt], capture_output=True)
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        run([LOCAL_SMBD, "stop", server], timeout=60)
        shutil.rmtree(work, ignore_errors=True)
    return summary("apps")


if __name__ == "__main__":
    sys.exit(main())
