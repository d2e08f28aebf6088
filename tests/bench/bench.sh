#!/bin/bash
# Benchmark (not a timed test): smbgate's mount against its peer, rclone mount
# (smb backend, --vfs-cache-mode writes), with smbclient and the local disk as
# references, all on one throwaway smbd, in one run. Run as root:
#   tests/bench/bench.sh [BUILD_DIR]
# Environment:
#   BENCH_RUNS (default 3)        runs of each workload; the median is printed
#   BENCH_SIZE_MIB (default 256)  size of the sequential file
#   BENCH_UPLOAD_TIMEOUT (default 180)  seconds to wait for what was written
#                                 through rclone to reach the server
#   TMPDIR (default /tmp)         where the share, the mounts and the local
#                                 reference go
# A quick check: BENCH_RUNS=1 BENCH_SIZE_MIB=32 tests/bench/bench.sh build
#
# Workloads: sequential write + fsync (1 MiB and 4 KiB writes) and cold
# sequential read (caches dropped,
# fresh mounts); ls -l of 5000 entries and stat of them right after; 1000 x
# 4 KiB creates from one process; untar of a ~600-file tree; rm -rf of both.
# Then the sequential figures through a sealed mount (SMB3 encryption) against
# smbclient asked to encrypt, and smbgate's SMB requests per file (from its
# /metrics) for the creates, the untar and the rm -rf.
set -euo pipefail
export LC_ALL=C # EPOCHREALTIME and awk with a decimal point
cd "$(dirname "$0")/../.."
build=${1:-build}
runs=${BENCH_RUNS:-3}
size_mib=${BENCH_SIZE_MIB:-256}
upload_timeout=${BENCH_UPLOAD_TIMEOUT:-180}
for v in "$runs" "$size_mib" "$upload_timeout"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "bench: BENCH_RUNS, BENCH_SIZE_MIB and BENCH_UPLOAD_TIMEOUT take positive integers" >&2; exit 2; }
done
[ -x "$build/smbgate" ] || { echo "bench: $build/smbgate not found (build first)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "bench: needs root (smbd, FUSE, drop_caches)" >&2; exit 1; }
command -v smbclient >/dev/null || { echo "bench: smbclient missing (deploy/install-deps.sh)" >&2; exit 1; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/smbgate-bench.XXXXXX")
gmnt="$dir/mnt"    # smbgate
rmnt="$dir/rmnt"   # rclone
loc="$dir/local"   # the local disk: the file system that holds the share
rpid=""
cleanup() {
  local m
  for m in "$gmnt" "$rmnt"; do
    if mountpoint -q "$m" 2>/dev/null; then
      fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null || true
    fi
  done
  if [ -n "$rpid" ]; then
    kill "$rpid" 2>/dev/null || true
    wait "$rpid" 2>/dev/null || true
  fi
  deploy/local-smbd.sh stop "$dir" || true
  # Never rm -rf through a mount that is still there.
  if mountpoint -q "$gmnt" 2>/dev/null || mountpoint -q "$rmnt" 2>/dev/null; then
    echo "bench: a mount under $dir is still there; $dir left in place" >&2
  else
    rm -rf "$dir"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
die() { echo "bench: $*" >&2; exit 1; }
note() { echo "bench: $*" >&2; }

# The binary is copied: a rebuild of BUILD_DIR during the run changes nothing.
gbin="$dir/smbgate"
cp "$build/smbgate" "$gbin"

can_drop=1
if ! (sync; echo 3 >/proc/sys/vm/drop_caches) 2>/dev/null; then
  can_drop=0
  note "cannot write /proc/sys/vm/drop_caches: the 'cold' figures are warm"
fi
drop_caches() {
  sync
  if [ "$can_drop" = 1 ]; then echo 3 >/proc/sys/vm/drop_caches; fi
}

# rclone: installed if missing; its column is skipped if that fails.
rclone_ok=1
if ! command -v rclone >/dev/null; then
  note "rclone is not installed; installing the Debian package (apt-get install -y rclone)"
  apt_install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q rclone >>"$dir/apt.log" 2>&1; }
  if ! apt_install && ! { DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$dir/apt.log" 2>&1 && apt_install; }; then
    note "rclone could not be installed ($(tail -n 1 "$dir/apt.log")): the rclone column is skipped"
    rclone_ok=0
  fi
fi
if [ "$rclone_ok" = 1 ] && ! rclone help backend smb >/dev/null 2>&1; then
  note "this rclone ($(rclone version 2>/dev/null | head -n 1)) has no smb backend (1.60 or later): the rclone column is skipped"
  rclone_ok=0
fi

deploy/local-smbd.sh start "$dir"
port=$(cat "$dir/port")
share="//127.0.0.1:$port/demo"
mkdir -p "$gmnt" "$rmnt" "$loc/l" "$dir/share/g" "$dir/share/r"

if [ "$rclone_ok" = 1 ]; then
  # The password reaches rclone through stdin and a 0600 file, never argv.
  obscured=$(rclone obscure --config /dev/null - <"$dir/secret/password")
  (
    umask 077
    cat >"$dir/rclone.conf" <<CONF
[bench]
type = smb
host = 127.0.0.1
port = $port
user = $(cat "$dir/secret/username")
pass = $obscured
domain = $(cat "$dir/secret/domain")
CONF
  )
  unset obscured
  if ! rclone --config "$dir/rclone.conf" lsf bench:demo --max-depth 1 >/dev/null 2>"$dir/rclone-check.log"; then
    note "rclone cannot list the share ($(tail -n 1 "$dir/rclone-check.log")): the rclone column is skipped"
    rclone_ok=0
  fi
fi

secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
declare -A res timed_out
any_timeout=0
record() { res[$1|$2]+="$3 "; } # workload column seconds
notes=()

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
mport=""
g_mount() { # [extra -o options]
  mport=$(free_port)
  "$gbin" mount "$share" "$gmnt" --credentials "$dir/secret" -o "log_level=warn,metrics=127.0.0.1:$mport${1:+,$1}"
}
g_umount() {
  fusermount3 -u "$gmnt"
  # The daemon closes its metrics port as it exits: wait, so that the next
  # mount starts cold and alone.
  local i
  for i in $(seq 100); do
    if ! port_open "$mport"; then return 0; fi
    sleep 0.1
  done
  note "smbgate still serving metrics 10 s after its unmount"
}
r_mount() {
  # A fresh VFS cache each time: reads are cold and nothing is left to upload.
  rm -rf "$dir/rclone-cache"
  rclone mount bench:demo "$rmnt" --config "$dir/rclone.conf" --vfs-cache-mode writes \
    --cache-dir "$dir/rclone-cache" --log-file "$dir/rclone.log" </dev/null >/dev/null 2>&1 &
  rpid=$!
  local i
  for i in $(seq 100); do
    if mountpoint -q "$rmnt"; then return 0; fi
    kill -0 "$rpid" 2>/dev/null || break
    sleep 0.1
  done
  tail -n 5 "$dir/rclone.log" >&2 || true
  die "rclone mount failed"
}
r_umount() {
  fusermount3 -u "$rmnt"
  local i
  for i in $(seq 100); do
    kill -0 "$rpid" 2>/dev/null || break
    sleep 0.1
  done
  kill "$rpid" 2>/dev/null || true
  wait "$rpid" 2>/dev/null || true
  rpid=""
}
remount() { # column [smbgate -o options]
  case $1 in
    smbgate)
      if mountpoint -q "$gmnt"; then g_umount; fi
      g_mount "${2:-}"
      ;;
    rclone)
      if [ -n "$rpid" ]; then r_umount; fi
      r_mount
      ;;
  esac
}
unmount() { # column
  case $1 in
    smbgate) if mountpoint -q "$gmnt"; then g_umount; fi ;;
    rclone) if [ -n "$rpid" ]; then r_umount; fi ;;
  esac
}

