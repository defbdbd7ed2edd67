#!/usr/bin/env bash
# service_kill_restart_test.sh COORDINATOR CLIENT INIT_MODEL MURMURCTL WORK_DIR [FASHION_MNIST_DIR]
#
# The coordinator is killed with SIGKILL three times while three real
# murmur-client daemons keep pushing (mid-upload, mid-round), and restarted
# each time on its state directory. What must hold:
#   - the clients back off, reconnect and the run goes on: the global version
#     advances past each restart;
#   - nothing accepted is lost or counted twice: for every client, the
#     coordinator's history (murmurctl) holds every update the client
#     recorded as accepted, and beyond those at most the updates still in
#     its outbox (a client whose acknowledgement was lost resends from its
#     outbox and is answered "accepted" by dedup; one stopped before it
#     heard back resends on its next start);
#   - the rounds in the history are contiguous, each with m updates.
set -u -o pipefail
coordinator=$1 client=$2 init_model=$3 ctl=$4 work=$5
fmnist=${6:-/usr/share/datasets/fashion-mnist}
rm -rf "$work" && mkdir -p "$work"
failures=0
fail() { echo "FAILED: $*"; failures=$((failures + 1)); }
model=dim=16,depth=1,heads=2
m=3

"$init_model" --out "$work/model.mrmt" --model "$model" --seed 7 >/dev/null ||
  { echo "murmur-init-model failed"; exit 1; }

cpid=
n=0
port=0
start_coordinator() {
  n=$((n + 1))
  clog="$work/coordinator-$n.log"
  "$coordinator" --listen "127.0.0.1:$port" --state-dir "$work/coord" --init "$work/model.mrmt" \
    --admin-listen 127.0.0.1:0 --metrics-listen "" --updates-per-round $m --max-staleness 8 \
    --local-lr 0.05 --batch 16 --max-k 20 --wait-retry-s 0.2 >"$clog" 2>&1 &
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
cleanup() {
  for p in ${pids[@]:-} $cpid; do kill -KILL "$p" 2>/dev/null; done
}
trap cleanup EXIT
declare -a pids
start_coordinator

for i in 0 1 2; do
  "$client" --coordinator "127.0.0.1:$port" --name "edge-$i" --state-dir "$work/edge-$i" \
    --enrollment-secret "enrollment-secret-of-edge-$i" --model "$model" --threads 1 \
    --data.fashion-mnist-dir "$fmnist" --data.client-index "$i" --data.num-clients 3 \
    --data.limit 2000 --heartbeat-s 1 --backoff-max-s 0.5 \
    --policy.k-rule uniform --policy.k-min 2 --policy.k-max 6 >>"$work/edge-$i.log" 2>&1 &
  pids[$i]=$!
done

source "$(dirname "$0")/e2e_helpers.sh"  # version, wait_for, version_at_least, accepted_by
clients_alive() {
  for p in "${pids[@]}"; do
    kill -0 "$p" 2>/dev/null || { tail -5 "$work"/edge-*.log; echo "a client exited"; exit 1; }
  done
}
progress_at_least() { clients_alive; version_at_least "$1"; }
accepted_total() { cat "$work"/edge-*.log | grep -c "update accepted"; }
accepted_more_than() { [[ $(accepted_total) -gt $1 ]]; }
# Every client has had an update accepted since the counts given (one per client).
each_client_advanced_since() {
  clients_alive
  local -a before=("$@")
  local i
  for i in 0 1 2; do [[ $(accepted_by "$i") -gt ${before[$i]} ]] || return 1; done
}

wait_for 90 progress_at_least 3 || { tail -20 "$work"/edge-*.log "$clog"; fail "no progress"; exit 1; }
echo "run started: version $(version)"
for kill_no in 1 2 3; do
  # Kill while updates are in flight: right after the next accepted update.
  before=$(accepted_total)
  wait_for 60 accepted_more_than "$before"
  v_kill=$(version)
  counts=("$(accepted_by 0)" "$(accepted_by 1)" "$(accepted_by 2)")
  kill -KILL "$cpid"
  wait "$cpid" 2>/dev/null
  sleep 0.5  # the clients see it down and back off
  start_coordinator
  wait_for 90 progress_at_least $((v_kill + 3)) ||
    { tail -20 "$work"/edge-*.log "$clog"; fail "no progress after kill $kill_no"; }
  # Each client goes on, not just the run: every one gets an update in.
  wait_for 60 each_client_advanced_since "${counts[@]}" ||
    { tail -8 "$work"/edge-*.log; fail "a client did not get back in after kill $kill_no"; }
  echo "kill $kill_no at version $v_kill; now version $(version)"
done

for i in 0 1 2; do kill -TERM "${pids[$i]}"; done
for i in 0 1 2; do
  wait "${pids[$i]}"
  rc=$?
  [[ $rc -eq 0 ]] || { tail -5 "$work/edge-$i.log"; fail "edge-$i exit code $rc on SIGTERM"; }
done
pids=()
grep -q "coordinator unavailable, backing off" "$work"/edge-*.log ||
  fail "no client saw the coordinator down"

clients_json=$("$ctl" --admin "127.0.0.1:$admin_port" --json clients) || fail "murmurctl clients"
for i in 0 1 2; do
  recorded=$(sed -n 's/.*"accepted_total": \([0-9]*\).*/\1/p' "$work/edge-$i/participation.json")
  counted=$(python3 -c 'import json,sys; j=json.load(sys.stdin)
print(sum(c["participations"] for c in j if c["client_name"] == sys.argv[1]))' "edge-$i" \
    <<<"$clients_json")
  # An update still in the outbox may have been committed just before the
  # client stopped without hearing back (it is resent on the next start and
  # answered "accepted" by dedup): it may be counted, at most once.
  pending=$(find "$work/edge-$i/outbox" -name '*.update' | wc -l)
  [[ -n "$recorded" ]] && ((recorded <= counted && counted <= recorded + pending)) ||
    fail "edge-$i: the coordinator has $counted accepted; the client recorded $recorded and holds $pending in its outbox"
  echo "edge-$i: $counted accepted at the coordinator, $recorded recorded by the client, $pending in its outbox"
done
rounds_json=$("$ctl" --admin "127.0.0.1:$admin_port" --json rounds --limit 1000) ||
  fail "murmurctl rounds"
python3 -c '
import json, sys
rounds = json.load(sys.stdin)
versions = [r["version"] for r in rounds]
if versions != list(range(2, 2 + len(versions))):
    sys.exit("rounds are not contiguous: %s" % versions)
bad = [r for r in rounds if r["num_updates"] != int(sys.argv[1])]
if bad:
    sys.exit("rounds without m updates: %s" % bad)
print("%d contiguous rounds, each with %s updates" % (len(versions), sys.argv[1]))
' "$m" <<<"$rounds_json" || fail "round history"

kill -TERM "$cpid"
wait "$cpid"
rc=$?
[[ $rc -eq 0 ]] || fail "coordinator exit code $rc on SIGTERM"
cpid=
if ((failures > 0)); then
  echo "$failures failure(s); logs in $work"
  exit 1
fi
echo "PASS"
