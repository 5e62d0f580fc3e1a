#!/bin/sh
# Adds one shard (a master and its replica) to a formed Redis Cluster, or
# removes one, while clients keep using the cluster. Safe to run again: a
# shard already in place, or already gone, is reported and left alone.
#
# A cluster learns about a node by gossip, so each redis-cli step must wait
# until the cluster agrees on the one before. Run back to back they fail:
#   - rebalance before every node lists the new master: "No rebalancing
#     needed" (the entry node does not count it yet);
#   - rebalance before the new master reports cluster_state:ok: CLUSTERDOWN
#     from it halfway through a slot, which is left open (migrating);
#   - add-node --cluster-slave before the entry node lists the master:
#     "No such master ID".
# So every step waits for facts (bounded polls), and a slot left open by an
# interrupted move is repaired with --cluster fix before and after each step.
#
# Used by redis/native-cluster.sh (add-shard, remove-shard) and by the compose
# scaler service; it needs only sh, redis-cli, awk, sed and grep.
#
# A password, if any, reaches redis-cli through REDISCLI_AUTH (or is read
# from REDIS_PASSWORD_FILE into it), never argv.
set -eu

if [ -z "${REDISCLI_AUTH:-}" ] && [ -s "${REDIS_PASSWORD_FILE:-/run/secrets/redis-password}" ]; then
  REDISCLI_AUTH=$(cat "${REDIS_PASSWORD_FILE:-/run/secrets/redis-password}")
  export REDISCLI_AUTH
fi

CLUSTER_ENTRY=${CLUSTER_ENTRY:-}
SCALE_TIMEOUT=${SCALE_TIMEOUT:-60}
# Keys per MIGRATE call while slots move; redis-cli's default is 10.
# docs/scaling.md has the measurements behind this value.
SCALE_PIPELINE=${SCALE_PIPELINE:-1000}
POLL_INTERVAL=${POLL_INTERVAL:-0.1}
REDIS_CLI=${REDIS_CLI:-redis-cli}
# The admin user of redis/users.acl, when its password is in REDISCLI_AUTH.
# REDIS_TLS=1 talks TLS, trusting the CA in REDIS_TLS_DIR.
REDIS_USER=${REDIS_USER:-admin}
REDIS_TLS=${REDIS_TLS:-0}
REDIS_TLS_DIR=${REDIS_TLS_DIR:-/tls}

# Fewer masters than this cannot elect a replica when one of them fails.
MIN_MASTERS=3
REBALANCE_ATTEMPTS=3

usage() {
  cat >&2 <<USAGE
usage: CLUSTER_ENTRY=host:port $0 add    <new master host:port> <new replica host:port>
       CLUSTER_ENTRY=host:port $0 remove <master host:port> <replica host:port>

  add     joins a running, empty master, moves a fair share of slots onto it
          (rebalance --cluster-use-empty-masters), then joins the replica to it
  remove  moves the shard's slots to the other masters, then removes both
          nodes with del-node; they stay up, empty and out of the cluster,
          for the caller to stop

  CLUSTER_ENTRY        a node of the cluster to talk to (required)
  SCALE_TIMEOUT        seconds each wait may take before giving up (default 60)
  SCALE_PIPELINE       keys per MIGRATE while slots move (default 1000)
  REDIS_CLI            the client to run (default redis-cli; valkey-cli works)
  REDISCLI_AUTH        the admin password, when the nodes require one
  REDIS_PASSWORD_FILE  or a file holding it (default /run/secrets/redis-password)
  REDIS_USER           the user it connects as (default admin)
  REDIS_TLS            1: connect over TLS (default 0)
  REDIS_TLS_DIR        where ca.crt is (default /tls)
USAGE
  exit 2
}

log() { printf 'cluster-scale: %s\n' "$*"; }
fail() { printf 'cluster-scale: error: %s\n' "$*" >&2; exit 1; }

