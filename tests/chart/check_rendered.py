#!/usr/bin/env python3
"""Asserts on the YAML that `helm template` rendered from charts/smbgate.

    check_rendered.py [--release NAME] RENDERED.yaml [VALUES.yaml ...]

NAME is the release name it was rendered with (default "t").

The expectations come from the chart's values.yaml merged with the given values files (as Helm
merges them), so every file under charts/smbgate/ci/ is checked against what it asked for.
Prints one line per check and `RESULT passed=N failed=M`; exits 1 if any failed.
Needs PyYAML (Debian: python3-yaml); otherwise only the standard library.
"""
import copy
import json
import os
import sys

import yaml

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
CHART = os.path.join(ROOT, "charts", "smbgate")
STANDARD_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
)
CREDENTIALS_DIR = "/etc/smbgate/credentials"


class Checker:
    def __init__(self, label):
        self.label = label
        self.passed = 0
        self.failed = 0
        self.problems = []

    def expect(self, cond, why):
        """Records one problem of the current check unless `cond`."""
        if not cond:
            self.problems.append(why)
        return bool(cond)

    def check(self, name, fn):
        self.problems = []
        try:
            fn()
        except Exception as e:  # a missing key is a failed check, not a crash
            self.problems.append(f"{type(e).__name__}: {e}")
        if self.problems:
            self.failed += 1
            print(f"FAIL {self.label}: {name}")
            for p in self.problems:
                print(f"     - {p}")
        else:
            self.passed += 1
            print(f"ok   {self.label}: {name}")


