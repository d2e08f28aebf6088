#!/usr/bin/python3
"""Domain accounts end to end: the real smbgate binary against a Samba Active Directory
domain provisioned for the run (tests/domain/samba_domain.py: a DC and a file server
joined to it, on 127.0.0.x only, mandatory signing, NTLMv2 only). Every logon on the
file server is checked by the DC (NTLM pass-through over NETLOGON), as on a Windows
network.

    /usr/bin/python3 tests/domain/domain_test.py BUILD_DIR       (as root; ~1.5 min)

  servers     the DC's DNS answers for the DC; both servers run with `server signing =
              mandatory` and `ntlm auth = ntlmv2-only`, and refuse an NTLMv1 logon
              (smbclient) that NTLMv2 passes
  accounts    mounts (real FUSE) as DOMAIN\\user from a Secret directory, as user@realm
              (UPN), as a UPN with an alternative suffix of the forest (another user
              part too) and as a plain user with `-o domain=`, from relative paths in the
              background: a file written lands on the file server owned by the domain
              user's uid; `smbgate check` of the DC's own share
  latency     session setups through the file server (which asks the DC) and on the DC:
              median, p90, max, printed
  rotation    the password changed on the DC while mounted: the old one is refused at
              once, the reconnect with it fails (wrong_password in /metrics), the Secret
              is rewritten the way the kubelet does, the mount works again without a
              remount; rotations, reconnects and successes counted
  states      wrong password, disabled, account expired, must change password, password
              expired, locked out (threshold 3, three failures): for each, `smbgate
              check` (JSON and text) and `smbgate mount` fail with one line naming the
              NTSTATUS and the fix, and a mounted daemon whose connection is cut counts
              the NTSTATUS and its class in /metrics, then recovers when the account does
  namespace   the domain-based DFS namespace //DNS_DOMAIN/sysvol (resolved through the
              DC's DNS in a mount namespace): `smbgate check` follows the DC referral
              and the root referral to the DC's share and shows the chain; a server's
              own name gets no referral; a mount of it lists the domain's policies;
              with the file server made a second root server of sysvol, a mount
              whose servers are reached through proxies fails over from the DC to
              it when the DC goes away, and back when it goes and the DC returns
  secrets     no password in any smbgate or Samba log or output

Prints "ok NAME" / "FAIL NAME: detail" per check, the timings and latencies, and
"domain: N passed, M failed"; exit 1 on failure. Without root (or without Samba's AD
packages) it fails, it does not skip.
"""
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import json

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
from checks import check, summary, wait_for  # noqa: E402
from smbgate_daemon import Daemon as SmbgateDaemon  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "fault"))
from smbproxy import FaultProxy  # noqa: E402
import samba_domain  # noqa: E402
from samba_domain import DNS_DOMAIN, DOMAIN, REALM, SambaDomain  # noqa: E402

BINARY = None
LOGS = []  # every file smbgate wrote to, for the secrets check


def write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def cred_file(path, user, password, domain=None):
    """A mount.cifs-style credentials file, mode 0600."""
    write_private(path, f"username={user}\npassword={password}\n" + (f"domain={domain}\n" if domain else ""))
    return path


class Secret:
    """A credentials directory laid out as the kubelet lays out a Secret volume: a
    timestamped directory, `..data` pointing at it, one link per key; rotate() swaps
    `..data` atomically, as the kubelet does."""

    def __init__(self, d, user, password):
        self.d = d
        self.user = user
        self.n = 0
        os.makedirs(d)
        self.rotate(password)
        for k in ("username", "password"):
            os.symlink(f"..data/{k}", os.path.join(d, k))

    def rotate(self, password):
        self.n += 1
        v = f"..2026_01_01_00_00_{self.n:02d}.{self.n:09d}"
        os.makedirs(os.path.join(self.d, v))
        write_private(os.path.join(self.d, v, "username"), self.user)
        write_private(os.path.join(self.d, v, "password"), password)
        tmp = os.path.join(self.d, "..data_tmp")
        os.symlink(v, tmp)
        os.replace(tmp, os.path.join(self.d, "..data"))


def run(argv, timeout=60, cwd=None):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    return r


