#!/usr/bin/env bash
# Runs the project's own docker-compose.yml, unchanged, on a private Docker
# engine with stand-in images (scripts/standin-images.sh), and checks it from
# outside: cluster shape, app, Redis Commander, restarts, and a master failover.
# Everything it starts it stops again: containers, volumes, networks, dockerd.
# Traffic stays between this machine and its own containers.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

TOOLS_DIR=${TOOLS_DIR:-$root/.tools}
ENGINE_DIR=${ENGINE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/redis-cluster-starter/engine}
PROJECT=${PROJECT:-redis-cluster-starter-e2e}
SUBNET_PREFIX=${REDIS_SUBNET_PREFIX:-172.28.0}
APP=http://127.0.0.1:${APP_PORT:-4000}
COMMANDER=http://127.0.0.1:${COMMANDER_PORT:-5000}
DEV_APP=http://127.0.0.1:${APP_DEV_PORT:-4001}
# The view the live-dev check edits, and restores.
DEV_VIEW=views/home.hbs
UP_TIMEOUT=${UP_TIMEOUT:-240}

run_dir=$(mktemp -d /tmp/compose-e2e.XXXXXX)
export DOCKER_HOST=unix://$run_dir/docker.sock
# The engine's own builder works from local images; BuildKit would ask a registry.
export DOCKER_BUILDKIT=0
dockerd_pid=
watch_pid=
# Files the run writes to, restored from $run_dir/orig byte for byte (at the latest in teardown).
edited=()
ip_forward_before=$(cat /proc/sys/net/ipv4/ip_forward)
failures=0

step() { printf '\n== %s\n' "$*"; }
pass() { printf 'PASS %s\n' "$*"; }
fail() {
  printf 'FAIL %s\n' "$*" >&2
  failures=$((failures + 1))
  exit 1
}

compose() { timeout 300 "$TOOLS_DIR/bin/docker-compose" -p "$PROJECT" -f docker-compose.yml "$@"; }
# redis-cli inside a node's container, authenticated when the stack has a password.
cli_on() {
  local service=$1
  shift
  # shellcheck disable=SC2016 # expanded by the container's shell
  compose exec -T "$service" sh -c '[ -s /run/secrets/redis-password ] && REDISCLI_AUTH=$(cat /run/secrets/redis-password) && export REDISCLI_AUTH; exec redis-cli "$@"' sh "$@"
}
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

# Stops `compose watch` (timeout passes the TERM on), with a deadline.
stop_watch() {
  [ -n "$watch_pid" ] || return 0
  kill "$watch_pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$watch_pid" 2>/dev/null || break; sleep 0.2; done
  pkill -KILL -P "$watch_pid" 2>/dev/null || true
  kill -KILL "$watch_pid" 2>/dev/null || true
  wait "$watch_pid" 2>/dev/null || true
  watch_pid=
}

