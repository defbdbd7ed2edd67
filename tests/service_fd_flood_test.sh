#!/usr/bin/env bash
# service_fd_flood_test.sh COORDINATOR CLIENT INIT_MODEL WORK_DIR [FASHION_MNIST_DIR]
#
# An outsider opens idle TCP connections until the coordinator has no file
# descriptors left (its open-file limit is set low here: 256, soft = hard,
# so raising the soft limit cannot help). gRPC 1.51's listener accepts no
# connection again after one accept4() fails (EMFILE), so a coordinator that
# stayed up would never admit a new or reconnecting client. What must hold:
#   - the coordinator notices (gRPC's log line), shuts down cleanly and
#     exits 4 ("restart me"), with nothing fail-stopped and its state intact;
#   - restarted on the same state directory, it resumes: the clients that
#     were connected reconnect, a new client gets in, and the run goes on;
#   - SIGTERM then stops it with exit 0.
set -u -o pipefail
coordinator=$1 client=$2 init_model=$3 work=$4
fmnist=${5:-/usr/share/datasets/fashion-mnist}
rm -rf "$work" && mkdir -p "$work"
failures=0
fail() { echo "FAILED: $*"; failures=$((failures + 1)); }
model=dim=16,depth=1,heads=2
declare -a pids
cpid= flood=
cleanup() { for p in ${pids[@]:-} $cpid $flood; do kill -KILL "$p" 2>/dev/null; done; }
trap cleanup EXIT

"$init_model" --out "$work/model.mrmt" --model "$model" --seed 3 >/dev/null ||
  { echo "murmur-init-model failed"; exit 1; }
port=0
n=0
start_coordinator() {
  n=$((n + 1))
  clog="$work/coordinator-$n.log"
  (
    ulimit -n 256 || exit 1
    exec "$coordinator" --listen "127.0.0.1:$port" --state-dir "$work/coord" \
      --init "$work/model.mrmt" --admin-listen "" --metrics-listen "" --updates-per-round 2 \
      --max-staleness 8 --local-lr 0.05 --batch 16 --max-k 8 --wait-retry-s 0.2 \
      --store-retry-s 60 --shutdown-grace-s 2
  ) >"$clog" 2>&1 &
  cpid=$!
  for _ in $(seq 1 100); do
    grep -q "coordinator serving" "$clog" 2>/dev/null && break
    sleep 0.1
  done
  port=$(sed -n 's/.*coordinator serving.* port=\([0-9]*\).*/\1/p' "$clog")
  [[ -n "$port" ]] || { cat "$clog"; echo "the coordinator did not serve"; exit 1; }
  grep -q "open-file limit.*hard=256" "$clog" ||
    { grep "open-file" "$clog"; echo "SKIP: could not set the open-file limit"; exit 77; }
}
start_coordinator

start_client() {  # start_client I
  "$client" --coordinator "127.0.0.1:$port" --name "edge-$1" --state-dir "$work/edge-$1" \
    --enrollment-secret "enrollment-secret-of-edge-$1" --model "$model" --threads 1 \
    --data.fashion-mnist-dir "$fmnist" --data.client-index "$1" --data.num-clients 3 \
    --data.limit 1000 --heartbeat-s 1 --backoff-max-s 0.5 --policy.k-rule fixed --policy.k 2 \
    >>"$work/edge-$1.log" 2>&1 &
  pids[$1]=$!
}
WAIT_POLL_S=0.2
source "$(dirname "$0")/e2e_helpers.sh"  # version, wait_for, version_at_least, accepted_by

start_client 0
start_client 1
wait_for 60 version_at_least 3 || { tail -5 "$work"/*.log; fail "no progress before the flood"; exit 1; }

# The flood: 600 idle connections, held open (more than the 256 descriptors).
python3 - "$port" >"$work/flood.log" 2>&1 <<'PY' &
import socket, sys, time
port = int(sys.argv[1])
socks = []
for _ in range(600):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect(("127.0.0.1", port))
        socks.append(s)
    except OSError as e:
        print("connect failed:", e)
        break
print("holding", len(socks), "connections", flush=True)
time.sleep(3600)
PY
flood=$!
wait_for 30 grep -q "holding" "$work/flood.log" || fail "the flood did not start"
cat "$work/flood.log"
# The listener is lost: the coordinator says so and exits 4.
coordinator_gone() { ! kill -0 "$cpid" 2>/dev/null; }
wait_for 60 coordinator_gone || { tail -5 "$clog"; fail "the coordinator kept running without a listener"; }
wait "$cpid"
rc=$?
[[ $rc -eq 4 ]] || { tail -5 "$clog"; fail "exit code $rc when the listener was lost (want 4)"; }
grep -q "stopped accepting connections" "$clog" || fail "the listener loss was not logged"
grep -q "round engine stopped" "$clog" && fail "the engine fail-stopped"
v_lost=$(version)
echo "listener lost at version $v_lost: exit $rc"
kill -KILL "$flood"
wait "$flood" 2>/dev/null
flood=
# Its supervisor restarts it: the connected clients come back, a new one gets in.
start_coordinator
grep -q "engine resumed from store" "$clog" || fail "the restart did not resume the state"
start_client 2
wait_for 60 version_at_least $((v_lost + 4)) || { tail -5 "$work"/*.log; fail "no progress after the restart"; }
wait_for 60 bash -c "grep -q 'update accepted' '$work/edge-2.log'" ||
  { tail -5 "$work/edge-2.log"; fail "a new client could not get in after the restart"; }
echo "after the restart: version $(version), edge-2 accepted $(accepted_by 2)"

for i in 0 1 2; do kill -TERM "${pids[$i]}"; done
for i in 0 1 2; do wait "${pids[$i]}"; done
pids=()
kill -TERM "$cpid"
wait "$cpid"
rc=$?
cpid=
[[ $rc -eq 0 ]] || fail "coordinator exit code $rc on SIGTERM"
if ((failures > 0)); then
  echo "$failures failure(s); logs in $work"
  exit 1
fi
echo "PASS"
