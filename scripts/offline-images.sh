#!/usr/bin/env bash
# Builds local stand-ins for the base images Slipway and its tests use, from this host's own Node and
# Redis, for machines that cannot reach an image registry. The images keep their real names
# (node:20-slim, redis:7-alpine), so on a machine with a registry nothing changes: an image that is
# already there is left alone unless --force is given.
# Needs: docker, node, npm, make, redis-server, busybox-static (apt-get install -y busybox-static redis-server make).
set -euo pipefail

NODE_IMAGE=${SLIPWAY_BASE_IMAGE:-node:20-slim}
REDIS_IMAGE=${SLIPWAY_REDIS_IMAGE:-redis:7-alpine}
force=false
[ "${1:-}" = "--force" ] && force=true

need() { command -v "$1" >/dev/null 2>&1 || { echo "offline-images: '$1' is missing ($2)" >&2; exit 1; }; }
need docker "install the Docker Engine"
need busybox "apt-get install -y busybox-static"

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A merged-/usr root with a shell (busybox), users, name resolution and the host's CA bundle.
skeleton() {
  local root=$1
  mkdir -p "$root"/usr/{bin,sbin,lib/x86_64-linux-gnu,lib64,local/bin,etc} "$root"/{etc/ssl/certs,tmp,root,app,var/tmp,dev,proc,sys}
  ln -s usr/bin "$root/bin"; ln -s usr/sbin "$root/sbin"; ln -s usr/lib "$root/lib"; ln -s usr/lib64 "$root/lib64"
  chmod 1777 "$root/tmp" "$root/var/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"
  printf '127.0.0.1 localhost\n::1 localhost\n' >"$root/etc/hosts"
  cp /usr/bin/busybox "$root/usr/bin/busybox"
  chroot "$root" /usr/bin/busybox --install -s /usr/bin
  [ -f /etc/ssl/certs/ca-certificates.crt ] && cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
}

# A binary and every library it links, the loader included.
with_libs() {
  local root=$1 bin=$2
  install -D "$bin" "$root/usr/bin/$(basename "$bin")"
  ldd "$bin" | grep -o '/[^ ]*' | while read -r lib; do
    case "$lib" in
      */ld-linux*) install -D "$lib" "$root/usr/lib64/$(basename "$lib")" ;;
      *) install -D "$lib" "$root/usr/lib/x86_64-linux-gnu/$(basename "$lib")" ;;
    esac
  done
}

# The root folder as an image under its real name.
import_root() {
  local root=$1 image=$2; shift 2
  tar --numeric-owner -C "$root" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' "$@" - "$image" >/dev/null
}

if $force || ! have_image "$NODE_IMAGE"; then
  need node "Node.js"; need npm "npm"; need make "apt-get install -y make"
  root="$work/node"
  skeleton "$root"
  with_libs "$root" "$(readlink -f "$(command -v node)")"
  [ "$(basename "$(readlink -f "$(command -v node)")")" = node ] || mv "$root/usr/bin/$(basename "$(readlink -f "$(command -v node)")")" "$root/usr/bin/node"
  with_libs "$root" "$(command -v make)"
  npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
  mkdir -p "$root/usr/lib/node_modules"
  cp -a "$npm_dir" "$root/usr/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/bin/npx"
  # Without the host's CA bundle npm retries TLS errors for 40 s inside builds.
  printf 'cafile=/etc/ssl/certs/ca-certificates.crt\nupdate-notifier=false\nfund=false\naudit=false\n' >"$root/usr/etc/npmrc"
  import_root "$root" "$NODE_IMAGE" \
    --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' --change 'WORKDIR /app' --change 'CMD ["node"]'
  echo "offline-images: built $NODE_IMAGE from the host's node $(node --version)"
else
  echo "offline-images: $NODE_IMAGE is present, kept"
fi

if $force || ! have_image "$REDIS_IMAGE"; then
  need redis-server "apt-get install -y redis-server"
  root="$work/redis"
  skeleton "$root"
  with_libs "$root" "$(command -v redis-server)"
  with_libs "$root" "$(command -v redis-cli)"
  mkdir -p "$root/data"
  import_root "$root" "$REDIS_IMAGE" \
    --change 'WORKDIR /data' --change 'EXPOSE 6379' --change 'CMD ["redis-server","--protected-mode","no"]'
  echo "offline-images: built $REDIS_IMAGE from the host's $(redis-server --version | cut -d' ' -f1-3)"
else
  echo "offline-images: $REDIS_IMAGE is present, kept"
fi