def smbgate_check(share, creds, as_json=True):
    """`smbgate check`; (exit code, the JSON object or None, stdout, stderr)."""
    argv = [BINARY, "check", share, "--credentials", creds, "--timeout", "20"] + (["--output", "json"] if as_json else [])
    r = run(argv)
    LOGS.append(("check " + share, r.stdout + r.stderr))
    obj = None
    if as_json:
        try:
            obj = json.loads(r.stdout)
        except ValueError:
            pass
    return r.returncode, obj, r.stdout, r.stderr


def Daemon(share, mnt, creds, log):
    """`smbgate mount --foreground` (smbgate_daemon.py)."""
    LOGS.append(log)
    return SmbgateDaemon(BINARY, share, mnt, creds, log, "")


def write_through(path, text, timeout=60):
    """Writes `text` to `path` in a child process (a hard mount waits for its server; the
    child is killed if that takes longer than `timeout`). True on success."""
    try:
        r = subprocess.run(["sh", "-c", 'printf %s "$1" > "$2"', "sh", text, path], capture_output=True,
                           timeout=timeout)
        return r.returncode == 0
    except subprocess.TimeoutExpired:
        return False


def start_write(path, text):
    """A write that goes on in the background: after a cut it is the request that makes
    the daemon notice the dead connection (an idle one is noticed by the next request or
    the 30 s echo) and then waits, as an application would, for the reconnect."""
    return subprocess.Popen(["sh", "-c", 'printf %s "$1" > "$2"', "sh", text, path],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def finish_write(p, timeout=90):
    try:
        return p.wait(timeout=timeout) == 0
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return False


def one_line(text):
    lines = [l for l in text.splitlines() if l.strip()]
    return lines[0] if len(lines) == 1 else None


# ---------------------------------------------------------------------------- sections

def server_checks(dom, work, alice_pw):
    addrs = samba_domain.dns_query_a(dom.dc_ip, f"{samba_domain.DC_NAME}.{DNS_DOMAIN}")
    check(f"servers: the DC's DNS answers {samba_domain.DC_NAME}.{DNS_DOMAIN} = {dom.dc_ip}", addrs == [dom.dc_ip],
          str(addrs))
    for name, conf in (("DC", dom.dc_conf), ("file server", dom.fs_conf)):
        got = {}
        for p in ("server signing", "ntlm auth"):
            r = run(["testparm", "-s", f"--parameter-name={p}", conf])
            got[p] = r.stdout.strip()
        check(f"servers: the {name} runs with server signing = mandatory and ntlm auth = ntlmv2-only",
              got == {"server signing": "required", "ntlm auth": "ntlmv2-only"}, str(got))
    auth = os.path.join(work, "smbclient.auth")
    write_private(auth, f"username = alice\npassword = {alice_pw}\ndomain = {DOMAIN}\n")
    for name, ip in (("DC", dom.dc_ip), ("file server", dom.fs_ip)):
        base = ["smbclient", "-s", "/dev/null", f"//{ip}/data", "-A", auth, "--use-kerberos=off", "-c", "ls"]
        v2 = run(base, timeout=60)
        v1 = run(base + ["--option=client ntlmv2 auth=no", "--option=client min protocol=SMB2"], timeout=60)
        LOGS.append(("smbclient", v2.stdout + v2.stderr + v1.stdout + v1.stderr))
        check(f"servers: the {name} refuses an NTLMv1 logon that it accepts with NTLMv2 (smbclient)",
              v2.returncode == 0 and v1.returncode != 0 and "NT_STATUS_" in v1.stdout + v1.stderr,
              f"NTLMv2 exit {v2.returncode} {(v2.stdout + v2.stderr).strip()[-200:]!r}; NTLMv1 exit {v1.returncode} "
              f"{(v1.stdout + v1.stderr).strip()[-200:]!r}")
    os.unlink(auth)


def account_checks(dom, work, alice_pw):
    uid = dom.uid_of("alice")
    secret = os.path.join(work, "alice-secret")
    Secret(secret, f"{DOMAIN}\\alice", alice_pw)
    cred_file(os.path.join(work, "alice-upn.cred"), f"alice@{DNS_DOMAIN}", alice_pw)
    cred_file(os.path.join(work, "alice-plain.cred"), "alice", alice_pw)
    # A UPN that is neither sAMAccountName@domain: an alternative suffix of the forest and
    # another user part. Only the DC can map it to the account (NTLM carries it whole).
    carol_pw = dom.create_user("carol")
    dom.set_upn("carol", "carol.jones@alt.example")
    cred_file(os.path.join(work, "carol-upn.cred"), "carol.jones@alt.example", carol_pw)
    cases = (
        ("DOMAIN\\user from a Secret directory", "alice-secret", [], uid),
        ("user@realm (UPN) from a credentials file", "alice-upn.cred", [], uid),
        ("plain user with -o domain=", "alice-plain.cred", ["-o", f"domain={DOMAIN}"], uid),
        ("a UPN with an alternative suffix (carol.jones@alt.example)", "carol-upn.cred", [], dom.uid_of("carol")),
    )
    for i, (what, creds, extra, uid) in enumerate(cases):
        mnt = f"mnt-alice-{i}"
        os.makedirs(os.path.join(work, mnt))
        # Relative paths, in the background (the daemon works from /).
        r = run([BINARY, "mount", dom.fs_share, mnt, "--credentials", creds] + extra, timeout=60, cwd=work)
        LOGS.append(("mount " + what, r.stdout + r.stderr))
        mp = os.path.join(work, mnt)
        if not check(f"accounts: mount as {what}", r.returncode == 0 and os.path.ismount(mp),
                     f"exit {r.returncode}: {r.stderr.strip()}"):
            continue
        name = f"hello-{i}.txt"
        ok = write_through(os.path.join(mp, name), f"from {what}\n")
        on_server = os.path.join(dom.fs_share_dir, name)
        st = os.stat(on_server) if os.path.exists(on_server) else None
        check(f"accounts: {what}: the file lands on the file server, owned by the domain user (uid {uid})",
              ok and st is not None and st.st_uid == uid and open(on_server).read() == f"from {what}\n",
              f"write ok={ok} owner={st.st_uid if st else None}")
        check(f"accounts: {what}: read back through the mount",
              open(os.path.join(mp, name)).read() == f"from {what}\n")
        subprocess.run(["fusermount3", "-u", mp], capture_output=True)
        wait_for(lambda: not os.path.ismount(mp), 20)
    for what, user in (("DOMAIN\\user", f"{DOMAIN}\\alice"), ("user@REALM", f"alice@{REALM}")):
        rc, obj, out, err = smbgate_check(dom.dc_share, cred_file(os.path.join(work, "dc.cred"), user, alice_pw))
        check(f"accounts: smbgate check of the DC's own share as {what}", rc == 0 and obj and obj["result"] == "ok",
              (out + err).strip()[-300:])


def latency_checks(dom, work, alice_pw):
    creds = cred_file(os.path.join(work, "lat.cred"), f"{DOMAIN}\\alice", alice_pw)
    for where, share, n in (("file server (NTLM pass-through to the DC)", dom.fs_share, 20),
                            ("DC's own share", dom.dc_share, 10)):
        ms = []
        for _ in range(n):
            rc, obj, _, _ = smbgate_check(share, creds)
            if rc == 0 and obj:
                ms.append(obj["session_setup_ms"])
        if not check(f"latency: {n} authentications on the {where}", len(ms) == n, f"{len(ms)} succeeded"):
            continue
        ms.sort()
        med, p90 = statistics.median(ms), ms[int(0.9 * (len(ms) - 1))]
        print(f"  domain auth latency, {where}: median {med:.1f} ms, p90 {p90:.1f} ms, max {ms[-1]:.1f} ms "
              f"(session setup, n={n})", flush=True)
        check(f"latency: median session setup on the {where} under 1 s", med < 1000, f"{med:.1f} ms")


def rotation_checks(dom, work):
    pw1 = dom.create_user("rita")
    uid = dom.uid_of("rita")
    secret = Secret(os.path.join(work, "rita-secret"), f"{DOMAIN}\\rita", pw1)
    d = Daemon(dom.fs_share, os.path.join(work, "mnt-rita"), secret.d, os.path.join(work, "rita.log"))
    try:
        if not check("rotation: mounted as the first password", d.up, d.log_text()[-500:]):
            return
        check("rotation: a write before the change", write_through(os.path.join(d.mnt, "before.txt"), "before\n"))
        pw2 = dom.set_password("rita")
        rc, obj, out, err = smbgate_check(dom.fs_share, secret.d)
        check("rotation: the old password is refused by the DC at once (STATUS_LOGON_FAILURE)",
              rc == 1 and obj and obj["ntstatus"] == "STATUS_LOGON_FAILURE", (out + err).strip()[-300:])
        # The file server goes away for this client: the next session setup is a new logon.
        n = dom.cut(d.p.pid, dom.fs_ip)
        t0 = time.monotonic()
        writer = start_write(os.path.join(d.mnt, "after.txt"), "after\n")
        stale = wait_for(lambda: d.value("smbgate_auth_attempts_total", result="STATUS_LOGON_FAILURE",
                                         **{"class": "wrong_password"}) >= 1, 30, 0.2)
        check(f"rotation: the reconnect with the old password fails; /metrics counts STATUS_LOGON_FAILURE, "
              f"class wrong_password ({n} connection cut; {time.monotonic() - t0:.1f} s)", stale,
              "\n".join(l for l in d.metrics().splitlines() if "auth_attempts" in l))
        secret.rotate(pw2)
        t0 = time.monotonic()
        check("rotation: the Secret's swap is noticed and logged",
              wait_for(lambda: "credentials rotated" in d.log_text(), 30, 0.2), d.log_text()[-500:])
        print(f"  rotation noticed in {time.monotonic() - t0:.1f} s", flush=True)
        t0 = time.monotonic()
        ok = finish_write(writer)
        on_server = os.path.join(dom.fs_share_dir, "after.txt")
        check(f"rotation: a write that waited through the refused reconnects completes with the new password, "
              f"without a remount ({time.monotonic() - t0:.1f} s after the swap)",
              ok and os.path.exists(on_server) and os.stat(on_server).st_uid == uid, d.log_text()[-800:])
        check("rotation: /metrics counts the rotation, the reconnect and two successful logons",
              d.value("smbgate_credential_rotations_total") >= 1 and d.value("smbgate_reconnects_total") >= 1
              and d.value("smbgate_auth_attempts_total", result="success") >= 2,
              "\n".join(l for l in d.metrics().splitlines()
                        if l.startswith(("smbgate_credential_rotations", "smbgate_reconnects", "smbgate_auth_att"))))
    finally:
        rc = d.stop()
    check("rotation: the daemon stops cleanly (exit 0)", rc == 0, f"exit {rc}")


def state_checks(dom, work):
    user = "mia"
    pw = dom.create_user(user)
    good = cred_file(os.path.join(work, "mia.cred"), f"{DOMAIN}\\{user}", pw)
    wrong = cred_file(os.path.join(work, "mia-wrong.cred"), f"{DOMAIN}\\{user}", pw + "-not")
    d = Daemon(dom.fs_share, os.path.join(work, "mnt-mia"), good, os.path.join(work, "mia.log"))
    if not check("states: a daemon mounted as the account whose state changes", d.up, d.log_text()[-500:]):
        d.stop()
        return

    def lock():
        dom.samba_tool(["domain", "passwordsettings", "set", "--account-lockout-threshold=3"])
        seen = [smbgate_check(dom.fs_share, wrong)[1] for _ in range(3)]
        seen = [o["ntstatus"] if o else None for o in seen]
        check("states: locked out: three wrong passwords, each STATUS_LOGON_FAILURE",
              seen == ["STATUS_LOGON_FAILURE"] * 3, str(seen))

    def unlock():
        dom.samba_tool(["user", "unlock", user])
        dom.samba_tool(["domain", "passwordsettings", "set", "--account-lockout-threshold=0"])

    # (what, apply, restore, credentials, NTSTATUS, class, words of the fix)
    states = (
        ("wrong password", None, None, wrong, "STATUS_LOGON_FAILURE", "wrong_password",
         "check the user name, domain and password"),
        ("disabled", lambda: dom.samba_tool(["user", "disable", user]),
         lambda: dom.samba_tool(["user", "enable", user]), good, "STATUS_ACCOUNT_DISABLED", "disabled",
         "enable the account"),
        # (`setexpiry --noexpiry` would also set "password never expires", which hides the
        # two password states below: the expiry is moved ten years out instead.)
        ("account expired", lambda: dom.samba_tool(["user", "setexpiry", user, "--days=0"]),
         lambda: dom.samba_tool(["user", "setexpiry", user, "--days=3650"]), good, "STATUS_ACCOUNT_EXPIRED",
         "expired", "expiry date"),
        ("must change password (pwdLastSet=0)", lambda: dom.set_pwd_last_set(user, 0),
         lambda: dom.set_pwd_last_set(user, -1), good, "STATUS_PASSWORD_MUST_CHANGE", "expired",
         "must change password at next logon"),
        ("password expired (maximum age)", lambda: dom.expire_password(user),
         lambda: dom.unexpire_password(user), good, "STATUS_PASSWORD_EXPIRED", "expired", "set a new password"),
        ("locked out", lock, unlock, good, "STATUS_ACCOUNT_LOCKED_OUT", "locked", "unlock the account"),
    )
    try:
        for what, apply, restore, creds, status, cls, fix in states:
            if apply:
                apply()
            rc, obj, out, err = smbgate_check(dom.fs_share, creds)
            check(f"states: {what}: smbgate check --output json names {status}, class {cls} and the fix",
                  rc == 1 and obj is not None and obj["ntstatus"] == status and obj["class"] == cls
                  and fix in obj["likely_fix"] and obj["stage"] == "session_setup", (out + err).strip()[-400:])
            rc, _, out, err = smbgate_check(dom.fs_share, creds, as_json=False)
            line = one_line(err)
            check(f"states: {what}: smbgate check prints one line with {status} and the fix",
                  rc == 1 and line is not None and status in line and "(likely fix: " in line and fix in line,
                  err.strip())
            mnt = os.path.join(work, "mnt-fail")
            os.makedirs(mnt, exist_ok=True)
            r = run([BINARY, "mount", dom.fs_share, mnt, "--credentials", creds], timeout=60)
            LOGS.append(("mount " + what, r.stdout + r.stderr))
            line = one_line(r.stderr)
            check(f"states: {what}: smbgate mount exits 1 with one line naming {status} and the fix",
                  r.returncode == 1 and line is not None and status in line and "(likely fix: " in line
                  and fix in line and f"{DOMAIN}\\{user}" in line and not os.path.ismount(mnt),
                  f"exit {r.returncode}: {r.stderr.strip()}")
            if os.path.ismount(mnt):  # it should not have mounted: out of the way of the next state
                subprocess.run(["fusermount3", "-u", mnt], capture_output=True)
                wait_for(lambda: not os.path.ismount(mnt), 20)
            print(f"  {what}: {line}", flush=True)
            if apply is None:
                continue  # the daemon's stale-password reconnect is the rotation section's
            before = d.value("smbgate_auth_attempts_total", result=status, **{"class": cls})
            t0 = time.monotonic()
            n = dom.cut(d.p.pid, dom.fs_ip)
            name = f"after-{status.lower()}.txt"
            writer = start_write(os.path.join(d.mnt, name), "back\n")
            counted = wait_for(lambda: d.value("smbgate_auth_attempts_total", result=status,
                                               **{"class": cls}) > before, 30, 0.2)
            check(f"states: {what}: the mounted daemon's reconnect is refused; /metrics counts "
                  f"result={status}, class={cls} ({time.monotonic() - t0:.1f} s after the cut)",
                  counted and n >= 1, f"{n} connection cut; " +
                  " ".join(l for l in d.metrics().splitlines() if l.startswith("smbgate_auth_attempts_total")))
            restore()
            t0 = time.monotonic()
            ok = finish_write(writer)
            check(f"states: {what}: a write that waited through the refusals completes once the account is "
                  f"restored, on the same mount ({time.monotonic() - t0:.1f} s)",
                  ok and os.path.exists(os.path.join(dom.fs_share_dir, name)), d.log_text()[-600:])
    finally:
        rc = d.stop()
    check("states: the daemon stops cleanly (exit 0)", rc == 0, f"exit {rc}")


def secret_checks(dom):
    texts = []
    for item in LOGS:
        if isinstance(item, tuple):
            texts.append((item[0], item[1]))
        elif os.path.exists(item):
            texts.append((item, open(item, errors="replace").read()))
    for path in dom.logs():
        texts.append((path, open(path, errors="replace").read()))
    leaks = [name for name, text in texts for pw in dom.passwords if pw in text]
    check(f"secrets: no password in any smbgate or Samba log or output ({len(texts)} looked at)", not leaks,
          f"found in {sorted(set(leaks))}")


def domain_dns_prefix(dom, work, hosts=""):
    """argv that runs the rest in a mount namespace whose resolver is the DC's DNS (and
    /etc/hosts localhost plus `hosts`), as on a domain member: domain and DC names resolve
    through AD DNS."""
    tag = f"{len(os.listdir(work))}"
    resolv = os.path.join(work, f"ns-resolv.conf.{tag}")
    hosts_file = os.path.join(work, f"ns-hosts.{tag}")
    with open(resolv, "w") as f:
        f.write(f"nameserver {dom.dc_ip}\n")
    with open(hosts_file, "w") as f:
        f.write("127.0.0.1 localhost\n" + hosts)
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
            f'mount --bind "{resolv}" /etc/resolv.conf && mount --bind "{hosts_file}" /etc/hosts && exec "$@"', "sh"]


