#!/usr/bin/env bash
# client_daemon_e2e_test.sh COORDINATOR CLIENT INIT_MODEL MURMURCTL EVAL WORK_DIR [FASHION_MNIST_DIR]
#
# A real murmur-coordinator (mTLS, m = 3) and three real murmur-client
# processes on loopback, each on its own Fashion-MNIST shard with its own
# policy (K fixed, uniform, time-budgeted):
#   1. the run goes: the global version advances; SIGHUP makes a client
#      re-read its config file and use the new [policy];
#   2. one client is killed with SIGKILL mid-upload (the moment its log says
#      "sending from outbox", while the entry is still in its outbox) and
#      restarted on its state dir: it keeps its client id, sends that entry
#      again (the outbox drains) and goes on;
#   3. the coordinator is stopped and restarted on its state dir: the
#      clients back off, reconnect and the version advances past the restart;
#   4. SIGTERM stops every client cleanly (exit 0); the coordinator's history
#      (murmurctl) holds exactly the updates each client recorded as accepted
#      (the killed one: recorded <= counted <= recorded + its outbox entries
#      at the kills), and the update sent at the kill exactly once: neither
#      lost nor counted twice; each client's training loss fell;
#   5. the global model's test accuracy rose: version 1 and the final
#      version, exported with murmurctl and evaluated with murmur-eval on the
#      first 3000 Fashion-MNIST test images; `murmur-client status` reads a
#      state dir.
set -u -o pipefail
coordinator=$1 client=$2 init_model=$3 ctl=$4 eval=$5 work=$6
fmnist=${7:-/usr/share/datasets/fashion-mnist}
rm -rf "$work" && mkdir -p "$work"
failures=0
fail() { echo "FAILED: $*"; failures=$((failures + 1)); }
model=dim=16,depth=1,heads=2

"$init_model" --out "$work/model.mrmt" --model "$model" --seed 5 >/dev/null ||
  { echo "murmur-init-model failed"; exit 1; }

# --- certificates (a CA, the server for 127.0.0.1, one per client) ----------
pki=$work/pki
mkdir -p "$pki"
ossl() { openssl "$@" 2>>"$pki/openssl.log" >/dev/null || { cat "$pki/openssl.log"; exit 1; }; }
ossl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=ca" -keyout "$pki/ca.key" \
  -out "$pki/ca.pem" -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign"
make_cert() {  # make_cert NAME EXT
  ossl req -newkey rsa:2048 -nodes -subj "/CN=$1" -keyout "$pki/$1.key" -out "$pki/$1.csr"
  printf '%s\n' "$2" >"$pki/$1.ext"
  ossl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 2 -out "$pki/$1.pem" -extfile "$pki/$1.ext"
}
make_cert server "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth"
for i in 0 1 2; do make_cert "edge-$i" "extendedKeyUsage=clientAuth"; done

# --- the coordinator ----------------------------------------------------------
cpid=
n=0
start_coordinator() {  # start_coordinator LISTEN
  n=$((n + 1))
  clog="$work/coordinator-$n.log"
  "$coordinator" --listen "$1" --state-dir "$work/coord" --init "$work/model.mrmt" \
    --admin-listen 127.0.0.1:0 --metrics-listen "" --updates-per-round 3 --max-staleness 8 \
    --strategy fedbuff --server-lr 1 \
    --local-lr 0.05 --batch 16 --max-k 40 --wait-retry-s 0.2 \
    --tls-cert "$pki/server.pem" --tls-key "$pki/server.key" --tls-client-ca "$pki/ca.pem" \
    >"$clog" 2>&1 &
  cpid=$!
  for _ in $(seq 1 100); do
    grep -q "coordinator serving" "$clog" 2>/dev/null && break
    kill -0 "$cpid" 2>/dev/null || break
    sleep 0.1
  done
  port=$(sed -n 's/.*coordinator serving.* port=\([0-9]*\).*/\1/p' "$clog")
  admin_port=$(sed -n 's/.*admin serving.* port=\([0-9]*\).*/\1/p' "$clog")
  [[ -n "$port" && -n "$admin_port" ]] || { cat "$clog"; echo "the coordinator did not serve"; exit 1; }
}
start_coordinator 127.0.0.1:0
# The initial global model, exported before its checkpoint can be pruned.
"$ctl" --admin "127.0.0.1:$admin_port" export --out "$work/global-v1.mrmt" --version 1 >/dev/null ||
  fail "murmurctl export --version 1"