smbc() { smbclient "//127.0.0.1/demo" -p "$port" -A "$dir/auth.txt" -m SMB3 -q -c "$1" >/dev/null 2>&1; }
smbce() { smbclient "//127.0.0.1/demo" -p "$port" -A "$dir/auth.txt" -m SMB3 --client-protection=encrypt -q -c "$1" >/dev/null 2>&1; }

# wait_until T0 CHECK...: sets $waited to the seconds from T0 until CHECK
# first holds, polled every 0.1 s. The time is read before each check, so a
# slow check (sha256 of the whole file) is not charged. Fails after
# $upload_timeout s. Not run in $(...): the shell then handles a signal at
# once, not after the whole wait.
waited=""
wait_until() {
  local t0=$1 t
  shift
  while :; do
    t=$EPOCHREALTIME
    if "$@"; then
      waited=$(secs "$t0" "$t")
      return 0
    fi
    if ((${t%.*} - ${t0%.*} >= upload_timeout)); then return 1; fi
    sleep 0.1
  done
}
file_ok() { [ "$(stat -c %s "$1" 2>/dev/null)" = "$size_bytes" ] && [ "$(sha256sum <"$1" | cut -d' ' -f1)" = "$want" ]; }
smalls_ok() { [ "$(find "$1" -type f -size 4096c 2>/dev/null | wc -l)" = 1000 ]; }
tree_ok() { diff -r "$dir/tree" "$1/tree" >/dev/null 2>&1; }
gone() { [ ! -e "$1" ] && [ ! -e "$2" ]; }
# on_server WORKLOAD COLUMN T0 CHECK...: records the time until the server
# holds the result; a wrong result is fatal for smbgate, a timeout is noted
# for rclone (which uploads after close).
on_server() {
  local key=$1 col=$2 t0=$3
  shift 3
  if wait_until "$t0" "$@"; then
    record "$key" "$col" "$waited"
    return 0
  fi
  [ "$col" = rclone ] || die "$col: $key: wrong result on the server ($*)"
  record "$key" "$col" "$upload_timeout"
  timed_out[$key|$col]=1
  any_timeout=1
  notes+=("rclone, run $run: $key: not complete on the server after ${upload_timeout} s")
}

