"""A throwaway Active Directory domain on loopback for the tests: a Samba AD domain
controller provisioned into a private directory, and a file server (a Samba member smbd
with winbindd) joined to it, so a logon on the file server is checked by the DC over
NETLOGON as on any Windows network.

    dom = SambaDomain(work_dir)      # root: ports < 1024, `ip addr`, mount namespaces
    dom.start()                      # ~15 s on 2 cores: provision, DC, join, member
    pw = dom.create_user("alice")    # a random password, never printed
    ...                              # dom.fs_share / dom.dc_share are //IP/data
    dom.stop()

Isolation
  - Addresses: two 127.0.0.N/32 added to `lo` (DC, file server), removed by stop(); every
    server binds only its own (`interfaces`, `bind interfaces only`).
  - Files: everything under work_dir: the DC is provisioned with --targetdir (its private,
    lock, state, cache and binddns directories), the member's private/lock/state/cache
    directories, logs, shares.
  - /run/samba (winbindd's socket, which libwbclient only finds there, and ncalrpc): each
    server runs in its own mount namespace with a directory of work_dir bound over
    /run/samba. The member's namespace also gets its own /etc/resolv.conf (the DC's DNS),
    /etc/hosts and /etc/passwd and /etc/group: smbd needs a passwd entry for the uid of
    each domain user (normally from libnss_winbind, which would edit the host's
    nsswitch.conf), so the fixture writes one per user it creates.
  - DNS: the DC's internal DNS (SAMBA_INTERNAL) with no forwarder, so nothing leaves
    loopback; the member resolves the DC through it.
Secrets: user and administrator passwords go to samba-tool on stdin and to smbgate and
`net` in 0600 files, never in argv or output (provisioning prints a generated
administrator password: that output is kept in memory and shown, without that line, only
on failure).
"""
import ctypes
import os
import re
import secrets
import signal
import socket
import struct
import subprocess
import time

REALM = "SMBGATE.TEST"
DNS_DOMAIN = "smbgate.test"
DOMAIN = "SMBGATE"
DC_NAME = "dc1"
FS_NAME = "fs1"
# The Default Domain Policy: in every domain's sysvol under this name.
DEFAULT_GPO = "{31B2F340-016D-11D2-945F-00C04FB984F9}"
# idmap_rid on the member: uid = RID + this (and Domain Users, RID 513, the gid).
RID_BASE = 10000

_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    # The servers are in their own sessions (killpg at stop); if the test itself is
    # killed (a CTest timeout), the namespace's first process goes with it, and Samba's
    # children follow their parent.
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def random_password():
    """A password the domain's complexity rules accept, with characters that break naive
    quoting (`;`, `$`, space, quote); never printed."""
    return "Pw; $ '" + secrets.token_urlsafe(12) + "-9aZ"


def _run(argv, stdin=None, timeout=120, env=None):
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout, env=env)


def _listening(ip, port):
    s = socket.socket()
    s.settimeout(0.5)
    try:
        return s.connect_ex((ip, port)) == 0
    finally:
        s.close()