# --- the clients --------------------------------------------------------------
declare -a pids
policy_of() {
  case $1 in
    0) echo "--config $work/edge-0.toml" ;;  # [policy] k-rule fixed, k 10; SIGHUP reloads it
    1) echo "--policy.k-rule uniform --policy.k-min 8 --policy.k-max 24" ;;
    2) echo "--policy.k-rule time --policy.k-time-budget-s 0.3 --policy.k-min 4 --policy.k-max 40" ;;
  esac
}
start_client() {  # start_client I
  local i=$1
  # shellcheck disable=SC2046
  "$client" --coordinator "127.0.0.1:$port" --name "edge-$i" --state-dir "$work/edge-$i" \
    --tls-ca "$pki/ca.pem" --tls-cert "$pki/edge-$i.pem" --tls-key "$pki/edge-$i.key" \
    --model "$model" --threads 1 --data.fashion-mnist-dir "$fmnist" --data.client-index "$i" \
    --data.num-clients 3 --data.limit 3000 --heartbeat-s 1 --backoff-max-s 1 \
    $(policy_of "$i") >>"$work/edge-$i.log" 2>&1 &
  pids[$i]=$!
}
printf '[policy]\nk-rule = "fixed"\nk = 10\n' >"$work/edge-0.toml"
for i in 0 1 2; do start_client "$i"; done

# The highest round version any client has seen accepted.
WAIT_POLL_S=0.2
source "$(dirname "$0")/e2e_helpers.sh"  # version, wait_for, version_at_least, accepted_by
accepted_count() { grep -c "update accepted" "$work/edge-$1.log" 2>/dev/null || echo 0; }

wait_for 60 version_at_least 4 || { tail -n 20 "$work"/edge-*.log "$clog"; fail "no progress"; }
echo "1. run started: version $(version)"

# --- SIGHUP: edge-0 re-reads its config file and trains with the new K -------
printf '[policy]\nk-rule = "fixed"\nk = 12\n' >"$work/edge-0.toml"
kill -HUP "${pids[0]}"
reloaded() { grep -q 'trained k=12' "$work/edge-0.log"; }
wait_for 30 reloaded || fail "edge-0 did not train with K=12 after SIGHUP"
grep -q "SIGHUP: policy reloaded" "$work/edge-0.log" || fail "no reload line after SIGHUP"
echo "   SIGHUP: edge-0 now trains with K=12"

# --- 2. kill -9 one client mid-upload and restart it --------------------------
# The daemon logs "sending from outbox id=ID" just before it pushes entry ID
# (on loopback the push takes tens of ms). tail -F follows the log by inotify,
# so the SIGKILL lands within a few ms of that line: mid-upload. A try where
# the entry had already left the outbox (the push finished first) does not
# count: the client is restarted and killed again, at most 5 times.
id_of() { sed -n 's/.*"client_id": \([0-9]*\).*/\1/p' "$work/edge-$1/identity.json"; }
recorded_of() { sed -n 's/.*"accepted_total": \([0-9]*\).*/\1/p' "$work/edge-$1/participation.json"; }
outbox_entries() { find "$work/edge-$1/outbox" -name '*.update' | wc -l; }
id_before=$(id_of 1)
kill_id= tries=0
# How many accepted updates the kills may have left unrecorded: the entries in
# the outbox at each kill, plus one for a try that missed (the client removes
# an accepted entry from its outbox, then records it: a kill in between
# loses the record, never the update).
slack=0
while [[ -z "$kill_id" && $tries -lt 5 ]]; do
  tries=$((tries + 1))
  timeout 60 grep -q -m1 "sending from outbox" < <(timeout 60 tail -n0 -F "$work/edge-1.log" 2>/dev/null)
  kill -KILL "${pids[1]}"
  wait "${pids[1]}" 2>/dev/null
  sent=$(grep "sending from outbox" "$work/edge-1.log" | tail -1 | sed -n 's/.* id=\([^ ]*\).*/\1/p')
  slack=$((slack + $(outbox_entries 1)))
  if [[ -n "$sent" && -f "$work/edge-1/outbox/$sent" ]]; then
    kill_id=$sent
    recorded_at_kill=$(recorded_of 1)
    outbox_at_kill=$(outbox_entries 1)
    # The update being sent: its base version, K and loss from the "trained" line.
    read -r kill_base kill_k kill_loss < <(grep "trained k=.* outbox=$sent" "$work/edge-1.log" |
      sed -n 's/.*trained k=\([0-9]*\) base_version=\([0-9]*\) loss=\([0-9.e+-]*\).*/\2 \1 \3/p')
  else
    slack=$((slack + 1))
  fi
  echo "--- restart after SIGKILL (try $tries, sending ${sent:-nothing}) ---" >>"$work/edge-1.log"
  start_client 1