# smbgate's SMB requests by command and status, from its /metrics.
scrape() { curl -sf "http://127.0.0.1:$mport/metrics" | grep '^smbgate_smb_requests_total{' || true; }
# The kernel sends FUSE RELEASE after close(2) has returned: wait until the
# counters stop moving, so that a step's last CLOSEs are counted in it.
scrape_settled() {
  local a b
  b=$(scrape)
  for _ in $(seq 30); do
    a=$b
    sleep 0.2
    b=$(scrape)
    [ "$a" != "$b" ] || break
  done
  printf '%s\n' "$b" >"$1"
}
# req_add STEP BEFORE AFTER ENTRIES: appends the step's deltas ("command status
# count"), the ECHO keepalives left out, and counts its entries.
declare -A req_entries
req_add() {
  awk 'function lab(s, k) {
         if (!match(s, k "=\"[^\"]*\"")) return "?"
         return substr(s, RSTART + length(k) + 2, RLENGTH - length(k) - 3)
       }
       { key = lab($0, "command") " " lab($0, "status") }
       FNR == NR { before[key] = $NF; next }
       { d = $NF - before[key]; if (d > 0 && key !~ /^ECHO /) print key, d }' "$2" "$3" >>"$dir/req.$1"
  req_entries[$1]=$((${req_entries[$1]:-0} + $4))
}
# per_entry STEP: "2.00 CREATE (1.00 STATUS_OBJECT_NAME_NOT_FOUND), 1.00 CLOSE, ..."
per_entry() {
  [ -s "$dir/req.$1" ] || { echo "(no requests counted)"; return 0; }
  awk -v n="${req_entries[$1]}" '
    { tot[$1] += $3; if ($2 != "STATUS_SUCCESS") st[$1 SUBSEP $2] += $3 }
    END {
      for (c in tot) {
        s = sprintf("%.2f %s", tot[c] / n, c); extra = ""
        for (k in st) {
          split(k, p, SUBSEP)
          if (p[1] == c) extra = extra (extra == "" ? "" : ", ") sprintf("%.2f %s", st[k] / n, p[2])
        }
        if (extra != "") s = s " (" extra ")"
        printf "%012.4f\t%s\n", tot[c] / n, s
      }
    }' "$dir/req.$1" | sort -r | cut -f2 | paste -sd';' | sed 's/;/, /g'
}

# The data.
size_bytes=$((size_mib << 20))
head -c "$size_bytes" /dev/urandom >"$dir/src.bin"
want=$(sha256sum <"$dir/src.bin" | cut -d' ' -f1)
# What every column reads back, placed on the server directly.
cp "$dir/src.bin" "$dir/share/ref.bin"
ln "$dir/share/ref.bin" "$loc/ref.bin"
mkdir -p "$dir/share/many" "$loc/many"
for i in $(seq 5000); do
  : >"$dir/share/many/e$i"
  : >"$loc/many/e$i"
