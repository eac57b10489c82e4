#!/usr/bin/env bash
# Builds the release server and browser bundle (cargo leptos), then copies the player's
# streaming engine, hls.js, from node_modules (pinned in package.json, installed by setup.sh)
# into the site: it is served from /vendor/ and never committed. The light build (no EME, no
# alternate audio, no in-playlist subtitles) is 40 % smaller; renditions carry their own audio and
# captions come as WebVTT `<track>`s, so the player needs nothing it leaves out.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

cargo leptos build --release

hls_js="node_modules/hls.js/dist/hls.light.min.js"
[ -f "$hls_js" ] || { echo "build-site: $hls_js is missing; run scripts/setup.sh" >&2; exit 1; }
install -D -m 644 "$hls_js" target/site/vendor/hls.light.min.js
