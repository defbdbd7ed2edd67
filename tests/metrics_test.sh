#!/usr/bin/env bash
# metrics_test.sh COORDINATOR INIT_MODEL PUSH_HELPER WORK_DIR
#
# GET /metrics against a real murmur-coordinator: a fresh state dir, three
# clients pushing 2 accepted updates each (m = 3: two rounds) and 2 updates
# with K out of range (rejected as local_steps_out_of_range), then the exposition is checked:
# content type, HELP/TYPE lines, accepted and rejected-by-reason counters,
# rounds by trigger, the round-interval histogram, FedAU weight statistics,
# the in-flight gauges and engine gauges. Also: other paths answer 404, an
# empty --metrics-listen serves nothing, a taken port given with
# --metrics-listen is an error, and a non-loopback address is refused
# without --metrics-insecure.
set -u -o pipefail
coordinator=$1 init_model=$2 push=$3 work=$4
rm -rf "$work" && mkdir -p "$work"
failures=0
fail() { echo "FAILED: $*"; failures=$((failures + 1)); }

"$init_model" --out "$work/model.mrmt" --model dim=16,depth=1 --seed 5 >/dev/null ||
  { echo "murmur-init-model failed"; exit 1; }

# GET PATH from 127.0.0.1:PORT with bash's /dev/tcp (no curl needed):
# prints the whole response, headers included.
http_get() {  # http_get PORT PATH
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$2" >&3
  timeout 10 cat <&3
  exec 3<&-
}

log="$work/coordinator.log"
"$coordinator" --listen 127.0.0.1:0 --state-dir "$work/state" --init "$work/model.mrmt" \
  --admin-listen "" --metrics-listen 127.0.0.1:0 --updates-per-round 3 >"$log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  grep -q "coordinator serving" "$log" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
port=$(sed -n 's/.*coordinator serving.* port=\([0-9]*\).*/\1/p' "$log")
mport=$(sed -n 's/.*metrics serving.* port=\([0-9]*\).*/\1/p' "$log")
if [[ -z "$port" || -z "$mport" ]]; then
  cat "$log"; echo "the coordinator did not serve metrics"; kill "$pid"; exit 1
fi

# Before any push: zeros, and every family declared.
out=$(http_get "$mport" /metrics) || fail "GET /metrics before pushes"
[[ "$out" == "HTTP/1.1 200"* ]] || fail "status line: ${out%%$'\n'*}"
grep -qi '^Content-Type: text/plain; version=0.0.4' <<<"$out" || fail "content type: $out"
for m in murmur_updates_accepted_total murmur_updates_rejected_total murmur_inflight_bytes \
         murmur_inflight_streams murmur_round_interval_seconds murmur_round_close_seconds murmur_update_weight \
         murmur_rounds_closed_total murmur_model_version; do
  grep -q "^# TYPE $m " <<<"$out" || fail "no TYPE line for $m"
  grep -q "^# HELP $m " <<<"$out" || fail "no HELP line for $m"
done
grep -qx 'murmur_updates_accepted_total 0' <<<"${out//$'\r'/}" || fail "accepted before: $out"

"$push" "127.0.0.1:$port" 3 2 2 >"$work/push.out" 2>&1 || { cat "$work/push.out"; fail "pushes"; }

body=$(http_get "$mport" /metrics | tr -d '\r') || fail "GET /metrics after pushes"
has() { grep -qxF "$1" <<<"$body" || fail "expected line \"$1\""; }
has 'murmur_updates_accepted_total 6'
has 'murmur_updates_rejected_total{reason="local_steps_out_of_range"} 2'
has 'murmur_updates_rejected_total{reason="bad_token"} 0'
has 'murmur_pushes_cancelled_total 0'
has 'murmur_rounds_closed_total{trigger="buffer_full"} 2'
has 'murmur_rounds_closed_total{trigger="deadline"} 0'
has 'murmur_model_version 3'
has 'murmur_registered_clients 3'
has 'murmur_history_updates{outcome="accepted"} 6'
has 'murmur_history_updates{outcome="rejected"} 2'
has 'murmur_inflight_bytes 0'
has 'murmur_inflight_streams 0'
has 'murmur_inflight_streams_limit 64'
has 'murmur_last_round_updates 3'
has 'murmur_round_interval_seconds_count 1'
has 'murmur_round_close_seconds_count 2'
has 'murmur_round_close_seconds_bucket{le="+Inf"} 2'
has 'murmur_round_interval_seconds_bucket{le="+Inf"} 1'
has 'murmur_update_weight_count 6'
has 'murmur_update_weight_bucket{le="+Inf"} 6'
has 'murmur_job_finished 0'
for stat in min mean max; do
  grep -Eq "^murmur_last_round_weight\{stat=\"$stat\"\} [0-9.e+-]+$" <<<"$body" ||
    fail "no FedAU weight $stat: $body"
done
# Every sample line is NAME{LABELS} VALUE or NAME VALUE.
bad=$(grep -v '^#' <<<"$body" | sed '/^HTTP\//,/^$/d' |
      grep -Ev '^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? ([-+]?[0-9.e+-]+|\+Inf|-Inf|NaN)$' || true)
[[ -z "$bad" ]] || fail "lines not in the text format: $bad"

out=$(http_get "$mport" /other | tr -d '\r')
[[ "$out" == "HTTP/1.1 404"* ]] || fail "GET /other: ${out%%$'\n'*}"

# A --metrics-listen port that is taken is an error.
out=$("$coordinator" --listen 127.0.0.1:0 --state-dir "$work/state2" --init "$work/model.mrmt" \
  --admin-listen "" --metrics-listen "127.0.0.1:$mport" 2>&1)
rc=$?
[[ $rc == 1 && "$out" == *"cannot listen for metrics"* ]] || fail "taken metrics port (rc $rc): $out"

kill -TERM "$pid"; wait "$pid" || fail "coordinator exit status $?"

# An empty --metrics-listen serves no metrics; a non-loopback one needs
# --metrics-insecure.
"$coordinator" --listen 127.0.0.1:0 --state-dir "$work/state" --admin-listen "" \
  --metrics-listen "" --updates-per-round 3 >"$log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  grep -q "coordinator serving" "$log" && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
grep -q "coordinator serving" "$log" || fail "restart without metrics did not serve"
grep -q "metrics serving" "$log" && fail "an empty --metrics-listen served metrics"
kill -TERM "$pid"; wait "$pid"
out=$("$coordinator" --listen 127.0.0.1:0 --state-dir "$work/state" --admin-listen "" \
  --metrics-listen 0.0.0.0:0 --updates-per-round 3 2>&1)
rc=$?
[[ $rc == 2 && "$out" == *"--metrics-insecure"* ]] || fail "non-loopback metrics (rc $rc): $out"

if ((failures > 0)); then
  echo "--- coordinator log"; cat "$log"; echo "--- metrics"; echo "$body"
  echo "$failures failure(s)"; exit 1
fi
echo "metrics end to end: all checks passed"
