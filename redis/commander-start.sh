#!/bin/sh
# Starts Redis Commander on the cluster with its connection written to a
# config file that the image's entrypoint then loads, rather than passed as
# the entrypoint's REDIS_* variables: the entrypoint hands REDIS_PASSWORD to
# node as --redis-password, where anyone on the host sees it in ps.
#
# The compose redis-commander service runs it as its command; it needs the
# image's jq and entrypoint (ghcr.io/joeferner/redis-commander 0.9.x).
set -eu

COMMANDER_CLUSTER=${COMMANDER_CLUSTER:-redis-node-1:6379,redis-node-2:6379,redis-node-3:6379}
# The ACL user; used only with a password (an empty file means none).
COMMANDER_USERNAME=${COMMANDER_USERNAME:-commander}
COMMANDER_PASSWORD_FILE=${COMMANDER_PASSWORD_FILE:-/run/secrets/redis-commander-password}
# Set: connect over TLS, trusting this CA and checking each node's name.
COMMANDER_TLS_CA_FILE=${COMMANDER_TLS_CA_FILE:-}
COMMANDER_ENTRYPOINT=${COMMANDER_ENTRYPOINT:-/redis-commander/docker/entrypoint.sh}

password=
if [ -s "$COMMANDER_PASSWORD_FILE" ]; then password=$(cat "$COMMANDER_PASSWORD_FILE"); fi
ca=
if [ -n "$COMMANDER_TLS_CA_FILE" ]; then ca=$(cat "$COMMANDER_TLS_CA_FILE"); fi

# The file node-config reads last for NODE_ENV; the entrypoint keeps one that exists.
umask 077
PASSWORD=$password CA=$ca jq -n --arg clusters "$COMMANDER_CLUSTER" --arg user "$COMMANDER_USERNAME" '{
  connections: [({ label: "cluster", clusters: $clusters, dbIndex: 0 }
    + (if env.PASSWORD != "" then { username: $user, password: env.PASSWORD } else {} end)
    + (if env.CA != "" then { tls: { ca: env.CA } } else {} end))]
}' >"$HOME/config/local-${NODE_ENV:-production}.json"
exec "$COMMANDER_ENTRYPOINT"
