#!/bin/bash
# The Prometheus rules, alerts and Grafana dashboard of deploy/monitoring, with the real tools:
#  1. static: `promtool check rules` on rules.yaml and alerts.yaml; `promtool test rules` on
#     alerts_test.yaml (series that fire each alert and series that leave it quiet), and that
#     the test fails when an alert is broken; `promtool check metrics` on metrics_sample.txt
#     (every family of the metrics specification); check_static.py (the alert list, severities,
#     runbook anchors, the dashboard's panels and queries, metric names, the runbook).
#  2. live, given a build directory (root, smbd and FUSE needed; skipped with a message
#     otherwise): a real smbd on 127.0.0.1 (deploy/local-smbd.sh), `smbgate mount` with its
#     metrics on a free port, file I/O on the mount; a real Prometheus scraping it every second
#     with rules.yaml and alerts.yaml loaded; the credentials rotated to a wrong password and
#     the server restarted (SmbgateCredentialsRotationFailing must go pending), then rotated
#     back (the mount reconnects); `promtool check metrics` on the live /metrics; then every
#     recording rule and every dashboard query must return data (live_query.py prints each
#     with its first value). Everything started is stopped by the EXIT trap; waits are bounded.
# Usage: tests/monitoring/run.sh [BUILD_DIR]     (prints "monitoring: N passed, M failed")
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
repo=$(pwd)
here=tests/monitoring
mon=deploy/monitoring
build=${1:-}

. tests/lib.sh
finish() {
  echo "monitoring: $passed passed, $failed failed"
  [ "$failed" = 0 ]
  exit
}