done
[[ -n "$kill_id" && -n "${kill_loss:-}" ]] ||
  fail "no SIGKILL landed while an update was being sent ($tries tries)"
echo "2. edge-1 killed with SIGKILL mid-upload (try $tries): entry $kill_id" \
  "(base v${kill_base:-?}, K=${kill_k:-?}, loss ${kill_loss:-?}); outbox ${outbox_at_kill:-?}" \
  "entries, ${recorded_at_kill:-?} accepted recorded"
before=$(accepted_count 1)
drained() { [[ ! -f "$work/edge-1/outbox/$kill_id" ]] && (($(accepted_count 1) > before)); }
wait_for 60 drained || fail "the restarted client did not send $kill_id or had nothing accepted"
[[ "$(id_of 1)" == "$id_before" && -n "$id_before" ]] ||
  fail "client id changed over the restart: $id_before -> $(id_of 1)"
grep -q "registered name=edge-1 client_id=$id_before" "$work/edge-1.log" ||
  fail "the restarted client did not register as id $id_before"
outcome=$(sed -n "/--- restart after SIGKILL (try $tries/,\$p" "$work/edge-1.log" |
  grep -m1 -E "(update accepted|dropped from the outbox) id=$kill_id" |
  sed -n 's/.* info  //p; s/.* warn  //p')
echo "   restarted as client $id_before; the entry left its outbox: ${outcome:-?}"
# Train on until the global model has had time to learn (step 5 checks it).
final_target=40
wait_for 150 version_at_least $final_target ||
  fail "the run did not reach version $final_target (at $(version))"
echo "   trained on to version $(version) (${SECONDS} s into the test)"

# --- 3. restart the coordinator -----------------------------------------------
v_before=$(version)
kill -TERM "$cpid"
wait "$cpid"
rc=$?
[[ $rc -eq 0 ]] || fail "coordinator exit code $rc on SIGTERM"
sleep 1.5  # the clients find it gone
start_coordinator "127.0.0.1:$port"
wait_for 60 version_at_least $((v_before + 2)) ||
  { tail -n 20 "$work"/edge-*.log "$clog"; fail "no progress after the coordinator restart"; }
grep -q "coordinator unavailable, backing off" "$work"/edge-*.log ||
  fail "no client saw the coordinator down"
echo "3. coordinator restarted: version $v_before -> $(version)"

# --- 4. stop cleanly ---------------------------------------------------------
for i in 0 1 2; do kill -TERM "${pids[$i]}"; done
for i in 0 1 2; do
  wait "${pids[$i]}"
  rc=$?
  [[ $rc -eq 0 ]] || { tail -5 "$work/edge-$i.log"; fail "edge-$i exit code $rc on SIGTERM"; }
