#!/usr/bin/env bash
# sim_connected_test.sh MURMUR_SIM COORDINATOR EXPERIMENT.toml WORK_DIR
#
# murmur-sim --connect as a load generator: a real murmur-coordinator process
# (initial model from murmur-sim --write-init) and two murmur-sim --connect
# processes, each driving its own half of the experiment's clients over gRPC.
# Both must see the run advance (versions move, their updates are accepted)
# until the coordinator reports the job finished; the coordinator then stops
# cleanly on SIGTERM.
set -u -o pipefail
sim=$1 coordinator=$2 exp=$3 work=$4
rm -rf "$work" && mkdir -p "$work"
coord_pid=""
cleanup() { [[ -n "$coord_pid" ]] && kill -TERM "$coord_pid" 2>/dev/null; }
trap cleanup EXIT
die() { echo "FAILED: $*"; for f in "$work"/*.log; do echo "--- $f"; tail -20 "$f"; done; exit 1; }

"$sim" "$exp" --write-init "$work/init.mrmt" >"$work/init.log" 2>&1 || die "murmur-sim --write-init"

rounds=12
"$coordinator" --listen 127.0.0.1:0 --state-dir "$work/state" --init "$work/init.mrmt" \
  --strategy fedavg_participants --mode async --updates-per-round 4 --max-rounds $rounds \
  --max-staleness 8 --local-lr 0.05 --batch 8 --min-k 1 --max-k 10 >"$work/coordinator.log" 2>&1 &
coord_pid=$!
port=""
for _ in $(seq 1 200); do
  port=$(grep "coordinator serving" "$work/coordinator.log" | grep -oE '"?port"?[=:] ?[0-9]+' | grep -oE '[0-9]+$' | head -1)
  [[ -n "$port" ]] && break
  kill -0 "$coord_pid" 2>/dev/null || die "the coordinator exited before serving"
  sleep 0.1
done
[[ -n "$port" ]] || die "the coordinator did not report its port"

"$sim" "$exp" --connect "127.0.0.1:$port" --client-range 0:50 --slot-s 0.2 --wall-time-s 90 \
  --threads 1 --no-progress --json "$work/a.json" >"$work/sim-a.log" 2>&1 &
a=$!
"$sim" "$exp" --connect "127.0.0.1:$port" --client-range 50:100 --slot-s 0.2 --wall-time-s 90 \
  --threads 1 --no-progress --json "$work/b.json" >"$work/sim-b.log" 2>&1 &
b=$!
wait $a || die "murmur-sim --connect (clients 0..49) failed"
wait $b || die "murmur-sim --connect (clients 50..99) failed"

for part in a b; do
  python3 - "$work/$part.json" "$rounds" <<'PY' || die "process $part: the run did not advance"
import json, sys
j = json.load(open(sys.argv[1])); rounds = int(sys.argv[2])
print(sys.argv[1], {k: j[k] for k in ("finished", "first_version", "last_version", "registered", "jobs", "accepted", "rejected")})
assert j["finished"], "the coordinator never said finished"
assert j["accepted"] > 0, "no update of this process was accepted"
assert j["last_version"] > j["first_version"], "the global version never moved"
assert j["registered"] > 0
PY
done
grep -q "coordinator finished" "$work/sim-a.log" || die "sim a did not report the finish"
kill -TERM "$coord_pid"
wait "$coord_pid"; rc=$?
coord_pid=""
[[ $rc -eq 0 ]] || die "the coordinator exited $rc on SIGTERM"
echo "sim_connected_test: OK"