def in_domain_dns(dom, work, script, timeout=90):
    """`sh -c script` in a mount namespace of domain_dns_prefix's."""
    r = subprocess.run(domain_dns_prefix(dom, work) + ["sh", "-c", script],
                       capture_output=True, text=True, timeout=timeout)
    LOGS.append(("namespace script", r.stdout + r.stderr))
    return r


def namespace_checks(dom, work, alice_pw):
    """A domain-based DFS namespace (MS-DFSC 3.1.4.1): //DNS_DOMAIN/sysvol names no
    server; the DC (found through the domain's own DNS) answers a DC referral for the
    domain and a root referral for the namespace, and smbgate mounts the root target.
    (Samba's AD DC serves the domain namespaces sysvol and netlogon; a DFS namespace of
    one's own in the domain needs Windows' DFS service, which Samba has not.)"""
    creds = cred_file(os.path.join(work, "ns-creds"), "alice", alice_pw, DOMAIN)
    share = f"//{DNS_DOMAIN}/sysvol"
    # The file server becomes a second root server of sysvol (as a second DC would be).
    fs_name = dom.add_sysvol_target()
    r = in_domain_dns(dom, work, f'exec "{BINARY}" check {share} --credentials "{creds}" --timeout 20 --output json')
    try:
        obj = json.loads(r.stdout)
    except ValueError:
        obj = None
    refs = (obj or {}).get("referrals") or [{}]
    want_target = f"\\dc1.{DNS_DOMAIN}\\sysvol".lower()
    # The DC names its site's servers in no fixed order; fs1's name is in no DNS here, so
    # the DC's share is the one that answers.
    check(f"namespace: check {share} follows the domain's root referral (the DC and {fs_name}) to the DC's share",
          r.returncode == 0 and refs[0].get("path", "").lower() == f"\\{DNS_DOMAIN}\\sysvol".lower()
          and refs[0].get("used", "").lower() == want_target
          and sorted(t.lower() for t in refs[0].get("targets", [])) == [want_target, f"\\{fs_name}\\sysvol"]
          and (obj or {}).get("target", "").lower() == f"//dc1.{DNS_DOMAIN}:445/sysvol",
          f"rc {r.returncode}: {r.stdout.strip()[:600]} {one_line(r.stderr)}")
    r = in_domain_dns(dom, work, f'exec "{BINARY}" check {share} --credentials "{creds}" --timeout 20')
    check("namespace: check shows the chain in text",
          r.returncode == 0 and f"referral: \\{DNS_DOMAIN}\\sysvol -> " in r.stdout.replace("SYSVOL", "sysvol")
          and "(used)" in r.stdout and f"target: //dc1.{DNS_DOMAIN}:445/sysvol" in r.stdout.lower(),
          r.stdout.strip()[:600])
    # A server's own name is no domain: no referral, the share as named.
    r = in_domain_dns(dom, work, f'exec "{BINARY}" check //dc1.{DNS_DOMAIN}/data --credentials "{creds}" '
                                 '--timeout 20 --output json')
    try:
        obj = json.loads(r.stdout)
    except ValueError:
        obj = {}
    check("namespace: a server's name (//dc1.DOMAIN/data) is mounted as named, no referral",
          r.returncode == 0 and "referrals" not in obj, f"rc {r.returncode}: {r.stdout.strip()[:300]}")
    # The mount: the namespace path with a subdirectory, listed through FUSE.
    mnt = os.path.join(work, "mnt-namespace")
    log = os.path.join(work, "namespace-mount.log")
    LOGS.append(log)
    os.makedirs(mnt, exist_ok=True)
    r = in_domain_dns(dom, work, f'"{BINARY}" mount {share}/{DNS_DOMAIN} "{mnt}" --credentials "{creds}" '
                                 f'--foreground -o log_level=info > "{log}" 2>&1 & pid=$!; '
                                 f'for i in $(seq 300); do mountpoint -q "{mnt}" && break; sleep 0.1; done; '
                                 f'ls "{mnt}/Policies"; rc=$?; kill $pid; wait $pid; exit $rc')
    gpo = "{31B2F340-016D-11D2-945F-00C04FB984F9}"  # the Default Domain Policy, in every domain
    text = open(log, errors="replace").read() if os.path.exists(log) else ""
    check(f"namespace: mount of {share}/{DNS_DOMAIN} lists the domain's policies through the root target",
          r.returncode == 0 and gpo.lower() in r.stdout.lower(), f"rc {r.returncode}: {r.stdout[:300]} "
          f"{r.stderr[-300:]} {text[-600:]}")
    check("namespace: the mount logs the root target it used",
          "DFS domain namespace: mounting a root target" in text and f"dc1.{DNS_DOMAIN}" in text.lower(),
          text[-600:])
    root_failover_checks(dom, work, creds, fs_name)


