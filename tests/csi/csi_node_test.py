#!/usr/bin/python3
"""smbgate-csi-node driven the way the kubelet drives it, without a cluster.

Real components only: the driver binary on a unix socket, a real smbd on 127.0.0.1
(deploy/local-smbd.sh), real FUSE mounts, smbgate-fuse-fd and smbgate as the pod's sidecar
running as uid 65534 with no capabilities, and an "application" in its own mount namespace
that sees the volume the way a container does (a bind of the target path, rslave: the
kubelet's HostToContainer). The kubelet's side is this script: a kubelet-like directory
tree (KUBELET/pods/UID/volumes/...), the CSI calls over gRPC with the fields the kubelet
sets for an ephemeral inline volume with podInfoOnMount.

    /usr/bin/python3 tests/csi/csi_node_test.py BUILD_DIR      (as root)
    /usr/bin/python3 tests/csi/csi_node_test.py --podman DRIVER_IMAGE SIDECAR_IMAGE
        the same with the driver in its container (privileged, the kubelet's directory
        shared into it) and the sidecar in the smbgate image (uid 65534, --cap-drop ALL,
        read-only root); tests/container/run.sh runs this.

Prints one line per check and closes with "csi: N passed, M failed".
"""
import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import grpc

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests"))
from checks import check, summary, wait_for  # noqa: E402
PODMAN = len(sys.argv) == 4 and sys.argv[1] == "--podman"
DRIVER_IMAGE, SIDECAR_IMAGE = (sys.argv[2], sys.argv[3]) if PODMAN else (None, None)
BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) == 2 else os.path.join(ROOT, "build"))
SIDECAR_UID = 65534
APP_UID = 1000
HANDOFF_TIMEOUT = 6




def mounted_type(path):
    """The topmost file system type mounted at exactly `path`, or ''."""
    kind = ""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4].encode().decode("unicode_escape") == path:
                kind = fields[fields.index("-") + 1]
    return kind


def run(*cmd, **kw):
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=60, **kw)


class Csi:
    """The kubelet's CSI client: the calls and fields of csi.v1, from our csi.proto."""

    def __init__(self, endpoint, pb):
        self.pb = pb
        self.channel = grpc.insecure_channel("unix://" + endpoint)

    def call(self, service, method, request, response_type, timeout=30):
        fn = self.channel.unary_unary(
            f"/csi.v1.{service}/{method}",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=response_type.FromString)
        return fn(request, timeout=timeout)

    def status(self, service, method, request, response_type, timeout=30):
        """(code name, message) of a call: ('OK', '') or the gRPC error."""
        try:
            self.call(service, method, request, response_type, timeout)
            return "OK", ""
        except grpc.RpcError as e:
            return e.code().name, e.details()

    def publish(self, pod, readonly=False, attrs=None, target=None, block=False, volume_id=None):
        pb = self.pb
        cap = pb.VolumeCapability(access_mode=pb.VolumeCapability.AccessMode(
            mode=pb.VolumeCapability.AccessMode.SINGLE_NODE_WRITER))
        if block:
            cap.block.SetInParent()
        else:
            cap.mount.SetInParent()
        ctx = {
            "csi.storage.k8s.io/pod.uid": pod.uid,
            "csi.storage.k8s.io/pod.name": "reports-0",
            "csi.storage.k8s.io/pod.namespace": "apps",
            "csi.storage.k8s.io/serviceAccount.name": "default",
            "csi.storage.k8s.io/ephemeral": "true",
            "socketVolume": "smbgate-fuse",
            "uid": str(SIDECAR_UID),
            "gid": str(SIDECAR_UID),
        }
        for k, v in (attrs or {}).items():
            if v is None:
                ctx.pop(k, None)
            else:
                ctx[k] = v
        req = pb.NodePublishVolumeRequest(
            volume_id=volume_id or pod.volume_id, target_path=target or pod.target,
            volume_capability=cap, readonly=readonly, volume_context=ctx)
        return self.status("Node", "NodePublishVolume", req, pb.NodePublishVolumeResponse)

    def unpublish(self, pod, target=None):
        pb = self.pb
        req = pb.NodeUnpublishVolumeRequest(volume_id=pod.volume_id, target_path=target or pod.target)
        return self.status("Node", "NodeUnpublishVolume", req, pb.NodeUnpublishVolumeResponse)


