#!/usr/bin/env bash
# admin_murmurctl_test.sh COORDINATOR MURMURCTL INIT_MODEL PUSH_HELPER WORK_DIR
#
# murmurctl against a real murmur-coordinator: a fresh state dir (model from
# murmur-init-model), three clients pushing updates over gRPC, then every
# subcommand with tables and with --json, checked against what was pushed
# and against the state dir (exported bytes = the stored checkpoint file;
# --keep-checkpoints/--keep-every prune the files). Also: a clear error for
# an unreachable address, a non-loopback --admin-listen refused without
# --admin-insecure, and an empty --admin-listen serving no Admin.
set -u -o pipefail
coordinator=$1 ctl=$2 init_model=$3 push=$4 work=$5
rm -rf "$work" && mkdir -p "$work"
failures=0
fail() { echo "FAILED: $*"; failures=$((failures + 1)); }
json() {  # json 'PYTHON EXPRESSION over j' < JSON: prints the value
  python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"
}

"$init_model" --out "$work/model.mrmt" --model dim=16,depth=1 --seed 5 >/dev/null ||
  { echo "murmur-init-model failed"; exit 1; }

# Starts the coordinator with ARGS and waits for "coordinator serving";
# sets pid, port, admin_port (empty when no Admin listener).
start() {
  log="$work/coordinator.log"
  rm -f "$log"
  "$coordinator" --listen 127.0.0.1:0 --state-dir "$work/state" "$@" >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    grep -q "coordinator serving" "$log" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  port=$(sed -n 's/.*coordinator serving.* port=\([0-9]*\).*/\1/p' "$log")
  admin_port=$(sed -n 's/.*admin serving.* port=\([0-9]*\).*/\1/p' "$log")
}
stop() {
  kill -TERM "$pid" 2>/dev/null
  wait "$pid"
}

start --init "$work/model.mrmt" --admin-listen 127.0.0.1:0 --updates-per-round 3 \
  --keep-checkpoints 2 --keep-every 3
if [[ -z "$port" || -z "$admin_port" ]]; then
  cat "$log"; echo "the coordinator did not serve"; exit 1
fi
admin=127.0.0.1:$admin_port
ctl() { "$ctl" --admin "$admin" "$@"; }

# 3 clients x 4 updates, m = 3: rounds 2..5, version 5.
"$push" "127.0.0.1:$port" 3 4 || fail "the clients' updates"

# status
out=$(ctl status) || fail "status: $out"
[[ "$out" == *"model version"*"5"* && "$out" == *"registered clients"*"3"* &&
   "$out" == *"accepted updates"*"12"* && "$out" == *"afa_cd"* ]] || fail "status table: $out"
out=$(ctl status --json) || fail "status --json"
[[ $(json 'j["model_version"], j["registered_clients"], j["accepted_updates"], j["trigger"]' \
     <<<"$out") == "5 3 12 buffer_full" ]] || fail "status --json: $out"
[[ $(ctl --json status | json 'j["finished"]') == "False" ]] || fail "--json before the subcommand"

# clients
out=$(ctl clients) || fail "clients: $out"
[[ "$out" == *"client-0"* && "$out" == *"client-2"* && "$out" == *"3 client(s)"* ]] ||
  fail "clients table: $out"
out=$(ctl clients --json) || fail "clients --json"
[[ $(json 'len(j), [c["client_name"] for c in j], [c["participations"] for c in j]' <<<"$out") == \
   "3 ['client-0', 'client-1', 'client-2'] [4, 4, 4]" ]] || fail "clients --json: $out"
[[ $(json 'all(c["fedau_weight"] > 0 and c["participation_rate"] > 0 for c in j)' <<<"$out") == \
   True ]] || fail "clients --json weights and rates: $out"
[[ $(ctl clients --limit 2 --json | json 'len(j)') == 2 ]] || fail "clients --limit 2"
id=$(json 'j[1]["client_id"]' <<<"$out")

# history
out=$(ctl history "$id") || fail "history: $out"
[[ "$out" == *"staleness"*"weight"* && "$out" == *"accepted"* &&
   "$out" == *"4 participation(s) of client $id"* ]] || fail "history table: $out"
out=$(ctl history "$id" --json) || fail "history --json"
[[ $(json 'len(j), all(p["accepted"] and p["weight"] > 0 and p["client_id"] == '"$id"' for p in j)' \
     <<<"$out") == "4 True" ]] || fail "history --json: $out"