def dns_query_a(server, name, timeout=2.0):
    """The IPv4 addresses `server` answers for `name` (RFC 1035 4.1: one question, type A,
    class IN), or None when it does not answer."""
    qid = secrets.randbits(16)
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    q += struct.pack(">HH", 1, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(q, (server, 53))
        data, _ = s.recvfrom(4096)
    except OSError:
        return None
    finally:
        s.close()
    rid, flags, qd, an = struct.unpack(">HHHH", data[:8])
    if rid != qid or flags & 0xF:  # RCODE
        return []
    off = 12
    for _ in range(qd):  # skip the question: labels, then QTYPE and QCLASS
        while data[off] != 0:
            off += 1 + data[off]
        off += 5
    out = []
    for _ in range(an):
        if data[off] & 0xC0 == 0xC0:  # a compressed name: one pointer
            off += 2
        else:
            while data[off] != 0:
                off += 1 + data[off]
            off += 1
        rtype, _, _, rdlen = struct.unpack(">HHIH", data[off:off + 10])
        off += 10
        if rtype == 1 and rdlen == 4:
            out.append(socket.inet_ntoa(data[off:off + 4]))
        off += rdlen
    return out


class SambaDomain:
    def __init__(self, work):
        self.work = work
        self.dc_dir = os.path.join(work, "dc")
        self.fs_dir = os.path.join(work, "fs")
        self.dc_conf = os.path.join(self.dc_dir, "etc", "smb.conf")
        self.fs_conf = os.path.join(self.fs_dir, "smb.conf")
        self.sam = os.path.join(self.dc_dir, "private", "sam.ldb")
        self.dc_ip = self.fs_ip = None
        self.added_addresses = []
        self.procs = {}
        self.namespaces = {}  # name -> the mount namespace its processes share
        self.timings = {}
        self.passwords = []  # every password made here, for the tests' "never logged" checks
        self._samdb = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def dc_share(self):
        return f"//{self.dc_ip}/data"

    @property
    def fs_share(self):
        return f"//{self.fs_ip}/data"

    @property
    def fs_share_dir(self):
        return os.path.join(self.fs_dir, "share")

    def start(self):
        """Provisions and starts the DC, joins and starts the member. Raises RuntimeError
        with one line naming what failed (and the tail of the relevant log)."""
        if os.geteuid() != 0:
            raise RuntimeError("needs root: the DC binds ports below 1024, addresses are added to lo, "
                               "servers run in mount namespaces (run as root, as CI does)")
        for tool in ("samba", "samba-tool", "smbd", "winbindd", "net", "unshare", "ip", "ss"):
            if not _which(tool):
                raise RuntimeError(f"{tool} not found: run deploy/install-deps.sh (samba-ad-dc, samba-ad-provision, "
                                   "samba-dsdb-modules, winbind)")
        # Members of the domain traverse into the shares as their own uids.
        os.chmod(self.work, 0o711)
        self._pick_addresses()
        t = time.monotonic()
        self._provision()
        self.timings["provision"] = time.monotonic() - t
        t = time.monotonic()
        self._start_dc()
        self.timings["dc_start"] = time.monotonic() - t
        t = time.monotonic()
        self._join_member()
        self._start_member()
        self.timings["member_join_start"] = time.monotonic() - t

    def stop(self):
        for name, p in list(self.procs.items()):
            _kill_namespace(p, self.namespaces.get(name))
            del self.procs[name]
        for addr in self.added_addresses:
            _run(["ip", "addr", "del", f"{addr}/32", "dev", "lo"], timeout=10)
        self.added_addresses = []

    def _note_namespace(self, name):
        """Remembers the mount namespace of a server once its first process is in it (never
        the test's own: stop() kills every process of a remembered namespace)."""
        if self.namespaces.get(name):
            return
        ns = _mount_namespace(self.procs[name].pid)
        if ns and ns != _mount_namespace(os.getpid()):
            self.namespaces[name] = ns

    def _pick_addresses(self):
        have = _run(["ip", "-o", "-4", "addr", "show", "dev", "lo"], timeout=10).stdout
        for n in range(200, 250, 2):
            dc, fs = f"127.0.0.{n}", f"127.0.0.{n + 1}"
            if f" {dc}/" in have or f" {fs}/" in have:
                continue  # another run's (or a crashed one's): leave it alone
            for a in (dc, fs):
                r = _run(["ip", "addr", "add", f"{a}/32", "dev", "lo"], timeout=10)
                if r.returncode != 0:
                    raise RuntimeError(f"ip addr add {a}/32 dev lo: {r.stderr.strip()}")
                self.added_addresses.append(a)
            self.dc_ip, self.fs_ip = dc, fs
            break
        else:
            raise RuntimeError("no free pair of 127.0.0.200-249 addresses on lo (left by crashed runs? "
                               "`ip addr show dev lo`)")
        # A server on the wildcard address holding a port the DC needs would make the DC
        # start without that service; say so now rather than time out later.
        for ip, ports in ((self.dc_ip, (53, 88, 135, 389, 445, 464, 636)), (self.fs_ip, (445,))):
            for port in ports:
                for kind in (socket.SOCK_STREAM,) + ((socket.SOCK_DGRAM,) if port in (53, 88, 389, 464) else ()):
                    s = socket.socket(socket.AF_INET, kind)
                    # As Samba binds: connections of an earlier run in TIME_WAIT do not count.
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    try:
                        s.bind((ip, port))
                    except OSError as e:
                        proto = "tcp" if kind == socket.SOCK_STREAM else "udp"
                        raise RuntimeError(f"cannot bind {ip}:{port}/{proto} ({e.strerror}): another server "
                                           f"holds that port on all addresses (ss -lntup 'sport = :{port}')")
                    finally:
                        s.close()

    # ------------------------------------------------------------------ the DC

    def _provision(self):
        os.makedirs(os.path.join(self.dc_dir, "log"))
        os.makedirs(os.path.join(self.dc_dir, "run"))
        share = os.path.join(self.dc_dir, "share")
        os.makedirs(share)
        os.chmod(share, 0o1777)
        os.chmod(self.dc_dir, 0o711)
        # The options provisioning copies into the DC's smb.conf. Without a base file it
        # would start from /etc/samba/smb.conf (the host's shares, log paths, printers).
        base = os.path.join(self.work, "dc-base.conf")
        with open(base, "w") as f:
            f.write(f"""[global]
	interfaces = {self.dc_ip}
	bind interfaces only = yes
	disable netbios = yes
	smb ports = 445
	server signing = mandatory
	ntlm auth = ntlmv2-only
	# One DC, no replication, DNS records written at provisioning: no KCC, no DRS
	# replication, no dynamic DNS updates, no NTP signing (its socket is under
	# /var/lib/samba).
	server services = -kcc -drepl -dnsupdate -ntp_signd
	prefork children = 1
	log file = {self.dc_dir}/log/log.%m
	log level = 1 auth_audit:3
	load printers = no
	printcap name = /dev/null
	disable spoolss = yes
""")
        r = _run(["samba-tool", "domain", "provision", "-s", base, f"--targetdir={self.dc_dir}",
                  f"--realm={REALM}", f"--domain={DOMAIN}", "--server-role=dc", "--dns-backend=SAMBA_INTERNAL",
                  f"--host-name={DC_NAME}", f"--host-ip={self.dc_ip}"], timeout=300)
        if r.returncode != 0:
            out = "\n".join(l for l in (r.stdout + r.stderr).splitlines() if "password" not in l.lower())
            raise RuntimeError("samba-tool domain provision failed: " + out[-1500:])
        # Provisioning copies the host's resolver into `dns forwarder`: dropped, so the DC's
        # DNS answers its own zone and forwards nothing off loopback. And it does not carry
        # every option of the base file over: these are added to what it wrote.
        conf = []
        for line in open(self.dc_conf).read().splitlines():
            if line.strip().startswith("dns forwarder"):
                continue
            conf.append(line)
            if line.strip() == "[global]":
                # NTLM accepts the previous password for 60 minutes after a change by
                # default (smb.conf(5)); the rotation test needs the old one refused at once.
                conf.append("\told password allowed period = 0")
        conf += ["", "[data]", f"\tpath = {share}", "\tread only = no", ""]
        with open(self.dc_conf, "w") as f:
            f.write("\n".join(conf))

    def _start_dc(self):
        os.makedirs("/run/samba", exist_ok=True)  # the mount point; what Samba's package creates
        script = 'mount --bind "$1" /run/samba && exec samba --foreground --no-process-group -s "$2"'
        self.procs["dc"] = _spawn_in_namespace(script, [os.path.join(self.dc_dir, "run"), self.dc_conf],
                                               os.path.join(self.dc_dir, "log", "samba.out"))
        deadline = time.monotonic() + 120
        needed = [(self.dc_ip, p) for p in (445, 389, 88, 53, 135)]
        while time.monotonic() < deadline:
            self._note_namespace("dc")
            if self.procs["dc"].poll() is not None:
                raise RuntimeError("samba (the DC) exited: " + _tail(os.path.join(self.dc_dir, "log", "samba.out")))
            if all(_listening(ip, p) for ip, p in needed) and dns_query_a(self.dc_ip, f"{DC_NAME}.{DNS_DOMAIN}"):
                return
            time.sleep(0.2)
        missing = [p for ip, p in needed if not _listening(ip, p)]
        raise RuntimeError(f"the DC is not listening on {self.dc_ip} ports {missing} after 120 s: " +
                           _tail(os.path.join(self.dc_dir, "log", "log.samba")))

    # ------------------------------------------------------------------ the member

    def _member_namespace_script(self, command):
        return ('mount --bind "$1/run" /run/samba && '
                'for f in resolv.conf hosts passwd group; do mount --bind "$1/etc/$f" "/etc/$f" || exit 1; done && '
                + command)

    def _join_member(self):
        d = self.fs_dir
        for sub in ("run", "private", "lock", "state", "cache", "log", "etc", "share"):
            os.makedirs(os.path.join(d, sub))
        os.chmod(d, 0o711)
        os.chmod(os.path.join(d, "share"), 0o1777)
        # A copy of the domain's sysvol (Windows replicates it to every DC with DFS-R): the
        # member is made a second root target of the sysvol namespace (add_sysvol_target).
        policies = os.path.join(d, "sysvol", DNS_DOMAIN, "Policies")
        os.makedirs(os.path.join(policies, DEFAULT_GPO))
        for root, dirs, _ in os.walk(os.path.join(d, "sysvol")):
            os.chmod(root, 0o1777)
        with open(os.path.join(d, "etc", "resolv.conf"), "w") as f:
            f.write(f"nameserver {self.dc_ip}\nsearch {DNS_DOMAIN}\n")
        # Only the member's own name: the DC's is found through the DC's DNS.
        with open(os.path.join(d, "etc", "hosts"), "w") as f:
            f.write(f"127.0.0.1 localhost\n{self.fs_ip} {FS_NAME}.{DNS_DOMAIN} {FS_NAME}\n")
        with open(os.path.join(d, "etc", "passwd"), "w") as f:
            f.write(open("/etc/passwd").read())
        with open(os.path.join(d, "etc", "group"), "w") as f:
            f.write(open("/etc/group").read() + f"{DOMAIN}\\domain users:x:{RID_BASE + 513}:\n")
        with open(self.fs_conf, "w") as f:
            f.write(f"""[global]
	workgroup = {DOMAIN}
	realm = {REALM}
	security = ads
	netbios name = {FS_NAME.upper()}
	interfaces = {self.fs_ip}
	bind interfaces only = yes
	disable netbios = yes
	smb ports = 445
	password server = {self.dc_ip}
	server signing = mandatory
	ntlm auth = ntlmv2-only
	private dir = {d}/private
	lock directory = {d}/lock
	state directory = {d}/state
	cache directory = {d}/cache
	log file = {d}/log/log.%m
	log level = 1
	idmap config * : backend = tdb
	idmap config * : range = 3000-7999
	idmap config {DOMAIN} : backend = rid
	idmap config {DOMAIN} : range = {RID_BASE}-999999
	load printers = no
	printcap name = /dev/null
	disable spoolss = yes

[data]
	path = {d}/share
	read only = no

[sysvol]
	path = {d}/sysvol
	read only = no
""")
        # The join needs an administrator: give Administrator a password of ours (stdin),
        # hand it to `net` in a 0600 file, remove the file after.
        admin = random_password()
        self.passwords.append(admin)
        self.samba_tool(["user", "setpassword", "Administrator"], stdin=f"{admin}\n{admin}\n")
        auth = os.path.join(d, "join.auth")
        _write_private(auth, f"username = Administrator\npassword = {admin}\ndomain = {DOMAIN}\n")
        try:
            p = subprocess.run(["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                                self._member_namespace_script('exec net ads join -s "$2" -A "$3" --no-dns-updates'),
                                "sh", d, self.fs_conf, auth], capture_output=True, text=True, timeout=120)
        finally:
            os.unlink(auth)
        if p.returncode != 0 or "Joined" not in p.stdout:
            raise RuntimeError("net ads join failed: " + (p.stdout + p.stderr).strip()[-1500:])

    def _start_member(self):
        script = self._member_namespace_script(
            '{ winbindd --foreground --no-process-group -s "$2" & } && '
            'exec smbd --foreground --no-process-group -s "$2"')
        self.procs["fs"] = _spawn_in_namespace(script, [self.fs_dir, self.fs_conf],
                                               os.path.join(self.fs_dir, "log", "servers.out"))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            self._note_namespace("fs")
            if self.procs["fs"].poll() is not None:
                raise RuntimeError("the member smbd exited: " + _tail(os.path.join(self.fs_dir, "log", "log.smbd")))
            if _listening(self.fs_ip, 445) and os.path.exists(os.path.join(self.fs_dir, "run", "winbindd", "pipe")):
                return
            time.sleep(0.2)
        raise RuntimeError(f"the member is not listening on {self.fs_ip}:445 after 60 s: " +
                           _tail(os.path.join(self.fs_dir, "log", "log.smbd")))

    # ------------------------------------------------------------------ accounts

    def samba_tool(self, args, stdin=None, check=True):
        """samba-tool on the DC's database directly (as root: no network, no admin
        password). Passwords only ever on stdin."""
        r = _run(["samba-tool"] + args + ["-H", self.sam, "-s", self.dc_conf], stdin=stdin, timeout=120)
        if check and r.returncode != 0:
            raise RuntimeError(f"samba-tool {' '.join(args)}: " + (r.stdout + r.stderr).strip()[-800:])
        return r

    def samdb(self):
        """The DC's database through Samba's own Python bindings (what samba-tool uses)."""
        if self._samdb is None:
            from samba.auth import system_session
            from samba.param import LoadParm
            from samba.samdb import SamDB
            lp = LoadParm()
            lp.load(self.dc_conf)
            self._samdb = SamDB(url=self.sam, session_info=system_session(), lp=lp)
        return self._samdb

    def user_dn(self, name):
        res = self.samdb().search(base=self.samdb().domain_dn(), expression=f"(sAMAccountName={name})", attrs=["dn"])
        return res[0].dn

    def rid(self, name):
        res = self.samdb().search(base=self.samdb().domain_dn(), expression=f"(sAMAccountName={name})",
                                  attrs=["objectSid"])
        sid = self.samdb().schema_format_value("objectSid", res[0]["objectSid"][0])
        return int(sid.decode().rsplit("-", 1)[1])

    def create_user(self, name):
        """A domain user with a random password (returned); the member gets its passwd entry."""
        password = random_password()
        self.passwords.append(password)
        self.samba_tool(["user", "create", name], stdin=f"{password}\n{password}\n")
        uid = RID_BASE + self.rid(name)
        # Appended in place: the member's namespace has this file (its inode) bound on
        # /etc/passwd, and glibc reads it at every lookup.
        with open(os.path.join(self.fs_dir, "etc", "passwd"), "a") as f:
            f.write(f"{DOMAIN}\\{name}:x:{uid}:{RID_BASE + 513}::/nonexistent:/usr/sbin/nologin\n")
        return password

    def set_upn(self, name, upn):
        """Gives `name` the user principal name `upn`, its suffix registered as one of the
        forest's alternative UPN suffixes (uPNSuffixes of CN=Partitions, MS-ADTS 6.1.1.2.1.1)."""
        import ldb
        suffix = upn.rsplit("@", 1)[1]
        db = self.samdb()
        m = ldb.Message()
        m.dn = ldb.Dn(db, "CN=Partitions," + str(db.get_config_basedn()))
        m["uPNSuffixes"] = ldb.MessageElement(suffix, ldb.FLAG_MOD_ADD, "uPNSuffixes")
        db.modify(m)
        m = ldb.Message()
        m.dn = self.user_dn(name)
        m["userPrincipalName"] = ldb.MessageElement(upn, ldb.FLAG_MOD_REPLACE, "userPrincipalName")
        db.modify(m)

    def uid_of(self, name):
        return RID_BASE + self.rid(name)

    def set_password(self, name):
        """A new random password for `name`, set on the DC (returned)."""
        password = random_password()
        self.passwords.append(password)
        self.samba_tool(["user", "setpassword", name], stdin=f"{password}\n{password}\n")
        return password

    def set_pwd_last_set(self, name, value):
        """pwdLastSet through the directory: 0 is 'must change password at next logon'
        (MS-ADTS 3.1.1.8.1.x: only 0 and -1 may be written; -1 sets it to now)."""
        import ldb
        m = ldb.Message()
        m.dn = self.user_dn(name)
        m["pwdLastSet"] = ldb.MessageElement(str(value), ldb.FLAG_MOD_REPLACE, "pwdLastSet")
        self.samdb().modify(m)

    def expire_password(self, name):
        """Makes `name`'s password expired: a fine-grained password policy with a 2-day
        maximum age applied to the user, and its pwdLastSet moved 3 days back. Samba treats
        a maximum age of one day or less as 'never', and the directory refuses pwdLastSet
        values other than 0 and -1, so the date is written below Samba's modules, in the
        domain partition's own database (the DC reads it at the next logon)."""
        import ldb
        if not getattr(self, "_expiry_pso", False):
            self.samba_tool(["domain", "passwordsettings", "pso", "create", "ExpireIn2Days", "10",
                             "--max-pwd-age=2", "--min-pwd-age=0"])
            self._expiry_pso = True
        self.samba_tool(["domain", "passwordsettings", "pso", "apply", "ExpireIn2Days", name])
        dn = str(self.user_dn(name))
        part = os.path.join(self.dc_dir, "private", "sam.ldb.d",
                            "DC=" + ",DC=".join(p.upper() for p in DNS_DOMAIN.split(".")) + ".ldb")
        raw = ldb.Ldb(url=part, options=["modules:"])
        three_days_ago = int((time.time() - 3 * 86400 + 11644473600) * 10**7)  # NTTIME (MS-DTYP 2.3.3)
        m = ldb.Message()
        m.dn = ldb.Dn(raw, dn)
        m["pwdLastSet"] = ldb.MessageElement(str(three_days_ago), ldb.FLAG_MOD_REPLACE, "pwdLastSet")
        raw.modify(m)
        del raw

    def unexpire_password(self, name):
        self.samba_tool(["domain", "passwordsettings", "pso", "unapply", "ExpireIn2Days", name])
        self.set_pwd_last_set(name, -1)

    # ------------------------------------------------------------------ connections

    def server_pids_for(self, client_pid, server_ip):
        """The pids of the smbd processes serving `client_pid`'s connections to
        server_ip:445 (one child per connection)."""
        out = _run(["ss", "-Htnp", "state", "established"], timeout=10).stdout
        rows = []
        for line in out.splitlines():
            f = line.split(None, 4)
            if len(f) >= 4:
                rows.append((f[2], f[3], f[4] if len(f) > 4 else ""))
        client_ends = {local for local, peer, proc in rows
                       if peer == f"{server_ip}:445" and f"pid={client_pid}," in proc}
        pids = set()
        for local, peer, proc in rows:
            if local == f"{server_ip}:445" and peer in client_ends:
                pids.update(int(p) for p in re.findall(r"pid=(\d+)", proc))
        return pids

    def cut(self, client_pid, server_ip):
        """Kills the smbd children serving `client_pid` (the file server going away for
        that client, as at a restart or failover): its next session setup is a new
        logon. Returns how many were killed."""
        pids = self.server_pids_for(client_pid, server_ip)
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return len(pids)

    def add_sysvol_target(self):
        """Lists the member as a server of the domain's site (a `server` object whose
        serverReference is its computer account, with its DNS name), as a second DC would
        be: the DC's root referral for \\DOMAIN\sysvol then names both (MS-DFSC 3.2.5.5
        names every DC of the domain). The member serves a `sysvol` share of its own.
        Returns the member's DNS name."""
        import ldb
        db = self.samdb()
        fqdn = f"{FS_NAME}.{DNS_DOMAIN}"
        computer = db.search(base=db.domain_dn(), expression=f"(sAMAccountName={FS_NAME.upper()}$)", attrs=["dn"])
        msg = ldb.Message(computer[0].dn)
        msg["dNSHostName"] = ldb.MessageElement(fqdn, ldb.FLAG_MOD_REPLACE, "dNSHostName")
        db.modify(msg)
        db.add({"dn": f"CN={FS_NAME.upper()},CN=Servers,CN=Default-First-Site-Name,CN=Sites,"
                      f"{db.get_config_basedn()}",
                "objectClass": "server",
                "dNSHostName": fqdn,
                "serverReference": str(computer[0].dn)})
        return fqdn

    def logs(self):
        """Every log file of the servers (for the "no password logged" checks)."""
        out = []
        for base in (os.path.join(self.dc_dir, "log"), os.path.join(self.fs_dir, "log")):
            for root, _, files in os.walk(base):
                out += [os.path.join(root, f) for f in files]
        return out


def _which(tool):
    return any(os.access(os.path.join(d, tool), os.X_OK) for d in os.environ.get("PATH", "").split(":") + ["/usr/sbin"])


def _write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def _spawn_in_namespace(script, args, out_path):
    """`sh -c script sh args...` in a new mount namespace whose mounts stay private, in
    its own session (the whole group is killed at stop)."""
    return subprocess.Popen(["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sh"] + args,
                            stdin=subprocess.DEVNULL, stdout=open(out_path, "ab"), stderr=subprocess.STDOUT,
                            start_new_session=True, preexec_fn=_die_with_parent)


def _mount_namespace(pid):
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


def _namespace_pids(ns):
    """Every process in the mount namespace `ns`: all of them were started by the fixture
    (samba-dcerpcd, which smbd starts on demand, leaves the session; the namespace keeps it
    findable)."""
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit() and _mount_namespace(d) == ns:
            pids.append(int(d))
    return pids


def _kill_namespace(p, ns):
    """SIGTERM to the session and to every process of the namespace; SIGKILL to what is
    left after a few seconds."""
    if ns == _mount_namespace(os.getpid()):
        ns = None
    for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        targets = _namespace_pids(ns) if ns else []
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            pass
        for pid in targets:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            p.poll()
            if not (ns and _namespace_pids(ns)) and p.returncode is not None:
                return
            time.sleep(0.1)


def _tail(path, n=1500):
    try:
        return open(path, errors="replace").read()[-n:]
    except OSError as e:
        return f"({path}: {e.strerror})"
