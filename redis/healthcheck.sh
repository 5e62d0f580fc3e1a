#!/bin/sh
# Container healthcheck for a node: PING, authenticated when a password is set.
set -eu
REDIS_PASSWORD_FILE=${REDIS_PASSWORD_FILE:-/run/secrets/redis-password}
REDIS_CLI=${REDIS_CLI:-redis-cli}
if [ -s "$REDIS_PASSWORD_FILE" ]; then
  REDISCLI_AUTH=$(cat "$REDIS_PASSWORD_FILE")
  export REDISCLI_AUTH
fi
[ "$("$REDIS_CLI" ping)" = PONG ]
