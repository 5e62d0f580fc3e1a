#!/usr/bin/env bash
# Runs the project's own docker-compose.yml, unchanged, and checks it from
# outside: cluster shape, app, Redis Commander, sessions, restarts and a master
# failover; in the full run also live development, a second app instance, and
# a shard added and removed under load. It prints how long each
# `docker compose up --wait` took, cold and warm, with the breakdown.
#
# Two engines (COMPOSE_E2E_ENGINE):
#   private (default)  a Docker engine of its own (Debian's docker.io) on its own
#                      socket and data directory, with stand-in images built by
#                      scripts/standin-images.sh, for machines with no registry
#                      access; it needs root
#   host               the engine already there (DOCKER_HOST or the default
#                      socket) and `docker compose` from PATH, with the real
#                      images from their registries; nothing is installed
# Users and TLS come from the environment, as for `docker compose up`:
#   REDIS_PASSWORD_FILE, REDIS_APP_PASSWORD_FILE, REDIS_COMMANDER_PASSWORD_FILE
#                      the three users' passwords (redis/make-passwords.sh):
#                      checks what each user may do
#   COMPOSE_E2E_TLS=1  adds docker-compose.tls.yml: checks that the nodes speak
#                      TLS only, and every client connects over TLS
# Either way it works in its own compose project and removes that project's
# containers, volumes and networks at the end; it never touches anything else.
# Traffic stays between this machine and its own containers.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

ENGINE=${COMPOSE_E2E_ENGINE:-private}
# 0 leaves out the slow checks (live dev, a second app instance, scaling under
# load): CI runs them in one of its three configurations only.
FULL=${COMPOSE_E2E_FULL:-1}
TOOLS_DIR=${TOOLS_DIR:-$root/.tools}
ENGINE_DIR=${ENGINE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/redis-cluster-starter/engine}
PROJECT=${PROJECT:-redis-cluster-starter-e2e}
SUBNET_PREFIX=${REDIS_SUBNET_PREFIX:-172.28.0}
APP=http://127.0.0.1:${APP_PORT:-4000}
APP_2=http://127.0.0.1:${APP_2_PORT:-4002}
COMMANDER=http://127.0.0.1:${COMMANDER_PORT:-5000}
DEV_APP=http://127.0.0.1:${APP_DEV_PORT:-4001}
# The view the live-dev check edits, and restores.
DEV_VIEW=views/home.hbs
UP_TIMEOUT=${UP_TIMEOUT:-240}
# Adding or removing a shard moves 4096 slots; on a busy machine that takes minutes.
SCALE_COMMAND_TIMEOUT=${SCALE_COMMAND_TIMEOUT:-900}
LOAD_WORKERS=${LOAD_WORKERS:-8}
# Between a worker's requests: steady load that leaves the slot moves some CPU.
LOAD_PAUSE_MS=${LOAD_PAUSE_MS:-20}
TLS=${COMPOSE_E2E_TLS:-0}
compose_files=(-f docker-compose.yml)
[ "$TLS" != 1 ] || compose_files+=(-f docker-compose.tls.yml)
USERS=0
if [ -n "${REDIS_PASSWORD_FILE:-}" ]; then
  USERS=1
  for variable in REDIS_APP_PASSWORD_FILE REDIS_COMMANDER_PASSWORD_FILE; do
    [ -s "${!variable:-}" ] || {
      echo "with REDIS_PASSWORD_FILE, $variable must name a file too (redis/make-passwords.sh makes all three)" >&2
      exit 2
    }
  done
fi
# issue 12's goal for `docker compose up --wait` with the images present.
UP_GOAL_SECONDS=5

case $ENGINE in
  private) compose_bin=("$TOOLS_DIR/bin/docker-compose") ;;
  host) compose_bin=(docker compose) ;;
  *)
    echo "COMPOSE_E2E_ENGINE must be private or host (got \"$ENGINE\")" >&2
    exit 2
    ;;
esac

run_dir=$(mktemp -d /tmp/compose-e2e.XXXXXX)
if [ "$ENGINE" = private ]; then
  export DOCKER_HOST=unix://$run_dir/docker.sock
  # The engine's own builder works from local images; BuildKit would ask a registry.
  export DOCKER_BUILDKIT=0
fi
dockerd_pid=
watch_pid=
host_app_pid=
load_pid=
# Files the run writes to, restored from $run_dir/orig byte for byte (at the latest in teardown).
edited=()
ip_forward_before=$(cat /proc/sys/net/ipv4/ip_forward)
failures=0
# "seconds label" of every `up --wait`, for the summary.
up_times=()

step() { printf '\n== %s\n' "$*"; }
pass() { printf 'PASS %s\n' "$*"; }
fail() {
  printf 'FAIL %s\n' "$*" >&2
  failures=$((failures + 1))
  exit 1
}

compose() { timeout 300 "${compose_bin[@]}" -p "$PROJECT" "${compose_files[@]}" "$@"; }
# For the commands that move slots.
compose_long() { timeout "$SCALE_COMMAND_TIMEOUT" "${compose_bin[@]}" -p "$PROJECT" "${compose_files[@]}" "$@"; }
every_profile=(--profile dev --profile scale --profile second-app)
# cli_as USER SERVICE ARGS... : redis-cli inside a node's container, as USER
# (admin, app or commander: the password is the node's copy of that user's
# secret; none when the stack has no passwords, "none" for no credentials),
# over TLS when the node speaks it.
cli_as() {
  local user=$1 service=$2
  shift 2
  # shellcheck disable=SC2016 # expanded by the container's shell
  compose --profile scale exec -T -e CLI_USER="$user" "$service" sh -c '
    secret=/run/secrets/redis-$CLI_USER-password
    [ "$CLI_USER" != admin ] || secret=/run/secrets/redis-password
    if [ -s "$secret" ]; then REDISCLI_AUTH=$(cat "$secret"); export REDISCLI_AUTH; set -- --user "$CLI_USER" "$@"; fi
    if [ "${REDIS_TLS:-0}" = 1 ]; then set -- --tls --cacert /tls/ca.crt "$@"; fi
    exec redis-cli "$@"' sh "$@"
}
cli_on() { cli_as admin "$@"; }
cli() { cli_on redis-node-1 "$@"; }

