#!/bin/bash
# The container image (deploy/Dockerfile) built with Debian's podman, no registry, and run
# against a real smbd on 127.0.0.1 (root, /dev/fuse):
#  1. check: `smbgate check` in the image with the Secret directory mounted read-only.
#  2. privileged sidecar: a privileged container mounts the share onto a host directory
#     shared with it (rshared, the kubelet's Bidirectional); an unprivileged application
#     container started before it (uid 1000, rslave: HostToContainer) sees and writes files;
#     the Secret is swapped the kubelet's way and the container logs the rotation;
#     `podman stop` unmounts within the grace period and the container exits 0.
#  3. fdpassing: a host-side helper speaks smbgate-fuse-fd's protocol (opens /dev/fuse,
#     mounts it, hands the descriptor over); the image runs as uid 65532 with no capability
#     on a read-only root and serves the mount.
# The base images debian:12 and debian:12-slim are made by tests/container/base-images.sh
# (mmdebstrap) once and kept, as are the image smbgate:test and its build stage
# smbgate-build:test (the layer cache), so a second run rebuilds only what changed.
# Usage: tests/container/run.sh [BUILD_DIR]   (prints "container: N passed, M failed")
# BUILD_DIR is accepted for symmetry with the other suites and not used: the image
# builds its own binary.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
[ "$(id -u)" = 0 ] || { echo "container: needs root (podman, mounts, /dev/fuse)"; exit 1; }
start=$SECONDS

image=localhost/smbgate:test
build_image=localhost/smbgate-build:test
csi_image=localhost/smbgate-csi-node:test
base=debian:12-slim
# crun cannot set up this kind of machine's cgroups, runc can; podman's default rlimits
# (nofile 1048576, nproc 32768) are above what an unprivileged-resource root may set, so
# the containers get the limits this shell has (nproc: a fixed, lower value, enough).
pm() { podman --runtime runc --cgroup-manager=cgroupfs "$@"; }
nofile=$(ulimit -Hn)
[ "$nofile" = unlimited ] && nofile=1048576
limits=(--ulimit "nofile=$nofile:$nofile" --ulimit nproc=4096:4096)

if ! command -v podman >/dev/null || ! command -v runc >/dev/null || ! command -v mmdebstrap >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends podman runc mmdebstrap \
    >/dev/null || { echo "container: could not install podman, runc, mmdebstrap"; exit 1; }
fi