# Milliseconds since the epoch where date supports %N, else seconds * 1000.
now_ms() {
  ns=$(date +%s%N)
  case $ns in
    *N) echo $(( $(date +%s) * 1000 )) ;;
    *) echo $(( ns / 1000000 )) ;;
  esac
}

# redis_cli args... : the CLI as REDIS_USER, over TLS when REDIS_TLS=1.
redis_cli() {
  if [ "$REDIS_TLS" = 1 ]; then set -- --tls --cacert "$REDIS_TLS_DIR/ca.crt" "$@"; fi
  # The name only with a password: given --user alone, redis-cli 7.0 sends
  # MIGRATE a broken AUTH2 and every slot move fails with CROSSSLOT.
  if [ -n "${REDISCLI_AUTH:-}" ]; then set -- --user "$REDIS_USER" "$@"; fi
  "$REDIS_CLI" "$@"
}

# cli host:port args... : one command to one node; empty output if it is down.
cli() {
  node=$1
  shift
  redis_cli -h "${node%:*}" -p "${node##*:}" "$@" 2>/dev/null | tr -d '\r'
}

# cluster_tool args... : redis-cli's cluster manager (add-node, rebalance, ...).
cluster_tool() { redis_cli --cluster "$@"; }

info_field() { cli "$1" cluster info | sed -n "s/^$2://p"; }
nodes_seen_by() { cli "$1" cluster nodes; }

# wait_for description command... : runs the command until it succeeds, for at
# most SCALE_TIMEOUT seconds; a bounded poll instead of a guessed sleep.
wait_for() {
  what=$1
  shift
  deadline=$(( $(date +%s) + SCALE_TIMEOUT ))
  until "$@"; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      fail "timed out after ${SCALE_TIMEOUT}s waiting for $what"
    fi
    sleep "$POLL_INTERVAL"
  done
}

# id_of host:port : the node's id. Asked of the node itself, so a host name
# works as well as the announced IP; a node that is down is looked up by
# address in the entry's view instead.
id_of() {
  id=$(cli "$1" cluster myid)
  if printf '%s' "$id" | grep -Eq '^[0-9a-f]{40}$'; then
    echo "$id"
  else
    nodes_seen_by "$entry" | awk -v addr="$1" '{ split($2, a, "@") } a[1] == addr { print $1 }'
  fi
}

# line_of id : the entry's CLUSTER NODES line for that node; empty if it does
# not know it, or only as a stranger still shaking hands.
line_of() { nodes_seen_by "$entry" | awk -v id="$1" '$1 == id && $3 !~ /handshake|noaddr/'; }
is_member() { [ -n "$1" ] && [ -n "$(line_of "$1")" ]; }
is_master() { line_of "$1" | grep -q '^[^ ]* [^ ]* [^ ]*master'; }
replicates() { line_of "$1" | awk -v master="$2" '$3 ~ /slave/ && $4 == master { ok = 1 } END { exit !ok }'; }

# slots_of id [viewer] : how many slots the viewer (default the entry) says the node owns.
slots_of() {
  nodes_seen_by "${2:-$entry}" | awk -v id="$1" '$1 == id {
    for (i = 9; i <= NF; i++) if ($i !~ /^\[/) { c = split($i, r, "-"); n += c == 2 ? r[2] - r[1] + 1 : 1 }
  } END { print n + 0 }'
}

# members : the address of every node the entry knows and can reach.
members() { nodes_seen_by "$entry" | awk '$3 !~ /fail|handshake|noaddr/ { split($2, a, "@"); print a[1] }'; }

# masters_with_slots_besides id : how many other masters own slots.
masters_with_slots_besides() {
  nodes_seen_by "$entry" | awk -v id="$1" '$1 != id && $3 ~ /master/ && $3 !~ /fail/ {
    for (i = 9; i <= NF; i++) if ($i !~ /^\[/) { n++; break }
  } END { print n + 0 }'
}

