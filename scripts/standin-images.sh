#!/bin/sh
# Builds local stand-ins for every image docker-compose.yml pulls, for machines
# that have a Docker engine but no registry: a Debian rootfs made with
# debootstrap, packages installed in a chroot, `tar | docker import`ed under
# the exact tag the compose file (or a Dockerfile's FROM) names. They exist
# only in the engine at DOCKER_HOST; Docker Hub images replace them anywhere else.
#
#   redis:<tag>                 Debian's redis-server (8.0 on trixie), user redis, /data
#   valkey/valkey:<tag>         Debian's valkey-server (8.1 on trixie), user valkey, /data, and
#                               the redis-* links the official image's `make install` adds;
#                               both users are 999:999, as in the official images
#   node:<ver>-trixie-slim      Node from the npm registry's "node" package, user node
#   .../redis-commander:<ver>   the npm redis-commander package with its own docker/entrypoint.sh;
#                               a tag npm lacks gets npm's newest release, and the image's
#                               org.opencontainers.image.version label says which one it runs
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

STANDIN_CACHE=${STANDIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/redis-cluster-starter/standin}
DEBIAN_SUITE=${DEBIAN_SUITE:-trixie}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
COMPOSE=${COMPOSE:-docker compose}

log() { printf 'standin: %s\n' "$*"; }
fail() { printf 'standin: error: %s\n' "$*" >&2; exit 1; }

# Images carry a hash of this script, so changing a recipe rebuilds them.
recipe=$(sha256sum "$0" | cut -c1-16)
have_image() {
  [ "$(docker image inspect --format '{{ index .Config.Labels "standin.recipe" }}' "$1" 2>/dev/null)" = "$recipe" ]
}

# import DIR TAG CHANGE... : the directory as a one-layer image.
import() {
  dir=$1 tag=$2
  shift 2
  for change in "$@"; do
    set -- "$@" --change "$change"
    shift
  done
  tar -C "$dir" -c . | docker import --change "LABEL standin.recipe=$recipe" "$@" - "$tag" >/dev/null
  log "built $tag"
}

in_root() {
  dir=$1
  shift
  chroot "$dir" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    DEBIAN_FRONTEND=noninteractive HOME=/root "$@"
}

# A copy of the cached minimal Debian with the given packages added.
rootfs() {
  base_rootfs "$1"
  install_packages "$@"
}