keep_original() {
  mkdir -p "$run_dir/orig/$(dirname "$1")"
  cp "$1" "$run_dir/orig/$1"
  edited+=("$1")
}
restore_originals() {
  local file status=0
  for file in "${edited[@]}"; do
    cat "$run_dir/orig/$file" >"$file"
    cmp -s "$run_dir/orig/$file" "$file" || { echo "could not restore $file from $run_dir/orig" >&2; status=1; }
  done
  edited=()
  return "$status"
}

# alive PID : the process runs (an exited child not yet waited for is a zombie, not alive).
alive() {
  local state
  state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}
# stop_pid PID : TERM, then KILL after 10 s; for the processes this script started.
stop_pid() {
  [ -n "$1" ] || return 0
  kill "$1" 2>/dev/null || true
  for _ in $(seq 1 50); do alive "$1" || break; sleep 0.2; done
  pkill -KILL -P "$1" 2>/dev/null || true
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
# Stops `compose watch` (timeout passes the TERM on).
stop_watch() {
  stop_pid "$watch_pid"
  watch_pid=
}

engine_answers() {
  if [ "$ENGINE" = private ]; then
    [ -n "$dockerd_pid" ] && kill -0 "$dockerd_pid" 2>/dev/null
  else
    docker version >/dev/null 2>&1
  fi
}

stop_private_engine() {
  if [ -n "$dockerd_pid" ] && kill -0 "$dockerd_pid" 2>/dev/null; then
    kill "$dockerd_pid"
    for _ in $(seq 1 100); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$dockerd_pid" 2>/dev/null || true
  fi
  echo "$ip_forward_before" >/proc/sys/net/ipv4/ip_forward
  # dockerd leaves its network namespace mounted under the exec root.
  umount "$run_dir"/exec/netns/* 2>/dev/null || true
  echo "engine stopped, ip_forward restored to $ip_forward_before"
}

teardown() {
  local status=$?
  step "teardown"
  restore_originals || status=1
  stop_watch
  stop_pid "$host_app_pid"
  stop_pid "$load_pid"
  if engine_answers; then
    if [ "$status" -ne 0 ]; then
      [ ! -s "$run_dir/watch.log" ] || tail -n 30 "$run_dir/watch.log"
      [ ! -s "$run_dir/load.err" ] || tail -n 30 "$run_dir/load.err"
      [ ! -s "$run_dir/scale.log" ] || tail -n 40 "$run_dir/scale.log"
      compose "${every_profile[@]}" ps -a || true
      compose "${every_profile[@]}" logs --no-color --tail 30 || true
    fi
    compose "${every_profile[@]}" down --volumes --remove-orphans --timeout 5 >/dev/null 2>&1 || true
    echo "compose project $PROJECT removed (containers, volumes, networks)"
  fi
  [ "$ENGINE" != private ] || stop_private_engine
  rm -rf "$run_dir" || true
  if [ "$status" -eq 0 ] && [ "$failures" -eq 0 ]; then
    echo "compose e2e: all checks passed"
  else
    echo "compose e2e: FAILED" >&2
  fi
  exit "$status"
}
trap teardown EXIT

install_tools() {
  local wanted=()
  command -v dockerd >/dev/null || wanted+=(docker.io)
  command -v debootstrap >/dev/null || wanted+=(debootstrap)
  command -v curl >/dev/null || wanted+=(curl)
  if [ ${#wanted[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${wanted[@]}" >/dev/null
  fi
  TOOLS_DIR=$TOOLS_DIR sh scripts/install-compose.sh >/dev/null
}

start_private_engine() {
  mkdir -p "$ENGINE_DIR"
  dockerd --iptables=false --ip6tables=false --ip-forward=false \
    --data-root "$ENGINE_DIR" --exec-root "$run_dir/exec" --pidfile "$run_dir/docker.pid" \
    --host "$DOCKER_HOST" >"$run_dir/dockerd.log" 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 1 150); do
    docker version >/dev/null 2>&1 && return 0
    kill -0 "$dockerd_pid" 2>/dev/null || break
    sleep 0.2
  done
  cat "$run_dir/dockerd.log" >&2
  fail "dockerd did not become ready"
}

use_host_engine() {
  command -v curl >/dev/null || fail "curl is missing"
  docker version >/dev/null 2>&1 || fail "no Docker engine answers at ${DOCKER_HOST:-the default socket}"
  "${compose_bin[@]}" version >/dev/null 2>&1 || fail "\`docker compose\` (Compose v2) is missing"
  # Left over from an earlier run of this script that was killed: its own project, nothing else.
  compose "${every_profile[@]}" down --volumes --remove-orphans --timeout 5 >/dev/null 2>&1 || true
}

# wait_for_quietly SECONDS COMMAND... : a bounded poll; fails when time is up.
wait_for_quietly() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}
# wait_for SECONDS DESCRIPTION COMMAND... : the same, failing the run with DESCRIPTION.
wait_for() {
  local seconds=$1 what=$2
  shift 2
  wait_for_quietly "$seconds" "$@" || fail "$what (not within ${seconds}s)"
}

save() { curl -fsS -o /dev/null --max-time 10 -d "key=$1" -d "value=$2" "$APP/save-data"; }
# Output is captured before grep: with pipefail, `cmd | grep -q` fails when
# grep stops reading early and cmd gets SIGPIPE.
found_value() {
  local page
  page=$(curl -fsS --max-time 10 -d "key=$1" "$APP/search") || return 1
  [[ $page == *'data-result="found"'* && $page == *"$2"* ]]
}
# The image compose runs the nodes on. `config --images SERVICE` also lists the
# images of the services it depends on (with TLS, the certificate maker's).
node_image() { compose config --images redis-node-1 | grep -v '^redis-cluster-starter-'; }
exit_code() { docker inspect --format '{{.State.ExitCode}}' "$(compose "${every_profile[@]}" ps -a -q "$1")"; }
# A service's health; fails (no .State.Health) if it has no healthcheck.
health() { docker inspect --format '{{.State.Health.Status}}' "$(compose "${every_profile[@]}" ps -q "$1")" 2>&1; }
now_ns() { date +%s%N; }
seconds_since() { awk -v from="$1" -v to="$(now_ns)" 'BEGIN { printf "%.1f", (to - from) / 1e9 }'; }

# breakdown FROM_NS : when each service started, became healthy or exited,
# in seconds after FROM_NS, from the engine's own events.
breakdown() {
  local from=$1 since
  since=$(awk -v ns="$from" 'BEGIN { printf "%.3f", ns / 1e9 }')
  docker events --since "$since" --until "$(date +%s.%N)" \
    --filter "label=com.docker.compose.project=$PROJECT" --filter type=container \
    --format '{{.TimeNano}} {{index .Actor.Attributes "com.docker.compose.service"}} {{.Action}}' |
    awk -v from="$from" '
      function note(service, event, text) {
        if ((service, event) in seen) return
        seen[service, event] = 1
        if (!(service in line)) order[++n] = service
        line[service] = line[service] (line[service] == "" ? "" : ", ") text
      }
      { t = sprintf("+%.1f", ($1 - from) / 1e9) }
      $3 == "start" { note($2, "start", "started " t) }
      $3 == "health_status:" && $4 == "healthy" { note($2, "healthy", "healthy " t) }
      $3 == "die" { note($2, "die", "exited " t) }
      END { for (i = 1; i <= n; i++) printf "  %-18s %s\n", order[i], line[order[i]] }'
  # What the initiator did meanwhile, from its own log lines.
  compose logs --no-log-prefix --timestamps --no-color cluster_initiator | while read -r stamp text; do
    stamp=${stamp##*$'\e[2K'} # compose starts each line by clearing it
    printf '    +%s %s\n' "$(awk -v from="$from" -v at="$(date -d "$stamp" +%s%N)" 'BEGIN { printf "%.1f", (at - from) / 1e9 }')" "$text"
  done | grep -E 'cluster-init|>>>|Waiting' || true
}

# up LABEL [--breakdown] : docker compose up --wait, timed; every service must
# be healthy (the initiator: the cluster formed), and session_secret have exited 0.
up() {
  local label=$1 started elapsed
  started=$(now_ns)
  compose up --detach --wait --no-build --wait-timeout "$UP_TIMEOUT" >"$run_dir/up.log" 2>&1 ||
    { cat "$run_dir/up.log"; fail "docker compose up --wait ($label)"; }
  elapsed=$(seconds_since "$started")
  up_times+=("$elapsed $label")
  [ "$(health cluster_initiator)" = healthy ] || fail "cluster_initiator is healthy, the cluster formed (saw: $(health cluster_initiator))"
  [ "$(exit_code session_secret)" = 0 ] || fail "session_secret exited $(exit_code session_secret)"
  [ "$TLS" != 1 ] || [ "$(exit_code redis-tls-certs)" = 0 ] || fail "redis-tls-certs exited $(exit_code redis-tls-certs)"
  [[ $(compose ps -a --services) != *app-dev* ]] || fail "docker compose up leaves the dev profile's app-dev alone"
  pass "docker compose up --wait ($label) in ${elapsed}s: every service healthy, the cluster formed, session_secret exited 0"
  if [ "${2:-}" = --breakdown ]; then
    echo "  (seconds after \`up\` began; it returned at +$elapsed)"
    breakdown "$started"
  fi
}

# Every node and the initiator run the one image compose names (REDIS_IMAGE),
# and the servers are what it says: only Valkey reports valkey_version.
check_server() {
  local image service used server
  image=$(node_image)
  for service in redis-node-1 redis-node-2 redis-node-3 redis-node-4 redis-node-5 redis-node-6 cluster_initiator; do
    used=$(docker inspect --format '{{.Config.Image}}' "$(compose ps -a -q "$service")")
    [ "$used" = "$image" ] || fail "$service runs $image (saw $used)"
  done
  server=$(cli info server | tr -d '\r')
  if [[ $image == valkey/* ]]; then
    [[ $server == *valkey_version:* ]] || fail "$image runs Valkey (INFO server has no valkey_version)"
  else
    [[ $server != *valkey_version:* ]] || fail "$image runs Redis, not Valkey"
  fi
  pass "every node and the initiator run $image: $(grep -E '^(valkey|redis)_version:' <<<"$server" | tr '\n' ' ')($(cli_on redis-node-1 --version | tr -d '\r'))"
}

# The server (PID 1 of each node, through node-start.sh's exec) is not root.
check_node_users() {
  local service status name uid
  for service in redis-node-1 redis-node-2 redis-node-3 redis-node-4 redis-node-5 redis-node-6; do
    status=$(compose exec -T "$service" cat /proc/1/status)
    name=$(awk '$1 == "Name:" { print $2 }' <<<"$status")
    uid=$(awk '$1 == "Uid:" { print $2 }' <<<"$status")
    [[ $name == *-server ]] || fail "PID 1 of $service is the server (saw $name)"
    [ "$uid" != 0 ] || fail "$name in $service runs as root"
  done
  pass "redis-server runs as uid $uid, not root, in all six nodes ($name)"
}

# refused ANSWER WHAT : ANSWER is an ACL refusal; fails the run with WHAT otherwise.
refused() { [[ $1 == *NOPERM* ]] || fail "$2 is refused with NOPERM (got: $1)"; }

# With passwords, every client is a user of redis/users.acl with no more than
# it needs, and no password is on any process's command line.
check_users() {
  local answer password
  answer=$(cli_as none redis-node-1 ping 2>&1 | tr -d '\r')
  [[ $answer == *NOAUTH* ]] || fail "the default user is off: PING without a user is refused (got: $answer)"
  [ "$(cli_as app redis-node-1 ping | tr -d '\r')" = PONG ] || fail "app signs in"
  refused "$(cli_as app redis-node-1 flushall 2>&1)" "FLUSHALL as app"
  refused "$(cli_as app redis-node-1 config set maxmemory 1 2>&1)" "CONFIG SET as app"
  refused "$(cli_as app redis-node-1 keys '*' 2>&1)" "KEYS as app"
  [ "$(cli_as commander redis-node-1 dbsize | tr -d '\r')" -ge 0 ] 2>/dev/null || fail "commander reads"
  refused "$(cli_as commander redis-node-1 set e2e:commander x 2>&1)" "SET as commander"
  refused "$(cli_as commander redis-node-1 del e2e:first 2>&1)" "DEL as commander"
  for password in "$REDIS_PASSWORD_FILE" "$REDIS_APP_PASSWORD_FILE" "$REDIS_COMMANDER_PASSWORD_FILE"; do
    if docker ps -q --filter "label=com.docker.compose.project=$PROJECT" |
      xargs docker inspect --format '{{.Path}} {{join .Args " "}}' | grep -qF "$(cat "$password")"; then
      fail "no container's command line holds a password"
    fi
    if compose exec -T redis-commander sh -c 'cat /proc/[0-9]*/cmdline' 2>/dev/null | tr '\0' ' ' | grep -qF "$(cat "$password")"; then
      fail "no process in redis-commander has a password on its command line"
    fi
  done
  pass "users: default off, app refused FLUSHALL/CONFIG SET/KEYS, commander reads and is refused writes; no password on a command line"
}

# With TLS, the nodes answer TLS only, and the cluster gossips over it.
check_tls() {
  local answer
  # redis-cli fails here, as it should: its answer (an error) is what is checked.
  answer=$(compose exec -T redis-node-2 redis-cli -h redis-node-1 -p 6379 ping 2>&1 | tr -d '\r' || true)
  # redis-cli says "Error: Connection reset by peer" (or "Server closed the connection").
  [[ $answer == *Error:* && $answer != *PONG* ]] || fail "a plain-text client gets no answer from a TLS node (got: $answer)"
  [ "$(cli config get port | tr -d '\r' | tail -n 1)" = 0 ] || fail "the nodes have no plain-text port (port 0)"
  [ "$(cli config get tls-cluster | tr -d '\r' | tail -n 1)" = yes ] || fail "tls-cluster yes"
  [ "$(cli config get tls-replication | tr -d '\r' | tail -n 1)" = yes ] || fail "tls-replication yes"
  pass "TLS: a plain-text client is refused, no plain port, cluster bus and replication over TLS"
}

# check_cluster SHARDS : 2 x SHARDS nodes running, each master owning slots
# and one replica each, and redis-cli --cluster check passes.
check_cluster() {
  local shards=${1:-3} running masters replicas empty
  running=$(compose --profile scale ps --status running --services)
  running=$(grep -c '^redis-node-' <<<"$running" || true)
  [ "$running" = $((shards * 2)) ] || fail "$((shards * 2)) redis nodes running (saw $running)"
  if ! cli --cluster check 127.0.0.1:6379 >"$run_dir/check.txt"; then
    cat "$run_dir/check.txt"
    # A node that finds keys of a slot it does not own when it loads its data says so, and opens the slot.
    compose --profile scale logs --no-color | grep -E 'I have keys|importing|migrating' | tail -n 20 || true
    fail "redis-cli --cluster check"
  fi
  grep -q 'All 16384 slots covered' "$run_dir/check.txt" || fail "all 16384 slots covered"
  cli cluster nodes >"$run_dir/nodes.txt"
  masters=$(awk '$3 ~ /master/ && $3 !~ /fail/' "$run_dir/nodes.txt" | wc -l)
  replicas=$(awk '$3 ~ /slave/ && $3 !~ /fail/' "$run_dir/nodes.txt" | wc -l)
  empty=$(awk '$3 ~ /master/ && $3 !~ /fail/ && NF < 9' "$run_dir/nodes.txt" | wc -l)
  [ "$masters+$replicas" = "$shards+$shards" ] || fail "$shards masters + $shards replicas (saw $masters + $replicas)"
  [ "$empty" = 0 ] || fail "every master owns slots ($empty own none)"
  pass "$((shards * 2)) nodes up, redis-cli --cluster check passes, $masters masters (each with slots) + $replicas replicas"
}

# Steady load through the app's forms while the cluster changes: LOAD_WORKERS
# loops of save-then-search, each on its own keys so every slot gets traffic,
# until $run_dir/load.stop appears; then every save the app acknowledged must
# read back. It writes its counts to load.progress every second and exits 1 on
# any failed request or lost write.
start_load() {
  rm -f "$run_dir/load.stop" "$run_dir/load.progress"
  cat >"$run_dir/load.mjs" <<'JS'
import { existsSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
const { APP, WORKERS, PAUSE_MS, STOP, PROGRESS } = process.env;
const giveUpAt = Date.now() + 30 * 60_000;
const stats = { requests: 0, failed: 0, slowestMs: 0, statuses: {} };
const acknowledged = [];

async function post(path, body) {
  const started = performance.now();
  try {
    const res = await fetch(APP + path, { method: 'POST', body: new URLSearchParams(body), signal: AbortSignal.timeout(15_000) });
    const text = await res.text();
    stats.statuses[res.status] = (stats.statuses[res.status] ?? 0) + 1;
    if (res.status !== 200) stats.failed += 1;
    return res.status === 200 ? text : undefined;
  } catch (error) {
    stats.statuses[error.name] = (stats.statuses[error.name] ?? 0) + 1;
    stats.failed += 1;
    return undefined;
  } finally {
    stats.requests += 1;
    stats.slowestMs = Math.max(stats.slowestMs, performance.now() - started);
  }
}

const report = () => writeFileSync(PROGRESS, `${stats.requests} requests, ${stats.failed} failed, slowest ${Math.round(stats.slowestMs)} ms`);
const ticker = setInterval(report, 1000);
await Promise.all(
  Array.from({ length: Number(WORKERS) }, async (_, worker) => {
    for (let i = 0; !existsSync(STOP) && Date.now() < giveUpAt; i += 1) {
      // "-end" keeps one value from being a prefix of another.
      const key = `e2e:load:${worker}:${i}`;
      const value = `w${worker}-${i}-end`;
      if ((await post('/save-data', { key, value })) !== undefined) acknowledged.push({ key, value });
      await post('/search', { key });
      await sleep(Number(PAUSE_MS));
    }
  }),
);
clearInterval(ticker);
report();
const during = { ...stats, statuses: { ...stats.statuses } };
let lost = 0;
const queue = [...acknowledged];
await Promise.all(
  Array.from({ length: 8 }, async () => {
    for (let next = queue.pop(); next; next = queue.pop()) {
      const page = await post('/search', { key: next.key });
      if (!page?.includes('data-result="found"') || !page.includes(next.value)) lost += 1;
    }
  }),
);
console.log(
  `${during.requests} requests from ${WORKERS} workers, ${during.failed} failed (statuses ${JSON.stringify(during.statuses)}), ` +
    `slowest ${Math.round(during.slowestMs)} ms; ${acknowledged.length} acknowledged writes, ${lost} lost`,
);
process.exit(during.failed === 0 && lost === 0 ? 0 : 1);
JS
  APP=$APP WORKERS=$LOAD_WORKERS PAUSE_MS=$LOAD_PAUSE_MS STOP=$run_dir/load.stop PROGRESS=$run_dir/load.progress \
    node "$run_dir/load.mjs" >"$run_dir/load.out" 2>"$run_dir/load.err" &
  load_pid=$!
  wait_for 30 "the load has made requests" test -s "$run_dir/load.progress"
}
load_so_far() { cat "$run_dir/load.progress"; }
# Stops the load and fails the run on any failed request or lost write.
finish_load() {
  local status=0 watchdog
  touch "$run_dir/load.stop"
  # A deadline for the read-back, not a wait: it ends the load if it hangs.
  (sleep 300 && kill "$load_pid") 2>/dev/null &
  watchdog=$!
  wait "$load_pid" || status=$?
  kill "$watchdog" 2>/dev/null || true
  load_pid=
  [ "$status" = 0 ] || { cat "$run_dir/load.out" "$run_dir/load.err"; fail "load: no failed request and no lost write"; }
  pass "load: $(cat "$run_dir/load.out")"
}

# sign_in BASE JAR NAME : a session through POST /api/session; its cookie in JAR.
sign_in() {
  local answer
  answer=$(curl -fsS --max-time 10 -c "$2" -H 'content-type: application/json' -d "{\"name\":\"$3\"}" "$1/api/session") ||
    fail "sign in as $3 at $1"
  [[ $answer == *"\"signedIn\":true"*"\"name\":\"$3\""* ]] || fail "POST $1/api/session signs in $3 (got: $answer)"
}
# signed_in_as BASE JAR NAME : the cookie in JAR is a session of NAME at BASE.
signed_in_as() {
  local answer
  answer=$(curl -fsS --max-time 10 -b "$2" "$1/api/session") || return 1
  [[ $answer == *"\"signedIn\":true"*"\"name\":\"$3\""* ]]
}
# cache_outcome BASE ID : "hit", "miss", ... of GET /api/products/ID.
cache_outcome() {
  curl -fsS --max-time 10 "$1/api/products/$2" | sed -n 's/.*"cache":"\([a-z]*\)".*/\1/p'
}

step "tools and engine ($ENGINE)"
if [ "$ENGINE" = private ]; then
  install_tools
  start_private_engine
else
  use_host_engine
fi
echo "Docker $(docker version --format '{{.Server.Version}}') at ${DOCKER_HOST:-the default socket}; $("${compose_bin[@]}" version)"

step "images"
npm run build --silent
if [ "$ENGINE" = private ]; then
  COMPOSE="$TOOLS_DIR/bin/docker-compose" sh scripts/standin-images.sh
  build_options=(--network host)
else
  # Only what is missing, before the first `up`, so that its time is that of
  # a start with the images present.
  for image in $(compose "${every_profile[@]}" config --images | sort -u); do
    case $image in
      redis-cluster-starter-*) ;; # built here
      *) docker image inspect "$image" >/dev/null 2>&1 || docker pull --quiet "$image" || fail "pull $image" ;;
    esac
  done
  build_options=()