done
# A source-like tree of ~600 files.
mkdir -p "$dir/tree"
for d in $(seq 30); do
  mkdir -p "$dir/tree/d$d"
  for f in $(seq 20); do head -c $(((d * 37 + f * 101) % 8192 + 100)) /dev/urandom >"$dir/tree/d$d/f$f.c"; done
done
tar -C "$dir" -cf "$dir/tree.tar" tree
tree_entries=$(tar -tf "$dir/tree.tar" | wc -l)
small=$(head -c 3072 /dev/urandom | base64 -w0 | head -c 4096)

# timed_write KEY COLUMN WORK SERVER_TOP SERVER_DIR BS NAME: src.bin copied to
# WORK/NAME in BS writes + fsync on a fresh mount; then (SERVER_TOP set) the
# time until the server holds it, as KEY_srv.
timed_write() {
  local key=$1 col=$2 work=$3 srvtop=$4 srv=$5 bs=$6 name=$7 t0 t1
  remount "$col"
  drop_caches
  t0=$EPOCHREALTIME
  dd if="$dir/src.bin" of="$work/$name" bs="$bs" conv=fsync status=none
  t1=$EPOCHREALTIME
  # The server is checked first, so that nothing but the check is charged.
  if [ -n "$srvtop" ]; then on_server "${key}_srv" "$col" "$t0" file_ok "$srv/$name"; fi
  record "$key" "$col" "$(secs "$t0" "$t1")"
}

# bench_fs COLUMN TOP SERVER_TOP: the file-system workloads through one mount
# (or on the local disk, SERVER_TOP empty). Each works in TOP/SUB, its own
# directory; the shared inputs (ref.bin, many/) are at TOP.
bench_fs() {
  local col=$1 top=$2 srvtop=$3 sub work srv t0 t1 got n
  case $col in smbgate) sub=g ;; rclone) sub=r ;; *) sub=l ;; esac
  work="$top/$sub"
  srv="$srvtop/$sub"

  # Sequential write + fsync, in 1 MiB writes and then in 4 KiB writes (a
  # logger, a database, an archiver: a round trip each, unless the client
  # gathers them). smbgate: fsync returns once the data is on the server;
  # rclone: once it is in its local cache.
  timed_write write "$col" "$work" "$srvtop" "$srv" 1M seq.bin
  timed_write write4k "$col" "$work" "$srvtop" "$srv" 4k small.bin
  rm -f "$work/small.bin"

  # Sequential read, cold: a fresh mount, caches dropped, a file the client
  # has never seen. sha256sum is charged to every column alike.
  remount "$col"
  rm -f "$work/seq.bin"
  drop_caches
  t0=$EPOCHREALTIME
  got=$(sha256sum <"$top/ref.bin" | cut -d' ' -f1)
  t1=$EPOCHREALTIME
  [ "$got" = "$want" ] || die "$col: read returned wrong data"
  record read "$col" "$(secs "$t0" "$t1")"

  # ls -l of 5000 entries on a fresh mount, then stat of each right after.
  for i in $(seq 5000); do printf '%s/many/e%d\0' "$top" "$i"; done >"$dir/stat.list"
  remount "$col"
  drop_caches
  t0=$EPOCHREALTIME
  # shellcheck disable=SC2012 # ls -l is the workload
  n=$(ls -l "$top/many" | wc -l)
  t1=$EPOCHREALTIME
  [ "$n" = 5001 ] || die "$col: ls -l printed $n lines, not 5001"
  record ls "$col" "$(secs "$t0" "$t1")"
  t0=$EPOCHREALTIME
  xargs -0 stat <"$dir/stat.list" >/dev/null
  t1=$EPOCHREALTIME
  record stat "$col" "$(secs "$t0" "$t1")"

  # 1000 creates of 4 KiB from this one process (builtins only).
  mkdir "$work/m$run" "$work/u$run"
  if [ "$col" = smbgate ]; then scrape_settled "$dir/m.before"; fi
  t0=$EPOCHREALTIME
  for ((i = 1; i <= 1000; i++)); do printf '%s' "$small" >"$work/m$run/f$i"; done
  t1=$EPOCHREALTIME
  if [ -n "$srvtop" ]; then on_server create_srv "$col" "$t0" smalls_ok "$srv/m$run"; fi
  record create "$col" "$(secs "$t0" "$t1")"
  if [ "$col" = smbgate ]; then
    scrape_settled "$dir/m.after"
    req_add create "$dir/m.before" "$dir/m.after" 1000
  fi

  # Untar, then syncfs: the data written back (the local disk's too).
  if [ "$col" = smbgate ]; then scrape_settled "$dir/m.before"; fi
  t0=$EPOCHREALTIME
  tar -C "$work/u$run" -xf "$dir/tree.tar"
  sync -f "$work/u$run"
  t1=$EPOCHREALTIME
  if [ -n "$srvtop" ]; then on_server untar_srv "$col" "$t0" tree_ok "$srv/u$run"; fi
  record untar "$col" "$(secs "$t0" "$t1")"
  if [ "$col" = smbgate ]; then
    scrape_settled "$dir/m.after"
    req_add untar "$dir/m.before" "$dir/m.after" "$tree_entries"
  fi

  # rm -rf of the tree and the 1000 files (and their two directories).
  if [ "$col" = smbgate ]; then scrape_settled "$dir/m.before"; fi
  t0=$EPOCHREALTIME
  rm -rf "$work/m$run" "$work/u$run"
  t1=$EPOCHREALTIME
  record rm "$col" "$(secs "$t0" "$t1")"
  if [ "$col" = smbgate ]; then
    scrape_settled "$dir/m.after"
    req_add rm "$dir/m.before" "$dir/m.after" $((tree_entries + 1002))
  fi
  if [ -n "$srvtop" ] && ! wait_until "$t0" gone "$srv/m$run" "$srv/u$run"; then
    notes+=("$col, run $run: rm -rf: still on the server after ${upload_timeout} s")
  fi
  unmount "$col"
}

