#!/bin/sh
# Container healthcheck for a node: PING, authenticated when a password is set.
set -eu
REDIS_PASSWORD_FILE=${REDIS_PASSWORD_FILE:-/run/secrets/redis-password}
if [ -s "$REDIS_PASSWORD_FILE" ]; then
  REDISCLI_AUTH=$(cat "$REDIS_PASSWORD_FILE")
  export REDISCLI_AUTH
fi
[ "$(redis-cli ping)" = PONG ]
