#!/usr/bin/env bash
# runtime-packages.sh BINARY...: the Debian packages that hold the shared
# libraries BINARY... load directly (ELF NEEDED entries, resolved by ldd and
# mapped with dpkg -S), one per line, sorted. The runtime images install
# exactly these (apt adds their own dependencies). Libraries no package owns
# (murmur's own libmurmur_kernels.so, a CUDA base image's libraries) are
# named on stderr and left out: the image copies or already has them.
set -euo pipefail
(($#)) || { echo "usage: $0 BINARY..." >&2; exit 2; }
owner() {  # owner FILE: the package that installed FILE (usr-merge aware)
  local f=$1 c
  for c in "$f" "$(readlink -f "$f")" "/usr$f" "${f#/usr}"; do
    [[ -n $c ]] || continue
    dpkg -S "$c" 2>/dev/null | head -1 | cut -d: -f1 && return 0
  done
  return 1
}
for bin in "$@"; do
  [[ -f $bin ]] || { echo "runtime-packages: no such file: $bin" >&2; exit 1; }
  resolved=$(ldd "$bin")
  for so in $(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    path=$(awk -v s="$so" '$1 == s && $2 == "=>" {print $3}' <<<"$resolved")
    if [[ -z $path || $path == "not" ]]; then
      [[ $so == ld-linux* ]] && { echo libc6; continue; }
      echo "runtime-packages: $bin: $so is not found" >&2; exit 1
    fi
    owner "$path" || echo "runtime-packages: $bin: $so ($path) belongs to no package: not listed" >&2
  done
done | sort -u
