#!/bin/bash
# Installs the Debian packages, builds smbgate, starts a throwaway Samba
# server on 127.0.0.1 (private config, mandatory signing, NTLMv2 only) with a
# demo share, checks it with `smbgate check`, mounts it with `smbgate mount`,
# shows a few file operations through the mount, and cleans everything up.
# Run as root (smbd, its passdb and the FUSE mount need it):
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
mnt="$dir/mnt"
cleanup() {
  mountpoint -q "$mnt" 2>/dev/null && fusermount3 -u "$mnt" || true
  deploy/local-smbd.sh stop "$dir"
  rm -rf "$dir"
}
trap cleanup EXIT
deploy/local-smbd.sh start "$dir"
port=$(cat "$dir/port")
echo "hello from the smbgate demo share" >"$dir/share/hello.txt"

echo "== smbgate check //127.0.0.1:$port/demo"
build/smbgate check "//127.0.0.1:$port/demo" --credentials "$dir/secret"

echo "== smbgate mount //127.0.0.1:$port/demo $mnt"
mkdir -p "$mnt"
build/smbgate mount "//127.0.0.1:$port/demo" "$mnt" --credentials "$dir/secret" -o uid="$(id -u)",log_level=warn
cat "$mnt/hello.txt"
echo "written through smbgate" >"$mnt/from-smbgate.txt"
ls -l "$mnt"
echo "== on the server: $(cat "$dir/share/from-smbgate.txt")"
fusermount3 -u "$mnt"
echo "== unmounted; demo done"