# A copy of the cached minimal Debian.
base_rootfs() {
  dir=$1
  base=$STANDIN_CACHE/$DEBIAN_SUITE-base
  if [ ! -f "$base/.complete" ]; then
    rm -rf "$base"
    log "debootstrap $DEBIAN_SUITE (once; cached in $base)"
    debootstrap --variant=minbase --include=ca-certificates "$DEBIAN_SUITE" "$base" "$DEBIAN_MIRROR" >/dev/null
    touch "$base/.complete"
  fi
  rm -rf "$dir"
  cp -a "$base" "$dir"
  rm -f "$dir/.complete"
  # Trust what this machine trusts: where a proxy re-signs registry traffic,
  # `npm ci` inside a build needs the same local CAs as the host.
  if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
    cp /usr/local/share/ca-certificates/*.crt "$dir/usr/local/share/ca-certificates/"
    in_root "$dir" update-ca-certificates >/dev/null 2>&1
  fi
}

# install_packages DIR PACKAGE... : Debian packages added to the tree.
install_packages() {
  dir=$1
  shift
  if [ $# -gt 0 ]; then
    cp /etc/resolv.conf "$dir/etc/resolv.conf"
    # Services must not start inside the chroot.
    printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"
    chmod +x "$dir/usr/sbin/policy-rc.d"
    in_root "$dir" apt-get update -qq
    in_root "$dir" apt-get install -y -qq --no-install-recommends "$@" >/dev/null
    in_root "$dir" apt-get clean
    rm -rf "$dir/var/lib/apt/lists"/* "$dir/usr/sbin/policy-rc.d"
  fi
}

# server_wrapper PATH SERVER : a server command that starts SERVER with
# protected mode off. The official images compile it off (nodes talk across
# the compose network); Debian's builds keep it on, so the stand-ins say it
# here. The option goes before a final "-" (config from stdin), which must stay last.
server_wrapper() {
  wrapper=$1
  { printf '#!/bin/sh\nserver=%s\n' "$2" && cat <<'SH'; } >"$wrapper"
count=$# index=0 stdin=
for arg do
  shift
  index=$((index + 1))
  if [ "$index" -eq "$count" ] && [ "$arg" = - ]; then stdin=-; else set -- "$@" "$arg"; fi
done
exec "$server" "$@" --protected-mode no $stdin
SH
  chmod +x "$wrapper"
}

# official_user DIR NAME : the user and group the official image runs as,
# 999:999, made before the package's own adduser, which then keeps them; the
# compose file runs the nodes as 999:999.
official_user() {
  in_root "$1" groupadd --system --gid 999 "$2"
  in_root "$1" useradd --system --uid 999 --gid "$2" --home-dir "/var/lib/$2" --no-create-home \
    --shell /usr/sbin/nologin "$2"
}

build_redis() {
  tag=$1 dir=$STANDIN_CACHE/work/redis
  base_rootfs "$dir"
  official_user "$dir" redis
  install_packages "$dir" redis-server redis-tools
  mkdir -p "$dir/data"
  in_root "$dir" chown redis:redis /data
  server_wrapper "$dir/usr/local/bin/redis-server" /usr/bin/redis-server
  import "$dir" "$tag" 'WORKDIR /data' 'USER redis' 'EXPOSE 6379' 'CMD ["redis-server"]'
}

build_valkey() {
  tag=$1 dir=$STANDIN_CACHE/work/valkey
  base_rootfs "$dir"
  official_user "$dir" valkey
  install_packages "$dir" valkey-server
  mkdir -p "$dir/data"
  in_root "$dir" chown valkey:valkey /data
  server_wrapper "$dir/usr/local/bin/valkey-server" /usr/bin/valkey-server
  # The official image installs with Valkey's default USE_REDIS_SYMLINKS=yes,
  # so redis-server, redis-cli and the rest are links to the valkey-* programs;
  # Debian ships none. Sentinel is left out: Debian packages it apart, and the
  # stack does not use it.
  ln -s valkey-server "$dir/usr/local/bin/redis-server"
  for program in cli benchmark check-rdb check-aof; do
    ln -s "/usr/bin/valkey-$program" "$dir/usr/local/bin/redis-$program"
  done
  import "$dir" "$tag" 'WORKDIR /data' 'USER valkey' 'EXPOSE 6379' 'CMD ["valkey-server"]'
}

# Debian with PACKAGES, plus Node VERSION (binary and npm) from the npm registry.
node_tree() {
  dir=$1 version=$2
  shift 2
  rootfs "$dir" "$@"
  npm install --prefix "$STANDIN_CACHE/node-$version" --no-save --no-audit --no-fund "node@$version" >/dev/null
  install -m 0755 "$STANDIN_CACHE/node-$version/node_modules/node/bin/node" "$dir/usr/local/bin/node"
  npm install --global --prefix "$dir/usr/local" --no-audit --no-fund "npm@$(npm --version)" >/dev/null
  in_root "$dir" useradd --uid 1000 --create-home --shell /bin/sh node
}

build_node() {
  tag=$1 dir=$STANDIN_CACHE/work/node
  node_version=${tag#*:}
  node_tree "$dir" "${node_version%%-*}"
  # Node ships its own CA list; point it at the system one, local CAs included.
  import "$dir" "$tag" 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' 'CMD ["node"]'
}

# The npm release a Redis Commander tag stands for: the same version if npm
# has it, else npm's newest (ghcr.io has 0.9.1, built from a git tag that
# never reached npm, whose newest is 0.9.0).
commander_npm_version() {
  wanted=$1
  if [ -n "$(npm view "redis-commander@$wanted" version 2>/dev/null)" ]; then
    echo "$wanted"
  else
    npm view redis-commander version
  fi
}

build_commander() {
  tag=$1 dir=$STANDIN_CACHE/work/commander
  commander_version=$(commander_npm_version "${tag##*:}")
  [ "$commander_version" = "${tag##*:}" ] ||
    log "npm has no redis-commander ${tag##*:}; $tag stands in with npm's newest, $commander_version"
  node_tree "$dir" 24 jq dumb-init
  (cd "$STANDIN_CACHE" && npm pack --silent "redis-commander@$commander_version" >/dev/null)
  mkdir -p "$dir/redis-commander"
  tar -xzf "$STANDIN_CACHE/redis-commander-$commander_version.tgz" -C "$dir/redis-commander" --strip-components=1
  (cd "$dir/redis-commander" && npm install --omit=dev --no-audit --no-fund --ignore-scripts >/dev/null)
  # As upstream's Dockerfile: user 10000 owns only the config directory.
  in_root "$dir" useradd --uid 10000 --gid 0 --home-dir /redis-commander --no-create-home --shell /bin/sh redis
  in_root "$dir" chown -R redis /redis-commander/config
  import "$dir" "$tag" "LABEL org.opencontainers.image.version=$commander_version" \
    'WORKDIR /redis-commander' 'ENV HOME=/redis-commander' 'ENV NODE_ENV=production' \
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' 'USER 10000' 'EXPOSE 8081' \
    'ENTRYPOINT ["/usr/bin/dumb-init", "--"]' 'CMD ["/redis-commander/docker/entrypoint.sh"]'
}

# Every image compose pulls, plus the FROM of the Dockerfiles it builds.
# (Functions share one namespace in sh: each uses its own variable names.)
wanted_images() {
  $COMPOSE -f "$root/docker-compose.yml" config --images | sort -u | while read -r image; do
    case $image in
      redis-cluster-starter-*) ;; # built from this repository
      *) echo "$image" ;;
    esac
  done
  node_version=$(sed -n 's/^ARG NODE_VERSION=//p' "$root/Dockerfile")
  echo "node:$node_version-trixie-slim"
}

command -v debootstrap >/dev/null || fail "debootstrap is missing (apt-get install debootstrap)"
mkdir -p "$STANDIN_CACHE/work"
for image in $(wanted_images); do
  if have_image "$image"; then
    log "have $image"
    continue
  fi
  case $image in
    redis:*) build_redis "$image" ;;
    valkey/valkey:*) build_valkey "$image" ;;
    node:*) build_node "$image" ;;
    *redis-commander:*) build_commander "$image" ;;
    *) fail "no stand-in recipe for $image: add one to $0" ;;
  esac
done
rm -rf "$STANDIN_CACHE/work"
