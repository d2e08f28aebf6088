#!/bin/bash
# Sidecar and host tests with real mounts on one machine (root, /dev/fuse):
#  1. pod: the kubelet's mount namespaces emulated (a shared emptyDir; the
#     sidecar's namespace a peer of it, Bidirectional; the application's a
#     slave, HostToContainer): the application sees the share, and stopping
#     the sidecar removes the mount cleanly in both.
#  2. unprivileged: a root helper opens /dev/fuse and mounts it; smbgate,
#     running as uid 65534 with no capabilities, serves /dev/fd/N; files
#     written through the mount arrive on the server.
#  3. rotation: the password changes on the server, the Secret directory is
#     swapped the way the kubelet does it, smbd restarts: the mount keeps
#     working without a remount; logs and metrics show the rotation.
#  4. host: `mount -t smbgate` through deploy/mount.smbgate, an fstab line
#     and the systemd mount unit example's options.
# Usage: tests/pod/run.sh [BUILD_DIR]   (prints "pod: N passed, M failed")
set -uo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
build=${1:-build}
bin="$repo/$build/smbgate"
[ -x "$bin" ] || bin="$build/smbgate"
[ -x "$bin" ] || { echo "pod: $bin not built" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "pod: needs root (namespaces, /dev/fuse)"; exit 1; }

work=$(mktemp -d /tmp/smbgate-pod.XXXXXX)
chmod 755 "$work"
. tests/lib.sh
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  # Innermost mounts first.
  grep " $work" /proc/self/mounts | awk '{print $2}' | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  rm -f /sbin/mount.smbgate.pod-test
  [ -L /sbin/mount.smbgate ] && [ "$(readlink /sbin/mount.smbgate)" = "$repo/deploy/mount.smbgate" ] && rm -f /sbin/mount.smbgate
  deploy/local-smbd.sh stop "$work/smbd" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT


deploy/local-smbd.sh start "$work/smbd" || { echo "pod: smbd did not start"; exit 1; }
port=$(cat "$work/smbd/port")
share="//127.0.0.1:$port/demo"
echo "content from the file server" >"$work/smbd/share/hello.txt"

# ---------------------------------------------------------------- 1. pod
pod="$work/pod"
mkdir -p "$pod/empty"
# The kubelet's emptyDir for a Bidirectional mount: a shared mount point.
mount --bind "$pod/empty" "$pod/empty" && mount --make-rshared "$pod/empty"
# The application container: its own mount namespace, slave of the host
# (HostToContainer), started before the share is mounted.
unshare -m --propagation slave sleep 600 &
app=$!
pids+=("$app")
# The sidecar: its own namespace whose copy of the emptyDir stays a peer
# (Bidirectional), running smbgate in the foreground as a container does.
unshare -m --propagation unchanged "$bin" mount "$share" "$pod/empty" --credentials "$work/smbd/secret" \
  --foreground -o allow_other,log_level=warn 2>"$work/sidecar.log" &
side=$!
pids+=("$side")
check "pod: the application's namespace sees the share's files" \
  "wait_for 100 'nsenter -t $app -m cat $pod/empty/hello.txt 2>/dev/null | grep -q \"content from the file server\"'"
check "pod: a file written by the application reaches the server" \
  "nsenter -t $app -m sh -c 'echo from-app >$pod/empty/app.txt' && grep -q from-app $work/smbd/share/app.txt"
kill -TERM "$side"
wait "$side"
rc=$?
check "pod: the sidecar exits 0 on SIGTERM" "[ $rc = 0 ]"
check "pod: the mount is gone from the application's namespace" \
  "! nsenter -t $app -m grep -q ' $pod/empty fuse' /proc/self/mounts"
check "pod: the mount is gone from the node" "! grep -q ' $pod/empty fuse' /proc/self/mounts"
kill "$app" 2>/dev/null
umount "$pod/empty" 2>/dev/null

