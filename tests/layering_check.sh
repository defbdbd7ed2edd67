#!/usr/bin/env bash
# layering_check.sh SOURCE_DIR [COORDINATOR_BINARY]
#
# Checks murmur's layer rules (../shared DESIGN.md, "Layers") on the source
# tree at SOURCE_DIR and, when given, on the linked coordinator binary. Prints
# every violation as "path:line: rule: the include line" and exits 1 when
# there is any, 0 when the tree is clean, 2 on bad usage.
#
# Rules (includes are read from #include lines of .h/.hpp/.cc/.cpp/.c/.cu/.cuh):
#   server/  includes nothing from client/, ml/, kernels/, sim/, tools/ and no
#            LibTorch header (torch/, ATen/, c10/); it is the torch-free coordinator.
#   client/  includes nothing from server/, sim/, tools/.
#   common/  includes nothing from ml/, kernels/, server/, client/, sim/, tools/
#            and no LibTorch header.
#   ml/      includes nothing from server/, client/, sim/, tools/.
#   gRPC (grpc/, grpcpp/, *.grpc.pb.h) only in server/service/ and client/transport/
#            among server/, client/, common/, ml/, kernels/; a binary's entry point
#            (*_main.cc) may include it to start a server or a channel.
#   sqlite3.h only in server/store/ (anywhere but tests/).
#   server/strategy/ and server/core/ include no gRPC, no SQLite, and nothing from
#            server/store/ (but its plain record types, store_types.h) or
#            server/service/ (pure math and a deterministic core; their tests may).
#   The coordinator binary (ldd) loads no libtorch*, libc10*, libcudart*,
#            libmurmur_kernels*.
# sim/, tools/ and tests/ may include both server/ and client/.
#
# Temporary exceptions live in ALLOWED below, each as "path|rule"; an entry
# whose file no longer exists is itself a violation, so the list cannot rot.
# LAYERING_NO_EXCEPTIONS=1 empties the list (the self test's fixture trees).
set -u -o pipefail

if [[ $# -lt 1 || $# -gt 2 || ! -d "$1" ]]; then
  echo "usage: $0 SOURCE_DIR [COORDINATOR_BINARY]" >&2
  exit 2
fi
root=$(cd "$1" && pwd)
binary=${2:-}

# client/'s two demos wire server and client together; the api helper's branch
# moves them to sim/ (issue 10). Remove these lines when they are gone.
ALLOWED=(
)

[[ "${LAYERING_NO_EXCEPTIONS:-0}" == 1 ]] && ALLOWED=()

violations=0
report() {  # report PATH LINE RULE TEXT
  echo "$1:$2: $3: $4"
  violations=$((violations + 1))
}

allowed() {  # allowed PATH RULE
  local entry
  for entry in "${ALLOWED[@]}"; do
    [[ "$entry" == "$1|$2" ]] && return 0
  done
  return 1
}

for entry in "${ALLOWED[@]}"; do
  path=${entry%%|*}
  if [[ ! -e "$root/$path" ]]; then
    report "$path" 0 "stale-exception" "listed in ALLOWED of tests/layering_check.sh but gone; remove the entry"
  fi
done

# Every include of every source file under the layer folders, as
# "relative/path<TAB>line<TAB>target<TAB>full line".
list_includes() {
  local dir
  for dir in server client common ml kernels sim tools; do
    [[ -d "$root/$dir" ]] || continue
    find "$root/$dir" -type f \( -name '*.h' -o -name '*.hpp' -o -name '*.cc' -o -name '*.cpp' \
      -o -name '*.c' -o -name '*.cu' -o -name '*.cuh' \) -print0 |
      xargs -0 -r grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]' /dev/null |
      sed -E "s#^$root/##" |
      sed -E 's|^([^:]+):([0-9]+):([[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^">]+)[">].*)$|\1\t\2\t\4\t\3|' ||
      return 1
  done
}

is_torch() { [[ "$1" =~ ^(torch|ATen|c10)/ ]]; }
is_grpc() { [[ "$1" =~ ^(grpc|grpcpp)/ || "$1" == *.grpc.pb.h ]]; }
is_sqlite() { [[ "$1" == sqlite3.h || "$1" == */sqlite3.h ]]; }

check() {  # check PATH LINE RULE TEXT
  allowed "$1" "$3" || report "$1" "$2" "$3" "$4"
}

# A scan that silently finds nothing would pass everything: fail loudly instead.
if ! includes=$(list_includes) || [[ -z "$includes" ]]; then
  echo "layering: could not read any #include line under $root (server/ client/ common/ ml/ ...)" >&2
  exit 2
fi

while IFS=$'\t' read -r path line target text; do
  [[ -n "$path" ]] || continue
  layer=${path%%/*}
  case "$layer" in
    server)
      if [[ "$target" =~ ^(client|ml|kernels|sim|tools)/ ]]; then
        check "$path" "$line" "server-includes-${target%%/*}" "$text"
      fi
      is_torch "$target" && check "$path" "$line" "server-includes-torch" "$text"
      if [[ "$path" =~ ^server/(strategy|core)/ && ! "$path" =~ _test\.cc$ ]]; then
        # The core's effects are store records: the plain types are allowed.
        if [[ "$target" =~ ^server/(store|service)/ && "$target" != server/store/store_types.h ]]; then
          check "$path" "$line" "pure-layer-includes-io" "$text"
        fi
        is_grpc "$target" && check "$path" "$line" "pure-layer-includes-grpc" "$text"
        is_sqlite "$target" && check "$path" "$line" "pure-layer-includes-sqlite" "$text"
      fi
      ;;
    client)
      if [[ "$target" =~ ^(server|sim|tools)/ ]]; then
        check "$path" "$line" "client-includes-${target%%/*}" "$text"
      fi
      ;;
    common)
      if [[ "$target" =~ ^(ml|kernels|server|client|sim|tools)/ ]]; then
        check "$path" "$line" "common-includes-${target%%/*}" "$text"
      fi
      is_torch "$target" && check "$path" "$line" "common-includes-torch" "$text"
      ;;
    ml)
      if [[ "$target" =~ ^(server|client|sim|tools)/ ]]; then
        check "$path" "$line" "ml-includes-${target%%/*}" "$text"
      fi
      ;;
  esac
  case "$layer" in
    server|client|common|ml|kernels)
      if is_grpc "$target" && [[ ! "$path" =~ ^(server/service|client/transport)/ ]] &&
         [[ "$path" != *_main.cc ]]; then
        check "$path" "$line" "grpc-outside-service-or-transport" "$text"
      fi
      ;;
  esac
  if is_sqlite "$target" && [[ ! "$path" =~ ^server/store/ ]]; then
    check "$path" "$line" "sqlite-outside-store" "$text"
  fi
done <<< "$includes"

if [[ -n "$binary" ]]; then
  if [[ ! -f "$binary" ]]; then
    report "$binary" 0 "coordinator-binary" "not found"
  elif ! deps=$(ldd "$binary" 2>&1); then
    report "$binary" 0 "coordinator-binary" "ldd failed: $deps"
  else
    while read -r lib; do
      report "$binary" 0 "coordinator-links-torch-or-kernels" "$lib"
    done < <(echo "$deps" | grep -E 'lib(torch|c10|cudart|murmur_kernels)[^ ]*\.so' |
             sed -E 's/^[[:space:]]+//')
  fi
fi

if ((violations > 0)); then
  echo "layering: $violations violation(s) (rules: tests/layering_check.sh header)"
  exit 1
fi
echo "layering: OK ($root${binary:+, $binary})"
exit 0
