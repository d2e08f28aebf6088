#!/bin/bash
# Memory benchmark (not a timed test): smbgate's resident memory while a
# big directory is listed through it, and after the kernel forgets the
# inodes. The issue's target is a 1,000,000-entry directory listed twice
# with RSS under 128 MiB, back under 32 MiB after drop_caches. Run as root:
#   tests/bench/bigdir.sh [BUILD_DIR]
# Environment:
#   BIGDIR_ENTRIES (default 1000000)  files in the directory (empty files,
#                                     created on the local disk behind the share)
#   TMPDIR (default /tmp)             where the share and the mount point go
# Prints, for `ls -l` (twice) and `find` through the mount: the time, the
# local disk's time for the same command (the reference ratio), smbgate's
# VmRSS and VmHWM (peak) after each; then VmRSS after drop_caches, and the
# time smbclient takes to list the directory (the server's share).
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/../.."
build=${1:-build}
entries=${BIGDIR_ENTRIES:-1000000}
[[ $entries =~ ^[1-9][0-9]*$ ]] || { echo "bigdir: BIGDIR_ENTRIES takes a positive integer" >&2; exit 2; }
[ -x "$build/smbgate" ] || { echo "bigdir: $build/smbgate not found (build first)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "bigdir: needs root (smbd, FUSE, drop_caches)" >&2; exit 1; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/smbgate-bigdir.XXXXXX")
mnt="$dir/mnt"
pid=""
cleanup() {
  if mountpoint -q "$mnt" 2>/dev/null; then fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" || true; fi
  if [ -n "$pid" ]; then wait "$pid" 2>/dev/null || true; fi
  deploy/local-smbd.sh stop "$dir" || true
  if mountpoint -q "$mnt" 2>/dev/null; then
    echo "bigdir: $mnt is still mounted; $dir left in place" >&2
  else
    rm -rf "$dir"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

deploy/local-smbd.sh start "$dir" >/dev/null
port=$(cat "$dir/port")
big="$dir/share/big"
echo "bigdir: creating $entries files on the local disk"
/usr/bin/python3 - "$big" "$entries" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(d)
for i in range(n):
    os.close(os.open(f"{d}/file-{i:07d}.dat", os.O_CREAT | os.O_WRONLY, 0o644))
PY

mkdir -p "$mnt"
"$build/smbgate" mount "//127.0.0.1:$port/demo" "$mnt" --credentials "$dir/secret" --foreground \
  >"$dir/smbgate.log" 2>&1 &
pid=$!
for _ in $(seq 100); do mountpoint -q "$mnt" && break; sleep 0.1; done
mountpoint -q "$mnt" || { echo "bigdir: the mount did not come up:" >&2; tail -5 "$dir/smbgate.log" >&2; exit 1; }

mib() { awk -v k="$1" '$1 == k":" { printf "%.1f", $2 / 1024 }' "/proc/$pid/status"; }
timed() { # seconds taken by "$@" (output counted, not kept)
  local t0=$EPOCHREALTIME
  "$@" | wc -l >/dev/null
  awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'
}
drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }

printf '%-22s %9s %9s %7s %10s %10s\n' step smbgate local ratio "RSS MiB" "peak MiB"
printf '%-22s %9s %9s %7s %10s %10s\n' idle - - - "$(mib VmRSS)" "$(mib VmHWM)"
row() { # name, command, its argument on the mount, the same on the local disk
  local name=$1 cmd=$2 g l
  drop
  l=$(timed "$cmd" "$4")
  drop
  g=$(timed "$cmd" "$3")
  printf '%-22s %9s %9s %7s %10s %10s\n' "$name" "$g" "$l" "$(awk -v a="$g" -v b="$l" 'BEGIN { printf "%.1fx", a / b }')" \
    "$(mib VmRSS)" "$(mib VmHWM)"
}
lsl() { ls -l "$1"; }
row "ls -l #1" lsl "$mnt/big" "$big"
row "ls -l #2" lsl "$mnt/big" "$big"
row "find" find "$mnt/big" "$big"
drop
sleep 3
printf '%-22s %9s %9s %7s %10s %10s\n' "after drop_caches" - - - "$(mib VmRSS)" "$(mib VmHWM)"
# The server's share: smbclient listing the same directory (names, sizes and times, as
# ls -l needs), one session.
drop
s=$(timed smbclient "//127.0.0.1/demo" -p "$port" -A "$dir/auth.txt" -m SMB3 -q -c 'ls big/*')
echo "smbclient 'ls big/*' (the server's listing): $s s"
echo "bigdir: target (issue 12): peak under 128 MiB, under 32 MiB after drop_caches, for 1,000,000 entries"