# --------------------------------------------------------- 2. unprivileged
unpriv="$work/unpriv"
mkdir -p "$unpriv/mnt"
cp -r "$work/smbd/secret" "$unpriv/secret"
chown -R 65534:65534 "$unpriv/secret"
# The privileged helper's part (a node DaemonSet in a cluster): open
# /dev/fuse, mount it, hand the descriptor to the unprivileged daemon.
python3 - "$unpriv/mnt" "$bin" "$share" "$unpriv/secret" >"$unpriv/helper.log" 2>&1 <<'PY' &
import ctypes, os, subprocess, sys
mnt, binary, share, secret = sys.argv[1:5]
fd = os.open("/dev/fuse", os.O_RDWR)
libc = ctypes.CDLL(None, use_errno=True)
opts = f"fd={fd},rootmode=40000,user_id=65534,group_id=65534,allow_other,default_permissions".encode()
if libc.mount(b"smbgate", mnt.encode(), b"fuse.smbgate", 6, opts) != 0:  # MS_NOSUID|MS_NODEV
    print("mount failed:", os.strerror(ctypes.get_errno()), flush=True)
    sys.exit(1)
os.set_inheritable(fd, True)
# setpriv: uid/gid 65534, no supplementary groups, every capability gone
# (effective, permitted, inheritable, ambient and the bounding set).
p = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
                      "--bounding-set=-all", "--no-new-privs", binary, "mount", share, f"/dev/fd/{fd}",
                      "--credentials", secret, "--foreground", "-o", "log_level=warn"],
                     pass_fds=(fd,), cwd="/")
os.close(fd)
print("daemon", p.pid, flush=True)
sys.exit(p.wait())
PY
helper=$!
pids+=("$helper")
check "unprivileged: the daemon serves the helper's mount" \
  "wait_for 100 'cat $unpriv/mnt/hello.txt 2>/dev/null | grep -q \"content from the file server\"'"
daemon=$(awk '/^daemon/{print $2}' "$unpriv/helper.log")
check "unprivileged: the daemon runs as uid 65534 with no capabilities" \
  "[ -n '$daemon' ] && grep -q '^Uid:.65534' /proc/$daemon/status && grep -q '^CapEff:.0000000000000000' /proc/$daemon/status && grep -q '^CapBnd:.0000000000000000' /proc/$daemon/status"
head -c 3000000 /dev/urandom >"$work/blob"
cp "$work/blob" "$unpriv/mnt/blob"
check "unprivileged: a file written through the mount arrives on the server" "cmp -s $work/blob $work/smbd/share/blob"
[ -n "$daemon" ] && kill -TERM "$daemon"
wait "$helper"
rc=$?
check "unprivileged: the daemon exits 0 on SIGTERM" "[ $rc = 0 ]"
umount "$unpriv/mnt" 2>/dev/null

# ------------------------------------------------------------ 3. rotation
rot="$work/rot"
mkdir -p "$rot/mnt" "$rot/secret"
# The kubelet's Secret volume layout: a timestamped directory, `..data`
# pointing at it, and one symlink per key through `..data`.
write_secret() {  # $1 version name, $2 password
  mkdir "$rot/secret/$1"
  printf '%s' "$(cat "$work/smbd/secret/username")" >"$rot/secret/$1/username"
  printf '%s' "$2" >"$rot/secret/$1/password"
  printf 'DEMO' >"$rot/secret/$1/domain"
  chmod 644 "$rot/secret/$1/"*
}
old_password=$(cat "$work/smbd/secret/password")
write_secret ..2026_11_28_10_00_00.000000001 "$old_password"
ln -s ..2026_11_28_10_00_00.000000001 "$rot/secret/..data"
for k in username password domain; do ln -s "..data/$k" "$rot/secret/$k"; done
metrics_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" mount "$share" "$rot/mnt" --credentials "$rot/secret" --foreground \
  -o "metrics=127.0.0.1:$metrics_port,log_format=json" 2>"$rot/log" &
rotd=$!
pids+=("$rotd")
check "rotation: mounted with the first password" "wait_for 100 'cat $rot/mnt/hello.txt >/dev/null 2>&1'"
new_password='rotated; p@ss, \ $ = " word 2'
printf '%s\n%s\n' "$new_password" "$new_password" | smbpasswd -c "$work/smbd/smb.conf" -s "$(cat "$work/smbd/secret/username")" >/dev/null
# The kubelet's atomic swap: new directory, new `..data` link renamed over.
write_secret ..2026_11_28_11_00_00.000000002 "$new_password"
ln -s ..2026_11_28_11_00_00.000000002 "$rot/secret/..data_tmp"
mv -T "$rot/secret/..data_tmp" "$rot/secret/..data"
rm -rf "$rot/secret/..2026_11_28_10_00_00.000000001"
check "rotation: the swap is noticed and logged" "wait_for 100 'grep -q \"credentials rotated\" $rot/log'"
# Force a new session: the server restarts, the old password is gone.
deploy/local-smbd.sh restart "$work/smbd" >/dev/null
check "rotation: the mount works again after the restart, without a remount" \
  "wait_for 150 'echo after-rotation >$rot/mnt/after.txt 2>/dev/null' && grep -q after-rotation $work/smbd/share/after.txt"