fi
docker build "${build_options[@]}" -t redis-cluster-starter-app:latest . >"$run_dir/build.log" 2>&1 ||
  { cat "$run_dir/build.log"; fail "build the app image"; }
pass "app image built from this repository's Dockerfile"
if [ "$TLS" = 1 ]; then
  # What `up` would build; built here so that `up` is timed with the images present.
  docker build "${build_options[@]}" --build-arg REDIS_IMAGE="$(node_image)" \
    -t "$(compose config --images redis-tls-certs)" -f redis/certs.Dockerfile redis >"$run_dir/build.log" 2>&1 ||
    { cat "$run_dir/build.log"; fail "build the certificate maker's image"; }
  pass "the certificate maker's image built from redis/certs.Dockerfile"
fi

step "first up (new volumes)"
# Left over from a run of this script that was killed: its own project only.
compose "${every_profile[@]}" down --volumes --remove-orphans --timeout 5 >/dev/null 2>&1 || true
if [ "$ENGINE" = private ]; then
  # The private engine is this script's alone; a network another project left there would clash
  # with the fixed subnet ("Pool overlaps").
  docker network prune --force >/dev/null 2>&1 || true
fi
up "cold, new volumes" --breakdown
check_server
check_node_users
check_cluster
[ "$USERS" != 1 ] || check_users
[ "$TLS" != 1 ] || check_tls
save e2e:first "saved through the form" || fail "save through the app form"
found_value e2e:first "saved through the form" || fail "find the saved key through the app"
pass "app at $APP saves and finds a key"
css=$(curl -fsS --max-time 10 "$APP/static/app.css") || fail "the app image serves its stylesheet"
[[ $css == *'body {'* ]] || fail "the app's stylesheet has its rules"
pass "the app image serves /static/app.css"
[ "$(health redis-commander)" = healthy ] || fail "Redis Commander has a healthcheck and passes it (saw: $(health redis-commander))"
curl -fsS -o /dev/null --max-time 10 "$COMMANDER/" || fail "Redis Commander answers at $COMMANDER"
pass "Redis Commander is healthy and answers at $COMMANDER"
# Commander starts while the cluster forms: it must still have connected to the formed cluster.
commander_key=$(curl -fsS --max-time 10 "$COMMANDER/apiv2/key/C:redis-node-1:6379:0/e2e:first") ||
  fail "Redis Commander reads a key through its API"
