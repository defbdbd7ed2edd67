#!/usr/bin/env bash
# coordinator_init_test.sh COORDINATOR INIT_MODEL WORK_DIR
#
# The torch-free coordinator's initial weights: a fresh state dir without
# --init is an error that says how to make the file; with a file from
# murmur-init-model it serves; a restart resumes without --init, accepts the
# same file, and rejects a file of another model.
set -u -o pipefail
coordinator=$1 init_model=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
failures=0
fail() { echo "FAILED: $*"; failures=$((failures + 1)); }

# serves ARGS...: starts the coordinator, waits until it serves, stops it
# with SIGTERM; true when it served and then exited 0.
serves() {
  local log="$work/serve.log"
  rm -f "$log"  # else the wait below can see the previous run's "coordinator serving"
  "$coordinator" --listen 127.0.0.1:0 "$@" >"$log" 2>&1 &
  local pid=$! ok=1
  for _ in $(seq 1 100); do
    grep -q "coordinator serving" "$log" && { ok=0; break; }
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -TERM "$pid" 2>/dev/null
  wait "$pid"; local rc=$?
  [[ $ok -eq 0 && $rc -eq 0 ]] || { cat "$log"; return 1; }
}

"$init_model" --out "$work/small.mrmt" --model dim=32,depth=1 --seed 3 || fail "murmur-init-model (small)"
"$init_model" --out "$work/default.mrmt" >/dev/null || fail "murmur-init-model (default)"

out=$("$coordinator" --listen 127.0.0.1:0 --state-dir "$work/state" 2>&1); rc=$?
[[ $rc -ne 0 ]] || fail "a fresh state dir without --init must not start"
[[ "$out" == *"murmur-init-model --out"* && "$out" == *"--init"* ]] ||
  fail "the error must say to run murmur-init-model and pass --init: $out"

serves --state-dir "$work/state" --init "$work/small.mrmt" || fail "fresh start with --init"
serves --state-dir "$work/state" || fail "resume without --init"
serves --state-dir "$work/state" --init "$work/small.mrmt" || fail "resume with the same --init"

out=$("$coordinator" --listen 127.0.0.1:0 --state-dir "$work/state" --init "$work/default.mrmt" 2>&1)
rc=$?
[[ $rc -ne 0 ]] || fail "resuming with --init of another model must fail"
[[ "$out" == *"does not fit the model stored"* ]] || fail "the mismatch error must say so: $out"

out=$("$coordinator" --listen 127.0.0.1:0 --state-dir "$work/state2" --init "$work/absent.mrmt" 2>&1)
[[ $? -ne 0 && "$out" == *"absent.mrmt"* ]] || fail "a missing --init file must be named: $out"

if ((failures > 0)); then echo "coordinator_init_test: $failures failure(s)"; exit 1; fi
echo "coordinator_init_test: OK"
