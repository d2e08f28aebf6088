#!/usr/bin/python3
"""DFS namespaces end to end: the real smbgate binary against a standalone DFS namespace
served by real smbd processes (tests/dfs/samba_dfs.py), each on port 445 of its own
127.0.0.N address, all with `server signing = mandatory` and `ntlm auth = ntlmv2-only`:

    s0  the namespace root: share `dfs` (`msdfs root = yes`) with the links
          link1 -> s1\\share1     link2 -> s2\\share2     ha -> s1\\ha, s2\\ha
        and a plain directory `plain`
    s1  shares share1, ha          s2  shares share2, ha

    /usr/bin/python3 tests/dfs/dfs_test.py BUILD_DIR        (as root; about a minute)

  root      a mount of //s0/dfs lists the links and reads files through two links (each
            on another server: one session per server, each signed), writes through one
            (the file lands on the target server's disk)
  failover  the link `ha` with two targets: reads come from s1; s1's smbd stopped, they
            come from s2; s1 started again and s2 stopped, they come from s1 again; the
            log names each failover
  metrics   /metrics labels smbgate_smb_requests_total and smbgate_auth_attempts_total
            with the server actually used (s1 and s2, not only the root)
  link      a mount of //s0/dfs/link2 and of //s0/dfs/link1/sub (a link path, and a
            directory under a link) read the target's files
  cache     a link changed on s0 (from s1 to s2): the mount holding its referral stays on
            s1 for the referral's TimeToLive (600 s), a new mount goes to s2
  wire      through a proxy in front of s0: every CREATE on the namespace share carries
            SMB2_FLAGS_DFS_OPERATIONS and a DFS path name (server\\share\\path)
  check     `smbgate check //s0/dfs/ha` (text and JSON) shows the referral, both targets,
            the one used and the final target
  secrets   no password in any smbgate output

Prints "ok NAME" / "FAIL NAME: detail" per check and "dfs: N passed, M failed"; exit 1 on
failure. Without root it fails, it does not skip.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
from checks import check, summary, wait_for  # noqa: E402
from smbgate_daemon import Daemon as SmbgateDaemon  # noqa: E402
from samba_dfs import SambaDfs  # noqa: E402

BINARY = None
LOGS = []


def Daemon(share, mnt, creds, log):
    """`smbgate mount --foreground` (smbgate_daemon.py). cache=none and actimeo=0: every read
    reaches a server, so the test sees which one answers."""
    LOGS.append(log)
    return SmbgateDaemon(BINARY, share, mnt, creds, log, "cache=none,actimeo=0")


def read_in_child(path, timeout=40):
    """The text of `path` read by a child process (killed after `timeout`), or None."""
    try:
        r = subprocess.run(["cat", path], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    return r.stdout if r.returncode == 0 else None


def smbgate_check(target, creds, json_out):
    argv = [BINARY, "check", target, "--credentials", creds, "--timeout", "10"]
    if json_out:
        argv += ["--output", "json"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    LOGS.append(r.stdout + r.stderr)
    return r


def creates_in(frame):
    """(flags, name) of each SMB2 CREATE request in a client frame (4-byte length first;
    compounds followed by NextCommand). Signed, not encrypted: headers are plain."""
    out = []
    msg = frame[4:]
    while len(msg) >= 64 and msg[:4] == b"\xfeSMB":
        command = int.from_bytes(msg[12:14], "little")
        flags = int.from_bytes(msg[16:20], "little")
        next_command = int.from_bytes(msg[20:24], "little")
        if command == 5 and len(msg) >= 64 + 56:  # MS-SMB2 2.2.13
            off = int.from_bytes(msg[64 + 44:64 + 46], "little")
            n = int.from_bytes(msg[64 + 46:64 + 48], "little")
            out.append((flags, msg[off:off + n].decode("utf-16-le", "replace")))
        if not next_command:
            break
        msg = msg[next_command:]
    return out


def wire_checks(work, ip, creds, daemons, root_dir):
    """SMB2_FLAGS_DFS_OPERATIONS (MS-SMB2 3.2.4.3): every CREATE on the namespace share
    carries the flag and names its file by DFS path, "server\\share\\path". Seen on the
    wire through a proxy in front of the root (the mount names the proxy's address)."""
    from fault.smbproxy import FaultProxy
    seen = []
    with FaultProxy((ip[0], 445)) as proxy:
        proxy.observe(lambda direction, frame: seen.extend(creates_in(frame)) if direction == "c2s" else None)
        m = os.path.join(work, "mnt-wire")
        dw = Daemon(f"//127.0.0.1:{proxy.port}/dfs", m, creds, os.path.join(work, "wire.log"))
        daemons.append(dw)
        names = sorted(os.listdir(m)) if dw.up else None
        got = read_in_child(os.path.join(m, "link1", "data.txt")) if dw.up else None
        check("wire: a mount through the proxy lists the root and reads through link1",
              names == ["ha", "link1", "link2", "plain"] and got == "one\n", f"{names} {got!r} " + dw.log_text()[-500:])
        # Create, rename and unlink in the namespace share itself (outside any link).
        ok = dw.up
        try:
            if ok:
                with open(os.path.join(m, "plain", "a.txt"), "w") as f:
                    f.write("plain\n")
                os.rename(os.path.join(m, "plain", "a.txt"), os.path.join(m, "plain", "b.txt"))
        except OSError as e:
            ok = str(e)
        on_disk = os.path.join(root_dir, "plain", "b.txt")
        landed = os.path.exists(on_disk) and open(on_disk).read() == "plain\n"
        try:
            if ok is True:
                os.unlink(os.path.join(m, "plain", "b.txt"))
        except OSError as e:
            ok = str(e)
        check("wire: create, rename and unlink in the namespace share (DFS path names)",
              ok is True and landed and not os.path.exists(on_disk), f"{ok} landed={landed}")
        dw.stop()
    prefix = "127.0.0.1\\dfs"
    bad = [(hex(f), n) for f, n in seen if not (f & 0x10000000) or not n.lower().startswith(prefix)]
    check("wire: every CREATE on the namespace share has SMB2_FLAGS_DFS_OPERATIONS and a DFS path name",
          len(seen) >= 3 and not bad, f"{len(seen)} creates; not so: {bad[:5]}")


def main():
    global BINARY
    if len(sys.argv) != 2:
        print("usage: dfs_test.py BUILD_DIR", file=sys.stderr)
        return 2
    BINARY = os.path.join(os.path.abspath(sys.argv[1]), "smbgate")
    work = tempfile.mkdtemp(prefix="smbgate-dfs-")
    ns = SambaDfs(work, servers=3)
    daemons = []
    t_start = time.monotonic()
    try:
        share1 = ns.add_share(1, "share1")
        share2 = ns.add_share(2, "share2")
        ha1 = ns.add_share(1, "ha")
        ha2 = ns.add_share(2, "ha")
        for d, text in ((share1, "one\n"), (share2, "two\n"), (ha1, "s1\n"), (ha2, "s2\n")):
            open(os.path.join(d, "who.txt" if d in (ha1, ha2) else "data.txt"), "w").write(text)
        os.makedirs(os.path.join(share1, "sub"))
        open(os.path.join(share1, "sub", "deep.txt"), "w").write("deep\n")
        try:
            ns.start()
        except RuntimeError as e:
            check("servers: three smbd on 127.0.0.N:445", False, str(e))
            return summary("dfs")
        os.makedirs(os.path.join(ns.root_dir, "plain"))
        ns.add_link("link1", [(1, "share1")])
        ns.add_link("link2", [(2, "share2")])
        ns.add_link("ha", [(1, "ha"), (2, "ha")])
        ip = ns.ip
        print(f"  servers: root {ip[0]}, targets {ip[1]} and {ip[2]} (started in "
              f"{time.monotonic() - t_start:.1f} s)", flush=True)
        creds = ns.secret_dir

        # ---------------------------------------------------------------- root
        mnt = os.path.join(work, "mnt-root")
        d = Daemon(f"//{ip[0]}/dfs", mnt, creds, os.path.join(work, "root.log"))
        daemons.append(d)
        if not check("root: mount of the namespace root //s0/dfs", d.up, d.log_text()[-800:]):
            return summary("dfs")
        names = sorted(os.listdir(mnt))
        check("root: the listing shows the links and the plain directory",
              names == ["ha", "link1", "link2", "plain"], str(names))
        a = read_in_child(os.path.join(mnt, "link1", "data.txt"))
        b = read_in_child(os.path.join(mnt, "link2", "data.txt"))
        check("root: a file read through link1 (s1) and one through link2 (s2)", a == "one\n" and b == "two\n",
              f"{a!r} {b!r}")
        with open(os.path.join(mnt, "link1", "written.txt"), "w") as f:
            f.write("via dfs\n")
        landed = os.path.join(share1, "written.txt")
        check("root: a file written through link1 lands on s1's share",
              wait_for(lambda: os.path.exists(landed) and open(landed).read() == "via dfs\n", 10))
        check("root: a directory under a link (link1/sub) lists",
              os.listdir(os.path.join(mnt, "link1", "sub")) == ["deep.txt"])

        # ---------------------------------------------------------------- failover
        who = os.path.join(mnt, "ha", "who.txt")
        check("failover: the link's first target (s1) answers first", read_in_child(who) == "s1\n")
        t = time.monotonic()
        ns.stop_server(1)
        got = read_in_child(who)
        took = time.monotonic() - t
        check("failover: s1 stopped, the next target (s2) answers", got == "s2\n", repr(got))
        print(f"  failover to s2 took {took:.1f} s", flush=True)
        ns.start_server(1)
        ns.stop_server(2)
        t = time.monotonic()
        got = read_in_child(who)
        took = time.monotonic() - t
        check("failover: s1 back and s2 stopped, s1 answers again", got == "s1\n", repr(got))
        print(f"  failover back to s1 took {took:.1f} s", flush=True)
        log = d.log_text()
        check("failover: the log names each failover (from and to)",
              log.count("DFS target failed; using the next target of the link") >= 2 and ip[2] in log, log[-600:])
        ns.start_server(2)
        a = read_in_child(os.path.join(mnt, "link2", "data.txt"))
        check("failover: link2 (s2, single target) reads again once s2 is back", a == "two\n", repr(a))

        # ---------------------------------------------------------------- metrics
        for k in (1, 2):
            srv = f"{ip[k]}:445"
            check(f"metrics: smbgate_smb_requests_total has server=\"{srv}\"",
                  d.value("smbgate_smb_requests_total", server=srv, command="READ") > 0,
                  " ".join(l for l in d.metrics().splitlines() if l.startswith("smbgate_smb_requests_total"))[:600])
            check(f"metrics: smbgate_auth_attempts_total has a success at server=\"{srv}\"",
                  d.value("smbgate_auth_attempts_total", server=srv, result="success") >= 1)
        check("metrics: the authentication log line names each target server",
              all(f'"server":"{ip[k]}:445"' in log for k in (0, 1, 2)) and '"msg":"authentication"' in log,
              log[-400:])

        # ---------------------------------------------------------------- link
        for share, want_file, want in ((f"//{ip[0]}/dfs/link2", "data.txt", "two\n"),
                                       (f"//{ip[0]}/dfs/link1/sub", "deep.txt", "deep\n")):
            m = os.path.join(work, "mnt-" + share.rsplit("/", 1)[1])
            dl = Daemon(share, m, creds, os.path.join(work, os.path.basename(m) + ".log"))
            daemons.append(dl)
            got = read_in_child(os.path.join(m, want_file)) if dl.up else None
            check(f"link: mount of {share} reads the target's file", dl.up and got == want,
                  f"{got!r} " + dl.log_text()[-500:])
            dl.stop()

        # ---------------------------------------------------------------- referral cache
        # A link the server changes is followed at once by a new mount, and by a mount that
        # holds its referral only when the referral's TimeToLive (Samba: 600 s) runs out
        # (MS-DFSC 3.1.5.4.3; the refresh at expiry is in the DfsFs unit tests).
        for k, sh in ((1, share1), (2, share2)):
            open(os.path.join(sh, "where.txt"), "w").write(f"s{k}\n")
        ns.add_link("moving", [(1, "share1")])
        a = read_in_child(os.path.join(mnt, "moving", "data.txt"))
        os.unlink(os.path.join(ns.root_dir, "moving"))
        ns.add_link("moving", [(2, "share2")])
        b = read_in_child(os.path.join(mnt, "moving", "where.txt"))
        ttl = [json.loads(l).get("ttl_s") for l in d.log_text().splitlines()
               if '"DFS referral"' in l and "moving" in l]
        check("cache: a link changed on the server: the mount holding its referral stays on the old target "
              "for the referral's TimeToLive", a == "one\n" and b == "s1\n" and ttl == ["600"], f"{a!r} {b!r} {ttl}")
        m = os.path.join(work, "mnt-moving")
        dm = Daemon(f"//{ip[0]}/dfs/moving", m, creds, os.path.join(work, "moving.log"))
        daemons.append(dm)
        got = read_in_child(os.path.join(m, "where.txt")) if dm.up else None
        check("cache: a new mount follows the changed link at once", got == "s2\n", f"{got!r}")
        dm.stop()
        os.unlink(os.path.join(ns.root_dir, "moving"))

        # ---------------------------------------------------------------- wire
        wire_checks(work, ip, creds, daemons, ns.root_dir)

        # ---------------------------------------------------------------- check
        r = smbgate_check(f"//{ip[0]}/dfs/ha", creds, json_out=False)
        out = r.stdout
        check("check: text shows the referral, both targets, the one used and the final target",
              r.returncode == 0 and f"referral: \\{ip[0]}\\dfs\\ha -> \\{ip[1]}\\ha (used), \\{ip[2]}\\ha" in out
              and f"target: //{ip[1]}:445/ha" in out, out + r.stderr)
        r = smbgate_check(f"//{ip[0]}/dfs/link1/sub", creds, json_out=True)
        try:
            obj = json.loads(r.stdout)
        except ValueError:
            obj = {}
        ref = (obj.get("referrals") or [{}])[0]
        check("check: JSON has the chain (path, targets, used, ttl) and the final target",
              r.returncode == 0 and obj.get("result") == "ok" and ref.get("path") == f"\\{ip[0]}\\dfs\\link1"
              and ref.get("used") == f"\\{ip[1]}\\share1" and ref.get("ttl_s", 0) > 0
              and obj.get("target") == f"//{ip[1]}:445/share1/sub", r.stdout + r.stderr)
        ns.stop_server(1)
        r = smbgate_check(f"//{ip[0]}/dfs/ha", creds, json_out=True)
        try:
            obj = json.loads(r.stdout)
        except ValueError:
            obj = {}
        check("check: with s1 down the chain shows s2 used",
              r.returncode == 0 and (obj.get("referrals") or [{}])[0].get("used") == f"\\{ip[2]}\\ha",
              r.stdout + r.stderr)
        r = smbgate_check(f"//{ip[0]}/dfs/link1", creds, json_out=False)
        check("check: a link whose only target is down fails with one line naming the target and a fix",
              r.returncode == 1 and f"\\{ip[1]}\\share1" in r.stderr and "likely fix" in r.stderr, r.stderr)
        ns.start_server(1)

        rc = d.stop()
        check("root: SIGTERM unmounts and exits 0", rc == 0 and not os.path.ismount(mnt), f"rc={rc}")

        # ---------------------------------------------------------------- secrets
        texts = [open(x, errors="replace").read() if os.path.exists(x) else x for x in LOGS]
        check("secrets: no password in any smbgate output", not any(ns.password in t for t in texts))
    finally:
        for dm in daemons:
            dm.stop()
        ns.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"  total {time.monotonic() - t_start:.1f} s", flush=True)
    return summary("dfs")


if __name__ == "__main__":
    sys.exit(main())
