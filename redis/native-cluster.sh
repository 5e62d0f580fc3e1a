#!/bin/sh
# Runs the compose topology (three masters, three replicas) on this machine
# with the native redis-server, using the same redis.conf and the same
# initiator script as the containers.
set -eu

here=$(cd "$(dirname "$0")" && pwd)

CLUSTER_DIR=${CLUSTER_DIR:-$here/../.cluster}
CLUSTER_HOST=${CLUSTER_HOST:-127.0.0.1}
CLUSTER_BASE_PORT=${CLUSTER_BASE_PORT:-7000}
CLUSTER_SIZE=${CLUSTER_SIZE:-6}
STOP_TIMEOUT=${STOP_TIMEOUT:-10}
REDIS_SERVER=${REDIS_SERVER:-redis-server}

# redis-cli reads the password from the environment, so it never shows in ps.
if [ -n "${REDIS_PASSWORD:-}" ]; then
  export REDISCLI_AUTH="$REDIS_PASSWORD"
fi

usage() {
  cat >&2 <<USAGE
usage: $0 start|stop|status|clean

  start   start $CLUSTER_SIZE nodes on $CLUSTER_HOST:$CLUSTER_BASE_PORT.. and form the cluster
  stop    shut every node down, keeping its data (start brings the same cluster back)
  status  show each node's role and the cluster check
  clean   stop, then delete $CLUSTER_DIR

  Settings (environment): CLUSTER_DIR, CLUSTER_HOST, CLUSTER_BASE_PORT,
  CLUSTER_SIZE, STOP_TIMEOUT, REDIS_PASSWORD (optional; requirepass + masterauth)
USAGE
  exit 2
}

log() { printf 'native-cluster: %s\n' "$*"; }

ports() {
  i=0
  while [ "$i" -lt "$CLUSTER_SIZE" ]; do
    echo $((CLUSTER_BASE_PORT + i))
    i=$((i + 1))
  done
}

node_dir() { echo "$CLUSTER_DIR/$1"; }

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
  # The same start script as the containers, so the password is handled alike.
  REDIS_CONF="$here/redis.conf" REDIS_SERVER="$REDIS_SERVER" sh "$here/node-start.sh" \
    --port "$port" --bind "$CLUSTER_HOST" --dir "$dir" \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
}

stop_node() {
  port=$1
  is_running "$port" || return 0
  pid=$(pid_of "$port")
  redis-cli -h "$CLUSTER_HOST" -p "$port" shutdown >/dev/null 2>&1 || true
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

cmd_status() {
  for port in $(ports); do
    if is_running "$port"; then
      role=$(redis-cli -h "$CLUSTER_HOST" -p "$port" role 2>/dev/null | head -n 1)
      log "$CLUSTER_HOST:$port running ($role)"
    else
      log "$CLUSTER_HOST:$port stopped"
    fi
  done
  redis-cli --cluster check "$CLUSTER_HOST:$CLUSTER_BASE_PORT"
}

case ${1:-} in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  clean) cmd_stop && rm -rf "$CLUSTER_DIR" && log "removed $CLUSTER_DIR" ;;
  *) usage ;;
esac
