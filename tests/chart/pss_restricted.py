#!/usr/bin/env python3
"""Checks pod templates against the Kubernetes Pod Security Standards, level "restricted"
(which includes "baseline"), as Pod Security admission would with enforce=restricted.

    pss_restricted.py --self-test
    pss_restricted.py [--label L] [--expect-violation TEXT ...] RENDERED.yaml

With a rendering: every pod template in it (Deployment, StatefulSet, ReplicaSet, Job, CronJob,
Pod) is checked, each container list included (initContainers, native sidecars among them,
containers, ephemeralContainers). Without --expect-violation every pod must pass. With it the
rendering must violate the standard, and the violations must mention each TEXT: this is how the
tests show that the checker fails where admission would refuse.

DaemonSets of the component csi-node (the smbgate CSI node driver) are skipped and reported as
such: they are node infrastructure, privileged by design, run in a namespace labelled
pod-security.kubernetes.io/enforce=privileged, and are not the application pods this checks.

--self-test runs one compliant pod and, for each rule, a pod that breaks only that rule.

The rules, from the Pod Security Standards (Kubernetes 1.29 to 1.31; Windows pods' exemptions
are not modelled, smbgate's pods are Linux pods):
  baseline: no windowsOptions.hostProcess; no hostNetwork, hostPID, hostIPC; no privileged
    container; capabilities added only from the baseline list; no hostPath volume; no
    hostPort other than 0; AppArmor profile unset, runtime/default or localhost/* (annotation
    and appArmorProfile field); SELinux type "", container_t, container_init_t,
    container_kvm_t or container_engine_t and no SELinux user or role; procMount unset or
    Default; seccomp not Unconfined; only the safe sysctls.
  restricted: volumes only of the types configMap, csi, downwardAPI, emptyDir, ephemeral,
    persistentVolumeClaim, projected, secret; allowPrivilegeEscalation false in every
    container; runAsNonRoot true for every container (its own or the pod's); runAsUser never
    0 (pod or container); seccomp RuntimeDefault or Localhost for every container (its own or
    the pod's); capabilities drop ALL and add nothing but NET_BIND_SERVICE.
Prints ok/FAIL lines and `RESULT passed=N failed=M`; exits 1 if any failed.
"""
import copy
import sys

import yaml

CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
BASELINE_CAPABILITIES = {
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}
RESTRICTED_CAPABILITIES = {"NET_BIND_SERVICE"}
ALLOWED_VOLUME_TYPES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
    "projected", "secret",
}
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"
# Pod templates by kind: the path from the object to the pod's metadata and spec.
TEMPLATE_PATHS = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
    "Pod": (),
}


def containers(spec):
    """(list name, container) for every container of the pod."""
    for key in CONTAINER_LISTS:
        for ctr in spec.get(key) or []:
            yield key, ctr


