#!/usr/bin/env bash
# Renders a report.html in headless Chromium, saves a screenshot and fails unless the page
# reached its end without a script error: the page's inline script sets
# data-rendered="ok" on <body> after load, or "error" and a .js-error line per error.
# Usage: scripts/check-report.sh <report.html> <screenshot.png>
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: $0 <report.html> <screenshot.png>" >&2
  exit 2
fi
html=$(realpath "$1")
shot=$(realpath -m "$2")
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ]; then
  echo "check-report: no chromium found (apt-get install -y chromium)" >&2
  exit 1
fi
mkdir -p "$(dirname "$shot")"
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
# No network is needed or wanted: the report is self-contained, and the flags keep
# Chromium from phoning home so a sandboxed CI machine does not hang.
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
  --disable-background-networking --disable-component-update --disable-sync
  --user-data-dir="$profile" --hide-scrollbars --virtual-time-budget=5000)
timeout 60 "$browser" "${flags[@]}" --window-size=1400,2400 --screenshot="$shot" \
  "file://$html" >"$profile/shot.log" 2>&1 || {
  echo "check-report: chromium failed to take the screenshot:" >&2
  tail -n 20 "$profile/shot.log" >&2
  exit 1
}
timeout 60 "$browser" "${flags[@]}" --dump-dom "file://$html" >"$profile/dom.html" \
  2>"$profile/dom.log" || {
  echo "check-report: chromium failed to load the page:" >&2
  tail -n 20 "$profile/dom.log" >&2
  exit 1
}
if [ ! -s "$shot" ]; then
  echo "check-report: no screenshot written to $shot" >&2
  exit 1
fi
if grep -q 'class="js-error"' "$profile/dom.html"; then
  echo "check-report: the page reported script errors:" >&2
  grep -o 'class="js-error">[^<]*' "$profile/dom.html" | sed 's/^class="js-error">/  /' >&2
  exit 1
fi
if ! grep -q 'data-rendered="ok"' "$profile/dom.html"; then
  echo "check-report: the page did not finish rendering (no data-rendered=\"ok\")" >&2
  exit 1
fi
echo "check-report: $1 rendered without errors; screenshot $2"
