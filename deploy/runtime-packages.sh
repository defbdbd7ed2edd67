#!/usr/bin/env bash
# runtime-packages.sh BINARY...: the Debian packages that hold the shared
# libraries BINARY... load directly (ELF NEEDED entries, resolved by ldd and
# mapped with dpkg -S), one per line, sorted. The runtime images install
# exactly these (apt adds their own dependencies). Libraries no package owns
# (murmur's own libmurmur_kernels.so, a CUDA base image's libraries) are
# named on stderr and left out: the image copies or already has them.
set -euo pipefail
(($#)) || { echo "usage: $0 BINARY..." >&2; exit 2; }
declare -A need=()  # resolved library path -> "BINARY: SONAME"
for bin in "$@"; do
  [[ -f $bin ]] || { echo "runtime-packages: no such file: $bin" >&2; exit 1; }
  resolved=$(ldd "$bin")
  for so in $(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    path=$(awk -v s="$so" '$1 == s && $2 == "=>" {print $3}' <<<"$resolved")
    if [[ -z $path || $path == "not" ]]; then
      [[ $so == ld-linux* ]] && continue
      echo "runtime-packages: $bin: $so is not found" >&2; exit 1
    fi
    need[$path]="$bin: $so"
  done
done
# One dpkg -S for every spelling of every path (usr-merge: /lib vs /usr/lib).
declare -A cands=() owner=()
for path in "${!need[@]}"; do
  for c in "$path" "$(readlink -f "$path")" "/usr$path" "${path#/usr}"; do cands[$c]=1; done
done
while IFS= read -r line; do
  owner[${line#*: }]=${line%%:*}
done < <(dpkg -S "${!cands[@]}" 2>/dev/null | grep -v '^diversion')
{
  echo libc6  # the dynamic loader
  for path in "${!need[@]}"; do
    pkg=
    for c in "$path" "$(readlink -f "$path")" "/usr$path" "${path#/usr}"; do
      [[ -n ${owner[$c]:-} ]] && { pkg=${owner[$c]}; break; }
    done
    if [[ -n $pkg ]]; then echo "$pkg"
    else echo "runtime-packages: ${need[$path]} ($path) belongs to no package: not listed" >&2; fi
  done
} | sort -u