def violations(meta, spec):
    """The pod's violations of "restricted", one readable string each (empty: it passes)."""
    out = []
    psc = spec.get("securityContext") or {}
    annotations = (meta or {}).get("annotations") or {}

    # --- baseline ---
    if (psc.get("windowsOptions") or {}).get("hostProcess"):
        out.append("pod: windowsOptions.hostProcess")
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            out.append(f"pod: {field}: true (host namespaces)")
    for vol in spec.get("volumes") or []:
        types = [k for k in vol if k != "name"]
        if "hostPath" in types:
            out.append(f"volume {vol.get('name')}: hostPath")
        for t in types:
            if t not in ALLOWED_VOLUME_TYPES and t != "hostPath":
                out.append(f"volume {vol.get('name')}: type {t} is not allowed")
    for key, value in annotations.items():
        if key.startswith(APPARMOR_ANNOTATION):
            if not (value == "runtime/default" or value.startswith("localhost/")):
                out.append(f"pod: AppArmor annotation {key}: {value}")

    def apparmor(where, sc):
        t = (sc.get("appArmorProfile") or {}).get("type")
        if t is not None and t not in ("RuntimeDefault", "Localhost"):
            out.append(f"{where}: appArmorProfile {t}")

    def selinux(where, sc):
        opts = sc.get("seLinuxOptions") or {}
        if opts.get("type", "") not in SELINUX_TYPES:
            out.append(f"{where}: seLinuxOptions.type {opts.get('type')}")
        for field in ("user", "role"):
            if opts.get(field):
                out.append(f"{where}: seLinuxOptions.{field} {opts.get(field)}")

    apparmor("pod", psc)
    selinux("pod", psc)
    pod_seccomp = (psc.get("seccompProfile") or {}).get("type")
    if pod_seccomp == "Unconfined":
        out.append("pod: seccompProfile Unconfined")
    for sysctl in psc.get("sysctls") or []:
        if sysctl.get("name") not in SAFE_SYSCTLS:
            out.append(f"pod: unsafe sysctl {sysctl.get('name')}")
    if psc.get("runAsUser") == 0:
        out.append("pod: runAsUser 0")
    if psc.get("runAsNonRoot") is False:
        out.append("pod: runAsNonRoot false")

    for key, ctr in containers(spec):
        where = f"{key} {ctr.get('name')}"
        sc = ctr.get("securityContext") or {}
        if (sc.get("windowsOptions") or {}).get("hostProcess"):
            out.append(f"{where}: windowsOptions.hostProcess")
        if sc.get("privileged"):
            out.append(f"{where}: privileged")
        for port in ctr.get("ports") or []:
            if port.get("hostPort"):
                out.append(f"{where}: hostPort {port.get('hostPort')}")
        apparmor(where, sc)
        selinux(where, sc)
        if sc.get("procMount", "Default") != "Default":
            out.append(f"{where}: procMount {sc.get('procMount')}")
        caps = sc.get("capabilities") or {}
        added = set(caps.get("add") or [])
        if added - BASELINE_CAPABILITIES:
            out.append(f"{where}: adds capabilities beyond baseline {sorted(added - BASELINE_CAPABILITIES)}")
        # --- restricted ---
        if added - RESTRICTED_CAPABILITIES:
            out.append(f"{where}: adds capabilities {sorted(added - RESTRICTED_CAPABILITIES)} (only NET_BIND_SERVICE)")
        if "ALL" not in (caps.get("drop") or []):
            out.append(f"{where}: capabilities do not drop ALL")
        if sc.get("allowPrivilegeEscalation") is not False:
            out.append(f"{where}: allowPrivilegeEscalation is not false")
        non_root = sc.get("runAsNonRoot", psc.get("runAsNonRoot"))
        if non_root is not True:
            out.append(f"{where}: runAsNonRoot is not true (neither its own nor the pod's)")
        if sc.get("runAsUser") == 0:
            out.append(f"{where}: runAsUser 0")
        seccomp = (sc.get("seccompProfile") or {}).get("type", pod_seccomp)
        if seccomp not in ("RuntimeDefault", "Localhost"):
            out.append(f"{where}: seccompProfile {seccomp} (RuntimeDefault or Localhost, its own or the pod's)")
    return out


def pod_templates(docs):
    """(name, is node infrastructure, metadata, spec) for every pod template in docs."""
    for d in docs:
        path = TEMPLATE_PATHS.get(d.get("kind"))
        if path is None:
            continue
        node = d
        for key in path:
            node = node[key]
        name = f"{d['kind']}/{d['metadata']['name']}"
        component = (d["metadata"].get("labels") or {}).get("app.kubernetes.io/component")
        infra = d["kind"] == "DaemonSet" and component == "csi-node"
        yield name, infra, node.get("metadata") or {}, node["spec"]


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def report(self, ok, what, details=()):
        if ok:
            self.passed += 1
            print(f"ok   pss restricted: {what}")
        else:
            self.failed += 1
            print(f"FAIL pss restricted: {what}")
            for line in details:
                print(f"     - {line}")


