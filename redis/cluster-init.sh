#!/bin/sh
# Forms a Redis Cluster from REDIS_NODES, once. Safe to run again: if the
# cluster already covers every hash slot it only waits for it to be healthy.
#
# Used by the compose cluster_initiator service and by redis/native-cluster.sh,
# so the script that ships is the script that is tested.
#
# A password, if any, reaches redis-cli through REDISCLI_AUTH (or is read
# from REDIS_PASSWORD_FILE into it), never argv.
set -eu

if [ -z "${REDISCLI_AUTH:-}" ] && [ -s "${REDIS_PASSWORD_FILE:-/run/secrets/redis-password}" ]; then
  REDISCLI_AUTH=$(cat "${REDIS_PASSWORD_FILE:-/run/secrets/redis-password}")
  export REDISCLI_AUTH
fi

REDIS_NODES=${REDIS_NODES:-}
CLUSTER_REPLICAS=${CLUSTER_REPLICAS:-1}
CLUSTER_INIT_TIMEOUT=${CLUSTER_INIT_TIMEOUT:-60}
POLL_INTERVAL=${POLL_INTERVAL:-0.1}
# The official Redis and Valkey images both have redis-cli (Valkey's as a link
# to valkey-cli); Debian's valkey-tools has only valkey-cli.
REDIS_CLI=${REDIS_CLI:-redis-cli}
# The admin user of redis/users.acl, when its password is in REDISCLI_AUTH.
# REDIS_TLS=1 talks TLS, trusting the CA in REDIS_TLS_DIR.
REDIS_USER=${REDIS_USER:-admin}
REDIS_TLS=${REDIS_TLS:-0}
REDIS_TLS_DIR=${REDIS_TLS_DIR:-/tls}

usage() {
  cat >&2 <<USAGE
usage: REDIS_NODES="host:port host:port ..." $0

  REDIS_NODES           nodes to join, masters first (required)
  CLUSTER_REPLICAS      replicas per master (default 1)
  CLUSTER_INIT_TIMEOUT  seconds to wait for nodes and for cluster_state:ok (default 60)
  REDIS_CLI             the CLI to run (default redis-cli; valkey-cli for Valkey)
  REDISCLI_AUTH         the admin password, when the nodes require one
  REDIS_PASSWORD_FILE   or a file holding it (default /run/secrets/redis-password)
  REDIS_USER            the user it connects as (default admin)
  REDIS_TLS             1: connect over TLS (default 0)
  REDIS_TLS_DIR         where ca.crt is (default /tls)
USAGE
  exit 2
}

log() { printf 'cluster-init: %s\n' "$*"; }
fail() { printf 'cluster-init: error: %s\n' "$*" >&2; exit 1; }

# redis_cli args... : the CLI as REDIS_USER, over TLS when REDIS_TLS=1.
redis_cli() {
  if [ "$REDIS_TLS" = 1 ]; then set -- --tls --cacert "$REDIS_TLS_DIR/ca.crt" "$@"; fi
  # The name only with a password: given --user alone, redis-cli 7.0 sends
  # MIGRATE a broken AUTH2 and every slot move fails with CROSSSLOT.
  if [ -n "${REDISCLI_AUTH:-}" ]; then set -- --user "$REDIS_USER" "$@"; fi
  "$REDIS_CLI" "$@"
}

# cli host:port args... : the CLI against one node, failing fast if it is down.
cli() {
  node=$1
  shift
  redis_cli -h "${node%:*}" -p "${node##*:}" "$@" 2>/dev/null
}

# info_field host:port field : one field of CLUSTER INFO, empty if unreachable.
info_field() {
  cli "$1" cluster info | tr -d '\r' | sed -n "s/^$2://p"
}

deadline=$(( $(date +%s) + CLUSTER_INIT_TIMEOUT ))

# poll description command... : runs the command until it succeeds or the
# deadline passes; a bounded poll instead of a guessed sleep.
poll() {
  what=$1
  shift
  until "$@"; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      fail "timed out after ${CLUSTER_INIT_TIMEOUT}s waiting for $what$(unreachable_members)"
    fi
    sleep "$POLL_INTERVAL"
  done
}