def merge(base, over):
    """Helm's merge of a values file over the defaults: maps merge, everything else replaces."""
    out = copy.deepcopy(base)
    for k, v in (over or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def walk(node, path=""):
    """Yields (path, key, value) for every mapping entry below node."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield path, k, v
            yield from walk(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, f"{path}[{i}]")


def mounts_of(container, volume):
    return [m for m in container.get("volumeMounts") or [] if m.get("name") == volume]


def parse_options(args):
    """The -o list of `smbgate mount` args as a dict (flags map to True)."""
    opts = {}
    for i, a in enumerate(args):
        if a == "-o" and i + 1 < len(args):
            for item in args[i + 1].split(","):
                name, eq, value = item.partition("=")
                opts[name] = value if eq else True
    return opts


def check_csi_driver(c, v, by_kind, workloads):
    """The CSIDriver and the node DaemonSet: present iff mode csi and csi.installDriver, and
    consistent with csi.kubeletDir and csi.driverName."""
    cv = v["csi"]
    drivers = by_kind.get("CSIDriver", [])
    daemonsets = by_kind.get("DaemonSet", [])
    if not (v["mode"] == "csi" and cv["installDriver"]):
        c.expect(not drivers and not daemonsets, "no CSIDriver and no DaemonSet")
        return
    c.expect(len(drivers) == 1 and len(daemonsets) == 1, "one CSIDriver and one DaemonSet")
    d = drivers[0]
    c.expect(d["apiVersion"] == "storage.k8s.io/v1", "storage.k8s.io/v1")
    c.expect(d["metadata"]["name"] == cv["driverName"], f"CSIDriver {d['metadata']['name']}")
    want = {"volumeLifecycleModes": ["Ephemeral"], "podInfoOnMount": True, "attachRequired": False,
            "fsGroupPolicy": "None", "requiresRepublish": False}
    c.expect(d["spec"] == want, f"CSIDriver spec {d['spec']}")

    ds = daemonsets[0]
    pod = ds["spec"]["template"]
    spec = pod["spec"]
    ctrs = {x["name"]: x for x in spec["containers"]}
    c.expect(set(ctrs) == {"smbgate-csi-node", "node-driver-registrar"}, f"containers {sorted(ctrs)}")
    vols = {x["name"]: x for x in spec["volumes"]}
    kubelet = cv["kubeletDir"]
    plugin_dir = f"{kubelet}/plugins/{cv['driverName']}"

    def host_mount(ctr, path):
        """The hostPath (path, type) mounted at path in ctr."""
        for m in ctr.get("volumeMounts") or []:
            if m["mountPath"] == path and "hostPath" in vols.get(m["name"], {}):
                hp = vols[m["name"]]["hostPath"]
                return hp["path"], hp.get("type"), m
        return None, None, None

    def arg(ctr, name):
        vals = [a.split("=", 1)[1] for a in ctr.get("args") or [] if a.startswith(name + "=")]
        c.expect(len(vals) == 1, f"{ctr['name']}: one {name}")
        return vals[0] if vals else None

    drv = ctrs["smbgate-csi-node"]
    img = cv["image"]
    want_img = f"{img['repository']}@{img['digest']}" if img["digest"] else f"{img['repository']}:{img['tag']}"
    c.expect(drv["image"] == want_img, f"driver image {drv['image']}")
    c.expect(drv["securityContext"].get("privileged") is True, "the driver is privileged")
    c.expect(arg(drv, "--endpoint") == "unix:///csi/csi.sock", "--endpoint unix:///csi/csi.sock")
    c.expect(arg(drv, "--driver-name") == cv["driverName"], "--driver-name")
    c.expect(arg(drv, "--kubelet-dir") == kubelet, "--kubelet-dir")
    c.expect(arg(drv, "--handoff-timeout") == str(cv["handoffTimeoutSeconds"]), "--handoff-timeout")
    c.expect(arg(drv, "--log-level") == cv["logLevel"], "--log-level")
    c.expect(arg(drv, "--state-dir").startswith("/csi/"), "--state-dir on the plugin dir (kept across restarts)")
    c.expect(arg(drv, "--node-id") == "$(NODE_NAME)", "--node-id $(NODE_NAME)")
    env = {e["name"]: e for e in drv.get("env") or []}
    c.expect(env.get("NODE_NAME", {}).get("valueFrom") == {"fieldRef": {"fieldPath": "spec.nodeName"}},
             "NODE_NAME from spec.nodeName")
    path, typ, _ = host_mount(drv, "/csi")
    c.expect((path, typ) == (plugin_dir, "DirectoryOrCreate"), f"driver /csi from {path} ({typ})")
    path, typ, m = host_mount(drv, kubelet)
    c.expect(path == kubelet and typ == "Directory", f"kubelet dir {path} at the same path")
    c.expect(m is not None and m.get("mountPropagation") == "Bidirectional", "kubelet dir Bidirectional")
    path, typ, _ = host_mount(drv, "/dev/fuse")
    c.expect((path, typ) == ("/dev/fuse", "CharDevice"), "/dev/fuse as a CharDevice")
    c.expect(drv.get("resources") == cv["resources"], "driver resources from the values")

    reg = ctrs["node-driver-registrar"]
    rimg = cv["registrar"]["image"]
    want_img = f"{rimg['repository']}@{rimg['digest']}" if rimg["digest"] else f"{rimg['repository']}:{rimg['tag']}"
    c.expect(reg["image"] == want_img, f"registrar image {reg['image']}")
    c.expect(arg(reg, "--csi-address") == "/csi/csi.sock", "--csi-address /csi/csi.sock")
    c.expect(arg(reg, "--kubelet-registration-path") == f"{plugin_dir}/csi.sock",
             f"--kubelet-registration-path {plugin_dir}/csi.sock (the driver's socket as the kubelet sees it)")
    path, _, _ = host_mount(reg, "/csi")
    c.expect(path == plugin_dir, f"registrar /csi from {path}")
    path, typ, _ = host_mount(reg, "/registration")
    c.expect(path == f"{kubelet}/plugins_registry", f"registrar /registration from {path}")
    c.expect((reg.get("securityContext") or {}).get("privileged") is not True, "the registrar is not privileged")

    c.expect(spec.get("priorityClassName", "") == cv["priorityClassName"], "priorityClassName")
    c.expect(spec.get("tolerations", []) == cv["tolerations"], "tolerations")
    c.expect(spec.get("nodeSelector", {}) == cv["nodeSelector"], "nodeSelector")
    c.expect(spec.get("automountServiceAccountToken") is False, "no service account token")
    c.expect("hostNetwork" not in spec and "hostPID" not in spec, "no host namespaces")
    for m in [m for x in spec["containers"] for m in x.get("volumeMounts") or []]:
        if m.get("mountPropagation") == "Bidirectional":
            c.expect(m["mountPath"] == kubelet, f"Bidirectional only on the kubelet dir, not {m['mountPath']}")
    # Separate selectors: neither selects the other's pods.
    sel = ds["spec"]["selector"]["matchLabels"]
    labels = pod["metadata"]["labels"]
    c.expect(all(labels.get(k) == val for k, val in sel.items()), "the DaemonSet selects its pods")
    for w in workloads:
        wsel = w["spec"]["selector"]["matchLabels"]
        c.expect(not all(labels.get(k) == val for k, val in wsel.items()), "the workload does not select the driver")
        wl = w["spec"]["template"]["metadata"]["labels"]
        c.expect(not all(wl.get(k) == val for k, val in sel.items()), "the DaemonSet does not select the workload")


def main(argv):
    release = "t"
    if len(argv) > 2 and argv[1] == "--release":
        release, argv = argv[2], argv[:1] + argv[3:]
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    rendered_path, value_files = argv[1], argv[2:]
    with open(os.path.join(CHART, "values.yaml")) as f:
        values = yaml.safe_load(f)
    for vf in value_files:
        with open(vf) as f:
            values = merge(values, yaml.safe_load(f))
    with open(rendered_path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]

    label = os.path.basename(value_files[-1]) if value_files else "default"
    c = Checker(label)
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)

    v = values
    mode = v["mode"]
    privileged = mode == "privileged"
    csi = mode == "csi"
    csi_values = v["csi"]
    wl_kind = v["workload"]["kind"]
    workloads = by_kind.get(wl_kind, [])
    app_name = v["app"]["name"]
    fullname = release if "smbgate" in release else f"{release}-smbgate"
    secret_name = v["credentials"]["existingSecret"] or f"{fullname}-credentials"

    if not v["workload"]["enabled"]:
        # A release of the named templates' users or of the CSI node driver alone: only the
        # objects that do not depend on the workload.
        def no_workload():
            c.expect(not by_kind.get("Deployment") and not by_kind.get("StatefulSet"), "no Deployment or StatefulSet")

        c.check("workload.enabled false: no workload", no_workload)

        def labels_only():
            for d in docs:
                lab = d["metadata"].get("labels") or {}
                for key in STANDARD_LABELS:
                    c.expect(lab.get(key), f"{d['kind']}/{d['metadata']['name']}: {key}")
                c.expect(lab.get("app.kubernetes.io/instance") == release, "instance = release")

        c.check("standard app.kubernetes.io labels on every object", labels_only)
        c.check("CSIDriver and node DaemonSet iff mode csi with csi.installDriver",
                lambda: check_csi_driver(c, v, by_kind, []))
        print(f"RESULT passed={c.passed} failed={c.failed}")
        return 1 if c.failed else 0

    def pod():
        return workloads[0]["spec"]["template"]

    def pod_spec():
        return pod()["spec"]

    def sidecar():
        return pod_spec()["initContainers"][0]

    def app():
        return [x for x in pod_spec()["containers"] if x["name"] == app_name][0]

    def all_containers():
        s = pod_spec()
        return (s.get("initContainers") or []) + s["containers"]

    def secret_volume():
        vols = [x for x in pod_spec()["volumes"] if "secret" in x]
        c.expect(len(vols) == 1, f"one secret volume, got {len(vols)}")
        return vols[0]

    def share_volume():
        return [x for x in pod_spec()["volumes"] if x["name"] == "smbgate-share"][0]

    # --- the workload -------------------------------------------------------------------
    def workload_kind():
        c.expect(len(workloads) == 1, f"one {wl_kind}, got {len(workloads)}")
        other = "StatefulSet" if wl_kind == "Deployment" else "Deployment"
        c.expect(other not in by_kind, f"no {other}")
        c.expect(workloads[0]["spec"]["replicas"] == v["workload"]["replicas"], "replicas")
        c.expect(workloads[0]["apiVersion"] == "apps/v1", "apps/v1")

    c.check(f"one {wl_kind} with the configured replicas", workload_kind)

    def sidecar_native():
        s = pod_spec()
        c.expect(s["initContainers"][0]["name"] == "smbgate", "the first init container is smbgate")
        c.expect(sidecar().get("restartPolicy") == "Always", "restartPolicy: Always (native sidecar)")
        names = [x["name"] for x in s["containers"]]
        c.expect("smbgate" not in names, "smbgate is not a regular container")
        c.expect(names[0] == app_name, f"the application container {app_name} is there")
        c.expect(s.get("restartPolicy", "Always") == "Always", "pod restartPolicy Always")

    c.check("sidecar is a native sidecar ordered before the application", sidecar_native)

    def sidecar_image():
        img = v["image"]
        want = f"{img['repository']}@{img['digest']}" if img["digest"] else f"{img['repository']}:{img['tag']}"
        c.expect(sidecar()["image"] == want, f"image {sidecar()['image']} != {want}")

    c.check("sidecar image from values", sidecar_image)

    def sidecar_args():
        sc = sidecar()
        args = sc["args"]
        c.expect(args[:2] == ["mount", v["server"]["share"]], f"mount {v['server']['share']}: {args[:2]}")
        target = args[2]
        if privileged:
            c.expect("command" not in sc, "privileged mode uses the image's entrypoint")
            c.expect(target == v["app"]["mountPath"], f"mount point {target}")
        else:
            cmd = sc["command"]
            c.expect(cmd[0] == "smbgate-fuse-fd", f"{mode} runs smbgate-fuse-fd")
            c.expect(cmd[-2:] == ["--", "smbgate"], "then execs smbgate")
            sock = cmd[cmd.index("--socket") + 1]
            timeout = cmd[cmd.index("--timeout") + 1]
            if csi:
                # The driver listens on VOLUME.sock in the pod's socket emptyDir (checked
                # against the volume attributes in "the csi volume" below).
                c.expect(sock == "/smbgate-fuse/smbgate-share.sock", f"socket {sock}")
                c.expect(timeout == str(csi_values["handoffTimeoutSeconds"]), f"--timeout {timeout}")
            else:
                c.expect(sock == f"{v['fdPassing']['socketDir']}/{v['fdPassing']['socketName']}", f"socket {sock}")
                c.expect(timeout == str(v["fdPassing"]["connectTimeoutSeconds"]), f"--timeout {timeout}")
            c.expect(cmd[cmd.index("--fd") + 1] == "3", "--fd 3")
            c.expect(cmd[cmd.index("--volume") + 1] == "smbgate-share", "--volume smbgate-share")
            c.expect(("--ro" in cmd) == bool(v["mountOptions"]["readOnly"]), "--ro iff readOnly")
            c.expect(target == "/dev/fd/3", f"mount point {target}")
        c.expect(args[args.index("--credentials") + 1] == CREDENTIALS_DIR, "--credentials DIR")
        c.expect("--foreground" in args, "--foreground")
        o = parse_options(args)
        c.expect(o.get("allow_other") is True, "allow_other")
        c.expect(o.get("uid") == str(v["app"]["uid"]), f"uid={o.get('uid')}")
        c.expect(o.get("gid") == str(v["app"]["gid"]), f"gid={o.get('gid')}")
        c.expect(o.get("file_mode") == v["mountOptions"]["fileMode"], "file_mode")
        c.expect(o.get("dir_mode") == v["mountOptions"]["dirMode"], "dir_mode")
        c.expect(("ro" in o) == bool(v["mountOptions"]["readOnly"]), "ro iff readOnly")
        c.expect(o.get("metrics") == f"0.0.0.0:{v['metrics']['port']}", f"metrics={o.get('metrics')}")
        c.expect(o.get("log_format") == v["logging"]["format"], "log_format")
        c.expect(o.get("cache") == v["mountOptions"]["cache"], "cache")
        vers = str(v["mountOptions"]["vers"])
        c.expect(o.get("vers") == (None if vers == "default" else vers), f"vers={o.get('vers')}")
        # seal is a flag (no value); spn= only when set (smbgate's default is cifs/HOST).
        c.expect(o.get("seal") is (True if v["mountOptions"]["seal"] else None),
                 f"seal iff mountOptions.seal, as a flag: {o.get('seal')!r}")
        spn = v["mountOptions"]["spn"]
        c.expect(o.get("spn") == (spn or None), f"spn={o.get('spn')}")
        for name in ("password", "pass", "passwd", "password2"):
            c.expect(name not in o, f"no {name}= option")
        for extra in v["mountOptions"]["extra"]:
            name, _, value = extra.partition("=")
            c.expect(o.get(name) == (value or True), f"extra {extra}")

    c.check("sidecar runs `smbgate mount` with the values' options", sidecar_args)

    def probes():
        sc = sidecar()
        port = v["metrics"]["port"]
        ports = [p for p in sc["ports"] if p.get("name") == "metrics"]
        c.expect(len(ports) == 1 and ports[0]["containerPort"] == port, f"containerPort metrics {port}")
        sp = sc["startupProbe"]
        c.expect(sp["httpGet"] == {"path": "/readyz", "port": "metrics"}, f"startupProbe {sp['httpGet']}")
        c.expect(sp["periodSeconds"] * sp["failureThreshold"] >= 60, "startup allows at least a minute")
        if v["sidecar"]["livenessProbe"]["enabled"]:
            lp = sc["livenessProbe"]
            c.expect(lp["httpGet"] == {"path": "/healthz", "port": "metrics"}, "livenessProbe on /healthz")
            c.expect(lp["periodSeconds"] * lp["failureThreshold"] >= 60, "liveness only catches a wedged process (>= 60 s)")
            c.expect(lp["httpGet"]["path"] != "/readyz", "liveness never on /readyz (a server outage)")
        if v["sidecar"]["readinessProbe"]["enabled"]:
            c.expect(sc["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}, "readinessProbe on /readyz")
        c.expect("lifecycle" not in sc, "no preStop: smbgate unmounts on SIGTERM")

    c.check("probes: startup and readiness on /readyz, liveness on /healthz", probes)

    def resources():
        r = sidecar()["resources"]
        c.expect("cpu" in r["requests"] and "memory" in r["requests"], "cpu and memory requests")
        c.expect("memory" in r["limits"], "a memory limit")

    c.check("sidecar has resource requests and a memory limit", resources)

    def credentials():
        vol = secret_volume()
        c.expect(vol["secret"]["secretName"] == secret_name, f"secretName {vol['secret']['secretName']}")
        c.expect("items" not in vol["secret"], "the whole Secret, no items (rotation)")
        for ctr in all_containers():
            ms = mounts_of(ctr, vol["name"])
            if ctr is sidecar() or ctr["name"] == "smbgate":
                c.expect(len(ms) == 1, "mounted once in the sidecar")
                for m in ms:
                    c.expect(m.get("readOnly") is True, "read-only")
                    c.expect("subPath" not in m and "subPathExpr" not in m, "no subPath")
                    c.expect(m["mountPath"] == CREDENTIALS_DIR, f"at {CREDENTIALS_DIR}")
            else:
                c.expect(not ms, f"not mounted in {ctr['name']}")
        for ctr in all_containers():
            for m in ctr.get("volumeMounts") or []:
                c.expect("subPath" not in m and "subPathExpr" not in m, f"no subPath in {ctr['name']}")

    c.check("credentials Secret is a read-only directory volume in the sidecar only", credentials)

    def nothing_secret_in_env():
        for path, k, val in walk(docs):
            c.expect(k != "secretKeyRef", f"secretKeyRef at {path}")
            if k == "secretRef":
                c.expect(False, f"envFrom secretRef at {path}")
        sc = sidecar()
        c.expect(not sc.get("env") and not sc.get("envFrom"), "the sidecar has no env at all")
        for ctr in all_containers():
            for e in ctr.get("env") or []:
                c.expect("password" not in e["name"].lower(), f"env {e['name']}")
                c.expect(str(e.get("value", "")) != str(v["credentials"]["password"]) or not v["credentials"]["password"],
                         f"the password in env {e['name']}")

    c.check("nothing secret in any env", nothing_secret_in_env)

    def propagation():
        share = share_volume()
        if csi:
            c.expect("csi" in share and "emptyDir" not in share, "the share is an inline csi volume")
        else:
            c.expect(share.get("emptyDir") == {}, "the share is an emptyDir")
        app_ms = mounts_of(app(), "smbgate-share")
        c.expect(len(app_ms) == 1, "the application mounts the share")
        c.expect(app_ms[0]["mountPath"] == v["app"]["mountPath"], f"at {v['app']['mountPath']}")
        c.expect(app_ms[0].get("mountPropagation") == "HostToContainer", "application: HostToContainer")
        side_ms = mounts_of(sidecar(), "smbgate-share")
        if privileged:
            c.expect(len(side_ms) == 1 and side_ms[0].get("mountPropagation") == "Bidirectional",
                     "sidecar: Bidirectional")
            c.expect(side_ms[0]["mountPath"] == v["app"]["mountPath"], "sidecar mounts where the args say")
        elif csi:
            c.expect(not side_ms, "csi: the driver mounts, the sidecar does not mount the share")
            c.expect(not [x for x in pod_spec()["volumes"] if "hostPath" in x], "csi: no hostPath volume")
        else:
            c.expect(not side_ms, "fdpassing: the helper mounts, the sidecar needs no propagation")
            helper = [x for x in pod_spec()["volumes"] if "hostPath" in x]
            c.expect(len(helper) == 1, "one hostPath volume: the helper socket")
            c.expect(helper[0]["hostPath"] == {"path": v["fdPassing"]["socketDir"], "type": "Directory"}, "hostPath socketDir")
            hm = mounts_of(sidecar(), helper[0]["name"])
            c.expect(len(hm) == 1 and hm[0]["mountPath"] == v["fdPassing"]["socketDir"], "socket dir in the sidecar")
            for ctr in all_containers():
                if ctr["name"] != "smbgate":
                    c.expect(not mounts_of(ctr, helper[0]["name"]), f"no helper socket in {ctr['name']}")
        for ctr in all_containers():
            for m in ctr.get("volumeMounts") or []:
                if m.get("mountPropagation") == "Bidirectional":
                    c.expect(ctr["name"] == "smbgate" and privileged, f"Bidirectional only in the privileged sidecar ({ctr['name']})")

    c.check(f"mount propagation ({mode})", propagation)

    def security():
        ps = pod_spec()["securityContext"]
        c.expect(ps["fsGroup"] == v["app"]["gid"], "fsGroup = app.gid")
        a = app()["securityContext"]
        c.expect(a["runAsNonRoot"] is True, "app runAsNonRoot")
        c.expect(a["runAsUser"] == v["app"]["uid"] and a["runAsUser"] != 0, "app runAsUser")
        c.expect(a["runAsGroup"] == v["app"]["gid"], "app runAsGroup")
        c.expect(a["allowPrivilegeEscalation"] is False, "app allowPrivilegeEscalation false")
        c.expect("ALL" in a["capabilities"]["drop"] and not a["capabilities"].get("add"), "app drops ALL")
        c.expect(a["seccompProfile"]["type"] == "RuntimeDefault", "app seccomp RuntimeDefault")
        c.expect(a.get("privileged") is not True, "app not privileged")
        c.expect(a["readOnlyRootFilesystem"] == v["app"]["readOnlyRootFilesystem"], "app readOnlyRootFilesystem")
        s = sidecar()["securityContext"]
        if privileged:
            c.expect(s.get("privileged") is True, "sidecar privileged in privileged mode")
            c.expect("allowPrivilegeEscalation" not in s, "no allowPrivilegeEscalation with privileged (the API refuses false)")
        else:
            uid = 65534 if csi else 65532
            c.expect(s.get("privileged") is not True, f"sidecar not privileged in {mode} mode")
            c.expect(s["runAsNonRoot"] is True and s["runAsUser"] == uid and s["runAsGroup"] == uid,
                     f"sidecar non-root {uid}")
            c.expect(s["allowPrivilegeEscalation"] is False, "sidecar allowPrivilegeEscalation false")
            c.expect("ALL" in s["capabilities"]["drop"] and not s["capabilities"].get("add"), "sidecar drops ALL")
            c.expect(s["seccompProfile"]["type"] == "RuntimeDefault", "sidecar seccomp")
        c.expect(s["readOnlyRootFilesystem"] is True, "sidecar readOnlyRootFilesystem")
        for ctr in all_containers():
            if ctr["name"] != "smbgate":
                c.expect((ctr.get("securityContext") or {}).get("privileged") is not True, f"{ctr['name']} not privileged")
        c.expect(pod_spec()["automountServiceAccountToken"] is False, "no service account token")
        c.expect("hostNetwork" not in pod_spec() and "hostPID" not in pod_spec(), "no host namespaces")

    c.check("security contexts", security)

    def csi_volume():
        share = share_volume()["csi"]
        c.expect(share["driver"] == csi_values["driverName"], f"driver {share['driver']}")
        c.expect(share.get("readOnly") is bool(v["mountOptions"]["readOnly"]), "readOnly iff mountOptions.readOnly")
        attrs = share["volumeAttributes"]
        c.expect(all(isinstance(x, str) for x in attrs.values()), "volumeAttributes are strings")
        s = sidecar()["securityContext"]
        c.expect(attrs.get("uid") == str(s["runAsUser"]) and attrs.get("gid") == str(s["runAsGroup"]),
                 f"uid/gid attributes {attrs.get('uid')}/{attrs.get('gid')} are the sidecar's")
        sock_vol = attrs.get("socketVolume")
        vols = [x for x in pod_spec()["volumes"] if x["name"] == sock_vol]
        c.expect(len(vols) == 1 and vols[0].get("emptyDir") is not None, f"socketVolume {sock_vol} is an emptyDir")
        cmd = sidecar()["command"]
        sock = cmd[cmd.index("--socket") + 1]
        dirname, _, basename = sock.rpartition("/")
        ms = mounts_of(sidecar(), sock_vol)
        c.expect(len(ms) == 1 and ms[0]["mountPath"] == dirname, f"the sidecar mounts {sock_vol} at {dirname}")
        c.expect(basename == f"{share_volume()['name']}.sock", f"the socket is named after the csi volume: {basename}")
        c.expect(cmd[cmd.index("--volume") + 1] == share_volume()["name"], "--volume names the csi volume")
        for ctr in all_containers():
            if ctr["name"] != "smbgate":
                c.expect(not mounts_of(ctr, sock_vol), f"no driver socket in {ctr['name']}")
        for ctr in all_containers():
            sc = ctr.get("securityContext") or {}
            c.expect(sc.get("privileged") is not True, f"{ctr['name']} not privileged")
            c.expect(sc.get("allowPrivilegeEscalation") is False, f"{ctr['name']} allowPrivilegeEscalation false")

    if csi:
        c.check("the csi volume: driver, attributes, socket path in the sidecar, nothing privileged", csi_volume)

    def termination():
        g = pod_spec()["terminationGracePeriodSeconds"]
        c.expect(g == v["workload"]["terminationGracePeriodSeconds"] and g >= 30, f"terminationGracePeriodSeconds {g}")

    c.check("termination grace period for a clean unmount", termination)

    def csi_driver():
        check_csi_driver(c, v, by_kind, workloads)

    c.check("CSIDriver and node DaemonSet iff mode csi with csi.installDriver", csi_driver)

    # --- every object ---------------------------------------------------------------------
    def labels():
        for d in docs:
            lab = d["metadata"].get("labels") or {}
            for key in STANDARD_LABELS:
                c.expect(lab.get(key), f"{d['kind']}/{d['metadata']['name']}: {key}")
            c.expect(lab.get("app.kubernetes.io/managed-by") == "Helm", "managed-by Helm")
            c.expect(lab.get("app.kubernetes.io/instance") == release, "instance = release")
            c.expect(lab.get("app.kubernetes.io/part-of") == v["partOf"], "part-of")
            c.expect(lab.get("app.kubernetes.io/version") == (v["image"]["tag"]), "version = image tag")
        pl = pod()["metadata"]["labels"]
        for key in STANDARD_LABELS:
            c.expect(pl.get(key), f"pod template: {key}")
        sel = workloads[0]["spec"]["selector"]["matchLabels"]
        c.expect(set(sel) == {"app.kubernetes.io/name", "app.kubernetes.io/instance"}, f"selector {sel}")
        c.expect(all(pl.get(k) == val for k, val in sel.items()), "the selector matches the pod")

    c.check("standard app.kubernetes.io labels on every object", labels)

    def secret_object():
        secrets = by_kind.get("Secret", [])
        if v["credentials"]["create"]:
            c.expect(len(secrets) == 1, "the development Secret is rendered")
            s = secrets[0]
            c.expect(s["metadata"]["name"] == secret_name, "its name is the volume's")
            c.expect({"username", "password"} <= set(s["data"]), "username and password keys")
            c.expect(("domain" in s["data"]) == bool(v["credentials"]["domain"]), "domain key iff set")
            ann = pod()["metadata"]["annotations"]
            c.expect("checksum/credentials" in ann, "pods restart when it changes")
        else:
            c.expect(not secrets, "no Secret rendered without credentials.create")

    c.check("credentials Secret rendered only with credentials.create", secret_object)

    def network_policy():
        nps = by_kind.get("NetworkPolicy", [])
        if not v["networkPolicy"]["enabled"]:
            c.expect(not nps, "no NetworkPolicy unless enabled")
            return
        c.expect(len(nps) == 1, "one NetworkPolicy")
        spec = nps[0]["spec"]
        c.expect(spec["policyTypes"] == ["Egress"], f"policyTypes {spec['policyTypes']}")
        pl = pod()["metadata"]["labels"]
        c.expect(all(pl.get(k) == val for k, val in spec["podSelector"]["matchLabels"].items()), "selects the pod")
        allowed = set()
        cidrs = set()
        for rule in spec["egress"]:
            c.expect(rule.get("to"), "every rule names its destinations (none would allow all)")
            c.expect(rule.get("ports"), "every rule names its ports (none would allow all)")
            ports = {(p["protocol"], p["port"]) for p in rule.get("ports") or []}
            allowed |= ports
            for peer in rule.get("to") or []:
                if "ipBlock" in peer:
                    cidrs.add(peer["ipBlock"]["cidr"])
                    c.expect(ports == {("TCP", v["server"]["port"])}, f"ipBlock peers only on TCP {v['server']['port']}")
                else:
                    c.expect(peer.get("namespaceSelector") == v["networkPolicy"]["dns"]["namespaceSelector"]
                             and peer.get("podSelector") == v["networkPolicy"]["dns"]["podSelector"], f"DNS peer {peer}")
                    c.expect(ports == {("UDP", 53), ("TCP", 53)}, "DNS peers only on 53")
        if not v["networkPolicy"]["extraEgress"]:
            c.expect(allowed == {("TCP", v["server"]["port"]), ("UDP", 53), ("TCP", 53)}, f"egress ports {sorted(allowed)}")
            c.expect(len(spec["egress"]) == 2, "two egress rules: the server and DNS")
        want = ({v["server"]["cidr"]} if v["server"]["cidr"] else set()) | {b["cidr"] for b in v["server"]["ipBlocks"]}
        c.expect(cidrs == want, f"ipBlocks {sorted(cidrs)} != {sorted(want)}")
        c.expect("ingress" not in spec, "ingress untouched")

    c.check("NetworkPolicy: egress only to the server's port and DNS", network_policy)

    def monitoring():
        sms = by_kind.get("ServiceMonitor", [])
        pms = by_kind.get("PodMonitor", [])
        svcs = by_kind.get("Service", [])
        c.expect(len(sms) == int(v["metrics"]["serviceMonitor"]["enabled"]), "ServiceMonitor iff enabled")
        c.expect(len(pms) == int(v["metrics"]["podMonitor"]["enabled"]), "PodMonitor iff enabled")
        need_svc = v["metrics"]["serviceMonitor"]["enabled"] or wl_kind == "StatefulSet"
        c.expect(len(svcs) == int(bool(need_svc)), "a Service iff ServiceMonitor or StatefulSet")
        port = v["metrics"]["port"]
        for s in svcs:
            c.expect(s["spec"]["clusterIP"] == "None", "headless")
            c.expect(s["spec"]["ports"][0] == {"name": "metrics", "port": port, "targetPort": port, "protocol": "TCP"}, "metrics port")
            pl = pod()["metadata"]["labels"]
            c.expect(all(pl.get(k) == val for k, val in s["spec"]["selector"].items()), "selects the pod")
        if wl_kind == "StatefulSet":
            c.expect(workloads[0]["spec"]["serviceName"] == svcs[0]["metadata"]["name"], "serviceName")
        for sm in sms:
            c.expect(sm["apiVersion"] == "monitoring.coreos.com/v1", "monitoring.coreos.com/v1")
            sl = svcs[0]["metadata"]["labels"]
            c.expect(all(sl.get(k) == val for k, val in sm["spec"]["selector"]["matchLabels"].items()), "selects the Service")
            c.expect(sm["spec"]["endpoints"][0]["port"] == "metrics", "scrapes the metrics port")
            for k, val in v["metrics"]["serviceMonitor"]["labels"].items():
                c.expect(sm["metadata"]["labels"].get(k) == val, f"label {k}")
        for pm in pms:
            c.expect(pm["apiVersion"] == "monitoring.coreos.com/v1", "monitoring.coreos.com/v1")
            c.expect(pm["spec"]["podMetricsEndpoints"][0]["port"] == "metrics", "scrapes the metrics port")

    c.check("metrics Service, ServiceMonitor and PodMonitor as configured", monitoring)

    # --- Prometheus rules and the Grafana dashboard (sources: charts/smbgate/files/monitoring/;
    # deploy/monitoring/ is their rendering with the defaults) ----------------------------------
    mon = v["monitoring"]
    plain_dir = os.path.join(ROOT, "deploy", "monitoring")

    def plain_rules(name):
        with open(os.path.join(plain_dir, name)) as f:
            return [r for g in yaml.safe_load(f)["groups"] for r in g["rules"]]

    def prometheus_rule():
        prs = by_kind.get("PrometheusRule", [])
        c.expect(len(prs) == int(mon["prometheusRule"]["enabled"]), "PrometheusRule iff enabled")
        for pr in prs:
            c.expect(pr["apiVersion"] == "monitoring.coreos.com/v1", "monitoring.coreos.com/v1")
            want_ns = mon["prometheusRule"]["namespace"]
            c.expect(pr["metadata"]["namespace"] == want_ns if want_ns else bool(pr["metadata"].get("namespace")),
                     f"namespace {pr['metadata'].get('namespace')}")
            for k, val in mon["prometheusRule"]["labels"].items():
                c.expect(pr["metadata"]["labels"].get(k) == val, f"label {k}")
            rules = [r for g in pr["spec"]["groups"] for r in g["rules"]]
            records = [r for r in rules if "record" in r]
            alerts = [r for r in rules if "alert" in r]
            plain_records, plain_alerts = plain_rules("rules.yaml"), plain_rules("alerts.yaml")
            c.expect([r["record"] for r in records] == [r["record"] for r in plain_records],
                     "the recording rules of deploy/monitoring/rules.yaml")
            c.expect([r["alert"] for r in alerts] == [r["alert"] for r in plain_alerts],
                     "the alerts of deploy/monitoring/alerts.yaml")
            plain_sev = {r["alert"]: r["labels"]["severity"] for r in plain_alerts}
            for a in alerts:
                name = a["alert"]
                lab = a.get("labels") or {}
                c.expect(lab.get("severity") == plain_sev.get(name), f"{name}: its own severity {lab.get('severity')}")
                for k, val in mon["prometheusRule"]["alertLabels"].items():
                    if k != "severity":
                        c.expect(lab.get(k) == val, f"{name}: alert label {k}")
                ann = a.get("annotations") or {}
                c.expect(ann.get("summary") and ann.get("description"), f"{name}: summary and description")
                c.expect(ann.get("runbook_url") == f"{mon['runbookBaseUrl']}#{name.lower()}",
                         f"{name}: runbook_url {ann.get('runbook_url')}")

            def num(x):
                return str(int(x)) if float(x).is_integer() else str(x)

            t = mon["thresholds"]
            exprs = {r["record"]: r["expr"] for r in records}
            c.expect(exprs.get("smbgate:auth_success_objective:ratio") == f"vector({num(t['authObjective'])})",
                     "the objective from monitoring.thresholds")
            aexpr = {a["alert"]: a["expr"] for a in alerts}
            c.expect(f"({num(t['authFastBurnRate'])} * (1 - {num(t['authObjective'])}))" in aexpr.get("SmbgateAuthSLOBurnFast", ""),
                     "fast burn threshold from the values")
            c.expect(f"({num(t['authSlowBurnRate'])} * (1 - {num(t['authObjective'])}))" in aexpr.get("SmbgateAuthSLOBurnSlow", ""),
                     "slow burn threshold from the values")
            c.expect(f">= {num(t['authMinFailures'])}" in aexpr.get("SmbgateAuthSLOBurnFast", ""), "authMinFailures")
            c.expect(aexpr.get("SmbgateAuthLatencyHigh", "").strip().endswith(f"> {num(t['authLatencySeconds'])}"),
                     "latency threshold from the values")
            c.expect(aexpr.get("SmbgateReconnectStorm", "").strip().endswith(f"> {num(t['reconnectsPer15m'])}"),
                     "reconnect threshold from the values")
            with open(os.path.join(CHART, "values.yaml")) as f:
                defaults = yaml.safe_load(f)["monitoring"]
            if t == defaults["thresholds"] and mon["runbookBaseUrl"] == defaults["runbookBaseUrl"]:
                # With the defaults: the very rules of deploy/monitoring, but for alertLabels.
                def strip(rs):
                    out = copy.deepcopy(rs)
                    for r in out:
                        if "labels" in r:
                            r["labels"] = {k: val for k, val in r["labels"].items()
                                           if k == "severity" or k not in mon["prometheusRule"]["alertLabels"]}
                    return out
                c.expect(strip(rules) == plain_records + plain_alerts, "identical to deploy/monitoring's rules")

    c.check("PrometheusRule: deploy/monitoring's rules with the values' thresholds and labels", prometheus_rule)

    def dashboard():
        cms = [d for d in by_kind.get("ConfigMap", []) if "smbgate.json" in (d.get("data") or {})]
        c.expect(len(cms) == int(mon["grafanaDashboard"]["enabled"]), "dashboard ConfigMap iff enabled")
        for cm in cms:
            want_ns = mon["grafanaDashboard"]["namespace"]
            c.expect(cm["metadata"]["namespace"] == want_ns if want_ns else bool(cm["metadata"].get("namespace")),
                     f"namespace {cm['metadata'].get('namespace')}")
            for k, val in mon["grafanaDashboard"]["labels"].items():
                c.expect(cm["metadata"]["labels"].get(k) == val, f"label {k}={val} (the sidecar's)")
            for k, val in mon["grafanaDashboard"]["annotations"].items():
                c.expect((cm["metadata"].get("annotations") or {}).get(k) == val, f"annotation {k}")
            with open(os.path.join(plain_dir, "dashboard.json")) as f:
                c.expect(json.loads(cm["data"]["smbgate.json"]) == json.load(f), "deploy/monitoring/dashboard.json")

    c.check("Grafana dashboard ConfigMap as configured", dashboard)

    # For tests/chart/run.sh, which adds the counts up.
    print(f"RESULT passed={c.passed} failed={c.failed}")
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