[[ $commander_key == *'"value":"saved through the form"'* ]] ||
  fail "Redis Commander, started before the cluster was formed, reads the key the app saved (got: $commander_key)"
pass "Redis Commander reads the key the app saved"
# The stand-in for a tag npm lacks runs an older npm release: say which.
commander_image=$(grep redis-commander <<<"$(compose config --images)") || fail "compose names a Redis Commander image"
commander_runs=$(compose exec -T redis-commander node -p "require('/redis-commander/package.json').version")
echo "Redis Commander: compose pins $commander_image; it runs redis-commander $commander_runs"

step "sessions: one secret, made once, kept across a restart of the app"
secret_file=$(compose exec -T app stat -c '%U %a %s' /app/secrets/session-secret) || fail "the app sees /app/secrets/session-secret"
[ "$secret_file" = "node 600 64" ] || fail "the session secret is 64 characters, owner node, mode 600 (saw: $secret_file)"
secret_sum=$(compose exec -T app sha256sum /app/secrets/session-secret)
jar=$run_dir/cookies
sign_in "$APP" "$jar" "E2E user"
compose restart app >/dev/null 2>&1
up "after restarting the app"
signed_in_as "$APP" "$jar" "E2E user" || fail "the session made before \`docker compose restart app\` is still signed in"
[[ $(compose logs --no-color session_secret) == *'session secret: kept'* ]] || fail "session_secret leaves the secret alone on a later up"
[ "$(compose exec -T app sha256sum /app/secrets/session-secret)" = "$secret_sum" ] || fail "the session secret is unchanged"
pass "the session secret (64 characters, node, 600) was made once and kept; a session outlived docker compose restart app"