teardown() {
  local status=$?
  step "teardown"
  restore_originals || status=1
  stop_watch
  if [ -n "$dockerd_pid" ] && kill -0 "$dockerd_pid" 2>/dev/null; then
    if [ "$status" -ne 0 ]; then
      [ ! -s "$run_dir/watch.log" ] || tail -n 30 "$run_dir/watch.log"
      compose ps -a || true
      compose logs --no-color --tail 30 || true
    fi
    compose --profile dev down --volumes --remove-orphans --timeout 5 >/dev/null 2>&1 || true
    kill "$dockerd_pid"
    for _ in $(seq 1 100); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$dockerd_pid" 2>/dev/null || true
  fi
  echo "$ip_forward_before" >/proc/sys/net/ipv4/ip_forward
  # dockerd leaves its network namespace mounted under the exec root.
  umount "$run_dir"/exec/netns/* 2>/dev/null || true
  rm -rf "$run_dir" || true
  echo "engine stopped, ip_forward restored to $ip_forward_before"
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

start_engine() {
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
exit_code() { docker inspect --format '{{.State.ExitCode}}' "$(compose ps -a -q "$1")"; }
# A service's health; fails (no .State.Health) if it has no healthcheck.
health() { docker inspect --format '{{.State.Health.Status}}' "$(compose ps -q "$1")" 2>&1; }

up() {
  compose up --detach --wait --no-build --wait-timeout "$UP_TIMEOUT" >"$run_dir/up.log" 2>&1 ||
    { cat "$run_dir/up.log"; fail "docker compose up --wait"; }
  [ "$(exit_code cluster_initiator)" = 0 ] || fail "cluster_initiator exited $(exit_code cluster_initiator)"
  [[ $(compose ps -a --services) != *app-dev* ]] || fail "docker compose up leaves the dev profile's app-dev alone"
  pass "docker compose up --wait: every service healthy, cluster_initiator exited 0, no app-dev"
}

# Every node and the initiator run the one image compose names (REDIS_IMAGE),
# and the servers are what it says: only Valkey reports valkey_version.
check_server() {
  local image service used server
  image=$(compose config --images redis-node-1)
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

check_cluster() {
  local running masters replicas
  running=$(compose ps --status running --services)
  running=$(grep -c '^redis-node-' <<<"$running" || true)
  [ "$running" = 6 ] || fail "6 redis nodes running (saw $running)"
  cli --cluster check 127.0.0.1:6379 >"$run_dir/check.txt" || { cat "$run_dir/check.txt"; fail "redis-cli --cluster check"; }
  grep -q 'All 16384 slots covered' "$run_dir/check.txt" || fail "all 16384 slots covered"
  masters=$(cli cluster nodes | awk '$3 ~ /master/ && $3 !~ /fail/' | wc -l)
  replicas=$(cli cluster nodes | awk '$3 ~ /slave/ && $3 !~ /fail/' | wc -l)
  [ "$masters+$replicas" = 3+3 ] || fail "3 masters + 3 replicas (saw $masters + $replicas)"
  pass "six nodes up, redis-cli --cluster check passes, $masters masters + $replicas replicas"
}

step "tools"
install_tools
step "engine"
start_engine
echo "dockerd $(docker version --format '{{.Server.Version}}') at $DOCKER_HOST (pid $dockerd_pid)"

step "images"
npm run build --silent
COMPOSE="$TOOLS_DIR/bin/docker-compose" sh scripts/standin-images.sh
docker build --network host -t redis-cluster-starter-app:latest . >"$run_dir/build.log" 2>&1 ||
  { cat "$run_dir/build.log"; fail "build the app image"; }
pass "app image built from this repository's Dockerfile"

step "first up"
up
check_server
check_cluster
save e2e:first "saved through the form" || fail "save through the app form"
found_value e2e:first "saved through the form" || fail "find the saved key through the app"
pass "app at $APP saves and finds a key"
css=$(curl -fsS --max-time 10 "$APP/static/app.css") || fail "the app image serves its stylesheet"
[[ $css == *'body {'* ]] || fail "the app's stylesheet has its rules"
pass "the app image serves /static/app.css"
[ "$(health redis-commander)" = healthy ] || fail "Redis Commander has a healthcheck and passes it (saw: $(health redis-commander))"
curl -fsS -o /dev/null --max-time 10 "$COMMANDER/" || fail "Redis Commander answers at $COMMANDER"
pass "Redis Commander is healthy and answers at $COMMANDER"
# The stand-in for a tag npm lacks runs an older npm release: say which.
commander_image=$(grep redis-commander <<<"$(compose config --images)") || fail "compose names a Redis Commander image"
commander_runs=$(compose exec -T redis-commander node -p "require('/redis-commander/package.json').version")
echo "Redis Commander: compose pins $commander_image; it runs redis-commander $commander_runs"

step "the app on the host, through the published node ports and REDIS_NAT_MAP"
nat_map=
for i in 1 2 3 4 5 6; do nat_map="$nat_map,$SUBNET_PREFIX.1$i:6379=127.0.0.1:638$i"; done
PORT=4100 NODE_ENV=production REDIS_CLUSTER_URLS=127.0.0.1:6381,127.0.0.1:6382 REDIS_NAT_MAP=${nat_map#,} \
  node dist/server.js >"$run_dir/host-app.log" 2>&1 &
host_app=$!
wait_for 20 "the host app answers /healthz" curl -fsS --max-time 2 http://127.0.0.1:4100/healthz
if ! { APP=http://127.0.0.1:4100 save e2e:host "from the host" && APP=http://127.0.0.1:4100 found_value e2e:host "from the host"; }; then
  kill "$host_app"
  cat "$run_dir/host-app.log"
  fail "the host app saves and finds a key through the NAT map"
fi
found_value e2e:host "from the host" || fail "the compose app sees the key the host app saved"
kill "$host_app"
wait "$host_app" || true
pass "an app on the host reaches every node through 127.0.0.1:6381-6386 and REDIS_NAT_MAP"

step "live dev: docker compose --profile dev watch"
page_has() { local page; page=$(curl -fsS --max-time 5 "$1") && [[ $page == *"$2"* ]]; }
page_lacks() { local page; page=$(curl -fsS --max-time 5 "$1") && [[ $page != *"$2"* ]]; }
dev_compose() { compose --profile dev "$@"; }
started_at=$SECONDS
# The documented command. Not through compose(): $! must be timeout itself,
# which hands a kill on to compose.
timeout 300 "$TOOLS_DIR/bin/docker-compose" -p "$PROJECT" -f docker-compose.yml --profile dev watch \
  </dev/null >"$run_dir/watch.log" 2>&1 &
watch_pid=$!
if ! wait_for_quietly 180 curl -fsS --max-time 2 "$DEV_APP/healthz"; then
  cat "$run_dir/watch.log"
  fail "docker compose --profile dev watch: the dev app answers $DEV_APP/healthz"
fi
pass "docker compose watch built the dev stage; the dev app answers at $DEV_APP ($((SECONDS - started_at))s)"
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

step "docker compose restart"
compose restart >/dev/null 2>&1
up
check_cluster
found_value e2e:first "saved through the form" || fail "key kept across restart"
pass "key kept across docker compose restart"

step "down + up, volumes kept"
compose down --timeout 10 >/dev/null 2>&1
up
check_cluster
initiator_log=$(compose logs --no-color cluster_initiator)
[[ $initiator_log == *'cluster already formed'* ]] || fail "initiator saw the formed cluster"
found_value e2e:first "saved through the form" || fail "key kept across down + up"
pass "key kept across down + up; the initiator left the formed cluster alone"

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
