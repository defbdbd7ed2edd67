#!/usr/bin/env bash
# make-certs.sh: the TLS material of a murmur deployment, with OpenSSL.
#
#   deploy/make-certs.sh [--out DIR] [--san NAME_OR_IP]... [--client ID]... [--force]
#   deploy/make-certs.sh --out DIR --rotate-ca       (start a CA rotation)
#   deploy/make-certs.sh --out DIR --finish-ca-rotation
#
# Writes into DIR (default ./pki; keys are mode 0600):
#   ca.pem, ca.key           the CA (EC P-256, 10 years) that signs everything below
#   ca-bundle.pem            what both sides trust: ca.pem, or during a CA
#                            rotation the new CA followed by the old one
#   coordinator.pem/.key     the coordinator's certificate (serverAuth) whose
#                            subjectAltName lists every --san (DNS names and IPs:
#                            the addresses clients dial); CN murmur-coordinator
#   client-ID.pem/.key       one per --client: subject CN=ID (clientAuth). Over
#                            mTLS the coordinator binds a client's name to this
#                            CN: murmur-client --name must equal ID.
#
# Idempotent: a file that exists is kept (a re-run adds only what is missing)
# unless --force, which re-issues the coordinator certificate and the named
# clients (never the CA; see --rotate-ca). A kept coordinator certificate whose
# SANs differ from the --san given is reported.
#
# Use them:
#   murmur-coordinator --tls-cert DIR/coordinator.pem --tls-key DIR/coordinator.key \
#                      --tls-client-ca DIR/ca-bundle.pem ...
#   murmur-client --tls-ca DIR/ca-bundle.pem --tls-cert DIR/client-ID.pem \
#                 --tls-key DIR/client-ID.key --name ID ...
#
# Rotation:
# - A client certificate (expiring, or a new device): re-issue it with the
#   same ID, `--client ID --force`, copy client-ID.pem/.key to the device and
#   restart (or SIGTERM; systemd restarts) its murmur-client. The identity is
#   the CN, so the client keeps its id and history. New devices: `--client ID`.
# - The CA (it expires, or a key leaked: murmur checks no revocation lists, so
#   this is also how a leaked client key is shut out):
#   1. `--rotate-ca` keeps the old CA as ca-old.pem/.key, makes a new ca.pem and
#      writes ca-bundle.pem = new + old. Deploy ca-bundle.pem to the
#      coordinator (--tls-client-ca) and to every client (--tls-ca); restart.
#      Both sides now accept certificates from either CA.
#   2. Re-issue with the new CA: `--force --san ... --client ID...` (leave out
#      a leaked client). Deploy the new certificates; restart.
#   3. `--finish-ca-rotation` drops the old CA (ca-bundle.pem = new CA only,
#      ca-old.* removed). Deploy ca-bundle.pem once more; restart. Certificates
#      of the old CA are refused from now on.
#
# Options: --days N (leaf validity, default 397), --ca-days N (default 3650),
# --server-cn NAME (default murmur-coordinator).
set -euo pipefail

out=./pki days=397 ca_days=3650 server_cn=murmur-coordinator force=0 mode=issue
sans=() clients=()
usage() { sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
while (($#)); do
  case $1 in
    --out) out=$2; shift ;;
    --san) sans+=("$2"); shift ;;
    --client) clients+=("$2"); shift ;;
    --days) days=$2; shift ;;
    --ca-days) ca_days=$2; shift ;;
    --server-cn) server_cn=$2; shift ;;
    --force) force=1 ;;
    --rotate-ca) mode=rotate ;;
    --finish-ca-rotation) mode=finish ;;
    -h | --help) usage 0 ;;
    *) echo "make-certs: unknown argument '$1'" >&2; usage ;;
  esac
  shift