node_answers() { [ "$(cli "$1" ping)" = PONG ]; }
# unreachable_members : members the first node marks as failing, if any. A
# node added to the cluster since (cluster-scale.sh) and not started again
# leaves its slots uncovered, which no wait here can mend.
unreachable_members() {
  failing=$(cli "$first" cluster nodes | awk '$3 ~ /fail/ { split($2, a, "@"); printf " %s", a[1] }')
  [ -z "$failing" ] || printf '; the cluster counts on node(s) that do not answer:%s' "$failing"
}
node_is_ok() { [ "$(info_field "$1" cluster_state)" = ok ]; }
# A replica counts once its link to its master is up; until its first sync a
# failover of that master would lose data.
replica_is_synced() {
  replication=$(cli "$1" info replication | tr -d '\r')
  case $replication in
    *role:master*) return 0 ;;
    *master_link_status:up*) return 0 ;;
    *) return 1 ;;
  esac
}
# Gossip spreads who replicates whom; clients asking any node for the slot
# map (CLUSTER SLOTS) should see every replica, so wait until all nodes do.
# At least that many: a cluster grown since (cluster-scale.sh) has more.
node_sees_replicas() {
  seen=$(cli "$1" cluster nodes | awk '$3 ~ /(^|,)slave/ && $3 !~ /fail/' | wc -l)
  [ "$seen" -ge "$expected_replicas" ]
}
all_nodes_ok() {
  for n in $REDIS_NODES; do
    node_is_ok "$n" && replica_is_synced "$n" && node_sees_replicas "$n" || return 1
  done
}

# delete_keys_in_slot node slot : deletes the node's keys of a slot it serves
# only to ASKING clients (importing), a hundred at a time.
delete_keys_in_slot() {
  while [ "$(cli "$1" cluster countkeysinslot "$2")" -gt 0 ]; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "timed out deleting the keys of slot $2 on $1"
    # Each key spelled in \xHH escapes, which redis-cli reads from stdin
    # whatever quotes, spaces or backslashes the key holds.
    cli "$1" cluster getkeysinslot "$2" 100 | while IFS= read -r key; do
      printf 'ASKING\nDEL "%s"\n' "$(printf '%s' "$key" | od -An -tx1 | tr -d ' \n' | sed 's/../\\x&/g')"
    done | cli "$1" >/dev/null
  done
}

# A node that loads keys of a slot it does not own (a move between nodes that
# ended badly left them behind) keeps them and opens the slot as importing
# when it starts; redis-cli --cluster check warns about it from then on, and
# a rebalance refuses to run. Clients never see those keys: the owner serves
# the slot. So, as Valkey does when it loads such keys (valkey-io/valkey #539),
# they are deleted and the slot closed. redis-cli's fix is no help here: it
# would hand the slot to whichever node holds more of its keys, stale ones
# included. A slot the owner is migrating is a move in progress, left alone.
drop_keys_left_behind() {
  masters=$(cli "$first" cluster nodes | awk '$3 ~ /master/ && $3 !~ /fail/ { split($2, a, "@"); print $1 "=" a[1] }')
  for entry in $masters; do
    node=${entry#*=}
    for open in $(cli "$node" cluster nodes | awk '$3 ~ /myself/ { for (i = 9; i <= NF; i++) if ($i ~ /-<-/) print substr($i, 2, length($i) - 2) }'); do
      slot=${open%%-<-*}
      owner=$(printf '%s\n' "$masters" | sed -n "s/^${open##*-<-}=//p")
      if [ -n "$owner" ] && cli "$owner" cluster nodes | grep myself | grep -qF "[$slot->-"; then
        log "slot $slot is moving from $owner to $node; leaving it to the move (or redis-cli --cluster fix)"
        continue
      fi
      log "$node holds $(cli "$node" cluster countkeysinslot "$slot") key(s) of slot $slot, which ${owner:-another node} owns, from before it restarted; deleting them there (clients are served the owner's) and closing the slot"
      delete_keys_in_slot "$node" "$slot"
      cli "$node" cluster setslot "$slot" stable >/dev/null
    done
  done
}

[ -n "$REDIS_NODES" ] || usage
first=${REDIS_NODES%% *}
# shellcheck disable=SC2086 # count the list's words
node_count=$(set -- $REDIS_NODES; echo $#)
expected_replicas=$(( node_count - node_count / (CLUSTER_REPLICAS + 1) ))

for n in $REDIS_NODES; do
  poll "$n to answer PING" node_answers "$n"
done
log "all nodes answer: $REDIS_NODES"

assigned=$(info_field "$first" cluster_slots_assigned)
known=$(info_field "$first" cluster_known_nodes)
if [ "$assigned" = 16384 ]; then
  log "cluster already formed ($known nodes know each other); not creating it again"
elif [ "${known:-1}" -gt 1 ] || [ "${assigned:-0}" -gt 0 ]; then
  fail "$first is half-joined ($known known nodes, $assigned of 16384 slots); remove the nodes' data to start over"
else
  log "creating cluster with $CLUSTER_REPLICAS replica(s) per master"
  # shellcheck disable=SC2086 # REDIS_NODES is a list, split on purpose
  redis_cli --cluster create $REDIS_NODES \
    --cluster-replicas "$CLUSTER_REPLICAS" --cluster-yes
fi

poll "every node to report cluster_state:ok and see $expected_replicas synced replicas" all_nodes_ok
drop_keys_left_behind
log "cluster_state:ok on every node; $expected_replicas replicas in sync and known to every node"
