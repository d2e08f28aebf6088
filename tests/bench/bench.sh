#!/bin/bash
# Benchmark (not a timed test): smbgate's mount against smbclient on the same
# throwaway smbd, in one run, printing figures and ratios. Run as root:
#   tests/bench/bench.sh [BUILD_DIR]
# Sequential 256 MiB write and read (mount vs smbclient), signed and then
# sealed (SMB3 encryption, vs smbclient --client-protection=encrypt), then metadata
# workloads through the mount: 1000 x 4 KiB creates, ls -l of 5000 entries,
# stat of 5000 files, untar of a ~600-file tree.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
bin="$build/smbgate"
[ -x "$bin" ] || { echo "bench: $bin not found (build first)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "bench: needs root (smbd and FUSE)" >&2; exit 1; }
command -v smbclient >/dev/null || { echo "bench: smbclient missing (deploy/install-deps.sh)" >&2; exit 1; }

dir=$(mktemp -d /tmp/smbgate-bench.XXXXXX)
mnt="$dir/mnt"
cleanup() {
  mountpoint -q "$mnt" 2>/dev/null && fusermount3 -u "$mnt" || true
  deploy/local-smbd.sh stop "$dir"
  rm -rf "$dir"
}
trap cleanup EXIT
deploy/local-smbd.sh start "$dir"
port=$(cat "$dir/port")
share="//127.0.0.1:$port/demo"
mkdir -p "$mnt"
"$bin" mount "$share" "$mnt" --credentials "$dir/secret" -o log_level=warn

now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l; }
mibs() { echo "scale=1; $1 / $2" | bc -l; }
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true; }
smbc() { smbclient "//127.0.0.1/demo" -p "$port" -A "$dir/auth.txt" -m SMB3 -q -c "$1" >/dev/null 2>&1; }

size_mib=256
head -c $((size_mib << 20)) /dev/urandom >"$dir/src.bin"
want=$(sha256sum "$dir/src.bin" | cut -d' ' -f1)

# Sequential write: the mount's figure includes fsync (data on the server).
drop_caches
t0=$(now); dd if="$dir/src.bin" of="$mnt/seq.bin" bs=1M conv=fsync status=none; t1=$(now)
w_mount=$(secs "$t0" "$t1")
t0=$(now); smbc "put $dir/src.bin seq-smbclient.bin"; t1=$(now)
w_ref=$(secs "$t0" "$t1")
[ "$(sha256sum "$dir/share/seq.bin" | cut -d' ' -f1)" = "$want" ] || { echo "bench: write through the mount corrupted data" >&2; exit 1; }

# Sequential read, cold: a fresh mount so no page is cached.
fusermount3 -u "$mnt"
drop_caches
"$bin" mount "$share" "$mnt" --credentials "$dir/secret" -o log_level=warn
t0=$(now); got=$(sha256sum "$mnt/seq.bin" | cut -d' ' -f1); t1=$(now)
r_mount=$(secs "$t0" "$t1")
[ "$got" = "$want" ] || { echo "bench: read through the mount returned wrong data" >&2; exit 1; }
t0=$(now); smbc "get seq-smbclient.bin $dir/back.bin"; t1=$(now)
r_ref=$(secs "$t0" "$t1")
# sha256sum costs time too; charge the reference the same.
t0=$(now); sha256sum "$dir/back.bin" >/dev/null; t1=$(now)
r_ref=$(echo "$r_ref + $(secs "$t0" "$t1")" | bc -l)

printf '%-32s %10s %10s %8s\n' "sequential $size_mib MiB" "smbgate" "smbclient" "ratio"
printf '%-32s %8s/s %8s/s %8s\n' "write (MiB/s)" "$(mibs $size_mib "$w_mount")" "$(mibs $size_mib "$w_ref")" \
  "$(echo "scale=2; $w_ref / $w_mount" | bc -l)x"
printf '%-32s %8s/s %8s/s %8s\n' "read (MiB/s)" "$(mibs $size_mib "$r_mount")" "$(mibs $size_mib "$r_ref")" \
  "$(echo "scale=2; $r_ref / $r_mount" | bc -l)x"

