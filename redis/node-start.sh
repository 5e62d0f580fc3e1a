#!/bin/sh
# Starts one cluster node with redis/redis.conf plus any per-node options given
# as arguments; used by the compose nodes and by redis/native-cluster.sh.
# A password (REDIS_PASSWORD, or the file REDIS_PASSWORD_FILE, by default the
# compose secret) makes the node require it from clients and use it towards
# its master; it is fed through stdin so it never shows in ps.
set -eu

REDIS_CONF=${REDIS_CONF:-/usr/local/etc/redis/redis.conf}
REDIS_PASSWORD_FILE=${REDIS_PASSWORD_FILE:-/run/secrets/redis-password}
REDIS_SERVER=${REDIS_SERVER:-redis-server}

password=${REDIS_PASSWORD:-}
if [ -z "$password" ] && [ -r "$REDIS_PASSWORD_FILE" ]; then
  password=$(cat "$REDIS_PASSWORD_FILE")
fi

if [ -z "$password" ]; then
  exec "$REDIS_SERVER" "$REDIS_CONF" "$@"
fi
case $password in
  *\"* | *\\*) echo "node-start: the password must not contain \" or \\" >&2; exit 2 ;;
esac
# redis-server reads extra config from stdin when its last argument is "-".
# A here-document, not a pipe: in a pipeline exec would replace only a
# subshell, leaving this shell as the container's PID 1, which ignores SIGTERM,
# so `docker compose stop` would wait 10 s and then SIGKILL Redis.
exec "$REDIS_SERVER" "$REDIS_CONF" "$@" - <<EOF
requirepass "$password"
masterauth "$password"
EOF
