#!/usr/bin/env bash
# Creates what the recsys Secrets hold, with openssl, into OUT_DIR (default
# ./recsys-secrets; never commit it):
#   ca.crt / ca.key          a private CA for the cluster's recsys endpoints
#                            (keep ca.key offline; it signs the certificates)
#   gateway/                 -> Secret recsys-gateway-tls
#     tls.crt tls.key        server certificate: recsys-gateway, its headless
#                            Service, *.NAMESPACE.svc names, localhost, 127.0.0.1
#     client.crt client.key  the gateway's client certificate for the stages (mTLS)
#     ca.crt                 verifies retrieval's and ranking's certificates
#     tokens                 "ROLE TOKEN" lines: one read, one write, one admin token
#     signals.key            the signals HMAC key (overlays/sharded: the gateway
#                            re-signs the merged retrieval shards' signals)
#   retrieval/ ranking/      -> Secrets recsys-retrieval-tls, recsys-ranking-tls
#     tls.crt tls.key        server (and probe client) certificate of the stage;
#                            retrieval's also names recsys-retrieval-shard-0 ..
#                            SHARDS-1 (overlays/sharded: one Service per shard)
#     ca.crt                 verifies the gateway's client certificate
#     signals.key            the HMAC key retrieval and ranking share
#   tokens/{read,write,admin}.token   the tokens, one file each, to hand out
#   redis/password           -> Secret recsys-redis (overlays/scaled-out's Redis
#                            requirepass); the same password is gateway/redis-password
# Then:
#   for s in gateway retrieval ranking; do
#     kubectl -n NAMESPACE create secret generic recsys-$s-tls --from-file=OUT_DIR/$s
#   done
#   kubectl -n NAMESPACE create secret generic recsys-redis --from-file=OUT_DIR/redis  # scaled-out
# Certificates last DAYS days (default 365); re-run and re-create the Secrets
# to renew (the pods roll when a Secret changes only if you restart them:
# kubectl rollout restart statefulset/recsys-gateway deployment/recsys-retrieval ...).
#
#   deploy/k8s/secrets/make-secrets.sh [OUT_DIR] [NAMESPACE] [DAYS] [SHARDS]
# SHARDS (default 4): how many retrieval shard Services the retrieval
# certificate names (enough for overlays/sharded up to 4 shards).
set -euo pipefail
OUT=${1:-recsys-secrets}
NS=${2:-recsys}
DAYS=${3:-365}
SHARDS=${4:-4}
command -v openssl >/dev/null || { echo "openssl is required" >&2; exit 1; }
mkdir -p "$OUT"/{gateway,retrieval,ranking,tokens,redis}
umask 077
cd "$OUT"

[ -f ca.key ] || openssl req -x509 -newkey rsa:3072 -nodes -days "$DAYS" \
  -subj "/CN=recsys internal CA" -keyout ca.key -out ca.crt 2>/dev/null

# make_cert NAME DIR FILE_PREFIX EKU [ALSO...]: a key and a certificate for NAME
# (and the Service names ALSO) signed by the CA.
make_cert() {
  local name=$1 dir=$2 prefix=$3 eku=$4
  shift 4
  local san="DNS:$name,DNS:$name.$NS,DNS:$name.$NS.svc,DNS:$name.$NS.svc.cluster.local"
  san="$san,DNS:$name-headless,DNS:*.$name-headless.$NS.svc.cluster.local,DNS:localhost,IP:127.0.0.1"
  local also
  for also in "$@"; do
    san="$san,DNS:$also,DNS:$also.$NS,DNS:$also.$NS.svc,DNS:$also.$NS.svc.cluster.local"
  done
  printf 'subjectAltName=%s\nextendedKeyUsage=%s\nkeyUsage=digitalSignature,keyEncipherment\n' \
    "$san" "$eku" >"$dir/$prefix.ext"
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$name" -keyout "$dir/$prefix.key" \
    -out "$dir/$prefix.csr" 2>/dev/null
  openssl x509 -req -in "$dir/$prefix.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
    -days "$DAYS" -extfile "$dir/$prefix.ext" -out "$dir/$prefix.crt" 2>/dev/null
  rm -f "$dir/$prefix.csr" "$dir/$prefix.ext"
}

make_cert recsys-gateway gateway tls serverAuth
make_cert recsys-gateway gateway client clientAuth
# The stages' certificates also authenticate their own health probe (recsys-cli
# presents it to the stage, which requires client certificates).
# The gateway dials each retrieval shard group by its own Service name
# (overlays/sharded); the shards share retrieval's Secret.
shard_names=()
for ((i = 0; i < SHARDS; i++)); do shard_names+=("recsys-retrieval-shard-$i"); done
make_cert recsys-retrieval retrieval tls serverAuth,clientAuth "${shard_names[@]}"
make_cert recsys-ranking ranking tls serverAuth,clientAuth
for d in gateway retrieval ranking; do cp ca.crt "$d/ca.crt"; done

for role in read write admin; do
  [ -f "tokens/$role.token" ] || openssl rand -hex 32 >"tokens/$role.token"
done
{
  echo "# role token (re-read on SIGHUP)"
  for role in read write admin; do echo "$role $(cat "tokens/$role.token")"; done
} >gateway/tokens
[ -f signals.key ] || openssl rand -hex 32 >signals.key
cp signals.key retrieval/signals.key
cp signals.key ranking/signals.key
cp signals.key gateway/signals.key
# The scaled-out overlay's Redis password (unused by the base).
[ -f redis/password ] || openssl rand -hex 32 | tr -d '\n' >redis/password
cp redis/password gateway/redis-password
echo "wrote $(pwd): Secrets' contents in gateway/ retrieval/ ranking/ redis/, tokens in tokens/"