def root_failover_checks(dom, work, creds, fs_name):
    """The namespace's root servers fail over as a link's targets do (MS-DFSC 3.1.5.4.4):
    when the root server in use stops answering the mount, its requests go to the other
    one, and back when that one goes and the first returns. (The DC lists its site's
    servers in no fixed order: the mount's log says which it took.) Each server is reached
    through a proxy of the test's (its name resolves to the proxy in the mount's
    namespace), so it can go away for the mount alone: the file server still asks the DC
    about every logon."""
    dc_name = f"dc1.{DNS_DOMAIN}"
    n = int(dom.dc_ip.rsplit(".", 1)[1])
    # Where each server keeps its copy of the domain's sysvol folder.
    folders = {dc_name: os.path.join(dom.dc_dir, "state", "sysvol", DNS_DOMAIN),
               fs_name: os.path.join(dom.fs_dir, "sysvol", DNS_DOMAIN)}
    proxies = {}
    daemon = None
    try:
        for name, upstream, last in ((dc_name, dom.dc_ip, n), (fs_name, dom.fs_ip, n + 1)):
            proxies[name] = FaultProxy((upstream, 445), listen=(f"127.0.9.{last}", 445)).start()
        hosts = "".join(f"{p.listen[0]} {name}\n" for name, p in proxies.items())
        mnt = os.path.join(work, "mnt-failover")
        log = os.path.join(work, "failover-mount.log")
        LOGS.append(log)
        daemon = SmbgateDaemon(BINARY, f"//{DNS_DOMAIN}/sysvol/{DNS_DOMAIN}", mnt, creds, log,
                               options="actimeo=0", prefix=domain_dns_prefix(dom, work, hosts))
        if not check("failover: the namespace is mounted through the proxies", daemon.up,
                     daemon.log_text()[-800:]):
            return
        used = ""
        for line in daemon.log_text().splitlines():
            if "mounting a root target" in line:
                used = json.loads(line).get("target", "").lower()
        first = dc_name if f"\\{dc_name}\\" in used else fs_name
        second = fs_name if first == dc_name else dc_name
        if not check(f"failover: the mount logs the root server it took ({first})",
                     f"\\{first}\\sysvol" == used, used):
            return
        # Markers only one server has, each looked up once, by a new name.
        for server, names in ((first, ("first-a", "first-b")), (second, ("second-a",))):
            for m in names:
                with open(os.path.join(folders[server], m), "w") as f:
                    f.write(f"{m} {server}\n")
                os.chmod(os.path.join(folders[server], m), 0o644)

        def read(name):
            t0 = time.monotonic()
            try:
                with open(os.path.join(daemon.path, name)) as f:
                    return f.read().strip(), time.monotonic() - t0
            except OSError as e:
                return f"{type(e).__name__}: {e}", time.monotonic() - t0

        def failover_logged(a, b):
            for line in daemon.log_text().splitlines():
                if "DFS target failed; using the next target" in line:
                    ev = json.loads(line)
                    if ev.get("from", "").lower() == f"\\{a}\\sysvol" and \
                            ev.get("to", "").lower() == f"\\{b}\\sysvol":
                        return True
            return False

        got, _ = read("first-a")
        check(f"failover: {first} serves the namespace", got == f"first-a {first}", got)
        # The first server goes away for the mount: open connections cut, new ones refused.
        proxies[first].set_down(True)
        proxies[first].cut_now()
        got, took = read("second-a")
        print(f"  [ domain figures ] root failover {first} -> {second}: the first request answered after "
              f"{took:.1f} s", flush=True)
        check(f"failover: with {first} gone, the next request is answered by {second} ({took:.1f} s, no error)",
              got == f"second-a {second}" and took < 30, got)
        check("failover: logged with both servers", failover_logged(first, second), daemon.log_text()[-1200:])
        check(f"failover: smbgate_session_up is 1 with {second}'s session (0 only while no root server had one)",
              wait_for(lambda: daemon.value("smbgate_session_up") == 1, 10), daemon.metrics()[-400:])
        # And back: the first returns, the second goes.
        proxies[first].set_down(False)
        proxies[second].set_down(True)
        proxies[second].cut_now()
        got, took = read("first-b")
        print(f"  [ domain figures ] root failover back to {first}: the first request answered after {took:.1f} s",
              flush=True)
        check(f"failover: with {second} gone and {first} back, the next request is answered by {first} "
              f"({took:.1f} s, no error)", got == f"first-b {first}" and took < 30, got)
        check("failover: the way back logged", failover_logged(second, first), daemon.log_text()[-1200:])
        check("failover: smbgate_session_up is 1 again",
              wait_for(lambda: daemon.value("smbgate_session_up") == 1, 10), daemon.metrics()[-400:])
    finally:
        if daemon:
            daemon.stop()
        for p in proxies.values():
            p.stop()


