#!/bin/bash
# Installs the Debian packages, builds smbgate, starts a throwaway Samba
# server on 127.0.0.1 (private config, mandatory signing, NTLMv2 only) with a
# demo share, and runs smbgate against it. Everything lives in a temp dir
# that is removed on exit. Run as root (smbd and the passdb need it):
#   sudo deploy/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target smbgate

if [ "$(id -u)" != 0 ]; then
  echo "demo: smbd needs root here; run: sudo $0" >&2
  exit 1
fi

dir=$(mktemp -d /tmp/smbgate-demo.XXXXXX)
smbd_pid=""
cleanup() {
  [ -n "$smbd_pid" ] && kill "$smbd_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
user=$(id -un)
# A password with the characters that break other clients' mount options.
password='demo, pass; \ $ = " word'
mkdir -p "$dir/share" "$dir/state" "$dir/private"
echo "hello from the smbgate demo share" >"$dir/share/hello.txt"
cat >"$dir/smb.conf" <<CONF
[global]
  server role = standalone server
  workgroup = DEMO
  netbios name = SMBGATEDEMO
  server signing = mandatory
  ntlm auth = ntlmv2-only
  server min protocol = SMB2_02
  server max protocol = SMB3_11
  smb ports = $port
  interfaces = 127.0.0.1
  bind interfaces only = yes
  disable netbios = yes
  restrict anonymous = 2
  map to guest = Never
  passdb backend = tdbsam:$dir/private/passdb.tdb
  private dir = $dir/private
  lock directory = $dir/state
  state directory = $dir/state
  cache directory = $dir/state
  pid directory = $dir/state
  ncalrpc dir = $dir/state/ncalrpc
  log file = $dir/smbd.log
  load printers = no
  printcap name = /dev/null
  disable spoolss = yes
[demo]
  path = $dir/share
  read only = no
CONF
printf '%s\n%s\n' "$password" "$password" | smbpasswd -c "$dir/smb.conf" -s -a "$user" >/dev/null
smbd --foreground --no-process-group --configfile="$dir/smb.conf" </dev/null >"$dir/smbd.out" 2>&1 &
smbd_pid=$!
for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.2
done

# The credentials as a Kubernetes Secret would mount them: one file per key.
mkdir -p "$dir/secret"
printf '%s' "$user" >"$dir/secret/username"
printf '%s' "$password" >"$dir/secret/password"
printf '%s' "DEMO" >"$dir/secret/domain"
chmod 600 "$dir/secret/"*

echo "== smbgate check //127.0.0.1:$port/demo"
build/smbgate check "//127.0.0.1:$port/demo" --credentials "$dir/secret"