class Pod:
    """A pod's directories as the kubelet lays them out, before it calls NodePublishVolume."""

    def __init__(self, kubelet, with_emptydir=True):
        self.uid = str(uuid.uuid4())
        self.volume_id = "csi-" + uuid.uuid4().hex
        base = f"{kubelet}/pods/{self.uid}/volumes"
        os.makedirs(f"{base}/kubernetes.io~csi/smbgate-share", mode=0o750)
        self.target = f"{base}/kubernetes.io~csi/smbgate-share/mount"
        self.emptydir = f"{base}/kubernetes.io~empty-dir/smbgate-fuse"
        if with_emptydir:
            os.makedirs(self.emptydir)
            os.chmod(self.emptydir, 0o777)  # the kubelet's emptyDir mode
        self.socket = f"{self.emptydir}/smbgate-share.sock"


def podman(*args, check=False):
    """podman as the container tests run it (runc, cgroupfs, this shell's limits)."""
    nofile = subprocess.run(["sh", "-c", "ulimit -Hn"], capture_output=True, text=True).stdout.strip()
    nofile = "1048576" if nofile == "unlimited" else nofile
    cmd = ["podman", "--runtime", "runc", "--cgroup-manager=cgroupfs"] + list(args)
    if args and args[0] == "run":
        cmd[5:5] = ["--ulimit", f"nofile={nofile}:{nofile}", "--ulimit", "nproc=4096:4096"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=check)


class Process:
    """The driver or a sidecar as a local process."""

    def __init__(self, env, cmd, log):
        self.log_path = log
        self.p = env.spawn(cmd, log)

    def pid(self):
        return self.p.pid

    def kill(self):
        os.killpg(self.p.pid, signal.SIGKILL)
        self.p.wait()

    def stop(self, seconds=20):
        """SIGTERM; the exit status, or None if it did not end in time."""
        os.killpg(self.p.pid, signal.SIGTERM)
        try:
            return self.p.wait(seconds)
        except subprocess.TimeoutExpired:
            return None

    def log(self):
        return open(self.log_path, errors="replace").read()


class Container:
    """The driver or a sidecar as a podman container."""

    def __init__(self, env, name, args):
        self.name = name
        env.containers.append(name)
        r = podman("run", "-d", "--name", name, *args)
        if r.returncode != 0:
            raise RuntimeError(f"podman run {name}: {r.stderr.strip()}")

    def pid(self):
        return int(podman("inspect", "--format", "{{.State.Pid}}", self.name).stdout.strip() or 0)

    def kill(self):
        podman("kill", "-s", "KILL", self.name)
        podman("wait", self.name)

    def start(self):
        podman("start", self.name)

    def stop(self, seconds=20):
        if podman("stop", "-t", str(seconds), self.name).returncode != 0:
            return None
        out = podman("inspect", "--format", "{{.State.ExitCode}}", self.name).stdout.strip()
        return int(out) if out else None

    def log(self):
        r = podman("logs", self.name)
        return r.stdout + r.stderr


