#!/bin/bash
# Builds the base images deploy/Dockerfile starts from, debian:12 and debian:12-slim, with
# mmdebstrap from Debian's archive and imports them into podman, so that the image builds
# with no registry. Skips an image podman already has.
#   tests/container/base-images.sh   (root; mmdebstrap and podman installed)
# debian:12 is a minbase system with apt, as the official image; debian:12-slim also
# excludes documentation, man pages and translations for every later install (a dpkg
# configuration file, as the official slim image does). Both leave no apt lists behind and,
# like the official images' apt configuration, keep no package caches or downloaded .debs
# after an install (else every `apt-get install` layer grows by 80 MB of caches).
set -euo pipefail
mirror=http://deb.debian.org/debian
sources=("deb $mirror bookworm main" "deb $mirror bookworm-updates main"
  "deb http://deb.debian.org/debian-security bookworm-security main")
tmp=$(mktemp -d /tmp/smbgate-base.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

build() {  # $1 tag, then extra mmdebstrap options
  local tag=$1
  shift
  if podman image exists "$tag"; then
    echo "base image $tag: cached"
    return 0
  fi
  local start=$SECONDS
  # merged-usr by mmdebstrap's hook, as Debian's own images: otherwise the usrmerge
  # package, and with it perl (50 MB), ends up in the image.
  mmdebstrap --quiet --variant=minbase --format=tar \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --aptopt='Dir::Cache::pkgcache ""' --aptopt='Dir::Cache::srcpkgcache ""' \
    --aptopt='DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; }' \
    --aptopt='APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; }' \
    "$@" bookworm "$tmp/rootfs.tar" "${sources[@]}" \
    >"$tmp/log" 2>&1 || { tail -20 "$tmp/log"; echo "base image $tag: mmdebstrap failed" >&2; return 1; }
  podman import --quiet --change 'CMD ["bash"]' "$tmp/rootfs.tar" "$tag" >/dev/null
  rm -f "$tmp/rootfs.tar"
  echo "base image $tag: built in $((SECONDS - start)) s"
}

build debian:12
build debian:12-slim \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/lintian/*'
