#!/usr/bin/env bash
# murmur-sim's HTML report, opened by a real browser: headless Chromium loads
# report.html and the DOM it builds must hold the results table (one row per
# strategy) and every figure as a decoded image (naturalWidth > 0).
# Usage: report_chromium_test.sh MURMUR_SIM EXPERIMENT.toml WORK_DIR
# Exit 77 (ctest: skipped) when chromium is not installed.
set -euo pipefail
sim=$1 exp=$2 work=$3
browser=$(command -v chromium || command -v chromium-browser || true)
if [[ -z "$browser" ]]; then
  echo "SKIPPED: chromium is not installed (Debian package chromium; deploy/install-deps.sh)"
  exit 77
fi
rm -rf "$work"
mkdir -p "$work"
"$sim" "$exp" --no-progress --out "$work/out" >"$work/sim.log"
test -f "$work/out/report.html"
# A copy with a probe that records, once loaded, how many images decoded.
{
  cat "$work/out/report.html"
  cat <<'JS'
<script>
window.addEventListener('load', () => {
  const imgs = [...document.images];
  const ok = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.setAttribute('data-images', imgs.length + '/' + ok);
});
</script>
JS
} >"$work/probe.html"
# Chromium wants a writable home for its profile; keep it inside the work dir.
HOME="$work" timeout 120 "$browser" --headless --no-sandbox --disable-gpu --no-first-run \
  --user-data-dir="$work/profile" --virtual-time-budget=5000 \
  --dump-dom "file://$work/probe.html" >"$work/dom.html" 2>"$work/chromium.log"
fail() { echo "FAIL: $*"; echo "--- DOM (head) ---"; head -c 2000 "$work/dom.html"; exit 1; }
grep -q '<table id="results">' "$work/dom.html" || fail "no results table"
rows=$(grep -o '<tr><td>' "$work/dom.html" | wc -l)
strategies=$(grep -c '^\[\[strategy\]\]' "$exp")
[[ "$rows" -eq "$strategies" ]] || fail "$rows table rows for $strategies strategies"
imgs=$(grep -o '<img alt="[^"]*" src="data:image/svg+xml;base64,' "$work/dom.html" | wc -l)
[[ "$imgs" -eq $((2 + strategies)) ]] || fail "$imgs embedded figures, want $((2 + strategies))"
grep -q "data-images=\"$imgs/$imgs\"" "$work/dom.html" ||
  fail "not every image decoded: $(grep -o 'data-images="[^"]*"' "$work/dom.html" || echo none)"
echo "report.html: $rows table rows, $imgs figures, all decoded by $("$browser" --version 2>/dev/null | head -1)"
