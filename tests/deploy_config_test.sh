#!/usr/bin/env bash
# deploy_config_test.sh SOURCE_DIR COORDINATOR CLIENT MURMURCTL WORK_DIR
#
# The deployment files, checked offline (no container engine, no cluster):
#   1. deploy/make-certs.sh: chains verify, the client CN is the identity,
#      the coordinator's SANs, idempotence, --force, CA rotation with an
#      overlap bundle;
#   2. systemd units: `systemd-analyze verify` (with ExecStart pointing at
#      the built binaries); skipped when systemd-analyze is missing;
#   3. docker-compose.yml: `docker compose config` when the compose plugin
#      exists, and always tests/deploy_manifest_check.py compose;
#   4. deploy/k8s: kubeconform when installed, and always
#      deploy_manifest_check.py k8s (a broken copy must fail it);
#   5. deploy/runtime-packages.sh: the coordinator's runtime packages hold
#      no LibTorch, the client's do; the Dockerfiles name files that exist.
set -u -o pipefail
src=$1 coordinator=$2 client=$3 ctl=$4 work=$5
rm -rf "$work" && mkdir -p "$work"
failures=0
fail() { echo "FAILED: $*"; failures=$((failures + 1)); }
check=$src/tests/deploy_manifest_check.py

# --- 1. certificates -----------------------------------------------------------
pki=$work/pki mc=$src/deploy/make-certs.sh
"$mc" --out "$pki" --san 10.0.0.1 --san coord.example --client edge-a --client edge-b \
  >"$work/mc1.log" 2>&1 || { cat "$work/mc1.log"; fail "make-certs.sh"; }
openssl verify -CAfile "$pki/ca-bundle.pem" "$pki/coordinator.pem" "$pki/client-edge-a.pem" \
  >/dev/null || fail "certificates do not verify against the bundle"
[[ $(openssl x509 -in "$pki/client-edge-b.pem" -noout -subject) == *"CN = edge-b"* ]] ||
  fail "client CN is not its identity"
