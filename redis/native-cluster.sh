#!/bin/sh
# Runs the compose topology (three masters, three replicas) on this machine
# with the native redis-server, using the same redis.conf and the same
# initiator and scaling scripts as the containers.
set -eu

here=$(cd "$(dirname "$0")" && pwd)

CLUSTER_DIR=${CLUSTER_DIR:-$here/../.cluster}
CLUSTER_HOST=${CLUSTER_HOST:-127.0.0.1}
CLUSTER_BASE_PORT=${CLUSTER_BASE_PORT:-7000}
CLUSTER_SIZE=${CLUSTER_SIZE:-6}
STOP_TIMEOUT=${STOP_TIMEOUT:-10}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
# cluster-init.sh and cluster-scale.sh read it too (valkey-cli works).
REDIS_CLI=${REDIS_CLI:-redis-cli}
export REDIS_CLI
# node-start.sh, cluster-init.sh and cluster-scale.sh read these too.
REDIS_TLS=${REDIS_TLS:-0}
REDIS_TLS_DIR=${REDIS_TLS_DIR:-$CLUSTER_DIR/tls}
REDIS_USER=${REDIS_USER:-admin}
export REDIS_TLS REDIS_TLS_DIR REDIS_USER

# redis-cli reads the password from the environment, so it never shows in ps.
if [ -n "${REDIS_PASSWORD:-}" ]; then
  export REDISCLI_AUTH="$REDIS_PASSWORD"
fi

usage() {
  cat >&2 <<USAGE
usage: $0 start|stop|status|clean|add-shard|remove-shard

  start         start $CLUSTER_SIZE nodes on $CLUSTER_HOST:$CLUSTER_BASE_PORT.. and form the cluster
                (and any shards added since, on the ports after them)
  stop          shut every node down, keeping its data (start brings the same cluster back)
  status        show each node's role, the shards and the cluster check
  clean         stop, then delete $CLUSTER_DIR
  add-shard     start a master and a replica on the next two free ports and
                add them as a shard (redis/cluster-scale.sh add)
  remove-shard  move the last added shard's slots away, remove its two nodes
                and delete their data; never one of the first $((CLUSTER_SIZE / 2)) shards

  Settings (environment): CLUSTER_DIR, CLUSTER_HOST, CLUSTER_BASE_PORT,
  CLUSTER_SIZE, STOP_TIMEOUT, REDIS_SERVER, REDIS_CLI,
  REDIS_PASSWORD (optional: the admin password; turns on the users of
  users.acl, with REDIS_APP_PASSWORD and REDIS_COMMANDER_PASSWORD),
  REDIS_TLS=1 (TLS only, with certificates redis/make-certs.sh makes in
  REDIS_TLS_DIR, default \$CLUSTER_DIR/tls), and cluster-scale.sh's
  SCALE_TIMEOUT and SCALE_PIPELINE
USAGE
  exit 2
}

log() { printf 'native-cluster: %s\n' "$*"; }
fail() { printf 'native-cluster: error: %s\n' "$*" >&2; exit 1; }

# The first CLUSTER_SIZE ports, then one more for every node add-shard
# started: their data directories, on the ports right after, say which.
ports() {
  i=0
  while [ "$i" -lt "$CLUSTER_SIZE" ] || [ -d "$(node_dir $((CLUSTER_BASE_PORT + i)))" ]; do
    echo $((CLUSTER_BASE_PORT + i))
    i=$((i + 1))
  done
}

node_dir() { echo "$CLUSTER_DIR/$1"; }

# redis_cli args... : the CLI as REDIS_USER, over TLS when REDIS_TLS=1.
redis_cli() {
  if [ "$REDIS_TLS" = 1 ]; then set -- --tls --cacert "$REDIS_TLS_DIR/ca.crt" "$@"; fi
  # The name only with a password: given --user alone, redis-cli 7.0 sends
  # MIGRATE a broken AUTH2 and every slot move fails with CROSSSLOT.
  if [ -n "${REDISCLI_AUTH:-}" ]; then set -- --user "$REDIS_USER" "$@"; fi
  "$REDIS_CLI" "$@"
}