node_answers() { [ "$(cli "$1" ping)" = PONG ]; }
node_is_ok() { [ "$(info_field "$1" cluster_state)" = ok ]; }
replica_in_sync() { cli "$1" info replication | grep -q '^master_link_status:up'; }
# --cluster check passes only when every node agrees on the slot map and no slot is open.
check_is_clean() { cluster_tool check "$entry" >/dev/null 2>&1; }

# every_node_lists id [master-id] : every member lists the node (settled, not
# shaking hands), and, given a master id, as a replica of that master.
every_node_lists() {
  for n in $(members); do
    nodes_seen_by "$n" | awk -v id="$1" -v master="${2:-}" '
      $1 == id && $3 !~ /handshake|noaddr/ && (master == "" || ($3 ~ /slave/ && $4 == master)) { found = 1 }
      END { exit !found }' || return 1
  done
}

# every_node_answers : each member answers CLUSTER MYID; one loading a dataset
# answers LOADING instead, and redis-cli's del-node then cannot load the cluster.
every_node_answers() {
  for n in $(members); do
    cli "$n" cluster myid | grep -Eq '^[0-9a-f]{40}$' || return 1
  done
}

no_node_lists() {
  for n in $(members); do
    nodes_seen_by "$n" | awk -v id="$1" '$1 == id { found = 1 } END { exit found }' || return 1
  done
}

every_node_sees_no_slots_on() {
  for n in $(members); do
    [ "$(slots_of "$1" "$n")" -eq 0 ] || return 1
  done
}

# open_slots : slots some node marks as migrating or importing; each node
# shows its own as "[slot->-id]" or "[slot-<-id]" on its "myself" line.
open_slots() {
  for n in $(members); do
    nodes_seen_by "$n" | awk '$3 ~ /myself/ {
      for (i = 9; i <= NF; i++) if ($i ~ /^\[/) { split(substr($i, 2), s, "-"); print s[1] }
    }'
  done | sort -un | tr '\n' ' ' | sed 's/ $//'
}

# settle when : repairs a slot left open by an interrupted move (clients would
# get ASK for it forever and redis-cli refuses to rebalance), then waits until
# --cluster check passes.
settle() {
  open=$(open_slots)
  if [ -n "$open" ]; then
    log "open slot(s) $open $1: a slot move was interrupted; repairing with --cluster fix"
    cluster_tool fix "$entry" --cluster-yes || log "--cluster fix exited non-zero; checking the cluster again"
  fi
  wait_for "--cluster check to pass (all nodes agree, no open slot) $1" check_is_clean
  if [ -n "$open" ]; then log "repaired: no open slot"; fi
}

# rebalance options... : redis-cli's rebalance. An attempt cut short leaves an
# open slot; it is repaired and the rebalance run again.
rebalance() {
  attempt=1
  until cluster_tool rebalance "$entry" --cluster-pipeline "$SCALE_PIPELINE" "$@"; do
    [ "$attempt" -lt "$REBALANCE_ATTEMPTS" ] || fail "rebalance failed $attempt times; see redis-cli's messages above"
    attempt=$((attempt + 1))
    settle "after a failed rebalance"
    log "rebalancing again (attempt $attempt of $REBALANCE_ATTEMPTS)"
  done
}

# prepare addr... : the entry and the given nodes answer, and the cluster is formed.
prepare() {
  for n in "$entry" "$@"; do
    case $n in
      *:*) ;;
      *) fail "\"$n\" is not host:port" ;;
    esac
  done
  for n in "$entry" "$@"; do
    wait_for "$n to answer PING" node_answers "$n"
  done
  [ "$(info_field "$entry" cluster_slots_assigned)" = 16384 ] ||
    fail "$entry is not in a formed cluster (not all 16384 slots assigned); run cluster-init.sh first"
  wait_for "$entry to report cluster_state:ok" node_is_ok "$entry"
}