sans=$(openssl x509 -in "$pki/coordinator.pem" -noout -ext subjectAltName)
[[ $sans == *"IP Address:10.0.0.1"* && $sans == *"DNS:coord.example"* ]] || fail "SANs: $sans"
[[ $(stat -c %a "$pki/client-edge-a.key") == 600 ]] || fail "a key is not mode 600"
sum1=$(cat "$pki"/*.pem | sha256sum)
"$mc" --out "$pki" --san 10.0.0.1 --san coord.example --client edge-a >/dev/null 2>&1
[[ $(cat "$pki"/*.pem | sha256sum) == "$sum1" ]] || fail "a re-run changed existing files"
"$mc" --out "$pki" --san 10.0.0.2 2>&1 | grep -q "differ" || fail "changed SANs not reported"
old_a=$(sha256sum <"$pki/client-edge-a.pem")
"$mc" --out "$pki" --force --client edge-a >/dev/null 2>&1
[[ $(sha256sum <"$pki/client-edge-a.pem") != "$old_a" ]] || fail "--force did not re-issue"
"$mc" --out "$pki" --rotate-ca >/dev/null || fail "--rotate-ca"
[[ $(grep -c BEGIN "$pki/ca-bundle.pem") == 2 ]] || fail "the rotation bundle has not two CAs"
openssl verify -CAfile "$pki/ca-bundle.pem" "$pki/client-edge-b.pem" >/dev/null ||
  fail "an old-CA certificate fails against the overlap bundle"
"$mc" --out "$pki" --force --san 10.0.0.1 --client edge-a >/dev/null 2>&1
openssl verify -CAfile "$pki/ca.pem" "$pki/client-edge-a.pem" >/dev/null || fail "re-issued cert not from the new CA"
"$mc" --out "$pki" --finish-ca-rotation >/dev/null || fail "--finish-ca-rotation"
openssl verify -CAfile "$pki/ca-bundle.pem" "$pki/client-edge-b.pem" >/dev/null 2>&1 &&
  fail "an old-CA certificate still verifies after the rotation finished"
echo "1. make-certs.sh: chains, CN, SANs, idempotence, --force, CA rotation"

# --- 2. systemd units --------------------------------------------------------------
if command -v systemd-analyze >/dev/null; then
  mkdir -p "$work/units"
  for u in murmur-coordinator murmur-client; do
    sed -e "s|/usr/local/bin/murmur-coordinator|$coordinator|" -e "s|/usr/local/bin/murmur-client|$client|" \
      "$src/deploy/systemd/$u.service" >"$work/units/$u.service"
  done
  if out=$(systemd-analyze verify "$work"/units/*.service 2>&1); then
    echo "2. systemd-analyze verify: both units OK"
  else
    fail "systemd-analyze verify: $out"
  fi
  # The check can fail: a unit whose ExecStart is no absolute path is refused.
  sed "s|^ExecStart=$client|ExecStart=murmur/client|" "$work/units/murmur-client.service" \
    >"$work/units/bad.service"
  systemd-analyze verify "$work/units/bad.service" >/dev/null 2>&1 &&
    fail "systemd-analyze accepted a unit with a relative ExecStart"
  grep -q "^NoNewPrivileges=yes" "$src/deploy/systemd/murmur-client.service" || fail "hardening"
else
  echo "2. SKIPPED: systemd-analyze is not installed"
fi

# --- 3. docker-compose.yml ----------------------------------------------------------
if docker compose version >/dev/null 2>&1; then
  (cd "$src" && docker compose config -q) || fail "docker compose config"
  echo "3. docker compose config: OK"
else
  echo "3. no compose plugin here (docker compose version failed): YAML checks only"
fi
python3 "$check" compose "$src/docker-compose.yml" || fail "compose check"
sed 's/"--tls-client-ca", "\/pki\/ca-bundle.pem",//' "$src/docker-compose.yml" >"$work/bad-compose.yml"
python3 "$check" compose "$work/bad-compose.yml" >/dev/null && fail "the compose check passed a compose without mTLS"

# --- 4. Kubernetes ---------------------------------------------------------------------
if command -v kubeconform >/dev/null; then
  kubeconform -strict -summary "$src"/deploy/k8s/*.yaml || fail "kubeconform"
fi
python3 "$check" k8s "$src"/deploy/k8s/*.yaml || fail "k8s check"
mkdir -p "$work/k8s-bad"
sed 's/nvidia.com\/gpu: 1}/}/' "$src/deploy/k8s/clients.yaml" >"$work/k8s-bad/clients.yaml"
python3 "$check" k8s "$work/k8s-bad/clients.yaml" >/dev/null && fail "k8s check passed a DaemonSet without GPUs"
sed 's/mountPath: \/pki/mountPath: \/pki, x: 1/; s/name: tls, mountPath/name: tlz, mountPath/' \
  "$src/deploy/k8s/coordinator.yaml" >"$work/k8s-bad/coordinator.yaml"
python3 "$check" k8s "$work/k8s-bad/coordinator.yaml" >/dev/null && fail "k8s check passed a mount of no volume"

# --- 5. images ---------------------------------------------------------------------------
pk=$(bash "$src/deploy/runtime-packages.sh" "$coordinator" "$ctl") || fail "runtime-packages.sh (coordinator)"
grep -q libtorch <<<"$pk" && fail "the coordinator's runtime packages include LibTorch: $pk"
grep -q '^libgrpc++' <<<"$pk" || fail "no gRPC among the coordinator's packages: $pk"
pkc=$(bash "$src/deploy/runtime-packages.sh" "$client" 2>/dev/null) || fail "runtime-packages.sh (client)"
grep -q '^libtorch' <<<"$pkc" || fail "no LibTorch among the client's packages: $pkc"
echo "5. coordinator runtime packages ($(wc -l <<<"$pk")): $(tr '\n' ' ' <<<"$pk")"
echo "   client runtime packages ($(wc -l <<<"$pkc")): $(tr '\n' ' ' <<<"$pkc")"
for df in "$src"/deploy/Dockerfile.*; do
  for f in $(sed -n 's/^\(COPY\|RUN bash\) \(deploy\/[^ ]*\).*/\2/p' "$df"); do
    [[ -e $src/$f ]] || fail "$df names $f, which does not exist"
  done
  grep -q '^USER murmur' "$df" || fail "$df does not run as a non-root user"
done
grep -q '^build$' "$src/.dockerignore" && grep -q '^\.git$' "$src/.dockerignore" ||
  fail ".dockerignore does not keep build/ and .git out"

if ((failures > 0)); then
  echo "$failures failure(s); files in $work"
  exit 1
fi
echo "deployment files: OK"