class Env:
    def __init__(self):
        self.work = tempfile.mkdtemp(prefix="smbgate-csi.")
        os.chmod(self.work, 0o755)
        self.procs = []
        self.containers = []
        self.driver = None

    def spawn(self, cmd, log, **kw):
        p = subprocess.Popen(cmd, stdout=open(log, "ab"), stderr=subprocess.STDOUT,
                             start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def cleanup(self):
        for c in self.containers:
            podman("rm", "-f", "-t", "0", c)
        for p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        with open("/proc/self/mountinfo") as f:
            points = [line.split()[4] for line in f if self.work in line.split()[4]]
        for m in sorted(points, reverse=True):
            subprocess.run(["umount", "-l", m], capture_output=True)
        subprocess.run([f"{ROOT}/deploy/local-smbd.sh", "stop", f"{self.work}/smbd"],
                       capture_output=True)
        shutil.rmtree(self.work, ignore_errors=True)


def main():
    if os.geteuid() != 0:
        print("csi: needs root (mount, /dev/fuse)")
        return 1
    for tool in ("protoc", "cc", "setpriv", "unshare", "nsenter", "smbd") + (("podman",) if PODMAN else ()):
        if shutil.which(tool) is None:
            print(f"csi: {tool} is missing (deploy/install-deps.sh installs it)")
            return 1
    env = Env()
    try:
        return scenario(env)
    finally:
        env.cleanup()


def scenario(env):
    work = env.work
    # The messages from the project's own csi.proto.
    gen = f"{work}/gen"
    os.makedirs(gen)
    subprocess.run(["protoc", f"--proto_path={ROOT}/src/csi", f"--python_out={gen}", "csi.proto"],
                   check=True)
    sys.path.insert(0, gen)
    import csi_pb2 as pb  # noqa: E402

    driver_bin = f"{BUILD}/smbgate-csi-node"
    smbgate_bin = f"{BUILD}/smbgate"
    fuse_fd = f"{work}/smbgate-fuse-fd"
    subprocess.run(["cc", "-std=c11", "-O2", "-Wall", "-Werror", "-o", fuse_fd,
                    f"{ROOT}/deploy/image/smbgate-fuse-fd.c"], check=True)

    # The file server.
    smbd = f"{work}/smbd"
    subprocess.run([f"{ROOT}/deploy/local-smbd.sh", "start", smbd], check=True,
                   stdout=subprocess.DEVNULL)
    port = open(f"{smbd}/port").read().strip()
    share = f"//127.0.0.1:{port}/demo"
    with open(f"{smbd}/share/hello.txt", "w") as f:
        f.write("content from the file server\n")
    # The pod's Secret, readable by the sidecar's user only (as fsGroup/defaultMode would).
    secret = f"{work}/secret"
    shutil.copytree(f"{smbd}/secret", secret)
    for name in os.listdir(secret):
        os.chown(f"{secret}/{name}", SIDECAR_UID, SIDECAR_UID)
        os.chmod(f"{secret}/{name}", 0o400)
    password = open(f"{secret}/password").read()

    # The kubelet's root directory: a shared mount, as on a node, so mounts made under it
    # propagate into the containers' (here: the application's) mount namespaces.
    kubelet = f"{work}/kubelet"
    os.makedirs(f"{kubelet}/pods")
    subprocess.run(["mount", "--bind", kubelet, kubelet], check=True)
    subprocess.run(["mount", "--make-rshared", kubelet], check=True)
    plugin = f"{work}/plugin"
    os.makedirs(plugin)
    endpoint = f"{plugin}/csi.sock"
    driver_log = f"{work}/driver.log"

    driver_args = ["--endpoint", "unix:///csi/csi.sock" if PODMAN else f"unix://{endpoint}",
                   "--node-id", "node-a", "--kubelet-dir", kubelet,
                   "--handoff-timeout", str(HANDOFF_TIMEOUT), "--emptydir-wait", "2",
                   "--log-level", "debug"]

    def start_driver(again=False):
        if again and PODMAN:
            env.driver.start()  # the same container: its state directory is the host's
        elif PODMAN:
            # As the chart's DaemonSet runs it: privileged, the kubelet's directory at the same
            # path with Bidirectional (rshared) propagation, the plugin directory at /csi.
            env.driver = Container(env, "smbgate-csi-test-driver", [
                "--privileged", "--network", "none", "-v", f"{kubelet}:{kubelet}:rshared",
                "-v", f"{plugin}:/csi", DRIVER_IMAGE] + driver_args)
        else:
            env.driver = Process(env, [driver_bin] + driver_args, driver_log)
        return wait_for(lambda: os.path.exists(endpoint), 20)

    check("driver: starts and listens on its unix socket" + (" (container)" if PODMAN else ""),
          start_driver())
    csi = Csi(endpoint, pb)

    # ---------------------------------------------------------------- identity, node info
    info = csi.call("Identity", "GetPluginInfo", pb.GetPluginInfoRequest(), pb.GetPluginInfoResponse)
    check("identity: GetPluginInfo names csi.smbgate.io with a version",
          info.name == "csi.smbgate.io" and info.vendor_version != "", str(info))
    probe = csi.call("Identity", "Probe", pb.ProbeRequest(), pb.ProbeResponse)
    check("identity: Probe is ready", probe.ready.value)
    caps = csi.call("Identity", "GetPluginCapabilities", pb.GetPluginCapabilitiesRequest(),
                    pb.GetPluginCapabilitiesResponse)
    check("identity: no controller service is claimed", len(caps.capabilities) == 0)
    node = csi.call("Node", "NodeGetInfo", pb.NodeGetInfoRequest(), pb.NodeGetInfoResponse)
    check("node: NodeGetInfo gives the node id", node.node_id == "node-a")
    ncaps = csi.call("Node", "NodeGetCapabilities", pb.NodeGetCapabilitiesRequest(),
                     pb.NodeGetCapabilitiesResponse)
    check("node: no staging capability (NodePublishVolume only)", len(ncaps.capabilities) == 0)
    code, _ = csi.status("Node", "NodeStageVolume", pb.NodePublishVolumeRequest(),
                         pb.NodePublishVolumeResponse)
    check("node: calls the driver does not offer answer UNIMPLEMENTED", code == "UNIMPLEMENTED", code)

    # ----------------------------------------------------------------------- bad input
    bad = Pod(kubelet)
    for name, kwargs, want, says in [
        ("missing pod.uid (podInfoOnMount off)", {"attrs": {"csi.storage.k8s.io/pod.uid": None}},
         "INVALID_ARGUMENT", "podInfoOnMount"),
        ("not an ephemeral volume", {"attrs": {"csi.storage.k8s.io/ephemeral": "false"}},
         "INVALID_ARGUMENT", "ephemeral"),
        ("a target outside the kubelet's directory", {"target": f"{work}/elsewhere/mount"},
         "INVALID_ARGUMENT", "not inside"),
        ("a target of another pod", {"target": bad.target.replace(bad.uid, str(uuid.uuid4()))},
         "INVALID_ARGUMENT", "is not"),
        ("a target with ..", {"target": f"{kubelet}/pods/../../etc/mount"},
         "INVALID_ARGUMENT", "not inside"),
        ("block access", {"block": True}, "INVALID_ARGUMENT", "block"),
        ("an unknown attribute", {"attrs": {"sharePath": "//x/y"}}, "INVALID_ARGUMENT",
         "unknown volume attribute sharePath"),
        ("a uid that is not a number", {"attrs": {"uid": "nobody"}}, "INVALID_ARGUMENT", "uid=nobody"),
    ]:
        code, msg = csi.publish(bad, **kwargs)
        check(f"bad input: {name} -> {want} naming the cause",
              code == want and says in msg and mounted_type(bad.target) == ""
              and not os.path.exists(bad.target), f"{code}: {msg}")
    nodir = Pod(kubelet, with_emptydir=False)
    t = time.monotonic()
    code, msg = csi.publish(nodir)
    check("bad input: no emptyDir for the socket -> UNAVAILABLE (the kubelet retries), nothing mounted",
          code == "UNAVAILABLE" and "emptyDir volume smbgate-fuse" in msg
          and mounted_type(nodir.target) == "" and not os.path.exists(nodir.target),
          f"{code}: {msg}")
    print(f"     ({time.monotonic() - t:.1f} s: {msg})")

    # ------------------------------------------------------------- publish and handover
    pod = Pod(kubelet)
    code, msg = csi.publish(pod)
    check("publish: OK", code == "OK", f"{code}: {msg}")
    check("publish: /dev/fuse is mounted at the target (fuse.smbgate)",
          mounted_type(pod.target) == "fuse.smbgate")
    opts = [l for l in open("/proc/self/mounts") if f" {pod.target} " in l]
    check("publish: user_id/group_id are the sidecar's, allow_other, nosuid, nodev",
          opts and f"user_id={SIDECAR_UID}" in opts[-1] and f"group_id={SIDECAR_UID}" in opts[-1]
          and "allow_other" in opts[-1] and "nosuid" in opts[-1] and "nodev" in opts[-1], str(opts))
    check("publish: the socket is in the pod's emptyDir",
          os.path.exists(pod.socket) and (os.stat(pod.socket).st_mode & 0o777) == 0o777)
    code, msg = csi.publish(pod)
    check("publish: the same call again is OK (idempotent), one mount",
          code == "OK" and sum(f" {pod.target} " in l for l in open("/proc/self/mounts")) == 1,
          f"{code}: {msg}")
    code, msg = csi.publish(pod, readonly=True)
    check("publish: the same target with other parameters -> ALREADY_EXISTS",
          code == "ALREADY_EXISTS", f"{code}: {msg}")

    mount_opts = f"allow_other,uid={APP_UID},gid={APP_UID},file_mode=0660,dir_mode=0770"

    sidecars = []

    def start_sidecar(p, log_name="sidecar.log"):
        fd_args = ["--socket", "/smbgate-fuse/smbgate-share.sock" if PODMAN else p.socket,
                   "--volume", "smbgate-share", "--timeout", "20", "--"]
        mount_args = ["mount", share, "/dev/fd/3", "--credentials",
                      "/creds" if PODMAN else secret, "--foreground", "-o", mount_opts]
        if PODMAN:
            # The chart's csi-mode sidecar: the smbgate image, uid 65534, nothing else.
            c = Container(env, f"smbgate-csi-test-sidecar{len(sidecars)}", [
                "--user", f"{SIDECAR_UID}:{SIDECAR_UID}", "--cap-drop", "ALL", "--read-only",
                "--security-opt", "no-new-privileges", "--network", "host",
                "-v", f"{p.emptydir}:/smbgate-fuse", "-v", f"{secret}:/creds:ro",
                "--entrypoint", "smbgate-fuse-fd", SIDECAR_IMAGE] + fd_args + ["smbgate"] + mount_args)
        else:
            # uid 65534, no capabilities, no new privileges.
            c = Process(env, ["setpriv", f"--reuid={SIDECAR_UID}", f"--regid={SIDECAR_UID}",
                              "--clear-groups", "--inh-caps=-all", "--bounding-set=-all",
                              "--no-new-privs", "--", fuse_fd] + fd_args + [smbgate_bin] + mount_args,
                        f"{work}/{log_name}")
        sidecars.append(c)
        return c

    def reads_hello(path):
        try:
            with open(f"{path}/hello.txt") as f:
                return f.read() == "content from the file server\n"
        except OSError:
            return False

    sidecar = start_sidecar(pod)
    check("handover: the sidecar serves the mount at the target", wait_for(lambda: reads_hello(pod.target), 20),
          sidecar.log()[-500:])

    def smbgate_status():
        # smbgate-fuse-fd execs smbgate: the sidecar's process is smbgate once it serves.
        try:
            pid = sidecar.pid()
            if b"mount" not in open(f"/proc/{pid}/cmdline", "rb").read():
                return ""
            return open(f"/proc/{pid}/status").read()
        except OSError:
            return ""

    wait_for(lambda: smbgate_status() != "", 10)
    status = smbgate_status()
    check("handover: smbgate runs as uid 65534 with no capabilities at all",
          f"Uid:\t{SIDECAR_UID}\t" in status and "CapEff:\t0000000000000000" in status
          and "CapBnd:\t0000000000000000" in status and "CapPrm:\t0000000000000000" in status)

    # The application: its own mount namespace, the volume bound in as the kubelet does for a
    # container (rslave: HostToContainer), running as uid 1000.
    app_dir = f"{work}/app-data"
    os.makedirs(app_dir)
    app = env.spawn(["unshare", "--mount", "--propagation", "slave", "--", "sh", "-c",
                     f"mount --bind {pod.target} {app_dir} && mount --make-rslave {app_dir} && "
                     "echo ready && exec sleep 600"], f"{work}/app.log")
    wait_for(lambda: "ready" in open(f"{work}/app.log").read(), 10)

    def in_app(script):
        return run("nsenter", "-t", str(app.pid), "-m", "--", "setpriv", f"--reuid={APP_UID}",
                   f"--regid={APP_UID}", "--clear-groups", "sh", "-c", script)

    r = in_app(f"cat {app_dir}/hello.txt")
    check("application: sees the share's files (uid 1000, another mount namespace)",
          r.returncode == 0 and "content from the file server" in r.stdout, r.stderr)
    r = in_app(f"echo from-the-app > {app_dir}/app.txt")
    check("application: a file it writes reaches the server",
          r.returncode == 0 and wait_for(lambda: os.path.exists(f"{smbd}/share/app.txt")
                                         and open(f"{smbd}/share/app.txt").read() == "from-the-app\n", 5),
          r.stderr)
    check("application: the host's mount table outside the pod is untouched",
          mounted_type(app_dir) == "")

    # A second sidecar (or anyone in the pod) asking for the volume while it is served.
    r = run(fuse_fd, "--socket", pod.socket, "--volume", "smbgate-share", "--timeout", "2",
            "--", "true")
    check("handover: a second taker is refused while the mount is served",
          r.returncode == 1 and "already served" in r.stderr, r.stderr)
    r = run(fuse_fd, "--socket", pod.socket, "--volume", "other", "--timeout", "2", "--", "true")
    check("handover: a request for another volume is refused by name",
          r.returncode == 1 and "serves volume smbgate-share, not other" in r.stderr, r.stderr)

    # ------------------------------------------------------------------ driver restart
    env.driver.kill()
    check("driver restart: the volume stays served while the driver is down", reads_hello(pod.target))
    os.unlink(endpoint)
    check("driver restart: the driver comes back", start_driver(again=True))
    csi = Csi(endpoint, pb)
    check("driver restart: Probe is ready",
          csi.call("Identity", "Probe", pb.ProbeRequest(), pb.ProbeResponse).ready.value)
    code, msg = csi.publish(pod)
    check("driver restart: the recorded volume is known (publish again is OK, nothing stacked)",
          code == "OK" and sum(f" {pod.target} " in l for l in open("/proc/self/mounts")) == 1,
          f"{code}: {msg}")
    r = in_app(f"cat {app_dir}/app.txt")
    check("driver restart: the application still reads and writes",
          r.returncode == 0 and "from-the-app" in r.stdout
          and in_app(f"echo after-restart > {app_dir}/after.txt").returncode == 0, r.stderr)

    # ----------------------------------------------------------------- sidecar restart
    sidecar.kill()

    def app_errno():
        r = in_app(f"cat {app_dir}/hello.txt")
        return r.stderr

    check("sidecar crash: the application gets an error at once, not a hang",
          wait_for(lambda: "not connected" in app_errno(), 5), app_errno())
    sidecar = start_sidecar(pod, log_name="sidecar2.log")
    check("sidecar restart: the new sidecar gets a fresh mount, the application sees the share again",
          wait_for(lambda: in_app(f"cat {app_dir}/hello.txt").returncode == 0, 20),
          sidecar.log()[-400:])

    # ----------------------------------------------------------------------- unpublish
    rc = sidecar.stop()  # the kubelet stops the containers first
    check("unpublish: the sidecar exits 0 on SIGTERM", rc == 0, str(rc))
    code, msg = csi.unpublish(pod)
    check("unpublish: OK, nothing mounted, target and socket removed",
          code == "OK" and mounted_type(pod.target) == "" and not os.path.exists(pod.target)
          and not os.path.exists(pod.socket), f"{code}: {msg}")
    code, msg = csi.unpublish(pod)
    check("unpublish: again is OK (idempotent)", code == "OK", f"{code}: {msg}")
    code, msg = csi.unpublish(pod, target="/etc")
    check("unpublish: a target outside the kubelet's directory -> INVALID_ARGUMENT",
          code == "INVALID_ARGUMENT", f"{code}: {msg}")
    check("unpublish: no state record is left", os.listdir(f"{plugin}/state") == [],
          str(os.listdir(f"{plugin}/state")))

    # -------------------------------------------------------- republish, read-only
    code, msg = csi.publish(pod, readonly=True)
    opts = [l for l in open("/proc/self/mounts") if f" {pod.target} " in l]
    check("republish read-only: OK, mounted ro", code == "OK" and opts and " ro," in opts[-1],
          f"{code}: {msg} {opts}")
    sidecar = start_sidecar(pod, log_name="sidecar3.log")
    check("republish read-only: served", wait_for(lambda: reads_hello(pod.target), 20),
          sidecar.log()[-400:])
    try:
        with open(f"{pod.target}/nope.txt", "w") as f:
            f.write("x")
        ro_errno = 0
    except OSError as e:
        ro_errno = e.errno
    check("republish read-only: a write fails with EROFS", ro_errno == errno.EROFS, str(ro_errno))
    sidecar.stop()
    code, msg = csi.unpublish(pod)
    check("republish read-only: unpublished", code == "OK" and mounted_type(pod.target) == "")

    # ------------------------------------------------------------ no sidecar in time
    lonely = Pod(kubelet)
    code, msg = csi.publish(lonely)
    check("no sidecar: publish is OK (the kubelet starts containers only after it)", code == "OK")
    time.sleep(HANDOFF_TIMEOUT + 1)
    t = time.monotonic()
    try:
        os.stat(f"{lonely.target}/hello.txt")
        err = 0
    except OSError as e:
        err = e.errno
    check(f"no sidecar: after --handoff-timeout the mount fails fast with ENOTCONN, no hang",
          err == errno.ENOTCONN and time.monotonic() - t < 2, f"errno {err}")
    check("no sidecar: the driver logs what to fix",
          "no sidecar took the mount" in env.driver.log())
    sidecar = start_sidecar(lonely, log_name="sidecar4.log")
    check("no sidecar: a late sidecar still gets a fresh mount",
          wait_for(lambda: reads_hello(lonely.target), 20), sidecar.log()[-400:])
    sidecar.stop()
    code, msg = csi.unpublish(lonely)
    check("no sidecar: unpublish removes every stacked mount",
          code == "OK" and mounted_type(lonely.target) == "" and not os.path.exists(lonely.target),
          f"{code}: {msg}")

    # ------------------------------------------------------------------------- secrets
    logs = env.driver.log() + "".join(c.log() for c in sidecars)
    check("logs: no password in the driver's or the sidecars' logs", password not in logs)

    driver_text = env.driver.log()
    rc = env.driver.stop(10)
    check("driver: SIGTERM stops it with status 0", rc == 0, str(rc))
    print("     driver log, last lines:")
    for line in driver_text.splitlines()[-8:]:
        print("       " + line[:200])
    return summary("csi")


if __name__ == "__main__":
    sys.exit(main())