work=$(mktemp -d /tmp/smbgate-monitoring.XXXXXX)
chmod 755 "$work"
smbgate_pid=
prom_pid=
stop_pid() {  # $1 pid: TERM, up to 10 s, then KILL
  [ -n "$1" ] || return 0
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null
}
cleanup() {
  if grep -q " $work/mnt fuse" /proc/self/mounts 2>/dev/null; then
    fusermount3 -u "$work/mnt" 2>/dev/null || fusermount3 -uz "$work/mnt" 2>/dev/null
  fi
  stop_pid "$smbgate_pid"
  stop_pid "$prom_pid"
  [ -d "$work/smbd" ] && deploy/local-smbd.sh stop "$work/smbd" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT


# --- tools ------------------------------------------------------------------------------------
# Debian's prometheus package brings promtool. Its service is not started here (nothing starts
# services in this script but the test's own Prometheus below).
if ! command -v promtool >/dev/null 2>&1; then
  echo "tests/monitoring: installing Debian's prometheus (promtool)"
  apt_install "$work/apt.log" prometheus || { fail "no promtool (run as root, or: sudo apt-get install prometheus)"; finish; }
fi
PY=$(python_with_yaml "$work/apt.log" || true)
[ -n "$PY" ] || { fail "no python3 with PyYAML"; finish; }
echo "tests/monitoring: $(promtool --version 2>&1 | head -1), $("$PY" --version)"

# Runs a Python check that prints ok/FAIL lines and `RESULT passed=N failed=M`.
run_counted() {
  local name=$1
  shift
  local out rc r
  out=$("$@" 2>&1)
  rc=$?
  printf '%s\n' "$out" | grep -v '^RESULT '
  r=$(printf '%s\n' "$out" | grep '^RESULT ' | tail -1)
  if [ -z "$r" ]; then
    fail "$name: no result (exit $rc)"
    return
  fi
  local p=${r#*passed=} f=${r#*failed=}
  p=${p%% *}
  passed=$((passed + p))
  failed=$((failed + f))
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then fail "$name: exit $rc"; fi
}

# --- 1. static --------------------------------------------------------------------------------
if promtool check rules "$mon/rules.yaml" "$mon/alerts.yaml" >"$work/check.log" 2>&1; then
  ok "promtool check rules: rules.yaml and alerts.yaml ($(grep -o '[0-9]* rules found' "$work/check.log" | cut -d' ' -f1 | paste -sd+ -) rules)"
else
  fail "promtool check rules"
  cat "$work/check.log"
fi
if promtool test rules "$here/alerts_test.yaml" >"$work/test.log" 2>&1; then
  ok "promtool test rules alerts_test.yaml: $(grep -c '^  - name:' "$here/alerts_test.yaml") cases"
else
  fail "promtool test rules alerts_test.yaml"
  cat "$work/test.log"
fi
# The unit tests bite: a copy of the files with one alert broken must fail them.
mutant() {
  local what=$1 file=$2 sed_expr=$3
  rm -rf "$work/mut" && mkdir -p "$work/mut/$mon" "$work/mut/$here"
  cp "$mon/rules.yaml" "$mon/alerts.yaml" "$work/mut/$mon/"
  cp "$here/alerts_test.yaml" "$work/mut/$here/"
  sed -i "$sed_expr" "$work/mut/$mon/$file"
  if cmp -s "$mon/$file" "$work/mut/$mon/$file"; then
    fail "mutant '$what': the edit changed nothing"
  elif (cd "$work/mut/$here" && promtool test rules alerts_test.yaml >/dev/null 2>&1); then
    fail "promtool test rules misses a broken alert: $what"
  else
    ok "promtool test rules catches a broken alert: $what"
  fi
}
mutant "SessionDown also when not mounted" alerts.yaml 's/smbgate_session_up == 0 and on/smbgate_session_up == 0 or on/'
mutant "ReconnectStorm threshold 30" alerts.yaml 's/(increase(smbgate_reconnects_total\[15m\])) > 3$/(increase(smbgate_reconnects_total[15m])) > 30/'
mutant "MountDown without the scrape-failure arm" alerts.yaml 's/(up == 0 and on (job, instance) present_over_time(smbgate_mounted\[1d\]))/vector(1) == 0/'
mutant "success ratio counting unreachable attempts" rules.yaml 's/class!="unreachable"/class=~".*"/'
if promtool check metrics <"$here/metrics_sample.txt" >"$work/metrics.log" 2>&1; then
  ok "promtool check metrics: metrics_sample.txt ($(grep -c '^# TYPE' "$here/metrics_sample.txt") families)"
else
  fail "promtool check metrics: metrics_sample.txt"
  cat "$work/metrics.log"
fi
run_counted "check_static.py" "$PY" "$here/check_static.py"

# --- 2. live ----------------------------------------------------------------------------------
skip_live() {
  echo "skip live: $* (the static checks above still count)"
  finish
}
[ -n "$build" ] || skip_live "no build directory given (tests/monitoring/run.sh BUILD_DIR)"
bin="$repo/$build/smbgate"
[ -x "$bin" ] || bin="$build/smbgate"
[ -x "$bin" ] || skip_live "no smbgate binary at $build/smbgate"
command -v smbd >/dev/null 2>&1 || skip_live "no smbd (Debian package samba)"
as_root || skip_live "not root (smbd and FUSE mounts need it)"
[ -e /dev/fuse ] || skip_live "no /dev/fuse"
command -v prometheus >/dev/null 2>&1 || skip_live "no prometheus binary"
command -v curl >/dev/null 2>&1 || skip_live "no curl"

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

deploy/local-smbd.sh start "$work/smbd" >"$work/smbd-start.log" 2>&1 ||
  { fail "live: smbd did not start"; cat "$work/smbd-start.log"; finish; }
port=$(cat "$work/smbd/port")
share="//127.0.0.1:$port/demo"
mport=$(free_port)
metrics="http://127.0.0.1:$mport/metrics"

# The credentials in the kubelet's Secret layout (a timestamped directory, `..data`, one link
# per key), so that a rotation can be made the way the kubelet makes it.
secret="$work/secret"
mkdir -p "$secret"
good_password=$(cat "$work/smbd/secret/password")
n_version=0
rotate() {  # $1: the password to put in place
  n_version=$((n_version + 1))
  local v="..2026_01_01_00_00_0${n_version}.00000000${n_version}"
  mkdir "$secret/$v"
  cp "$work/smbd/secret/username" "$work/smbd/secret/domain" "$secret/$v/"
  printf '%s' "$1" >"$secret/$v/password"
  chmod 600 "$secret/$v/"*
  ln -s "$v" "$secret/..data_tmp"
  mv -T "$secret/..data_tmp" "$secret/..data"
}
rotate "$good_password"
for k in username password domain; do ln -s "..data/$k" "$secret/$k"; done

mkdir -p "$work/mnt"
"$bin" mount "$share" "$work/mnt" --credentials "$secret" --foreground \
  -o "metrics=127.0.0.1:$mport,log_format=json" 2>"$work/smbgate.log" &
smbgate_pid=$!
if wait_for 200 "curl -sf http://127.0.0.1:$mport/readyz >/dev/null"; then
  ok "live: smbgate mounted $share (metrics on 127.0.0.1:$mport)"
else
  fail "live: smbgate did not mount $share"
  tail -5 "$work/smbgate.log"
  finish
fi

pport=$(free_port)
prom="http://127.0.0.1:$pport"
cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $repo/$mon/rules.yaml
  - $repo/$mon/alerts.yaml
scrape_configs:
  - job_name: smbgate
    static_configs:
      - targets: ["127.0.0.1:$mport"]
EOF
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$pport" --log.level=warn >"$work/prometheus.log" 2>&1 &
prom_pid=$!
up_query() { curl -sf "$prom/api/v1/query" --data-urlencode 'query=up{job="smbgate"} == 1' | grep -q '"value"'; }
if wait_for 300 "curl -sf $prom/-/ready >/dev/null" && wait_for 300 up_query; then
  ok "live: Prometheus on 127.0.0.1:$pport scrapes smbgate every second, rules.yaml and alerts.yaml loaded"
else
  fail "live: Prometheus did not start or does not scrape smbgate"
  tail -5 "$work/prometheus.log"
  finish
fi

# File I/O through the mount: writes, reads, a directory, a rename, a name that does not exist.
head -c 4194304 /dev/urandom >"$work/blob"
io_ok=1
cp "$work/blob" "$work/mnt/blob" && cmp -s "$work/blob" "$work/mnt/blob" && cmp -s "$work/blob" "$work/smbd/share/blob" || io_ok=0
mkdir "$work/mnt/dir" && echo hello >"$work/mnt/dir/a.txt" && mv "$work/mnt/dir/a.txt" "$work/mnt/dir/b.txt" || io_ok=0
ls -la "$work/mnt" "$work/mnt/dir" >/dev/null || io_ok=0
stat "$work/mnt/does-not-exist" >/dev/null 2>&1 && io_ok=0
[ "$io_ok" = 1 ] && ok "live: file I/O on the mount (4 MiB written and read back, mkdir, rename, ENOENT)" ||
  fail "live: file I/O on the mount"

# The runbook's three usual commands, against this mount: `smbgate check --output json` (with
# the right and with a wrong password), the log's authentication lines, the auth counters.
json_has() {  # $1 JSON, then Python conditions on d
  "$PY" -c 'import json, sys; d = json.loads(sys.argv[1]); sys.exit(0 if all(eval(c) for c in sys.argv[2:]) else 1)' "$@" 2>/dev/null
}
out=$("$bin" check "$share" --credentials "$secret" --output json 2>"$work/check.err")
if json_has "$out" 'd["result"] == "ok"' \
  'all(isinstance(d[k + "_ms"], float) for k in ("dns", "connect", "negotiate", "session_setup", "tree_connect"))'; then
  ok "live: runbook: smbgate check --output json => $out"
else
  fail "live: runbook: smbgate check --output json => $out"
fi
mkdir -p "$work/wrong"
cp "$work/smbd/secret/username" "$work/smbd/secret/domain" "$work/wrong/"
printf 'not the password' >"$work/wrong/password"
chmod 600 "$work/wrong/"*
out=$("$bin" check "$share" --credentials "$work/wrong" --output json 2>"$work/check.err")
if json_has "$out" 'd["result"] == "failed"' 'd["stage"] == "session_setup"' \
  'd["ntstatus"] == "STATUS_LOGON_FAILURE"' 'd["class"] == "wrong_password"' 'd["likely_fix"]'; then
  ok "live: runbook: smbgate check with a wrong password => $out"
else
  fail "live: runbook: smbgate check with a wrong password => $out"
fi
line=$(grep authentication "$work/smbgate.log" | head -1)
[ -n "$line" ] && ok "live: runbook: grep authentication in the log => $line" ||
  fail "live: runbook: no authentication line in the log"
line=$(curl -s "$metrics" | grep smbgate_auth | grep -v '^#' | head -1)
[ -n "$line" ] && ok "live: runbook: curl /metrics | grep smbgate_auth => $line" ||
  fail "live: runbook: no smbgate_auth series on /metrics"

# A rotation to a wrong password, then a server restart: every reconnect is refused with
# STATUS_LOGON_FAILURE, which SmbgateCredentialsRotationFailing must notice.
rotate 'not the password'
# The sum of a counter's series on smbgate's /metrics; $2, if given, must be in the line.
counter() {
  curl -sf "$metrics" | awk -v m="$1" -v f="${2:-}" \
    '(index($0, m " ") == 1 || index($0, m "{") == 1) && index($0, f) { s += $NF } END { print s + 0 }'
}
at_least() { [ "$(counter "$2" "${3:-}")" -ge "$1" ]; }
if wait_for 300 at_least 1 smbgate_credential_rotations_total; then
  ok "live: the rotation is picked up (smbgate_credential_rotations_total)"
else
  fail "live: the rotation is not picked up"
fi
deploy/local-smbd.sh restart "$work/smbd" >/dev/null 2>&1
if wait_for 300 at_least 2 smbgate_auth_attempts_total STATUS_LOGON_FAILURE; then
  ok "live: reconnects with the wrong password fail (STATUS_LOGON_FAILURE)"
else
  fail "live: no failed reconnect with the wrong password"
fi
if alert=$("$PY" "$here/live_query.py" wait-alert "$prom" SmbgateCredentialsRotationFailing 60); then
  ok "live: SmbgateCredentialsRotationFailing: $alert"
else
  fail "live: SmbgateCredentialsRotationFailing did not go pending after the rotation to a wrong password"
fi
# Back to the right password: the next reconnect (backoff up to 30 s) succeeds.
rotate "$good_password"
if wait_for 900 "at_least 1 smbgate_reconnects_total && curl -sf http://127.0.0.1:$mport/readyz >/dev/null"; then
  ok "live: rotated back: reconnected without a remount ($(curl -sf "$metrics" | grep '^smbgate_reconnects_total' | paste -sd' ' -))"
else
  fail "live: no reconnect after the rotation back"
  grep -E 'reconnect|rotated|authentication' "$work/smbgate.log" | tail -5
fi
cmp -s "$work/blob" "$work/mnt/blob" && echo again >"$work/mnt/dir/c.txt" &&
  ok "live: the mount works after the reconnect" || fail "live: the mount after the reconnect"

curl -sf "$metrics" >"$work/live-metrics.txt"
if promtool check metrics <"$work/live-metrics.txt" >"$work/metrics.log" 2>&1; then
  ok "live: promtool check metrics on smbgate's /metrics ($(grep -c '^# TYPE' "$work/live-metrics.txt") families)"
else
  fail "live: promtool check metrics on smbgate's /metrics"
  head -20 "$work/metrics.log"
fi
for fam in $(grep '^# TYPE' "$here/metrics_sample.txt" | awk '{print $3}'); do
  grep -q "^# TYPE $fam " "$work/live-metrics.txt" || missing_families="${missing_families:-} $fam"
done
[ -z "${missing_families:-}" ] && ok "live: smbgate exports every family of metrics_sample.txt" ||
  fail "live: smbgate does not export:${missing_families}"

# A few evaluations after the last events, then every recording rule and dashboard query.
sleep 3
echo "live queries (Prometheus at $prom, job smbgate; the dashboard's \$namespace and \$pod as All):"
run_counted "live_query.py" "$PY" "$here/live_query.py" queries "$prom" smbgate 90
finish