bench_smbclient() {
  local t0 t1 got
  drop_caches
  t0=$EPOCHREALTIME
  smbc "put $dir/src.bin seq-smbclient.bin" || die "smbclient put failed"
  t1=$EPOCHREALTIME
  file_ok "$dir/share/seq-smbclient.bin" || die "smbclient: put corrupted data"
  record write smbclient "$(secs "$t0" "$t1")"
  record write_srv smbclient "$(secs "$t0" "$t1")"
  rm -f "$dir/share/seq-smbclient.bin" "$dir/back.bin"
  drop_caches
  t0=$EPOCHREALTIME
  smbc "get ref.bin $dir/back.bin" || die "smbclient get failed"
  got=$(sha256sum <"$dir/back.bin" | cut -d' ' -f1)
  t1=$EPOCHREALTIME
  [ "$got" = "$want" ] || die "smbclient: get returned wrong data"
  record read smbclient "$(secs "$t0" "$t1")"
  rm -f "$dir/back.bin"

  # The metadata workloads as smbclient does them, one process and one
  # session, for the server's share of the time: a listing of the 5000
  # entries (ls -l), 1000 puts of 4 KiB (create) and deleting them (rm).
  t0=$EPOCHREALTIME
  smbc "ls many/*" || die "smbclient ls failed"
  t1=$EPOCHREALTIME
  record ls smbclient "$(secs "$t0" "$t1")"
  mkdir -p "$dir/smalls"
  for ((i = 1; i <= 1000; i++)); do printf '%s' "$small" >"$dir/smalls/f$i"; done
  mkdir -p "$dir/share/c-smbclient"
  t0=$EPOCHREALTIME
  smbc "prompt off; lcd $dir/smalls; cd c-smbclient; mput *" || die "smbclient mput failed"
  t1=$EPOCHREALTIME
  [ "$(find "$dir/share/c-smbclient" -type f | wc -l)" = 1000 ] || die "smbclient: mput did not put 1000 files"
  record create smbclient "$(secs "$t0" "$t1")"
  record create_srv smbclient "$(secs "$t0" "$t1")"
  t0=$EPOCHREALTIME
  smbc "cd c-smbclient; del *" || die "smbclient del failed"
  t1=$EPOCHREALTIME
  [ -z "$(ls -A "$dir/share/c-smbclient")" ] || die "smbclient: del left files"
  record rm smbclient "$(secs "$t0" "$t1")"
  rm -rf "$dir/smalls" "$dir/share/c-smbclient"
  # The tree through smbclient's own tar extraction (-Tx): a create, writes
  # and a close per file, times set, one session.
  mkdir -p "$dir/share/u-smbclient"
  t0=$EPOCHREALTIME
  smbclient "//127.0.0.1/demo" -p "$port" -A "$dir/auth.txt" -m SMB3 -q -D u-smbclient -Tx "$dir/tree.tar" \
    >/dev/null 2>&1 || die "smbclient -Tx failed"
  t1=$EPOCHREALTIME
  [ "$(find "$dir/share/u-smbclient" -mindepth 1 | wc -l)" = "$tree_entries" ] || die "smbclient: -Tx did not extract $tree_entries entries"
  record untar smbclient "$(secs "$t0" "$t1")"
  record untar_srv smbclient "$(secs "$t0" "$t1")"
  rm -rf "$dir/share/u-smbclient"
}