# The same through a sealed mount (-o seal: SMB3 encryption, the cipher the
# server picks, AES-128-GCM with Samba 4.17) against smbclient asked to
# encrypt.
smbce() { smbclient "//127.0.0.1/demo" -p "$port" -A "$dir/auth.txt" -m SMB3 --client-protection=encrypt -q -c "$1" >/dev/null 2>&1; }
fusermount3 -u "$mnt"
"$bin" mount "$share" "$mnt" --credentials "$dir/secret" -o log_level=warn,seal
drop_caches
t0=$(now); dd if="$dir/src.bin" of="$mnt/sealed.bin" bs=1M conv=fsync status=none; t1=$(now)
sw_mount=$(secs "$t0" "$t1")
t0=$(now); smbce "put $dir/src.bin sealed-smbclient.bin" || { echo "bench: smbclient --client-protection=encrypt failed" >&2; exit 1; }; t1=$(now)
sw_ref=$(secs "$t0" "$t1")
[ "$(sha256sum "$dir/share/sealed.bin" | cut -d' ' -f1)" = "$want" ] || { echo "bench: sealed write corrupted data" >&2; exit 1; }
fusermount3 -u "$mnt"
drop_caches
"$bin" mount "$share" "$mnt" --credentials "$dir/secret" -o log_level=warn,seal
t0=$(now); got=$(sha256sum "$mnt/sealed.bin" | cut -d' ' -f1); t1=$(now)
sr_mount=$(secs "$t0" "$t1")
[ "$got" = "$want" ] || { echo "bench: sealed read returned wrong data" >&2; exit 1; }
rm -f "$dir/back.bin"
t0=$(now); smbce "get sealed-smbclient.bin $dir/back.bin"; t1=$(now)
sr_ref=$(secs "$t0" "$t1")
t0=$(now); sha256sum "$dir/back.bin" >/dev/null; t1=$(now)
sr_ref=$(echo "$sr_ref + $(secs "$t0" "$t1")" | bc -l)
printf '%-32s %10s %10s %8s
' "sealed $size_mib MiB" "smbgate" "smbclient" "ratio"
printf '%-32s %8s/s %8s/s %8s
' "write (MiB/s)" "$(mibs $size_mib "$sw_mount")" "$(mibs $size_mib "$sw_ref")" \
  "$(echo "scale=2; $sw_ref / $sw_mount" | bc -l)x"
printf '%-32s %8s/s %8s/s %8s
' "read (MiB/s)" "$(mibs $size_mib "$sr_mount")" "$(mibs $size_mib "$sr_ref")" \
  "$(echo "scale=2; $sr_ref / $sr_mount" | bc -l)x"
fusermount3 -u "$mnt"
"$bin" mount "$share" "$mnt" --credentials "$dir/secret" -o log_level=warn

# Metadata workloads through the mount.
# Builtins only (no process per file), so the figures are the filesystem's.
mkdir "$mnt/small"
data=$(head -c 3072 /dev/urandom | base64 -w0 | head -c 4096)
t0=$(now); for i in $(seq 1000); do printf '%s' "$data" >"$mnt/small/f$i"; done; t1=$(now)
printf '%-32s %8.2f s\n' "create 1000 x 4 KiB" "$(secs "$t0" "$t1")"

mkdir -p "$dir/share/many"
for i in $(seq 5000); do : >"$dir/share/many/e$i"; done
t0=$(now); n=$(ls -l "$mnt/many" | wc -l); t1=$(now)
printf '%-32s %8.2f s (%s lines)\n' "ls -l of 5000 entries" "$(secs "$t0" "$t1")" "$n"
fusermount3 -u "$mnt"
"$bin" mount "$share" "$mnt" --credentials "$dir/secret" -o log_level=warn
# One stat process over 5000 names it has not listed: 5000 lookups.
t0=$(now); printf "$mnt/many/e%d\0" $(seq 5000) | xargs -0 stat >/dev/null; t1=$(now)
printf '%-32s %8.2f s\n' "stat of 5000 files (cold)" "$(secs "$t0" "$t1")"

# A source-like tree of ~600 files.
mkdir -p "$dir/tree"
for d in $(seq 30); do
  mkdir -p "$dir/tree/d$d"
  for f in $(seq 20); do head -c $(( (d * 37 + f * 101) % 8192 + 100 )) /dev/urandom >"$dir/tree/d$d/f$f.c"; done
done
tar -C "$dir" -cf "$dir/tree.tar" tree
t0=$(now); tar -C "$mnt" -xf "$dir/tree.tar"; sync "$mnt"; t1=$(now)
printf '%-32s %8.2f s\n' "untar of 600 files" "$(secs "$t0" "$t1")"
diff -r "$dir/tree" "$dir/share/tree" >/dev/null || { echo "bench: untarred tree differs on the server" >&2; exit 1; }
echo "bench: done"
