# Shared by the end-to-end scripts that run murmur-client daemons whose logs
# are "$work"/edge-*.log (source it after setting $work).

# The highest round version any client has seen its update accepted into.
version() {
  cat "$work"/edge-*.log | sed -n 's/.*update accepted.* round_version=\([0-9]*\).*/\1/p' |
    sort -n | tail -1
}
# wait_for SECONDS COMMAND...: polls COMMAND (every WAIT_POLL_S, 0.1 s by
# default) until it succeeds; fails after SECONDS.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep "${WAIT_POLL_S:-0.1}"
  done
}
version_at_least() { local v; v=$(version); [[ -n "$v" && "$v" -ge "$1" ]]; }
# Updates edge-I logged as accepted.
accepted_by() { grep -c "update accepted" "$work/edge-$1.log"; }