# The same sequential figures through a sealed mount (-o seal: SMB3
# encryption, the cipher the server picks, AES-128-GCM with Samba 4.17)
# against smbclient asked to encrypt.
bench_sealed() {
  local t0 t1 got
  remount smbgate seal
  drop_caches
  t0=$EPOCHREALTIME
  dd if="$dir/src.bin" of="$gmnt/g/sealed.bin" bs=1M conv=fsync status=none
  t1=$EPOCHREALTIME
  file_ok "$dir/share/g/sealed.bin" || die "sealed write corrupted data"
  record sealed_write smbgate "$(secs "$t0" "$t1")"
  remount smbgate seal
  rm -f "$dir/share/g/sealed.bin"
  drop_caches
  t0=$EPOCHREALTIME
  got=$(sha256sum <"$gmnt/ref.bin" | cut -d' ' -f1)
  t1=$EPOCHREALTIME
  [ "$got" = "$want" ] || die "sealed read returned wrong data"
  record sealed_read smbgate "$(secs "$t0" "$t1")"
  unmount smbgate

  drop_caches
  t0=$EPOCHREALTIME
  smbce "put $dir/src.bin sealed-smbclient.bin" || die "smbclient --client-protection=encrypt put failed"
  t1=$EPOCHREALTIME
  file_ok "$dir/share/sealed-smbclient.bin" || die "smbclient: sealed put corrupted data"
  record sealed_write smbclient "$(secs "$t0" "$t1")"
  rm -f "$dir/share/sealed-smbclient.bin" "$dir/back.bin"
  drop_caches
  t0=$EPOCHREALTIME
  smbce "get ref.bin $dir/back.bin" || die "smbclient --client-protection=encrypt get failed"
  got=$(sha256sum <"$dir/back.bin" | cut -d' ' -f1)
  t1=$EPOCHREALTIME
  [ "$got" = "$want" ] || die "smbclient: sealed get returned wrong data"
  record sealed_read smbclient "$(secs "$t0" "$t1")"
  rm -f "$dir/back.bin"
}

for run in $(seq "$runs"); do
  note "run $run/$runs: smbgate"
  bench_fs smbgate "$gmnt" "$dir/share"
  if [ "$rclone_ok" = 1 ]; then
    note "run $run/$runs: rclone"
    bench_fs rclone "$rmnt" "$dir/share"
  fi
  note "run $run/$runs: smbclient, local disk, sealed"
  bench_smbclient
  bench_fs local "$loc" ""
  bench_sealed
done

# The table: medians of the runs.
median() {
  tr ' ' '\n' <<<"$1" | awk 'NF' | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0) exit; if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
