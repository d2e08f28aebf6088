# Shared by the shell test suites (tests/{chart,pod,container,monitoring}/run.sh): the
# ok/FAIL counters, bounded waits, and installing what a suite needs. Source it from the
# repository root; each suite prints its own `NAME: N passed, M failed` closing line.

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   - $*"; }
fail() { failed=$((failed + 1)); echo "FAIL - $*"; }
# check NAME COMMAND: ok or FAIL on COMMAND's exit status (COMMAND is eval'd).
check() { if eval "$2"; then ok "$1"; else fail "$1"; fi; }
# wait_for N COMMAND...: up to N tenths of a second for COMMAND to succeed.
wait_for() {
  local n=$1
  shift
  for _ in $(seq "$n"); do eval "$*" && return 0; sleep 0.1; done
  return 1
}

as_root() { [ "$(id -u)" = 0 ]; }
# apt_install LOG PKG...: a quiet apt-get install from Debian's archive (after an update if
# the first try fails), its output kept in LOG and shown when it fails. Needs root.
apt_install() {
  local log=$1
  shift
  if ! as_root; then
    echo "missing $* (run as root, or: sudo apt-get install $*)" >&2
    return 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >"$log" 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >"$log" 2>&1; } ||
    { cat "$log" >&2; return 1; }
}
# python_with_yaml LOG: prints a Python interpreter with PyYAML (the one on PATH, else
# Debian's python3-yaml, installed if missing); prints nothing if there is none.
python_with_yaml() {
  local p
  for p in python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import yaml' 2>/dev/null; then
      # The interpreter itself, not a wrapper such as a pyenv shim (slow to start).
      "$p" -c 'import sys; print(sys.executable)'
      return 0
    fi
  done
  apt_install "$1" python3 python3-yaml && /usr/bin/python3 -c 'import yaml' 2>/dev/null && echo /usr/bin/python3
}
