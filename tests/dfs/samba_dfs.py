"""Standalone DFS namespaces on loopback for the tests: several smbd processes, each on
port 445 of its own 127.0.0.N address (DFS referrals carry no port, so every target
must listen on 445), one of them the namespace root (a share with `msdfs root = yes`
whose links are symlinks named like `msdfs:127.0.0.3\\share1,127.0.0.4\\share1`).

    ns = SambaDfs(work_dir, servers=3)   # root: ports < 1024, `ip addr`
    ns.add_share(1, "share1")            # a plain share on server 1 (ns.ip[1])
    ns.start()
    ns.add_link("link1", [(1, "share1")])
    ns.stop_server(1); ns.start_server(1)
    ns.stop()

Every server: `server signing = mandatory`, `ntlm auth = ntlmv2-only`, its own private,
lock, state and cache directories under work_dir, `bind interfaces only` on its address,
the same user (root) with the same random password (never printed; in ns.secret_dir as a
Kubernetes Secret and in ns.auth_file for smbclient -A, both 0600). Addresses are added
to `lo` by start() and removed by stop().
"""
import os
import secrets
import signal
import socket
import subprocess
import time


def _run(argv, stdin=None, timeout=60):
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout)


def _listening(ip, port=445):
    s = socket.socket()
    s.settimeout(0.5)
    try:
        return s.connect_ex((ip, port)) == 0
    finally:
        s.close()


def _write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


