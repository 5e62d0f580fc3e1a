#!/bin/sh
# Makes a password for each user of redis/users.acl (admin, app, commander)
# in SECRETS_DIR, one file each, and says how to start compose with them.
# Keeps files that exist: a cluster keeps the passwords it was started with
# until its nodes restart.
#
# Hex from /dev/urandom: no quote, backslash or carriage return, which
# node-start.sh refuses, and nothing a shell or a config file would mangle.
set -eu

SECRETS_DIR=${SECRETS_DIR:-./secrets}
PASSWORD_BYTES=${PASSWORD_BYTES:-24}

log() { printf 'make-passwords: %s\n' "$*"; }

new_password() { head -c "$PASSWORD_BYTES" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# Compose bind-mounts a file secret as it is, so the containers' unprivileged
# users (nodes, initiator, app, Commander) need the files readable; the
# directory, which no container sees, keeps other users of this machine out.
mkdir -p "$SECRETS_DIR"
chmod 700 "$SECRETS_DIR"
for user in admin app commander; do
  file=$SECRETS_DIR/redis-$user-password
  if [ -s "$file" ]; then
    log "keeping $file"
  else
    new_password >"$file"
    chmod 644 "$file"
    log "made $file"
  fi
done
log "every docker compose command for this stack needs these (without them compose starts the nodes with users off):"
printf '  export REDIS_PASSWORD_FILE=%s REDIS_APP_PASSWORD_FILE=%s REDIS_COMMANDER_PASSWORD_FILE=%s\n' \
  "$SECRETS_DIR/redis-admin-password" "$SECRETS_DIR/redis-app-password" "$SECRETS_DIR/redis-commander-password"
log "then: docker compose up --wait"