step "the app on the host, through the published node ports and REDIS_NAT_MAP"
nat_map=
for i in 1 2 3 4 5 6; do nat_map="$nat_map,$SUBNET_PREFIX.1$i:6379=127.0.0.1:638$i"; done
host_env=()
[ "$USERS" != 1 ] || host_env+=(REDIS_USERNAME=app REDIS_PASSWORD_FILE="$REDIS_APP_PASSWORD_FILE")
if [ "$TLS" = 1 ]; then
  # The documented way for a client on the host to get the development CA.
  compose cp redis-tls-certs:/tls/ca.crt "$run_dir/ca.crt" >/dev/null 2>&1 || fail "docker compose cp redis-tls-certs:/tls/ca.crt"
  host_env+=(REDIS_TLS=1 REDIS_TLS_CA_FILE="$run_dir/ca.crt")
fi
env "${host_env[@]}" PORT=4100 NODE_ENV=production SESSION_SECRET="$(head -c 48 /dev/urandom | base64 -w 0)" \
  REDIS_CLUSTER_URLS=127.0.0.1:6381,127.0.0.1:6382 REDIS_NAT_MAP="${nat_map#,}" \
  node dist/server.js >"$run_dir/host-app.log" 2>&1 &
host_app_pid=$!
wait_for_quietly 20 curl -fsS --max-time 2 http://127.0.0.1:4100/healthz ||
  { cat "$run_dir/host-app.log"; fail "the host app answers /healthz"; }
