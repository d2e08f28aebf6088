#!/usr/bin/env python3
"""Writes charts/smbgate/values.schema.json (run it after changing the values' shape; the chart
test checks the file is what this prints). Every object the chart defines is closed
(additionalProperties: false); Kubernetes objects passed through (resources, affinity, env
items, ...) are only typed."""
import json
import os
import sys


def obj(props, required=None, **extra):
    o = {"type": "object", "additionalProperties": False, "properties": props}
    if required:
        o["required"] = required
    o.update(extra)
    return o


def string(desc=None, **kw):
    o = {"type": "string"}
    if desc:
        o["description"] = desc
    o.update(kw)
    return o


def integer(minimum=None, maximum=None, desc=None):
    o = {"type": "integer"}
    if minimum is not None:
        o["minimum"] = minimum
    if maximum is not None:
        o["maximum"] = maximum
    if desc:
        o["description"] = desc
    return o


BOOL = {"type": "boolean"}
K8S_OBJECT = {"type": "object"}  # a Kubernetes object passed through as is
K8S_LIST = {"type": "array", "items": {"type": "object"}}
STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
DURATION = string(pattern=r"^([0-9]+(ms|s|m|h))+$")
PORT = integer(1, 65535)
MODE = string(pattern=r"^0?[0-7]{3,4}$")
UID = integer(0, 2147483647)
NAMESPACE = string(pattern=r"^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", maxLength=63)


def image(desc):
    return obj({
        "repository": string(minLength=1),
        "tag": string(),
        "digest": string(pattern=r"^(|sha256:[0-9a-f]{64})$"),
        "pullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]},
    }, ["repository"], description=desc)


def probe(with_enabled):
    p = {
        "periodSeconds": integer(1),
        "timeoutSeconds": integer(1),
        "failureThreshold": integer(1),
    }
    if with_enabled:
        p["enabled"] = BOOL
    return obj(p)


def monitor():
    return obj({
        "enabled": BOOL,
        "interval": DURATION,
        "scrapeTimeout": DURATION,
        "labels": STRING_MAP,
    })


