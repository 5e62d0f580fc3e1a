#!/bin/sh
# Starts one cluster node with redis/redis.conf plus any per-node options given
# as arguments; used by the compose nodes and by redis/native-cluster.sh.
#
# Users: an admin password (REDIS_PASSWORD, or the file REDIS_PASSWORD_FILE,
# by default the compose secret) turns on the users of redis/users.acl. The
# app's and Redis Commander's passwords come the same way (REDIS_APP_PASSWORD,
# REDIS_COMMANDER_PASSWORD, or their _FILE). The node's aclfile is written
# from users.acl at every start with the passwords as SHA-256 hashes; the
# admin password, which replicas use towards their master, is fed through
# stdin, so no password shows in ps or lands in a file in the clear.
#
# TLS: REDIS_TLS=1 makes the node listen on TLS only (port 0, tls-port
# REDIS_TLS_PORT) and speak TLS to its master and on the cluster bus, with the
# certificate, key and CA from REDIS_TLS_DIR (made by redis/make-certs.sh).
set -eu

here=$(cd "$(dirname "$0")" && pwd)

REDIS_CONF=${REDIS_CONF:-/usr/local/etc/redis/redis.conf}
REDIS_USERS=${REDIS_USERS:-$here/users.acl}
# Written at every start, hashes only: by default into the node's --dir, or
# where it is started (the data directory, /data, in the images).
REDIS_ACL_FILE=${REDIS_ACL_FILE:-}
REDIS_PASSWORD_FILE=${REDIS_PASSWORD_FILE:-/run/secrets/redis-password}
REDIS_APP_PASSWORD_FILE=${REDIS_APP_PASSWORD_FILE:-/run/secrets/redis-app-password}
REDIS_COMMANDER_PASSWORD_FILE=${REDIS_COMMANDER_PASSWORD_FILE:-/run/secrets/redis-commander-password}
REDIS_TLS=${REDIS_TLS:-0}
REDIS_TLS_PORT=${REDIS_TLS_PORT:-6379}
REDIS_TLS_DIR=${REDIS_TLS_DIR:-/tls}
REDIS_SERVER=${REDIS_SERVER:-redis-server}

fail() { printf 'node-start: %s\n' "$*" >&2; exit 2; }

# secret value file : the value if set, else the file's content. A file that
# is there but cannot be read is an error, not "no password": that would start
# the node with Redis's default user open.
secret() {
  if [ -n "$1" ]; then
    printf '%s' "$1"
  elif [ -e "$2" ]; then
    [ -r "$2" ] || fail "cannot read $2 as uid $(id -u); compose mounts a file secret with its mode on the host, so make it readable (chmod 644)"
    cat "$2"
  fi
}

# The hash Redis compares a password against ("#<hex>" in an ACL rule).
sha256() { printf '%s' "$1" | sha256sum | cut -d ' ' -f 1; }

# write_acl_file : users.acl without comments, each named user's hash appended.
write_acl_file() {
  [ -r "$REDIS_USERS" ] || fail "cannot read the users file $REDIS_USERS"
  [ -n "$app_password" ] || fail "users are on (an admin password is set) but the app has no password: set REDIS_APP_PASSWORD or REDIS_APP_PASSWORD_FILE"
  [ -n "$commander_password" ] || fail "users are on (an admin password is set) but Redis Commander has no password: set REDIS_COMMANDER_PASSWORD or REDIS_COMMANDER_PASSWORD_FILE"
  (
    umask 077
    awk -v admin="$(sha256 "$password")" -v app="$(sha256 "$app_password")" -v commander="$(sha256 "$commander_password")" '
      BEGIN { hash["admin"] = admin; hash["app"] = app; hash["commander"] = commander }
      /^[ \t]*(#|$)/ { next }
      $1 == "user" && ($2 in hash) { print $0 " #" hash[$2]; next }
      { print }
    ' "$REDIS_USERS" >"$REDIS_ACL_FILE"
  )
}

# data_dir args... : the value of --dir among the node's options, else here.
data_dir() {
  dir=$(pwd)
  while [ $# -gt 1 ]; do
    if [ "$1" = --dir ]; then dir=$2; fi
    shift
  done
  # Absolute: Redis reads the aclfile after it has moved into --dir.
  case $dir in
    /*) echo "$dir" ;;
    *) echo "$(pwd)/$dir" ;;
  esac
}

password=$(secret "${REDIS_PASSWORD:-}" "$REDIS_PASSWORD_FILE")
app_password=$(secret "${REDIS_APP_PASSWORD:-}" "$REDIS_APP_PASSWORD_FILE")
commander_password=$(secret "${REDIS_COMMANDER_PASSWORD:-}" "$REDIS_COMMANDER_PASSWORD_FILE")

# TLS options go before the caller's, so a caller's --port/--tls-port wins.
if [ "$REDIS_TLS" = 1 ]; then
  for file in ca.crt redis.crt redis.key; do
    [ -r "$REDIS_TLS_DIR/$file" ] || fail "REDIS_TLS=1 but $REDIS_TLS_DIR/$file is missing or unreadable; make it with redis/make-certs.sh"
  done
  # Clients authenticate with a password, as on managed clusters, so they need
  # no certificate of their own (tls-auth-clients no). The cluster bus always
  # asks a peer node for its certificate, whatever this setting says.
  set -- --port 0 --tls-port "$REDIS_TLS_PORT" \
    --tls-cert-file "$REDIS_TLS_DIR/redis.crt" --tls-key-file "$REDIS_TLS_DIR/redis.key" \
    --tls-ca-cert-file "$REDIS_TLS_DIR/ca.crt" --tls-auth-clients no \
    --tls-replication yes --tls-cluster yes "$@"
fi

# The app drops a trailing \r\n from its password file, this script only the
# \n: a file saved with Windows line endings would hash to another password.
cr=$(printf '\r')
for value in "$password" "$app_password" "$commander_password"; do
  case $value in
    *"$cr"*) fail "a password holds a carriage return (a file saved with Windows line endings?); remove it" ;;
  esac
done

if [ -z "$password" ]; then
  exec "$REDIS_SERVER" "$REDIS_CONF" "$@"
fi
case $password in
  *\"* | *\\*) fail "the password must not contain \" or \\" ;;
esac
REDIS_ACL_FILE=${REDIS_ACL_FILE:-$(data_dir "$@")/users.acl}
write_acl_file
# redis-server reads extra config from stdin when its last argument is "-".
# A here-document, not a pipe: in a pipeline exec would replace only a
# subshell, leaving this shell as the container's PID 1, which ignores SIGTERM,
# so `docker compose stop` would wait 10 s and then SIGKILL Redis.
exec "$REDIS_SERVER" "$REDIS_CONF" "$@" - <<EOF
aclfile "$REDIS_ACL_FILE"
masteruser admin
masterauth "$password"
EOF