work=$(mktemp -d /tmp/smbgate-container.XXXXXX)
chmod 755 "$work"
. tests/lib.sh
containers=()
pids=()
cleanup() {
  for c in "${containers[@]}"; do pm rm -f -t 0 "$c" >/dev/null 2>&1; done
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  # Innermost mounts first.
  grep " $work" /proc/self/mounts | awk '{print $2}' | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  deploy/local-smbd.sh stop "$work/smbd" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

fuse_mounted() { grep -q " $1 fuse" /proc/self/mounts; }
# A container the cleanup removes: prints its name.
run_detached() {  # $1 name, then podman run arguments
  local name=$1; shift
  containers+=("$name")
  pm run -d --name "$name" "${limits[@]}" "$@" >/dev/null
}

# ------------------------------------------------------------------ images
tests/container/base-images.sh || { echo "container: base images failed"; exit 1; }
old_id=$(pm image inspect --format '{{.Id}}' "$image" 2>/dev/null)
t=$SECONDS
# --network host: apt inside the build reaches Debian's archive through the host.
if ! pm build --pull=never --network host "${limits[@]}" -f deploy/Dockerfile -t "$image" \
  --build-arg "REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)" . >"$work/build.log" 2>&1; then
  tail -30 "$work/build.log"
  fail "image: podman build deploy/Dockerfile"
  echo "container: $passed passed, $failed failed"
  exit 1
fi
ok "image: podman build deploy/Dockerfile ($((SECONDS - t)) s)"
# The build stage gets a name too (from the layer cache, seconds), so that it is kept as the
# next build's cache and told apart from the stages of earlier builds.
pm build --pull=never --network host "${limits[@]}" -f deploy/Dockerfile --target build \
  -t "$build_image" . >>"$work/build.log" 2>&1
new_id=$(pm image inspect --format '{{.Id}}' "$image")
# The images earlier builds left behind are not kept: the image this build replaced, and
# every unnamed leaf descending from the base images (podman rmi also removes the unnamed
# parents only it used). Other unnamed images on the machine are not touched.
[ -n "$old_id" ] && [ "$old_id" != "$new_id" ] && pm rmi "$old_id" >/dev/null 2>&1
base_ids=" $(pm image inspect --format '{{.Id}}' debian:12 "$base" | tr '\n' ' ') "
for leaf in $(pm images -a -q --no-trunc --filter dangling=true); do
  p=${leaf#sha256:}
  while p=$(pm image inspect --format '{{.Parent}}' "$p" 2>/dev/null) && [ -n "$p" ]; do
    if [[ $base_ids == *" ${p#sha256:} "* ]]; then
      pm rmi "$leaf" >/dev/null 2>&1
      break
    fi
  done
done

mb() { echo "$(( $1 / 1000000 )) MB"; }
size=$(pm image inspect --format '{{.Size}}' "$image")
base_size=$(pm image inspect --format '{{.Size}}' "$base")
echo "image: $image $(mb "$size"), $base $(mb "$base_size"), the runtime stage adds $(mb $((size - base_size)))"
pm history --format '{{.Size}}\t{{.CreatedBy}}' "$image" | head -n "$(( $(pm history -q "$image" | wc -l) - $(pm history -q "$base" | wc -l) ))" |
  grep -v '^0B' | cut -c1-150 | sed 's/^/    layer /'
# shellcheck disable=SC2016 # dpkg-query's format, not the shell's
listing() { pm run --rm "${limits[@]}" --network none --user 0 --entrypoint dpkg-query "$1" -W -f '${Package}\n' | sort; }
added=$(comm -13 <(listing "$base") <(listing "$image") | tr '\n' ' ')
echo "    packages added to $base: $added"
check "image: smbgate --version runs as uid 65532" \
  "[ \"\$(pm run --rm ${limits[*]} --network none --entrypoint id $image -u)\" = 65532 ] && pm run --rm ${limits[*]} --network none $image --version >/dev/null"

deploy/local-smbd.sh start "$work/smbd" >/dev/null || { echo "container: smbd did not start"; exit 1; }
port=$(cat "$work/smbd/port")
share="//127.0.0.1:$port/demo"
user=$(cat "$work/smbd/secret/username")
password=$(cat "$work/smbd/secret/password")
echo "content from the file server" >"$work/smbd/share/hello.txt"
opts="allow_other,uid=1000,gid=1000,file_mode=0660,dir_mode=0770,log_format=json"

# The kubelet's Secret volume layout: a timestamped directory, `..data` pointing at it,
# one symlink per key through `..data`; a rotation renames a new `..data` over the old.
write_secret() {  # $1 dir, $2 version, $3 password
  mkdir -p "$1/$2"
  printf '%s' "$user" >"$1/$2/username"
  printf '%s' "$3" >"$1/$2/password"
  printf 'DEMO' >"$1/$2/domain"
  chmod 755 "$1" "$1/$2"
  chmod 644 "$1/$2/"*
  local old
  old=$(readlink "$1/..data" 2>/dev/null)
  ln -s "$2" "$1/..data_tmp"
  mv -T "$1/..data_tmp" "$1/..data"
  [ -n "$old" ] && rm -rf "${1:?}/$old"
  for k in username password domain; do [ -L "$1/$k" ] || ln -s "..data/$k" "$1/$k"; done
}

# ------------------------------------------------------------------- 1. check
write_secret "$work/secret" ..2026_12_01_10_00_00.000000001 "$password"
pm run --rm "${limits[@]}" --network host -v "$work/secret:/creds:ro" "$image" \
  check "$share" --credentials /creds >"$work/check.out" 2>&1
rc=$?
check "check: exits 0 and prints dialect, signing, encryption" \
  "[ $rc = 0 ] && grep -q '^dialect: ' $work/check.out && grep -q '^signing: ' $work/check.out && grep -q '^encryption: ' $work/check.out"
sed 's/^/    /' "$work/check.out" | head -20

# --------------------------------------------------------- 2. privileged sidecar
mnt="$work/pod/share"
mkdir -p "$mnt"
# The kubelet's emptyDir for a Bidirectional mount: a shared mount point.
mount --bind "$mnt" "$mnt" && mount --make-rshared "$mnt"
# The application, started before the share is mounted: the mount has to propagate.
run_detached sg-app --user 1000:1000 --network none -v "$mnt:/data:rslave" "$base" sleep 600
run_detached sg-sidecar --user 0 --privileged --device /dev/fuse --network host \
  -v "$mnt:/mnt/share:rshared" -v "$work/secret:/etc/smbgate/credentials:ro" "$image" \
  mount "$share" /mnt/share --credentials /etc/smbgate/credentials --foreground -o "$opts"
check "sidecar: the host sees the share's files" \
  "wait_for 150 'grep -q \"content from the file server\" $mnt/hello.txt 2>/dev/null'"
check "sidecar: the application container (uid 1000, rslave) sees them" \
  "pm exec sg-app cat /data/hello.txt 2>/dev/null | grep -q 'content from the file server'"
check "sidecar: a file the application writes reaches the server" \
  "pm exec sg-app sh -c 'echo from-app >/data/app.txt' && grep -q from-app $work/smbd/share/app.txt"
new_password='rotated; p@ss, \ $ = " word 2'
printf '%s\n%s\n' "$new_password" "$new_password" | smbpasswd -c "$work/smbd/smb.conf" -s "$user" >/dev/null
write_secret "$work/secret" ..2026_12_01_11_00_00.000000002 "$new_password"
check "sidecar: the Secret swap shows in the container log" \
  "wait_for 100 'pm logs sg-sidecar 2>&1 | grep -q \"credentials rotated\"'"
no_password_in_log() { ! pm logs sg-sidecar 2>&1 | grep -qF -e "$new_password" -e "$password"; }
check "sidecar: no password in the container log" no_password_in_log
t=$SECONDS
pm stop -t 20 sg-sidecar >/dev/null 2>&1
took=$((SECONDS - t))
rc=$(pm inspect --format '{{.State.ExitCode}}' sg-sidecar)
check "sidecar: podman stop exits 0 within the grace period (${took} s of 20)" "[ '$rc' = 0 ] && [ $took -lt 20 ]"
check "sidecar: the share is unmounted on the host" "! fuse_mounted $mnt"
check "sidecar: and in the application container" "! pm exec sg-app grep -q ' /data fuse' /proc/self/mounts"
pm logs sg-sidecar 2>&1 | grep -E 'rotated|signal|unmount|stopp' | cut -c1-200 | sed 's/^/    log: /'

# ------------------------------------------------------------------ 3. fdpassing
fd_mnt="$work/fd/share"
sock_dir="$work/fd/sock"
mkdir -p "$fd_mnt" "$sock_dir"
# The node helper's side of smbgate-fuse-fd's protocol (version 1); in a cluster a
# privileged DaemonSet, here a root process on the host. One volume, one mount.
python3 - "$sock_dir/fuse.sock" "$fd_mnt" >"$work/fd/helper.log" 2>&1 <<'PY' &
import ctypes, os, socket, struct, sys
path, mnt = sys.argv[1:3]
libc = ctypes.CDLL(None, use_errno=True)
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
os.chmod(path, 0o666)  # the client runs as uid 65532
srv.listen(1)
print("listening", flush=True)
conn, _ = srv.accept()
request = b""
while not request.endswith(b"\n") and len(request) < 256:
    chunk = conn.recv(256)
    if not chunk:
        break
    request += chunk
# The client's identity comes from the kernel, never from what it says.
pid, uid, gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
print(f"request {request!r} from pid {pid} uid {uid} gid {gid}", flush=True)
if request != b"SMBGATE-FUSE-FD 1 volume=smbgate-share\n":
    conn.sendall(b"ERR unknown volume or protocol\n")
    sys.exit(1)
fd = os.open("/dev/fuse", os.O_RDWR)
opts = f"fd={fd},rootmode=40000,user_id={uid},group_id={gid},allow_other".encode()
if libc.mount(b"smbgate", mnt.encode(), b"fuse.smbgate", 6, opts) != 0:  # MS_NOSUID|MS_NODEV
    conn.sendall(f"ERR mount: {os.strerror(ctypes.get_errno())}\n".encode())
    sys.exit(1)
socket.send_fds(conn, [b"OK\n"], [fd])
os.close(fd)
print("mounted, descriptor sent", flush=True)
# The connection lives as long as the daemon: end-of-file means it is gone.
while conn.recv(64):
    pass
libc.umount2(mnt.encode(), 2)  # MNT_DETACH
print("end of file: unmounted", flush=True)
PY
pids+=("$!")
wait_for 50 "[ -S $sock_dir/fuse.sock ]"
run_detached sg-fd --user 65532:65532 --cap-drop ALL --read-only --security-opt no-new-privileges \
  --network host -v "$sock_dir:/run/smbgate-fuse" -v "$work/secret:/etc/smbgate/credentials:ro" \
  --entrypoint smbgate-fuse-fd "$image" \
  --socket /run/smbgate-fuse/fuse.sock --volume smbgate-share --fd 3 --timeout 30 -- \
  smbgate mount "$share" /dev/fd/3 --credentials /etc/smbgate/credentials --foreground -o "$opts"
check "fdpassing: the helper's mount serves the share's files" \
  "wait_for 150 'grep -q \"content from the file server\" $fd_mnt/hello.txt 2>/dev/null'"
fd_pid=$(pm inspect --format '{{.State.Pid}}' sg-fd)
check "fdpassing: smbgate runs as uid 65532 with no capabilities" \
  "grep -q '^Uid:.65532' /proc/$fd_pid/status && grep -q '^CapEff:.0000000000000000' /proc/$fd_pid/status && grep -q '^CapBnd:.0000000000000000' /proc/$fd_pid/status"
head -c 3000000 /dev/urandom >"$work/blob"
cp "$work/blob" "$fd_mnt/blob"
check "fdpassing: a file written through the mount arrives on the server" "cmp -s $work/blob $work/smbd/share/blob"
pm stop -t 20 sg-fd >/dev/null 2>&1
rc=$(pm inspect --format '{{.State.ExitCode}}' sg-fd)
check "fdpassing: podman stop exits 0 and the helper unmounts" \
  "[ '$rc' = 0 ] && wait_for 50 '! fuse_mounted $fd_mnt'"
sed 's/^/    helper: /' "$work/fd/helper.log"

# ------------------------------------------------------------- 4. CSI node driver
# The driver's image (deploy/Dockerfile --target csi-node: the runtime plus smbgate-csi-node
# and gRPC; the build stage comes from the layer cache) driven as the kubelet would by
# tests/csi/csi_node_test.py: the driver privileged with the kubelet's directory rshared, the
# sidecar in the smbgate image as uid 65534 with no capabilities on a read-only root.
t=$SECONDS
if pm build --pull=never --network host "${limits[@]}" -f deploy/Dockerfile --target csi-node \
  -t "$csi_image" . >>"$work/build.log" 2>&1; then
  ok "csi image: podman build --target csi-node ($((SECONDS - t)) s)"
  csi_size=$(pm image inspect --format '{{.Size}}' "$csi_image")
  echo "image: $csi_image $(mb "$csi_size"), adds $(mb $((csi_size - size))) to $image;" \
    "packages added: $(comm -13 <(listing "$image") <(listing "$csi_image") | tr '\n' ' ')"
  /usr/bin/python3 tests/csi/csi_node_test.py --podman "$csi_image" "$image" >"$work/csi.log" 2>&1
  sed 's/^\(ok   \|FAIL \)/\1csi (container): /' "$work/csi.log"
  csi_passed=$(sed -n 's/^csi: \([0-9]*\) passed, \([0-9]*\) failed.*/\1/p' "$work/csi.log")
  csi_failed=$(sed -n 's/^csi: \([0-9]*\) passed, \([0-9]*\) failed.*/\2/p' "$work/csi.log")
  if [ -n "$csi_passed" ]; then
    passed=$((passed + csi_passed))
    failed=$((failed + csi_failed))
  else
    tail -20 "$work/csi.log"
    fail "csi (container): tests/csi/csi_node_test.py --podman did not finish"
  fi
else
  tail -30 "$work/build.log"
  fail "csi image: podman build --target csi-node"
fi

echo "container: $passed passed, $failed failed (in $((SECONDS - start)) s)"
[ "$failed" = 0 ]