# fresh_id_unless_member host:port id : the id the node joins with. After
# del-node, every node refuses the removed node's id for 60 s (CLUSTER
# FORGET), so a node removed and added again at once would never be listed;
# a node outside the cluster that knows no other node and holds no key is
# given a new id (CLUSTER RESET HARD) first.
fresh_id_unless_member() {
  if ! is_member "$2" && [ "$(info_field "$1" cluster_known_nodes)" = 1 ] && [ "$(cli "$1" dbsize)" = 0 ]; then
    cli "$1" cluster reset hard >/dev/null
    id_of "$1"
  else
    echo "$2"
  fi
}

# pair_in_place master-id replica-id replica-addr
pair_in_place() {
  [ "$(slots_of "$1")" -gt 0 ] && replicates "$2" "$1" && replica_in_sync "$3"
}

join_master() {
  if is_member "$master_id"; then
    is_master "$master_id" || fail "$master is already in the cluster as a replica; remove it first"
    log "$master is already a member ($master_id)"
  else
    log "joining $master ($master_id) as a new master"
    cluster_tool add-node "$master" "$entry"
  fi
  wait_for "every node to list $master" every_node_lists "$master_id"
  wait_for "$master to report cluster_state:ok" node_is_ok "$master"
  settle "with $master in the cluster"
  log "every node lists $master and it reports cluster_state:ok"
}

move_slots_to_master() {
  log "moving slots onto $master: rebalance --cluster-use-empty-masters --cluster-pipeline $SCALE_PIPELINE"
  started=$(now_ms)
  rebalance --cluster-use-empty-masters
  elapsed=$(( $(now_ms) - started ))
  settle "after moving slots onto $master"
  slots=$(slots_of "$master_id")
  [ "$slots" -gt 0 ] || fail "the rebalance gave $master no slots"
  log "moved $slots slots onto $master in $elapsed ms; it now holds $(cli "$master" dbsize) keys"
}

join_replica() {
  if ! is_member "$replica_id"; then
    log "joining $replica ($replica_id) as a replica of $master"
    cluster_tool add-node "$replica" "$entry" --cluster-slave --cluster-master-id "$master_id" ||
      log "add-node --cluster-slave did not finish; attaching $replica directly"
    wait_for "every node to list $replica" every_node_lists "$replica_id"
  fi
  if ! replica_says_it_replicates "$replica" "$master_id"; then
    [ "$(slots_of "$replica_id")" -eq 0 ] || fail "$replica is a master with slots; it cannot become a replica"
    log "$replica is a member but not a replica of $master; attaching it"
    wait_for "$replica to accept CLUSTER REPLICATE $master_id" attach "$replica" "$master_id"
  fi
  wait_for "every node to list $replica as a replica of $master" every_node_lists "$replica_id" "$master_id"
  wait_for "$replica to sync with $master (master_link_status:up)" replica_in_sync "$replica"
  log "$replica replicates $master and is in sync"
}
replica_says_it_replicates() {
  nodes_seen_by "$1" | awk -v master="$2" '$3 ~ /myself/ && $3 ~ /slave/ && $4 == master { ok = 1 } END { exit !ok }'
}
attach() { [ "$(cli "$1" cluster replicate "$2")" = OK ]; }

cmd_add() {
  master=$1
  replica=$2
  prepare "$master" "$replica"
  master_id=$(id_of "$master")
  replica_id=$(id_of "$replica")
  [ "$master_id" != "$replica_id" ] || fail "$master and $replica are the same node"
  # A failover since the last run may have swapped the two; either way round is a shard.
  if pair_in_place "$master_id" "$replica_id" "$replica" || pair_in_place "$replica_id" "$master_id" "$master"; then
    log "the shard $master + $replica is already in place; nothing to do"
    return
  fi
  master_id=$(fresh_id_unless_member "$master" "$master_id")
  replica_id=$(fresh_id_unless_member "$replica" "$replica_id")
  settle "before adding $master"
  join_master
  # A replica left as an empty master by an interrupted run would be given
  # slots by the rebalance; attach it first.
  if is_member "$replica_id"; then join_replica; fi
  move_slots_to_master
  join_replica
  settle "after adding the shard"
  log "shard added: $master ($(slots_of "$master_id") slots) with replica $replica"
}