if ! { APP=http://127.0.0.1:4100 save e2e:host "from the host" && APP=http://127.0.0.1:4100 found_value e2e:host "from the host"; }; then
  cat "$run_dir/host-app.log"
  fail "the host app saves and finds a key through the NAT map"
fi
found_value e2e:host "from the host" || fail "the compose app sees the key the host app saved"
stop_pid "$host_app_pid"
host_app_pid=
pass "an app on the host reaches every node through 127.0.0.1:6381-6386 and REDIS_NAT_MAP$([ "$TLS" != 1 ] || echo ", over TLS with the copied CA")"

if [ "$FULL" = 1 ]; then
  step "a second instance: docker compose --profile second-app up --wait"
  compose --profile second-app up --detach --wait --no-build >"$run_dir/up.log" 2>&1 ||
    { cat "$run_dir/up.log"; fail "docker compose --profile second-app up --wait"; }
  sign_in "$APP" "$jar" "Two Instances"
  signed_in_as "$APP_2" "$jar" "Two Instances" || fail "the second instance ($APP_2) reads the session the first one made"
  pass "a session made on $APP is signed in on $APP_2 (one secret, one session store)"
  product=$((RANDOM % 1000 + 1))
  [ "$(cache_outcome "$APP" "$product")" = miss ] || fail "product $product is a cache miss on the first instance"
  [ "$(cache_outcome "$APP_2" "$product")" = hit ] || fail "product $product is a cache hit on the second instance"
  pass "product $product: a miss on $APP, then a hit on $APP_2 (one cache)"
  renamed="Renamed by the e2e $RANDOM"
  curl -fsS -o /dev/null --max-time 10 -X PUT -H 'content-type: application/json' -d "{\"name\":\"$renamed\"}" \
    "$APP/api/products/$product" || fail "PUT $APP/api/products/$product"
  answer=$(curl -fsS --max-time 10 "$APP_2/api/products/$product")
  [[ $answer == *"\"name\":\"$renamed\""* && $answer == *'"cache":"miss"'* ]] ||
    fail "the second instance loads the update from the shared origin volume (got: $answer)"
  pass "an update made through $APP is what $APP_2 loads from the origin (one origin-data volume)"
  compose --profile second-app rm --stop --force app-2 >/dev/null 2>&1

  step "live dev: docker compose --profile dev watch"
  page_has() { local page; page=$(curl -fsS --max-time 5 "$1") && [[ $page == *"$2"* ]]; }
  page_lacks() { local page; page=$(curl -fsS --max-time 5 "$1") && [[ $page != *"$2"* ]]; }
  dev_compose() { compose --profile dev "$@"; }
  # A killed `watch` leaves its lock, a pid file, behind; a later one refuses
  # to start while any process has that pid, which the system may reuse.
  watch_lock=${DOCKER_CONFIG:-$HOME/.docker}/docker-compose/$PROJECT.pid
  if [ -f "$watch_lock" ] && ! grep -qa compose "/proc/$(cat "$watch_lock")/cmdline" 2>/dev/null; then
    rm -f "$watch_lock"
  fi
  started_at=$SECONDS
  # The documented command. Not through compose(): $! must be timeout itself,
  # which hands a kill on to compose.
  timeout 300 "${compose_bin[@]}" -p "$PROJECT" "${compose_files[@]}" --profile dev watch \
    </dev/null >"$run_dir/watch.log" 2>&1 &
  watch_pid=$!
  if ! wait_for_quietly 180 curl -fsS --max-time 2 "$DEV_APP/healthz"; then
    cat "$run_dir/watch.log"
    fail "docker compose --profile dev watch: the dev app answers $DEV_APP/healthz"
  fi
  pass "docker compose watch built the dev stage; the dev app answers at $DEV_APP ($((SECONDS - started_at))s)"
  signed_in_as "$DEV_APP" "$jar" "Two Instances" || fail "the dev app reads the sessions of the built one"
  marker="live-edit-$RANDOM$RANDOM"
  keep_original "$DEV_VIEW"
  printf '<p>%s</p>\n' "$marker" >>"$DEV_VIEW"
  edited_at=$SECONDS
  wait_for 15 "the dev app shows an edit of $DEV_VIEW" page_has "$DEV_APP/" "$marker"
  shown_after=$((SECONDS - edited_at))
  page_lacks "$APP/" "$marker" || fail "the built app (plain docker compose up) does not change with the sources"
  restore_originals
  wait_for 15 "the dev app shows $DEV_VIEW restored" page_lacks "$DEV_APP/" "$marker"
  pass "an edit of $DEV_VIEW showed on the dev page ${shown_after}s after it was saved, and went with its undo; the built app never showed it"
  # The same bytes written again: a change to watch, with nothing left behind.
  dev_container=$(dev_compose ps -q app-dev)
  keep_original package.json
  restore_originals
  edited_at=$SECONDS
  recreated() { local now; now=$(dev_compose ps -q app-dev) && [ -n "$now" ] && [ "$now" != "$dev_container" ]; }
  wait_for 120 "a change to package.json rebuilds and recreates app-dev" recreated
  wait_for 60 "the rebuilt dev app answers" curl -fsS --max-time 2 "$DEV_APP/healthz"
  pass "a change to package.json rebuilt the dev image and replaced its container ($((SECONDS - edited_at))s)"
  stop_watch
  dev_compose rm --stop --force app-dev >/dev/null 2>&1

  step "growing the cluster under load: docker compose --profile scale up --wait"
  start_load
  echo "$LOAD_WORKERS workers save and search through $APP: $(load_so_far)"
  started_at=$SECONDS
  compose_long --profile scale up --detach --wait --no-build >"$run_dir/scale.log" 2>&1 ||
    { cat "$run_dir/scale.log"; compose --profile scale logs --no-color cluster_scaler; fail "docker compose --profile scale up --wait"; }
  echo "shard added in $((SECONDS - started_at))s; load so far: $(load_so_far)"
  [ "$(health cluster_scaler)" = healthy ] || fail "cluster_scaler reports the shard added (health: $(health cluster_scaler))"
  check_cluster 4
  up "plain, after the scale-out"
  check_cluster 4

  step "shrinking it under load: run --rm cluster_scaler remove, then rm the nodes"
  first_id=$(cli_on redis-node-7 cluster myid | tr -d '\r')
  started_at=$SECONDS
  compose_long --profile scale run --rm cluster_scaler remove >"$run_dir/scale.log" 2>&1 ||
    { cat "$run_dir/scale.log"; fail "docker compose --profile scale run --rm cluster_scaler remove"; }
  compose --profile scale rm --stop --force cluster_scaler redis-node-7 redis-node-8 >/dev/null 2>&1
  echo "shard removed in $((SECONDS - started_at))s; load so far: $(load_so_far)"
  check_cluster 3
  finish_load
  up "plain, after the scale-in"
  check_cluster 3

  step "growing it again: the removed nodes keep their volumes, and join with new ids"
  docker volume inspect "${PROJECT}_redis-node-7-data" >/dev/null || fail "redis-node-7's volume is kept after the scale-in"
  started_at=$SECONDS
  compose_long --profile scale up --detach --wait --no-build >"$run_dir/scale.log" 2>&1 ||
    { cat "$run_dir/scale.log"; compose --profile scale logs --no-color cluster_scaler; fail "a second docker compose --profile scale up --wait"; }
  check_cluster 4
  [ "$(cli_on redis-node-7 cluster myid | tr -d '\r')" != "$first_id" ] ||
    fail "redis-node-7 joins again with a new id (the cluster refuses its old one for 60 s after del-node)"
  compose_long --profile scale run --rm cluster_scaler remove >"$run_dir/scale.log" 2>&1 ||
    { cat "$run_dir/scale.log"; fail "the second remove"; }
  compose --profile scale rm --stop --force cluster_scaler redis-node-7 redis-node-8 >/dev/null 2>&1
  check_cluster 3
  pass "out and in again in $((SECONDS - started_at))s"
fi

step "docker compose restart"
compose restart >/dev/null 2>&1
up "after docker compose restart"
check_cluster
found_value e2e:first "saved through the form" || fail "key kept across restart"
pass "key kept across docker compose restart"

step "down + up, volumes kept"
compose down --timeout 10 >"$run_dir/down.log" 2>&1 || { cat "$run_dir/down.log"; fail "docker compose down (volumes kept)"; }
up "warm, volumes kept" --breakdown
check_cluster
initiator_log=$(compose logs --no-color cluster_initiator)
[[ $initiator_log == *'cluster already formed'* ]] || fail "initiator saw the formed cluster"
found_value e2e:first "saved through the form" || fail "key kept across down + up"
signed_in_as "$APP" "$jar" "$([ "$FULL" = 1 ] && echo "Two Instances" || echo "E2E user")" ||
  fail "the session made before down is still signed in"
pass "key and session kept across down + up; the initiator left the formed cluster alone"

step "failover: stop the master that owns a key"
key=e2e:failover
save "$key" before || fail "save $key"
owner=$(cli get "$key" | sed -n 's/^MOVED [0-9]* //p' | tr -d '\r')
owner=${owner:-$SUBNET_PREFIX.11:6379}
owner_ip=${owner%:*}
service=redis-node-$((${owner_ip##*.} - 10))
replicated() { [ "$(cli_on "$service" wait 1 1000 | tr -d '\r')" = 1 ]; }
wait_for 10 "key replicated before the failover" replicated
echo "$key lives on $owner ($service); stopping it"
stopped_at=$SECONDS
compose stop "$service" >/dev/null 2>&1
# 0: Redis got SIGTERM and shut down cleanly; 137: it ignored it and was SIGKILLed after the grace period.
stop_exit=$(exit_code "$service")
[ "$stop_exit" = 0 ] || fail "$service did not shut down on SIGTERM (exit $stop_exit after $((SECONDS - stopped_at))s)"
pass "$service shut down cleanly on SIGTERM in $((SECONDS - stopped_at))s"
wait_for 60 "the app saves to the failed master's slots again" save "$key" after
echo "writes to that slot resumed $((SECONDS - stopped_at))s after the stop"
found_value "$key" after || fail "read back after failover"
promoted=$(cli cluster nodes | awk -v dead="$owner_ip" '$2 !~ dead && $3 ~ /master/ && $3 !~ /fail/' | wc -l)
[ "$promoted" = 3 ] || fail "a replica took over (saw $promoted live masters)"
curl -fsS -o /dev/null --max-time 10 "$APP/healthz" || fail "app healthy after failover"
pass "replica promoted, the app keeps answering after failover"

step "docker compose up --wait: every run of it, and the goal for a start (${UP_GOAL_SECONDS}s, images present)"
for entry in "${up_times[@]}"; do
  seconds=${entry%% *} label=${entry#* }
  verdict=
  case $label in
    cold* | warm*) verdict=$(awk -v s="$seconds" -v goal="$UP_GOAL_SECONDS" 'BEGIN { print (s <= goal ? "within the goal" : "over the goal") }') ;;
  esac
  printf '  %6ss  %-34s %s\n' "$seconds" "$label" "$verdict"
done
