#!/bin/sh
# Container healthcheck for a node: PING as the admin user when a password is
# set, over TLS when REDIS_TLS=1 (the node listens on nothing else then).
set -eu
REDIS_PASSWORD_FILE=${REDIS_PASSWORD_FILE:-/run/secrets/redis-password}
REDIS_CLI=${REDIS_CLI:-redis-cli}
REDIS_USER=${REDIS_USER:-admin}
REDIS_TLS=${REDIS_TLS:-0}
REDIS_TLS_DIR=${REDIS_TLS_DIR:-/tls}
REDIS_TLS_PORT=${REDIS_TLS_PORT:-6379}
if [ -s "$REDIS_PASSWORD_FILE" ]; then
  REDISCLI_AUTH=$(cat "$REDIS_PASSWORD_FILE")
  export REDISCLI_AUTH
  set -- --user "$REDIS_USER"
fi
if [ "$REDIS_TLS" = 1 ]; then
  set -- "$@" --tls --cacert "$REDIS_TLS_DIR/ca.crt" -p "$REDIS_TLS_PORT"
fi
[ "$("$REDIS_CLI" "$@" ping)" = PONG ]