SCHEMA = obj({
    "nameOverride": string(),
    "fullnameOverride": string(),
    "partOf": string(minLength=1),
    "mode": {"enum": ["privileged", "fdpassing", "csi"],
             "description": "privileged (the sidecar mounts /dev/fuse), fdpassing (a node helper does) "
                            "or csi (the smbgate CSI node driver does)"},
    "image": image("The smbgate image"),
    "imagePullSecrets": {"type": "array", "items": obj({"name": string(minLength=1)}, ["name"])},
    "server": obj({
        "share": string("//HOST[:PORT]/SHARE[/SUBDIR]", pattern=r"^//[^/\s]+/[^/\s]+(/.*)?$"),
        "port": PORT,
        "cidr": string(pattern=r"^$|^[0-9a-fA-F.:]+/[0-9]{1,3}$"),
        "ipBlocks": {"type": "array", "items": obj({
            "cidr": string(pattern=r"^[0-9a-fA-F.:]+/[0-9]{1,3}$"),
            "except": {"type": "array", "items": string()},
        }, ["cidr"])},
    }, ["share"]),
    "credentials": obj({
        "existingSecret": string(),
        "create": BOOL,
        "username": string(),
        "password": string(),
        "domain": string(),
        "defaultMode": integer(0, 511),
    }),
    "mountOptions": obj({
        "readOnly": BOOL,
        "vers": {"enum": ["default", "2.0", "2.1", "3.0", "3.02", "3.1.1"]},
        "cache": {"enum": ["strict", "loose", "none"]},
        "actimeo": {"type": "number", "minimum": 0, "maximum": 3600},
        "closetimeo": {"type": "number", "minimum": 0, "maximum": 3600},
        "rsize": integer(0, 16777216),
        "wsize": integer(0, 16777216),
        "fileMode": MODE,
        "dirMode": MODE,
        "seal": BOOL,
        # What `smbgate mount -o spn=` accepts (SERVICE/HOST, no space, comma or control
        # character, at most 256 bytes), or empty for the default.
        "spn": string("SERVICE/HOST sent as NTLM MsvAvTargetName; empty: cifs/HOST",
                      pattern=r"^$|^[^/\s,\x00-\x1f\x7f]+/[^/\s,\x00-\x1f\x7f][^\s,\x00-\x1f\x7f]*$",
                      maxLength=256),
        "extra": {"type": "array", "items": string(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*(=[^,]*)?$")},
    }),
    "logging": obj({
        "level": {"enum": ["trace", "debug", "info", "warn", "error"]},
        "format": {"enum": ["text", "json"]},
    }),
    "metrics": obj({
        "port": PORT,
        "serviceMonitor": monitor(),
        "podMonitor": monitor(),
    }),
    "sidecar": obj({
        "resources": K8S_OBJECT,
        "startupProbe": probe(False),
        "livenessProbe": probe(True),
        "readinessProbe": probe(True),
    }),
    "fdPassing": obj({
        "socketDir": string(pattern=r"^/"),
        "socketName": string(pattern=r"^[^/]+$"),
        "connectTimeoutSeconds": integer(1, 3600),
    }),
    "csi": obj({
        "installDriver": BOOL,
        # A CSIDriver's name: a DNS subdomain of at most 63 characters (the CSI spec's limit).
        "driverName": string(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
                             maxLength=63),
        # Absolute, no trailing slash, no "." or ".." segment, no space: it is joined into
        # hostPaths and the registrar's --kubelet-registration-path.
        "kubeletDir": string("the kubelet's root directory on the nodes, e.g. /var/lib/kubelet",
                             pattern=r"^(/[A-Za-z0-9_][A-Za-z0-9._-]*)+$"),
        "handoffTimeoutSeconds": integer(1, 3600),
        "logLevel": {"enum": ["trace", "debug", "info", "warn", "error"]},
        "image": image("The smbgate CSI node driver image"),
        "registrar": obj({"image": image("The node-driver-registrar image")}),
        "priorityClassName": string(),
        "tolerations": K8S_LIST,
        "nodeSelector": STRING_MAP,
        "resources": K8S_OBJECT,
    }),
    "app": obj({
        "name": string(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", maxLength=63,
                       **{"not": {"const": "smbgate"}}),
        "image": image("The application image"),
        "command": {"type": "array", "items": string()},
        "args": {"type": "array", "items": string()},
        "env": {"type": "array", "items": {"type": "object", "required": ["name"]}},
        "envFrom": K8S_LIST,
        "ports": K8S_LIST,
        "mountPath": string(pattern=r"^/.+"),
        "uid": integer(1, 2147483647, "non-root: 0 is refused"),
        "gid": integer(1, 2147483647),
        "readOnlyRootFilesystem": BOOL,
        "resources": K8S_OBJECT,
        "livenessProbe": K8S_OBJECT,
        "readinessProbe": K8S_OBJECT,
        "startupProbe": K8S_OBJECT,
        "extraVolumeMounts": K8S_LIST,
    }),
    "workload": obj({
        "enabled": BOOL,
        "kind": {"enum": ["Deployment", "StatefulSet"]},
        "replicas": integer(0),
        "strategy": K8S_OBJECT,
        "annotations": STRING_MAP,
        "labels": STRING_MAP,
        "podAnnotations": STRING_MAP,
        "podLabels": STRING_MAP,
        "terminationGracePeriodSeconds": integer(0),
        "serviceAccountName": string(),
        "automountServiceAccountToken": BOOL,
        "priorityClassName": string(),
        "nodeSelector": STRING_MAP,
        "tolerations": K8S_LIST,
        "affinity": K8S_OBJECT,
        "topologySpreadConstraints": K8S_LIST,
        "initContainers": K8S_LIST,
        "extraVolumes": K8S_LIST,
    }),
    "networkPolicy": obj({
        "enabled": BOOL,
        "dns": obj({
            "namespaceSelector": K8S_OBJECT,
            "podSelector": K8S_OBJECT,
        }),
        "extraEgress": K8S_LIST,
    }),
    "monitoring": obj({
        "runbookBaseUrl": string("Where runbooks.md is read; runbook_url = this + #alert", minLength=1,
                                 pattern=r"^[^#\s]+$"),
        "prometheusRule": obj({
            "enabled": BOOL,
            "namespace": NAMESPACE,
            "labels": STRING_MAP,
            "alertLabels": STRING_MAP,
        }),
        "thresholds": obj({
            "authObjective": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1,
                              "description": "share of session setups that reach the server and succeed"},
            "authFastBurnRate": {"type": "number", "exclusiveMinimum": 0},
            "authSlowBurnRate": {"type": "number", "exclusiveMinimum": 0},
            "authMinFailures": integer(1),
            "authLatencySeconds": {"type": "number", "exclusiveMinimum": 0},
            "reconnectsPer15m": integer(0),
        }),
        "grafanaDashboard": obj({
            "enabled": BOOL,
            "namespace": NAMESPACE,
            "labels": STRING_MAP,
            "annotations": STRING_MAP,
        }),
    }),
    # Helm passes this to a subchart; allow it so the chart works as a dependency.
    "global": {"type": "object"},
})
SCHEMA = {"$schema": "http://json-schema.org/draft-07/schema#",
          "title": "smbgate chart values", **SCHEMA}

if __name__ == "__main__":
    text = json.dumps(SCHEMA, indent=2) + "\n"
    if len(sys.argv) > 1 and sys.argv[1] == "--print":
        sys.stdout.write(text)
    else:
        root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
        with open(os.path.join(root, "charts", "smbgate", "values.schema.json"), "w") as f:
            f.write(text)
