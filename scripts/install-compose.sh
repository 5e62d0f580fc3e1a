#!/bin/sh
# Puts Docker Compose v2 at $TOOLS_DIR/bin/docker-compose (and as a docker CLI
# plugin) without touching the system's apt sources: Debian bookworm only
# packages Compose v1, so the v2 package is fetched from trixie into a private
# apt state directory and unpacked with dpkg -x.
set -eu

TOOLS_DIR=${TOOLS_DIR:-$(cd "$(dirname "$0")/.." && pwd)/.tools}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
COMPOSE_SUITE=${COMPOSE_SUITE:-trixie}

target=$TOOLS_DIR/bin/docker-compose
if [ -x "$target" ]; then
  "$target" version
  exit 0
fi

state=$TOOLS_DIR/apt-$COMPOSE_SUITE
mkdir -p "$state/lists/partial" "$state/cache/archives/partial" "$state/deb" "$TOOLS_DIR/bin"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $DEBIAN_MIRROR $COMPOSE_SUITE main" >"$state/sources.list"

apt_private() {
  apt-get -q \
    -o Dir::Etc::SourceList="$state/sources.list" -o Dir::Etc::SourceParts=/dev/null \
    -o Dir::State::Lists="$state/lists" -o Dir::Cache="$state/cache" \
    -o APT::Sandbox::User=root "$@"
}

apt_private update >/dev/null
(cd "$state/deb" && apt_private download docker-compose >/dev/null)
dpkg -x "$state"/deb/docker-compose_*.deb "$state/root"
cp "$state/root/usr/libexec/docker/cli-plugins/docker-compose" "$target"

# As a CLI plugin too, so `docker compose` works where the client is installed.
plugins=${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins
mkdir -p "$plugins"
ln -sf "$target" "$plugins/docker-compose"
"$target" version
