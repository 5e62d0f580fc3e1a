#!/bin/sh
# Starts one cluster node in a container with redis/redis.conf. If the
# redis-password secret is not empty, the node requires it from clients and
# uses it towards its master; it is fed through stdin so it never shows in ps.
set -eu

REDIS_CONF=${REDIS_CONF:-/usr/local/etc/redis/redis.conf}
REDIS_PASSWORD_FILE=${REDIS_PASSWORD_FILE:-/run/secrets/redis-password}

password=
if [ -r "$REDIS_PASSWORD_FILE" ]; then
  password=$(cat "$REDIS_PASSWORD_FILE")
fi

if [ -z "$password" ]; then
  exec redis-server "$REDIS_CONF"
fi
case $password in
  *\"* | *\\*) echo "node-start: the password must not contain \" or \\" >&2; exit 2 ;;
esac
printf 'requirepass "%s"\nmasterauth "%s"\n' "$password" "$password" | exec redis-server "$REDIS_CONF" -
