#!/bin/sh
# Installs what smbgate needs to build, test and run, from Debian 12's archive.
# Used by CI (.ci/run), the README's commands and the container image's build
# stage, so the package list is proven by every CI run.
#   deploy/install-deps.sh            build + test dependencies
#   deploy/install-deps.sh --build    only what building smbgate needs (the image's
#                                     build stage: no Samba, clang or Prometheus)
#   deploy/install-deps.sh --runtime  only what the smbgate binary needs
#   deploy/install-deps.sh --csi-runtime  what smbgate-csi-node adds to that (gRPC)
set -eu

RUNTIME="fuse3 libfuse3-3 libssl3 libyaml-cpp0.7 libspdlog1.10 ca-certificates"
CSI_RUNTIME="libgrpc++1.51 libprotobuf32"
BUILD="cmake ninja-build ccache g++ pkg-config libssl-dev libboost-dev \
  libspdlog-dev libyaml-cpp-dev libfuse3-dev libgtest-dev libgmock-dev \
  libgrpc++-dev libprotobuf-dev protobuf-compiler-grpc protobuf-compiler"
# Tests: a real Samba server and client, clang for the libFuzzer targets, podman (with
# runc) and mmdebstrap to build and run the container image without a registry (gpg and
# libdpkg-perl are only recommended by mmdebstrap, which uses them to find and check the
# archive keyring; recommends are not installed here). The application suite
# (tests/apps) runs git, rsync, make and a Python venv with pip on a mount. The domain
# suite (tests/domain) provisions a Samba AD DC (samba-ad-dc, its provisioning data in
# samba-ad-provision and its directory modules) and joins a file server to it (winbind).
# gdb: an e2e test whose daemon does not stop prints the daemon's thread stacks.
TEST="samba samba-ad-dc samba-ad-provision samba-dsdb-modules winbind smbclient clang libclang-rt-14-dev llvm procps iproute2 python3 python3-yaml bc curl prometheus \
  podman runc mmdebstrap gpg libdpkg-perl python3-grpcio python3-protobuf \
  git rsync make python3-venv python3-pip python3-setuptools python3-wheel gdb"

case "${1:-}" in
  "") PKGS="$RUNTIME $BUILD $TEST" ;;
  --build) PKGS="$RUNTIME $BUILD" ;;
  --runtime) PKGS="$RUNTIME" ;;
  --csi-runtime) PKGS="$CSI_RUNTIME" ;;
  *) echo "install-deps: unknown option $1 (--build, --runtime, --csi-runtime or nothing)" >&2; exit 2 ;;
esac

missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "install-deps: missing packages:$missing (run as root: sudo $0)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# --no-install-recommends keeps the image small; samba's own service is not
# started by anything here (tests start smbd themselves on a loopback port).
apt-get install -y -qq --no-install-recommends $missing