done
# The coordinator's history against what the clients recorded.
clients_json=$("$ctl" --admin "127.0.0.1:$admin_port" --json clients) || fail "murmurctl clients"
for i in 0 1 2; do
  recorded=$(sed -n 's/.*"accepted_total": \([0-9]*\).*/\1/p' "$work/edge-$i/participation.json")
  counted=$(python3 -c 'import json,sys; j=json.load(sys.stdin)
print(sum(c["participations"] for c in j if c["client_name"] == sys.argv[1]))' "edge-$i" \
    <<<"$clients_json")
  if [[ $i -eq 1 ]]; then
    ((recorded <= counted && counted <= recorded + slack)) ||
      fail "edge-1 (killed): coordinator has $counted accepted, the client recorded $recorded" \
        "(at most $slack unrecorded: outbox entries at the kills)"
  else
    ((counted == recorded)) || fail "edge-$i: coordinator has $counted accepted, client $recorded"
  fi
  echo "   edge-$i: $counted accepted at the coordinator, $recorded recorded by the client"
  losses=$(sed -n 's/.*trained k=.* loss=\([0-9.]*\).*/\1/p' "$work/edge-$i.log" | tr '\n' ' ')
  python3 -c 'import sys; l=[float(x) for x in sys.argv[1].split()]
sys.exit(0 if len(l) >= 6 and sum(l[-3:]) < sum(l[:3]) else 1)' "$losses" ||
    fail "edge-$i: training loss did not fall: $losses"
done
# The update sent at the kill is in the coordinator's history exactly once
# (by base version, K and loss), unless the coordinator dropped it for good.
if [[ -n "${kill_loss:-}" ]]; then
  history_json=$("$ctl" --admin "127.0.0.1:$admin_port" --json history "$id_before" --limit 1000) ||
    fail "murmurctl history"
  copies=$(python3 -c 'import json,sys; h=json.load(sys.stdin); b,k,l=int(sys.argv[1]),int(sys.argv[2]),float(sys.argv[3])
print(sum(1 for p in h if p["accepted"] and p["base_version"]==b and p["local_steps"]==k
          and abs(p["mean_loss"]-l) <= 1e-5*max(1.0,abs(l))))' "$kill_base" "$kill_k" "$kill_loss" \
    <<<"$history_json")
  if grep -q "dropped from the outbox.* id=$kill_id\|dropped from the outbox id=$kill_id" "$work/edge-1.log"; then
    ((copies == 0)) || fail "the update sent at the kill was dropped by the client yet counted $copies times"
  else
    ((copies == 1)) || fail "the update sent at the kill is in the history $copies times (want 1)"
  fi
  echo "   the update sent at the kill: $copies time(s) in the coordinator's history"
fi

# --- 5. the global model's accuracy rose --------------------------------------
"$ctl" --admin "127.0.0.1:$admin_port" --json export --out "$work/global-final.mrmt" \
  >"$work/export-final.json" || fail "murmurctl export (latest)"
final_version=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["model_version"])' \
  "$work/export-final.json" 2>/dev/null)
accuracy_of() {  # accuracy_of FILE NAME: prints the test accuracy
  "$eval" --weights "$1" --model "$model" --limit 3000 --threads 1 --data-dir "$fmnist" \
    --json "$work/eval-$2.json" --log.level warn >"$work/eval-$2.log" 2>&1 ||
    { cat "$work/eval-$2.log" >&2; return 1; }
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["test_accuracy"])' "$work/eval-$2.json"
}
acc_initial=$(accuracy_of "$work/global-v1.mrmt" v1) || fail "murmur-eval on version 1"
acc_final=$(accuracy_of "$work/global-final.mrmt" final) || fail "murmur-eval on the final version"
echo "5. global model test accuracy (3000 images): version 1 ${acc_initial:-?}" \
  "-> version ${final_version:-?} ${acc_final:-?}"
python3 -c 'import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); sys.exit(0 if b >= a + 0.2 else 1)' \
  "${acc_initial:-1}" "${acc_final:-0}" ||
  fail "the global model's accuracy did not rise by 0.2: ${acc_initial:-?} -> ${acc_final:-?}"

# A client whose model does not fit the coordinator's says so and exits 1.
timeout 60 "$client" --coordinator "127.0.0.1:$port" --name edge-0 --state-dir "$work/mismatch" \
  --tls-ca "$pki/ca.pem" --tls-cert "$pki/edge-0.pem" --tls-key "$pki/edge-0.key" \
  --model dim=32,depth=1,heads=2 --data.fashion-mnist-dir "$fmnist" --data.limit 100 \
  >"$work/mismatch.log" 2>&1
rc=$?
[[ $rc -eq 1 ]] && grep -q "this client's model cannot serve the job" "$work/mismatch.log" ||
  { tail -3 "$work/mismatch.log"; fail "a mismatched model: exit $rc"; }
# A missing data directory is named at start (exit 2).
"$client" --name x --state-dir "$work/nodata" --data.fashion-mnist-dir "$work/no-such-dir" \
  >"$work/nodata.log" 2>&1
rc=$?
[[ $rc -eq 2 ]] && grep -q "$work/no-such-dir" "$work/nodata.log" ||
  { cat "$work/nodata.log"; fail "missing data: exit $rc"; }

kill -TERM "$cpid"
wait "$cpid"
status=$("$client" status --state-dir "$work/edge-0") || fail "murmur-client status"
grep -q "client         edge-0 (id " <<<"$status" || fail "status: $status"
grep -q "accepted" <<<"$status" || fail "status: $status"
grep -q "K fixed 12" <<<"$status" || fail "status shows no (reloaded) policy: $status"
echo "4. clean stop; status:"
echo "$status"

if ((failures > 0)); then
  echo "$failures failure(s); logs in $work"
  exit 1
fi
echo "client daemon end-to-end: OK"