check "rotation: the log shows the reconnect with the new credentials" \
  "grep -q 'reconnected to the server' $rot/log && [ \$(grep -c '\"result\":\"success\"' $rot/log) -ge 2 ]"
# (Read the page first: `curl | grep -q` fails under pipefail when grep
# stops reading early.)
metrics_page=$(curl -sf "http://127.0.0.1:$metrics_port/metrics")
check "rotation: metrics count the rotation and the reconnect (with its cause)" \
  "grep -q '^smbgate_credential_rotations_total 1\$' <<<\"\$metrics_page\" && grep -Eq '^smbgate_reconnects_total[{]cause=\"[a-z_]+\"[}] [1-9]' <<<\"\$metrics_page\""
no_password_in_log() { ! grep -qF -- "$new_password" "$rot/log" && ! grep -qF -- "$old_password" "$rot/log"; }
check "rotation: no password in the log" no_password_in_log
grep -E "^smbgate_(credential_rotations|reconnects)_total" <<<"$metrics_page"; echo "rotation log:"; grep -E 'rotated|reconnect|authentication' "$rot/log" | sed 's/^/    /'
kill -TERM "$rotd"
wait "$rotd"
check "rotation: clean stop" "[ $? = 0 ] && ! grep -q ' $rot/mnt fuse' /proc/self/mounts"
# Later sections use the new password (written by builtins: never in argv).
printf '%s' "$new_password" >"$work/smbd/secret/password"

# ---------------------------------------------------------------- 4. host
host="$work/host"
mkdir -p "$host/mnt" "$host/etc"
printf 'username=%s\npassword=%s\ndomain=DEMO\n' "$(cat "$work/smbd/secret/username")" "$new_password" >"$host/etc/share.cred"
chmod 600 "$host/etc/share.cred"
created_helper=0
if [ ! -e /sbin/mount.smbgate ]; then
  ln -s "$repo/deploy/mount.smbgate" /sbin/mount.smbgate
  created_helper=1
fi
export SMBGATE_BIN="$bin"
# The background daemons' logs go to a file, not into this test's output.
exec 3>&2 2>>"$host/daemons.log"
check "host: mount -t smbgate with credentials= and uid=" \
  "mount -t smbgate '$share' '$host/mnt' -o credentials=$host/etc/share.cred,uid=1000,_netdev && grep -q 'content from the file server' $host/mnt/hello.txt && [ \$(stat -c %u $host/mnt/hello.txt) = 1000 ]"
check "host: umount stops the daemon and removes the mount" \
  "umount '$host/mnt' && wait_for 50 '! pgrep -f \"smbgate mount $share $host/mnt\" >/dev/null' && ! grep -q ' $host/mnt fuse' /proc/self/mounts"
printf '%s %s smbgate credentials=%s,uid=1000,gid=1000,file_mode=0644,dir_mode=0755,_netdev,nofail 0 0\n' \
  "$share" "$host/mnt" "$host/etc/share.cred" >"$host/etc/fstab"
check "host: an fstab line" \
  "mount --fstab '$host/etc/fstab' '$host/mnt' && [ \$(stat -c %a $host/mnt/hello.txt) = 644 ] && umount '$host/mnt'"
# The systemd mount unit example: systemd runs `mount -t Type What Where -o Options`.
unit_opts=$(sed -n 's/^Options=//p' deploy/systemd/mnt-share.mount | sed "s#credentials=[^,]*#credentials=$host/etc/share.cred#")
unit_type=$(sed -n 's/^Type=//p' deploy/systemd/mnt-share.mount)
check "host: the systemd mount unit's Type and Options" \
  "[ '$unit_type' = smbgate ] && mount -t '$unit_type' '$share' '$host/mnt' -o '$unit_opts' && cat $host/mnt/hello.txt >/dev/null && umount '$host/mnt'"
[ "$created_helper" = 1 ] && rm -f /sbin/mount.smbgate
exec 2>&3 3>&-

echo "pod: $passed passed, $failed failed"
[ "$failed" = 0 ]
