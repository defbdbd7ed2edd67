#!/usr/bin/env bash
# layering_self_test.sh CHECK_SCRIPT FIXTURES_DIR TORCH_LINKED_BINARY
#
# Proves tests/layering_check.sh can fail, and fails for the right reasons:
#   1. FIXTURES_DIR/good (obeys every rule) passes;
#   2. FIXTURES_DIR/bad fails, reports every line marked "// VIOLATION" as
#      path:line, and reports no other line;
#   3. the good tree with TORCH_LINKED_BINARY as the "coordinator" fails on
#      the ldd rule (a binary that loads libtorch).
set -u -o pipefail
if [[ $# -ne 3 ]]; then
  echo "usage: $0 CHECK_SCRIPT FIXTURES_DIR TORCH_LINKED_BINARY" >&2
  exit 2
fi
check=$1 fixtures=$2 torch_binary=$3
export LAYERING_NO_EXCEPTIONS=1
failures=0
fail() { echo "SELF-TEST FAILED: $*"; failures=$((failures + 1)); }

out=$(bash "$check" "$fixtures/good"); rc=$?
echo "$out"
[[ $rc -eq 0 ]] || fail "the good tree must pass (exit $rc)"

out=$(bash "$check" "$fixtures/bad"); rc=$?
echo "$out"
[[ $rc -eq 1 ]] || fail "the bad tree must fail with exit 1 (exit $rc)"
expected=$(cd "$fixtures/bad" && grep -rn 'VIOLATION' --include='*.h' --include='*.cc' . |
           sed -E 's|^\./([^:]+):([0-9]+):.*|\1:\2|' | sort -u)
[[ -n "$expected" ]] || fail "no planted violations found under $fixtures/bad"
reported=$(echo "$out" | grep -E '^[^ ]+:[0-9]+: ' | sed -E 's|^([^:]+):([0-9]+):.*|\1:\2|' | sort -u)
missed=$(comm -23 <(echo "$expected") <(echo "$reported"))
extra=$(comm -13 <(echo "$expected") <(echo "$reported"))
[[ -z "$missed" ]] || fail "planted violations not reported: $(echo $missed)"
[[ -z "$extra" ]] || fail "lines reported that are not planted violations: $(echo $extra)"

out=$(bash "$check" "$fixtures/good" "$torch_binary"); rc=$?
echo "$out"
[[ $rc -eq 1 ]] || fail "a torch-linked binary must fail the ldd rule (exit $rc)"
echo "$out" | grep -q 'coordinator-links-torch-or-kernels: libtorch' ||
  fail "the ldd violation must name libtorch"

if ((failures > 0)); then
  echo "layering_self_test: $failures failure(s)"
  exit 1
fi
echo "layering_self_test: OK"