# stay_put addr : Redis turns a master that loses its last slot, and its
# replicas, into replicas of the master that took that slot, which then sends
# them its whole dataset only for del-node to reset them. Not for nodes on
# their way out.
stay_put() {
  [ "$(cli "$1" config set cluster-allow-replica-migration no)" = OK ] ||
    log "could not turn off cluster-allow-replica-migration on $1; it may sync a dataset before it leaves"
}

# drain addr id : moves every slot of the node to the other masters.
drain() {
  others=$(masters_with_slots_besides "$2")
  [ "$others" -ge "$MIN_MASTERS" ] ||
    fail "removing $1 would leave $others master(s) with slots; a cluster needs $MIN_MASTERS to elect a failover"
  log "moving $(slots_of "$2") slots ($(cli "$1" dbsize) keys) off $1: rebalance --cluster-weight $2=0 --cluster-pipeline $SCALE_PIPELINE"
  started=$(now_ms)
  rebalance --cluster-weight "$2=0"
  elapsed=$(( $(now_ms) - started ))
  wait_for "every node to see $1 own no slots" every_node_sees_no_slots_on "$2"
  settle "after moving slots off $1"
  log "moved every slot off $1 in $elapsed ms"
}

drain_if_owner() {
  if is_member "$2" && [ "$(slots_of "$2")" -gt 0 ]; then drain "$1" "$2"; fi
}

# forget addr id : del-node makes every node forget it, then resets it
# (CLUSTER RESET SOFT); the node keeps running, out of the cluster.
forget() {
  if ! is_member "$2"; then
    log "$1 is not in the cluster"
    return
  fi
  wait_for "every node to answer (none loading a dataset)" every_node_answers
  log "removing $1 ($2) with del-node"
  cluster_tool del-node "$entry" "$2"
  wait_for "every node to forget $1" no_node_lists "$2"
}

# entry_besides id... : a member that stays, to talk to while the others leave.
entry_besides() {
  nodes_seen_by "$entry" | awk -v gone="$*" '
    BEGIN { n = split(gone, g, " "); for (i = 1; i <= n; i++) skip[g[i]] = 1 }
    !($1 in skip) && $3 ~ /master/ && $3 !~ /fail|handshake|noaddr/ { split($2, a, "@"); print a[1]; exit }'
}

cmd_remove() {
  master=$1
  replica=$2
  prepare
  master_id=$(id_of "$master")
  replica_id=$(id_of "$replica")
  if ! is_member "$master_id" && ! is_member "$replica_id"; then
    log "neither $master nor $replica is in the cluster; nothing to remove"
    return
  fi
  stays=$(entry_besides "$master_id" "$replica_id")
  [ -n "$stays" ] || fail "no master would be left to talk to"
  entry=$stays
  settle "before removing $master"
  stay_put "$master"
  stay_put "$replica"
  # A failover may have swapped the two: drain whichever owns slots.
  drain_if_owner "$master" "$master_id"
  drain_if_owner "$replica" "$replica_id"
  forget "$replica" "$replica_id"
  forget "$master" "$master_id"
  settle "after removing the shard"
  log "shard removed: $master and $replica are out of the cluster and empty; stop them now"
}

[ $# -eq 3 ] || usage
[ -n "$CLUSTER_ENTRY" ] || usage
entry=$CLUSTER_ENTRY
case $1 in
  add) cmd_add "$2" "$3" ;;
  remove) cmd_remove "$2" "$3" ;;
  *) usage ;;
esac