class SambaDfs:
    ROOT = 0  # index of the namespace root server

    def __init__(self, work, servers=3):
        self.work = work
        self.n = servers
        self.ip = []
        self.added = []
        self.procs = {}
        self.shares = {i: {} for i in range(servers)}  # server -> {share: path}
        self.user = "root"
        self.password = "Dfs; $ '" + secrets.token_urlsafe(12)
        self.secret_dir = os.path.join(work, "secret")
        self.auth_file = os.path.join(work, "auth.txt")
        self.root_dir = os.path.join(work, "s0", "dfsroot")

    def dir(self, i):
        return os.path.join(self.work, f"s{i}")

    def conf(self, i):
        return os.path.join(self.dir(i), "smb.conf")

    # ------------------------------------------------------------------ lifecycle

    def start(self):
        if os.geteuid() != 0:
            raise RuntimeError("needs root: smbd on port 445, addresses added to lo")
        self._pick_addresses()
        for i in range(self.n):
            for sub in ("private", "state", "log"):
                os.makedirs(os.path.join(self.dir(i), sub), exist_ok=True)
        os.makedirs(self.root_dir, exist_ok=True)
        self.shares[self.ROOT]["dfs"] = (self.root_dir, True)
        for i in range(self.n):
            self._write_conf(i)
            r = _run(["smbpasswd", "-c", self.conf(i), "-s", "-a", self.user],
                     stdin=f"{self.password}\n{self.password}\n")
            if r.returncode != 0:
                raise RuntimeError(f"smbpasswd on server {i}: {r.stderr.strip()}")
        os.makedirs(self.secret_dir, exist_ok=True)
        _write_private(os.path.join(self.secret_dir, "username"), self.user)
        _write_private(os.path.join(self.secret_dir, "password"), self.password)
        _write_private(self.auth_file, f"username={self.user}\npassword={self.password}\n")
        for i in range(self.n):
            self.start_server(i)

    def stop(self):
        for i in list(self.procs):
            self.stop_server(i)
        for a in self.added:
            _run(["ip", "addr", "del", f"{a}/32", "dev", "lo"], timeout=10)
        self.added = []

    def _pick_addresses(self):
        have = _run(["ip", "-o", "-4", "addr", "show", "dev", "lo"], timeout=10).stdout
        for base in range(150, 200 - self.n, self.n):
            cand = [f"127.0.0.{base + k}" for k in range(self.n)]
            if any(f" {a}/" in have for a in cand):
                continue  # another run's (or a crashed one's): leave it alone
            for a in cand:
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind((a, 445))
                except OSError as e:
                    if e.errno != 99:  # EADDRNOTAVAIL is expected before `ip addr add`
                        raise RuntimeError(f"port 445 is held on all addresses ({e.strerror}): "
                                           "ss -lntp 'sport = :445'")
                finally:
                    s.close()
            for a in cand:
                r = _run(["ip", "addr", "add", f"{a}/32", "dev", "lo"], timeout=10)
                if r.returncode != 0:
                    raise RuntimeError(f"ip addr add {a}/32 dev lo: {r.stderr.strip()}")
                self.added.append(a)
            self.ip = cand
            return
        raise RuntimeError("no free 127.0.0.150-199 addresses on lo (left by crashed runs? ip addr show dev lo)")

    def _write_conf(self, i):
        d = self.dir(i)
        shares = ""
        for name, (path, root) in self.shares[i].items():
            shares += f"[{name}]\n  path = {path}\n  read only = no\n"
            if root:
                shares += "  msdfs root = yes\n"
        with open(self.conf(i), "w") as f:
            f.write(f"""[global]
  server role = standalone server
  workgroup = DFSTEST
  netbios name = DFS{i}
  server signing = mandatory
  ntlm auth = ntlmv2-only
  server min protocol = SMB2_02
  smb ports = 445
  interfaces = {self.ip[i]}
  bind interfaces only = yes
  disable netbios = yes
  restrict anonymous = 2
  map to guest = Never
  host msdfs = yes
  rpc start on demand helpers = no
  passdb backend = tdbsam:{d}/private/passdb.tdb
  private dir = {d}/private
  binddns dir = {d}/private
  lock directory = {d}/state
  state directory = {d}/state
  cache directory = {d}/state
  pid directory = {d}/state
  ncalrpc dir = {d}/state/ncalrpc
  log file = {d}/log/smbd.log
  log level = 1
  load printers = no
  printcap name = /dev/null
  disable spoolss = yes
{shares}""")

    def start_server(self, i):
        d = self.dir(i)
        self.procs[i] = subprocess.Popen(
            ["smbd", "--foreground", "--no-process-group", f"--configfile={self.conf(i)}"],
            stdin=subprocess.DEVNULL, stdout=open(os.path.join(d, "log", "smbd.out"), "ab"),
            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.procs[i].poll() is not None:
                raise RuntimeError(f"smbd {self.ip[i]} exited: see {d}/log")
            if _listening(self.ip[i]):
                return
            time.sleep(0.1)
        raise RuntimeError(f"smbd {self.ip[i]} not listening on 445 after 30 s")

    def stop_server(self, i):
        p = self.procs.pop(i, None)
        if not p:
            return
        # smbd forks a child per connection, all in its session's process group.
        for sig, grace in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and (p.poll() is None or _listening(self.ip[i])):
                time.sleep(0.05)
            if p.poll() is not None and not _listening(self.ip[i]):
                return

    # ------------------------------------------------------------------ content

    def add_share(self, i, name):
        """A plain share `name` on server i (takes effect for new connections: smbd
        re-reads its configuration). Returns its directory."""
        path = os.path.join(self.dir(i), "shares", name)
        os.makedirs(path, exist_ok=True)
        self.shares[i][name] = (path, False)
        if not self.ip:
            return path  # start() writes the configuration
        self._write_conf(i)
        if i in self.procs:
            _run(["smbcontrol", "-s", self.conf(i), str(self.procs[i].pid), "reload-config"], timeout=10)
        return path

    def add_link(self, name, targets):
        """A link of the root's namespace share to [(server, share[, path]), ...]."""
        parts = []
        for t in targets:
            parts.append(f"{self.ip[t[0]]}\\{t[1]}" + ("\\" + t[2] if len(t) > 2 else ""))
        link = os.path.join(self.root_dir, name)
        os.symlink("msdfs:" + ",".join(parts), link)

    @property
    def root_share(self):
        return f"//{self.ip[self.ROOT]}/dfs"