def compliant_pod():
    """A pod that passes: the shape of the chart's application pod in mode csi."""
    def restricted():
        return {"runAsUser": 1000, "runAsNonRoot": True, "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}
    return {
        "metadata": {"annotations": {APPARMOR_ANNOTATION + "app": "runtime/default"}},
        "spec": {
            "securityContext": {"fsGroup": 1000, "seccompProfile": {"type": "RuntimeDefault"},
                                "sysctls": [{"name": "net.ipv4.ping_group_range", "value": "0 1"}]},
            "initContainers": [{"name": "sidecar", "restartPolicy": "Always", "securityContext": restricted()}],
            "containers": [{"name": "app", "ports": [{"containerPort": 8080}], "securityContext": restricted()}],
            "volumes": [
                {"name": "share", "csi": {"driver": "csi.smbgate.io"}},
                {"name": "sock", "emptyDir": {}},
                {"name": "creds", "secret": {"secretName": "s"}},
                {"name": "cfg", "configMap": {"name": "c"}},
                {"name": "tok", "projected": {"sources": []}},
            ],
        },
    }


# Each: the rule, what the violation must mention, and how to break a compliant pod.
def _sc(pod, list_name="containers"):
    return pod["spec"][list_name][0]["securityContext"]


BREAKS = [
    ("privileged", "privileged", lambda p: _sc(p).update(privileged=True)),
    ("privileged native sidecar", "initContainers sidecar: privileged",
     lambda p: _sc(p, "initContainers").update(privileged=True)),
    ("hostNetwork", "hostNetwork", lambda p: p["spec"].update(hostNetwork=True)),
    ("hostPID", "hostPID", lambda p: p["spec"].update(hostPID=True)),
    ("hostIPC", "hostIPC", lambda p: p["spec"].update(hostIPC=True)),
    ("hostProcess", "hostProcess", lambda p: _sc(p).update(windowsOptions={"hostProcess": True})),
    ("hostPath volume", "hostPath", lambda p: p["spec"]["volumes"].append({"name": "h", "hostPath": {"path": "/"}})),
    ("nfs volume", "type nfs", lambda p: p["spec"]["volumes"].append({"name": "n", "nfs": {"server": "s", "path": "/"}})),
    ("hostPort", "hostPort", lambda p: p["spec"]["containers"][0]["ports"][0].update(hostPort=8080)),
    ("allowPrivilegeEscalation unset", "allowPrivilegeEscalation", lambda p: _sc(p).pop("allowPrivilegeEscalation")),
    ("allowPrivilegeEscalation in an ephemeral container", "ephemeralContainers debug: allowPrivilegeEscalation",
     lambda p: p["spec"].update(ephemeralContainers=[{"name": "debug", "securityContext": {
         "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}}}])),
    ("runAsNonRoot unset everywhere", "runAsNonRoot", lambda p: _sc(p).pop("runAsNonRoot")),
    ("runAsNonRoot false under a true pod", "runAsNonRoot",
     lambda p: (p["spec"]["securityContext"].update(runAsNonRoot=True), _sc(p).update(runAsNonRoot=False))),
    ("runAsUser 0 in a container", "runAsUser 0", lambda p: _sc(p).update(runAsUser=0)),
    ("runAsUser 0 in the pod", "pod: runAsUser 0", lambda p: p["spec"]["securityContext"].update(runAsUser=0)),
    ("no seccomp profile", "seccompProfile", lambda p: p["spec"]["securityContext"].pop("seccompProfile")),
    ("seccomp Unconfined in a container", "seccompProfile Unconfined",
     lambda p: _sc(p).update(seccompProfile={"type": "Unconfined"})),
    ("capabilities without drop ALL", "drop ALL", lambda p: _sc(p)["capabilities"].update(drop=["NET_RAW"])),
    ("a baseline capability added", "only NET_BIND_SERVICE", lambda p: _sc(p)["capabilities"].update(add=["CHOWN"])),
    ("SYS_ADMIN added", "beyond baseline", lambda p: _sc(p)["capabilities"].update(add=["SYS_ADMIN"])),
    ("procMount Unmasked", "procMount", lambda p: _sc(p).update(procMount="Unmasked")),
    ("an unsafe sysctl", "unsafe sysctl", lambda p: p["spec"]["securityContext"]["sysctls"].append(
        {"name": "kernel.msgmax", "value": "1"})),
    ("AppArmor unconfined (annotation)", "AppArmor annotation",
     lambda p: p["metadata"]["annotations"].update({APPARMOR_ANNOTATION + "app": "unconfined"})),
    ("AppArmor Unconfined (field)", "appArmorProfile", lambda p: _sc(p).update(appArmorProfile={"type": "Unconfined"})),
    ("SELinux type spc_t", "seLinuxOptions.type", lambda p: _sc(p).update(seLinuxOptions={"type": "spc_t"})),
    ("SELinux user", "seLinuxOptions.user", lambda p: p["spec"]["securityContext"].update(
        seLinuxOptions={"user": "system_u"})),
]


def self_test(res):
    base = compliant_pod()
    found = violations(base["metadata"], base["spec"])
    res.report(not found, "self-test: a compliant pod passes", found)
    # Localhost profiles, container_t and runAsNonRoot from the pod level pass too.
    alt = copy.deepcopy(base)
    alt["spec"]["securityContext"].update(runAsNonRoot=True,
                                          seccompProfile={"type": "Localhost", "localhostProfile": "p.json"})
    for _, ctr in containers(alt["spec"]):
        ctr["securityContext"].pop("runAsNonRoot")
        ctr["securityContext"]["seLinuxOptions"] = {"type": "container_t", "level": "s0:c1,c2"}
    found = violations(alt["metadata"], alt["spec"])
    res.report(not found, "self-test: pod-level runAsNonRoot and seccomp Localhost, SELinux container_t pass", found)
    for what, want, brk in BREAKS:
        pod = copy.deepcopy(base)
        brk(pod)
        found = violations(pod["metadata"], pod["spec"])
        res.report(any(want in v for v in found), f"self-test: fails on {what}",
                   found or ["no violation found"])


def check_rendering(res, path, label, expected):
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    pods = list(pod_templates(docs))
    res.report(any(not infra for _, infra, _, _ in pods), f"{label}: has an application pod to check")
    every = []
    for name, infra, meta, spec in pods:
        if infra:
            print(f"skip pss restricted: {label}: {name}: node infrastructure (the CSI node driver, privileged "
                  "by design, in a namespace with enforce=privileged), not an application pod")
            continue
        found = violations(meta, spec)
        every += found
        if not expected:
            res.report(not found, f"{label}: {name} passes (every container, init and sidecars included)", found)
    if expected:
        missing = [t for t in expected if not any(t in v for v in every)]
        res.report(every and not missing,
                   f"{label}: violates restricted, as expected ({', '.join(expected)})",
                   [f"no violation mentions {t!r}" for t in missing] + (every or ["no violation at all"]))


def main(argv):
    res = Results()
    args = argv[1:]
    if args == ["--self-test"]:
        self_test(res)
    else:
        label, expected, paths = None, [], []
        while args:
            a = args.pop(0)
            if a == "--label" and args:
                label = args.pop(0)
            elif a == "--expect-violation" and args:
                expected.append(args.pop(0))
            elif a.startswith("-"):
                print(__doc__, file=sys.stderr)
                return 2
            else:
                paths.append(a)
        if len(paths) != 1:
            print(__doc__, file=sys.stderr)
            return 2
        check_rendering(res, paths[0], label or paths[0], expected)
    print(f"RESULT passed={res.passed} failed={res.failed}")
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