[[ $(json '[p["round_version"] for p in j] == sorted([p["round_version"] for p in j], reverse=True)' \
     <<<"$out") == True ]] || fail "history not most recent first: $out"
[[ $(ctl history "$id" --limit 1 --json | json 'len(j)') == 1 ]] || fail "history --limit 1"
out=$(ctl history 999 2>&1); rc=$?
[[ $rc -eq 1 && "$out" == *"NOT_FOUND"* && "$out" == *"$admin"* ]] || fail "unknown client: $out"

# rounds
out=$(ctl rounds) || fail "rounds: $out"
[[ "$out" == *"buffer_full"* && "$out" == *"4 round(s)"* && "$out" == *"mean_client_loss"* ]] ||
  fail "rounds table: $out"
out=$(ctl rounds --from 4 --json) || fail "rounds --json"
[[ $(json '[r["version"] for r in j], [r["num_updates"] for r in j]' <<<"$out") == \
   "[4, 5] [3, 3]" ]] || fail "rounds --from 4 --json: $out"
[[ $(ctl rounds --limit 1 --json | json '[r["version"] for r in j]') == "[2]" ]] ||
  fail "rounds --limit 1"

# export: the latest is the stored checkpoint file, byte for byte.
out=$(ctl export --out "$work/latest.mrmt") || fail "export: $out"
[[ "$out" == *"exported model version 5"* ]] || fail "export message: $out"
cmp -s "$work/latest.mrmt" "$work/state/checkpoints/v0000000005.mrmt" ||
  fail "the exported model differs from the stored checkpoint"
out=$(ctl export --out "$work/v3.mrmt" --version 3 --json) || fail "export --version 3: $out"
[[ $(json 'j["model_version"], j["encoding"]' <<<"$out") == "3 fp32" ]] || fail "export --json: $out"
cmp -s "$work/v3.mrmt" "$work/state/checkpoints/v0000000003.mrmt" || fail "export of version 3"
out=$(ctl export --out "$work/half.mrmt" --encoding fp16 --json) || fail "export fp16: $out"
[[ $(json 'j["encoding"]' <<<"$out") == fp16 ]] || fail "export fp16 --json: $out"
# Retention: newest 2 (4, 5) and every 3rd (3); 1 and 2 are pruned.
files=$(cd "$work/state/checkpoints" && ls | tr '\n' ' ')
[[ "$files" == "v0000000003.mrmt v0000000004.mrmt v0000000005.mrmt " ]] ||
  fail "checkpoint files kept: $files"
out=$(ctl export --out "$work/v2.mrmt" --version 2 2>&1); rc=$?
[[ $rc -eq 1 && "$out" == *"pruned"* && ! -e "$work/v2.mrmt" ]] || fail "export of a pruned version: $out"

stop; rc=$?
[[ $rc -eq 0 ]] || fail "the coordinator exited $rc"

# No Admin there: the error names the address.
out=$("$ctl" --admin "$admin" --timeout 1 status 2>&1); rc=$?
[[ $rc -eq 1 && "$out" == *"cannot connect"*"$admin"* ]] || fail "unreachable address: $out"
out=$("$ctl" 2>&1); rc=$?
[[ $rc -eq 2 ]] || fail "no subcommand must be a usage error: $out"

# A non-loopback Admin address is refused without --admin-insecure.
out=$("$coordinator" --listen 127.0.0.1:0 --state-dir "$work/state" --admin-listen 0.0.0.0:0 2>&1)
rc=$?
[[ $rc -eq 2 && "$out" == *"--admin-insecure"* ]] || fail "non-loopback admin address: $out"
start --admin-listen 0.0.0.0:0 --admin-insecure --updates-per-round 3
[[ -n "$admin_port" ]] && grep -q "non-loopback" "$log" || fail "--admin-insecure: $(cat "$log")"
stop
# An empty --admin-listen serves no Admin.
start --admin-listen "" --updates-per-round 3
[[ -n "$port" && -z "$admin_port" ]] || fail "--admin-listen '': $(cat "$log")"
stop

if ((failures > 0)); then echo "admin_murmurctl_test: $failures failure(s)"; exit 1; fi
echo "admin_murmurctl_test: OK"