done
command -v openssl >/dev/null || { echo "make-certs: openssl is not installed" >&2; exit 1; }
for id in "${clients[@]}"; do
  [[ $id =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] ||
    { echo "make-certs: client id '$id': use letters, digits, '.', '_', '-'" >&2; exit 2; }
done
mkdir -p "$out"
umask 077
log=$out/.openssl.log
ossl() { openssl "$@" 2>"$log" >/dev/null || { cat "$log" >&2; echo "make-certs: openssl $1 failed" >&2; exit 1; }; }

new_key() { ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

new_ca() {  # new_ca PEM KEY
  new_key "$2"
  ossl req -x509 -new -key "$2" -out "$1" -days "$ca_days" -sha256 \
    -subj "/CN=murmur CA $(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash"
  chmod 644 "$1"
}

issue() {  # issue NAME CN EXTENSIONS: NAME.pem/.key signed by the CA
  local name=$1 cn=$2 ext=$3
  new_key "$out/$name.key.tmp"
  ossl req -new -key "$out/$name.key.tmp" -subj "/CN=$cn" -out "$out/$name.csr"
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
    "authorityKeyIdentifier=keyid" "$ext" >"$out/$name.ext"
  ossl x509 -req -in "$out/$name.csr" -CA "$out/ca.pem" -CAkey "$out/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days "$days" -sha256 -extfile "$out/$name.ext" \
    -out "$out/$name.pem.tmp"
  rm -f "$out/$name.csr" "$out/$name.ext"
  chmod 644 "$out/$name.pem.tmp"
  mv "$out/$name.key.tmp" "$out/$name.key"
  mv "$out/$name.pem.tmp" "$out/$name.pem"
}

write_bundle() {
  if [[ -f $out/ca-old.pem ]]; then
    cat "$out/ca.pem" "$out/ca-old.pem" >"$out/ca-bundle.pem.tmp"
  else
    cat "$out/ca.pem" >"$out/ca-bundle.pem.tmp"
  fi
  chmod 644 "$out/ca-bundle.pem.tmp"
  mv "$out/ca-bundle.pem.tmp" "$out/ca-bundle.pem"
}

case $mode in
  rotate)
    [[ -f $out/ca.pem ]] || { echo "make-certs: no CA in $out to rotate" >&2; exit 1; }
    [[ ! -f $out/ca-old.pem ]] ||
      { echo "make-certs: a rotation is under way ($out/ca-old.pem): --finish-ca-rotation first" >&2; exit 1; }
    mv "$out/ca.pem" "$out/ca-old.pem"
    mv "$out/ca.key" "$out/ca-old.key"
    new_ca "$out/ca.pem" "$out/ca.key"
    write_bundle
    echo "make-certs: new CA $out/ca.pem; $out/ca-bundle.pem trusts the new and the old CA." \
      "Deploy the bundle everywhere, then re-issue with --force."
    exit 0 ;;
  finish)
    [[ -f $out/ca-old.pem ]] || { echo "make-certs: no CA rotation under way in $out" >&2; exit 1; }
    rm -f "$out/ca-old.pem" "$out/ca-old.key"
    write_bundle
    echo "make-certs: $out/ca-bundle.pem now trusts only $out/ca.pem"
    exit 0 ;;
esac

if [[ ! -f $out/ca.pem || ! -f $out/ca.key ]]; then
  new_ca "$out/ca.pem" "$out/ca.key"
  echo "make-certs: created the CA $out/ca.pem"
fi
[[ -f $out/ca-bundle.pem ]] || write_bundle

if ((${#sans[@]})); then
  san_ext=() want=()
  for s in "${sans[@]}"; do
    s=${s#DNS:} s=${s#IP:}
    if [[ $s =~ ^[0-9.]+$ || $s == *:* ]]; then san_ext+=("IP:$s") want+=("IP Address:$s")
    else san_ext+=("DNS:$s") want+=("DNS:$s"); fi
  done
  if [[ -f $out/coordinator.pem && $force -eq 0 ]]; then
    have=$(openssl x509 -in "$out/coordinator.pem" -noout -ext subjectAltName 2>/dev/null | tail -n +2 |
      tr ',' '\n' | sed 's/^ *//' | sort | tr '\n' ' ')
    wanted=$(printf '%s\n' "${want[@]}" | sort | tr '\n' ' ')
    if [[ $have != "$wanted" ]]; then
      echo "make-certs: kept $out/coordinator.pem, but its SANs ($have) differ from --san ($wanted): use --force to re-issue" >&2
    fi
  else
    issue coordinator "$server_cn" "subjectAltName=$(IFS=,; echo "${san_ext[*]}")
extendedKeyUsage=serverAuth"
    echo "make-certs: issued $out/coordinator.pem for ${san_ext[*]}"
  fi
elif [[ ! -f $out/coordinator.pem ]]; then
  echo "make-certs: no --san given: no coordinator certificate (give the names and IPs clients dial)" >&2
fi

for id in "${clients[@]}"; do
  if [[ -f $out/client-$id.pem && $force -eq 0 ]]; then continue; fi
  issue "client-$id" "$id" "extendedKeyUsage=clientAuth"
  echo "make-certs: issued $out/client-$id.pem (CN=$id)"
done
rm -f "$log"