pid_of() {
  pidfile="$(node_dir "$1")/redis.pid"
  [ -f "$pidfile" ] && cat "$pidfile"
}

# A killed node can linger as a zombie where nobody reaps it; that is not running.
is_running() {
  pid=$(pid_of "$1") || return 1
  case $(ps -o stat= -p "$pid" 2>/dev/null) in
    "" | Z*) return 1 ;;
    *) return 0 ;;
  esac
}

# Milliseconds since the epoch where date supports %N, else seconds * 1000.
now_ms() {
  ns=$(date +%s%N)
  case $ns in
    *N) echo $(( $(date +%s) * 1000 )) ;;
    *) echo $(( ns / 1000000 )) ;;
  esac
}

start_node() {
  port=$1
  dir=$(node_dir "$port")
  if is_running "$port"; then
    log "node $port already running"
    return
  fi
  mkdir -p "$dir"
  # With TLS the node listens on TLS only.
  if [ "$REDIS_TLS" = 1 ]; then set -- --port 0 --tls-port "$port"; else set -- --port "$port"; fi
  # The same start script as the containers, so passwords and TLS are handled alike.
  REDIS_CONF="$here/redis.conf" REDIS_SERVER="$REDIS_SERVER" sh "$here/node-start.sh" \
    "$@" --bind "$CLUSTER_HOST" --dir "$dir" \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
}

stop_node() {
  port=$1
  is_running "$port" || return 0
  pid=$(pid_of "$port")
  redis_cli -h "$CLUSTER_HOST" -p "$port" shutdown >/dev/null 2>&1 || true
  # Redis deletes its pidfile as the last step of a clean shutdown; watching
  # the file rather than the pid also works where nobody reaps the zombie.
  waited=0
  while [ -f "$(node_dir "$port")/redis.pid" ] && is_running "$port"; do
    if [ "$waited" -ge $((STOP_TIMEOUT * 10)) ]; then
      log "node $port did not stop in ${STOP_TIMEOUT}s; killing it"
      kill -9 "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  rm -f "$(node_dir "$port")/redis.pid"
}

node_list() {
  list=
  for port in $(ports); do
    list="$list $CLUSTER_HOST:$port"
  done
  echo "${list# }"
}

cmd_start() {
  command -v "$REDIS_SERVER" >/dev/null || {
    echo "native-cluster: $REDIS_SERVER not found; install Redis (Debian: apt-get install redis-server redis-tools)" >&2
    exit 1
  }
  started=$(now_ms)
  if [ "$REDIS_TLS" = 1 ]; then TLS_DIR="$REDIS_TLS_DIR" sh "$here/make-certs.sh"; fi
  for port in $(ports); do
    start_node "$port"
  done
  REDIS_NODES=$(node_list) sh "$here/cluster-init.sh"
  log "cluster ready on $(node_list) in $(( $(now_ms) - started )) ms"
}

cmd_stop() {
  for port in $(ports); do
    stop_node "$port"
  done
  log "stopped"
}

cli() {
  port=$1
  shift
  redis_cli -h "$CLUSTER_HOST" -p "$port" "$@" 2>/dev/null | tr -d '\r'
}

# first_running : the port of the first node that is up, to ask about the cluster.
first_running() {
  for port in $(ports); do
    if is_running "$port"; then
      echo "$port"
      return
    fi
  done
  return 1
}

