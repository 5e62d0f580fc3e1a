#!/bin/sh
# Makes a development CA and one certificate for the cluster's nodes, for
# REDIS_TLS=1: TLS_DIR/ca.crt (what clients trust), redis.crt and redis.key
# (what every node presents, to clients and to each other). Runs on the host
# for the native cluster and in the compose tls-certs service; needs only sh
# and openssl. Safe to run again: certificates that are still valid for a
# while, and cover every name asked for, are kept.
#
# One certificate for every node, naming them all: a client that checks a
# node's name (Node.js does) accepts any node whether it reaches it by
# service name, by its fixed compose address or through a NAT map on
# 127.0.0.1, and REDIS_TLS_SERVERNAME may name any one of them. A managed
# cluster gives each node its own certificate from a public or private CA;
# the client side stays the same.
#
# Not for production: the CA key sits next to the certificates.
set -eu

TLS_DIR=${TLS_DIR:-./tls}
# The compose nodes: service names and fixed addresses (see docker-compose.yml).
REDIS_SUBNET_PREFIX=${REDIS_SUBNET_PREFIX:-172.28.0}
TLS_NODES=${TLS_NODES:-8}
# More names or addresses, space-separated ("DNS:redis.example" "IP:10.0.0.5").
TLS_EXTRA_SANS=${TLS_EXTRA_SANS:-}
TLS_DAYS=${TLS_DAYS:-825}
# Make new certificates when these expire within this many days.
TLS_RENEW_DAYS=${TLS_RENEW_DAYS:-30}
# Who may read the node key besides root, as chown takes it: the nodes' user
# ("999:999" in compose); empty: whoever runs this, as on the host.
TLS_KEY_OWNER=${TLS_KEY_OWNER:-}
OPENSSL=${OPENSSL:-openssl}

log() { printf 'make-certs: %s\n' "$*"; }
fail() { printf 'make-certs: error: %s\n' "$*" >&2; exit 1; }

# The subjectAltName list: localhost, every node by name and address.
sans() {
  list="DNS:localhost,IP:127.0.0.1,IP:::1"
  i=1
  while [ "$i" -le "$TLS_NODES" ]; do
    list="$list,DNS:redis-node-$i,IP:$REDIS_SUBNET_PREFIX.$((10 + i))"
    i=$((i + 1))
  done
  for san in $TLS_EXTRA_SANS; do
    list="$list,$san"
  done
  echo "$list"
}

# A fresh P-256 key and a request for it; EC keys are quick to make and every
# client of this stack takes them.
new_key_and_request() {
  "$OPENSSL" req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$1" -out "$2" -subj "$3" 2>/dev/null
}

make_ca() {
  log "making a development CA in $TLS_DIR"
  new_key_and_request "$TLS_DIR/ca.key" "$TLS_DIR/ca.csr" "/CN=redis-cluster-starter development CA"
  cat >"$TLS_DIR/ca.ext" <<EXT
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EXT
  "$OPENSSL" x509 -req -in "$TLS_DIR/ca.csr" -signkey "$TLS_DIR/ca.key" -days 3650 \
    -set_serial "0x$("$OPENSSL" rand -hex 16)" -extfile "$TLS_DIR/ca.ext" -out "$TLS_DIR/ca.crt" 2>/dev/null
  rm -f "$TLS_DIR/ca.csr" "$TLS_DIR/ca.ext"
}

# Both usages: a node is a server to clients and a client to the node it
# replicates and to its peers on the cluster bus, which checks its certificate.
make_node_cert() {
  log "making the nodes' certificate for $(sans)"
  new_key_and_request "$TLS_DIR/redis.key" "$TLS_DIR/redis.csr" "/CN=redis-node"
  cat >"$TLS_DIR/redis.ext" <<EXT
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = $(sans)
authorityKeyIdentifier = keyid
EXT
  "$OPENSSL" x509 -req -in "$TLS_DIR/redis.csr" -CA "$TLS_DIR/ca.crt" -CAkey "$TLS_DIR/ca.key" \
    -days "$TLS_DAYS" -set_serial "0x$("$OPENSSL" rand -hex 16)" -extfile "$TLS_DIR/redis.ext" \
    -out "$TLS_DIR/redis.crt" 2>/dev/null
  rm -f "$TLS_DIR/redis.csr" "$TLS_DIR/redis.ext"
}

valid_for_a_while() { "$OPENSSL" x509 -in "$1" -noout -checkend $((TLS_RENEW_DAYS * 86400)) >/dev/null 2>&1; }

# The certificate is signed by this CA, outlives the renewal window and
# names at least what is asked for now.
node_cert_fits() {
  [ -s "$TLS_DIR/redis.key" ] && valid_for_a_while "$TLS_DIR/redis.crt" &&
    "$OPENSSL" verify -CAfile "$TLS_DIR/ca.crt" "$TLS_DIR/redis.crt" >/dev/null 2>&1 || return 1
  names=$("$OPENSSL" x509 -in "$TLS_DIR/redis.crt" -noout -ext subjectAltName 2>/dev/null | tr -d ' \n' |
    sed 's/^X509v3SubjectAlternativeName://; s/IPAddress:/IP:/g; s/0:0:0:0:0:0:0:1/::1/')
  for san in $(sans | tr ',' ' '); do
    case ",$names," in
      *",$san,"*) ;;
      *) return 1 ;;
    esac
  done
}

command -v "$OPENSSL" >/dev/null || fail "$OPENSSL not found (Debian: apt-get install openssl)"
mkdir -p "$TLS_DIR"
umask 077
if [ -s "$TLS_DIR/ca.key" ] && valid_for_a_while "$TLS_DIR/ca.crt"; then
  log "keeping the CA in $TLS_DIR"
else
  make_ca
  rm -f "$TLS_DIR/redis.crt"
fi
if node_cert_fits; then
  log "keeping the nodes' certificate: valid for over $TLS_RENEW_DAYS days and names every node"
else
  make_node_cert
fi
# Certificates are public; the node key is for the nodes' user only.
chmod 644 "$TLS_DIR/ca.crt" "$TLS_DIR/redis.crt"
chmod 600 "$TLS_DIR/ca.key" "$TLS_DIR/redis.key"
if [ -n "$TLS_KEY_OWNER" ]; then chown "$TLS_KEY_OWNER" "$TLS_DIR/redis.key"; fi
log "ready: $TLS_DIR/ca.crt (trust this), $TLS_DIR/redis.crt and $TLS_DIR/redis.key (the nodes')"