cell() { # key column unit(mibs|s)
  local m
  m=$(median "${res[$1|$2]:-}")
  if [ -z "$m" ]; then printf '%s' "-"; return 0; fi
  if [ "$3" = mibs ]; then awk -v s="$size_mib" -v t="$m" 'BEGIN { printf "%.1f MiB/s", s / t }'; else awk -v t="$m" 'BEGIN { printf "%.2f s", t }'; fi
  if [ -n "${timed_out[$1|$2]:-}" ]; then printf '*'; fi
}
ratio() { # key: rclone's time over smbgate's
  local g r
  g=$(median "${res[$1|smbgate]:-}")
  r=$(median "${res[$1|rclone]:-}")
  if [ -z "$g" ] || [ -z "$r" ]; then printf '%s' "-"; return 0; fi
  awk -v g="$g" -v r="$r" 'BEGIN { if (g > 0) printf "%.2fx", r / g; else printf "-" }'
}
row() { # label key unit
  printf '%-40s %14s %14s %14s %14s %9s\n' "$1" "$(cell "$2" smbgate "$3")" "$(cell "$2" rclone "$3")" \
    "$(cell "$2" smbclient "$3")" "$(cell "$2" local "$3")" "$(ratio "$2")"
}
echo
echo "smbgate benchmark: median of $runs run(s), Samba $(smbd --version | sed 's/^Version //'), rclone $(if [ "$rclone_ok" = 1 ]; then rclone version | head -n 1 | sed 's/^rclone //'; else echo "skipped"; fi), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-40s %14s %14s %14s %14s %9s\n' "workload" "smbgate" "rclone" "smbclient" "local" "sg/rclone"
row "write $size_mib MiB + fsync" write mibs
row "  the same, until complete on the server" write_srv mibs
row "write $size_mib MiB in 4 KiB writes + fsync" write4k mibs
row "  the same, until complete on the server" write4k_srv mibs
row "read $size_mib MiB, cold" read mibs
row "ls -l of 5000 entries, cold" ls s
row "stat of those 5000, right after" stat s
row "create 1000 x 4 KiB, one process" create s
row "  the same, until complete on the server" create_srv s
row "untar of $tree_entries entries + syncfs" untar s
row "  the same, until complete on the server" untar_srv s
row "rm -rf of the tree and the 1000 files" rm s
echo "smbclient's ls, create, untar and rm rows: 'ls many/*', 'mput' of the 1000 files, '-Tx' of the"
echo "tar and 'del *' of the 1000 files, one session each: the server's share of those workloads"
echo "(its rm row has 1000 files, not the tree)."
echo "sg/rclone: rclone's time divided by smbgate's (above 1: smbgate is faster)."
if [ "$rclone_ok" = 1 ]; then
  echo "rclone (--vfs-cache-mode writes): close() and fsync() only fill its local cache; it"
  echo "uploads a file --vfs-write-back (5 s by default) after its last close. The 'until complete"
  echo "on the server' rows time from the start of the workload until the share directory holds"
  echo "all of the data (size and sha256, or every file, polled every 0.1 s): only those compare"
  echo "with smbgate, whose fsync, syncfs or close returns once the server has the data."
  rclone_errors=$(grep -c ' ERROR ' "$dir/rclone.log" 2>/dev/null || true)
  if [ "${rclone_errors:-0}" -gt 0 ]; then
    echo "They include rclone's upload retries (10 s, then 20 s, ... later) after the errors below."
  fi
fi
if [ "$any_timeout" = 1 ]; then echo "*: at least one run timed out; counted as $upload_timeout s."; fi
echo
printf '%-40s %14s %14s\n' "sealed (SMB3 encryption)" "smbgate" "smbclient"
for k in sealed_write sealed_read; do
  printf '%-40s %14s %14s\n' "${k#sealed_} $size_mib MiB$([ "$k" = sealed_write ] && echo " + fsync" || echo ", cold")" \
    "$(cell "$k" smbgate mibs)" "$(cell "$k" smbclient mibs)"
done
echo
echo "smbgate SMB requests per entry (mean of $runs run(s); ECHO keepalives left out):"
printf '  %-34s %s\n' "create of a 4 KiB file:" "$(per_entry create)"
printf '  %-34s %s\n' "untar, per entry ($tree_entries):" "$(per_entry untar)"
printf '  %-34s %s\n' "rm -rf, per entry ($((tree_entries + 1002))):" "$(per_entry rm)"
if [ "${rclone_errors:-0}" -gt 0 ]; then
  echo
  echo "rclone logged $rclone_errors ERROR lines (file names and retry counts folded):"
  sed -n 's/.* ERROR : [^:]*: //p' "$dir/rclone.log" |
    sed -E 's/ (write|read|open|remove|rename|mkdir|stat) [^:]*:/ \1 FILE:/g; s/try #[0-9]+, will retry in [0-9.a-z]+/try #N, will retry/' |
    sort | uniq -c | sort -rn | head -n 4
fi
for n in ${notes[@]+"${notes[@]}"}; do echo "note: $n"; done
echo "bench: done"