def main():
    global BINARY
    if len(sys.argv) != 2:
        print("usage: domain_test.py BUILD_DIR", file=sys.stderr)
        return 2
    BINARY = os.path.join(os.path.abspath(sys.argv[1]), "smbgate")
    if not check("smbgate is built", os.access(BINARY, os.X_OK), BINARY):
        return summary("domain")
    if not check("runs as root with /dev/fuse (a domain controller and FUSE mounts need both)",
                 os.geteuid() == 0 and os.path.exists("/dev/fuse"), f"euid {os.geteuid()}"):
        return summary("domain")
    # CTest ends a test with SIGTERM on timeout: unwind so the servers and addresses go.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    t_all = time.monotonic()
    work = tempfile.mkdtemp(prefix="smbgate-domain.")
    dom = SambaDomain(os.path.join(work, "servers"))
    os.makedirs(dom.work)
    os.chmod(work, 0o711)
    try:
        try:
            dom.start()
            ok = True
            err = ""
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
            ok, err = False, str(e)
        t = dom.timings
        if not check(f"domain: DC {dom.dc_ip} provisioned ({t.get('provision', 0):.1f} s) and started "
                     f"({t.get('dc_start', 0):.1f} s), file server {dom.fs_ip} joined and started "
                     f"({t.get('member_join_start', 0):.1f} s)", ok, err):
            return summary("domain")
        alice_pw = dom.create_user("alice")
        sections = (("servers", lambda: server_checks(dom, work, alice_pw)),
                    ("accounts", lambda: account_checks(dom, work, alice_pw)),
                    ("latency", lambda: latency_checks(dom, work, alice_pw)),
                    ("rotation", lambda: rotation_checks(dom, work)),
                    ("states", lambda: state_checks(dom, work)),
                    ("namespace", lambda: namespace_checks(dom, work, alice_pw)))
        only = os.environ.get("SMBGATE_DOMAIN_ONLY", "").split(",")  # to debug one section
        for name, fn in sections:
            if only != [""] and name not in only:
                continue
            t0 = time.monotonic()
            try:
                fn()
            except Exception as e:  # one section's surprise must not hide the others' results
                check(f"{name}: ran", False, f"{type(e).__name__}: {e}")
            print(f"  {name}: {time.monotonic() - t0:.1f} s", flush=True)
        secret_checks(dom)
    finally:
        for m in os.listdir(work):
            p = os.path.join(work, m)
            if m.startswith("mnt") and os.path.ismount(p):
                subprocess.run(["fusermount3", "-uz", p], capture_output=True)
        dom.stop()
        failed = summary_failed()
        if failed and os.environ.get("SMBGATE_DOMAIN_KEEP"):
            print(f"  kept {work} (SMBGATE_DOMAIN_KEEP)", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
        print(f"  total: {time.monotonic() - t_all:.1f} s", flush=True)
    return summary("domain")


def summary_failed():
    from checks import counts
    return counts["failed"] > 0


if __name__ == "__main__":
    sys.exit(main())