# show_shards port : one line per master (slots, keys) with its replicas, as that node sees them.
show_shards() {
  nodes=$(cli "$1" cluster nodes)
  echo "$nodes" | awk '$3 ~ /master/ && $3 !~ /fail|handshake|noaddr/ {
    n = 0
    for (i = 9; i <= NF; i++) if ($i !~ /^\[/) { c = split($i, r, "-"); n += c == 2 ? r[2] - r[1] + 1 : 1 }
    split($2, a, "@")
    print a[1], $1, n
  }' | sort -t: -k2n | while read -r address id slots; do
    replicas=
    for replica in $(echo "$nodes" | awk -v id="$id" '$4 == id { split($2, a, "@"); print a[1] }'); do
      link=$(cli "${replica##*:}" info replication | sed -n 's/^master_link_status://p')
      replicas="$replicas $replica (link ${link:-unknown})"
    done
    log "shard $address: $slots slots, $(cli "${address##*:}" dbsize) keys; replica(s):${replicas:- none}"
  done
}

cmd_status() {
  for port in $(ports); do
    if is_running "$port"; then
      role=$(cli "$port" role | head -n 1)
      log "$CLUSTER_HOST:$port running ($role)"
    else
      log "$CLUSTER_HOST:$port stopped"
    fi
  done
  port=$(first_running) || fail "no node is running; start the cluster with: $0 start"
  show_shards "$port"
  redis_cli --cluster check "$CLUSTER_HOST:$port"
}

# The nodes add-shard started, beyond the first CLUSTER_SIZE, two per shard
# (master, then replica); the last shard's master, if any.
added_nodes() { ports | sed "1,${CLUSTER_SIZE}d"; }
last_added_master() { added_nodes | awk 'NR % 2 == 1' | tail -n 1; }

scale() {
  entry=$(first_running) || fail "no node is running; start the cluster with: $0 start"
  CLUSTER_ENTRY="$CLUSTER_HOST:$entry" sh "$here/cluster-scale.sh" "$@"
}

# A marker in the new master's directory, written once its shard is in
# place: an add-shard that stopped halfway is finished by the next one.
joined_marker() { echo "$(node_dir "$1")/shard-joined"; }

cmd_add_shard() {
  # New nodes beside a stopped cluster would be taken for members by the next start.
  first_running >/dev/null || fail "no node is running; start the cluster first: $0 start"
  last=$(last_added_master)
  if [ -n "$last" ] && [ ! -f "$(joined_marker "$last")" ]; then
    master=$last
    log "finishing the shard on $master/$((master + 1)) that an earlier add-shard left halfway"
  else
    master=$((CLUSTER_BASE_PORT + $(ports | wc -l)))
  fi
  replica=$((master + 1))
  started=$(now_ms)
  start_node "$master"
  start_node "$replica"
  scale add "$CLUSTER_HOST:$master" "$CLUSTER_HOST:$replica" ||
    fail "the shard on $master/$replica is not in place; run add-shard again to finish it, or remove-shard to take it away"
  touch "$(joined_marker "$master")"
  log "shard $CLUSTER_HOST:$master (replica $replica) added in $(( $(now_ms) - started )) ms; $(( $(ports | wc -l) / 2 )) shards"
}

cmd_remove_shard() {
  master=$(last_added_master)
  [ -n "$master" ] || fail "no shard was added; remove-shard never removes one of the first $((CLUSTER_SIZE / 2))"
  replica=$((master + 1))
  started=$(now_ms)
  scale remove "$CLUSTER_HOST:$master" "$CLUSTER_HOST:$replica"
  for port in "$replica" "$master"; do
    stop_node "$port"
    rm -rf "$(node_dir "$port")"
  done
  log "shard $CLUSTER_HOST:$master (replica $replica) removed in $(( $(now_ms) - started )) ms; $(( $(ports | wc -l) / 2 )) shards"
}

case ${1:-} in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  clean) cmd_stop && rm -rf "$CLUSTER_DIR" && log "removed $CLUSTER_DIR" ;;
  add-shard) cmd_add_shard ;;
  remove-shard) cmd_remove_shard ;;
  *) usage ;;
esac
