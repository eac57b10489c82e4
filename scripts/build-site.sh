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

# The viewer bundle (viewer/, see app/src/islands.rs): built like cargo-leptos builds the app's
# (same target dir, profile and LEPTOS_* variables, so the shared crates compile once), then
# bound and optimised the same way.
export LEPTOS_OUTPUT_NAME=ferrotape LEPTOS_SITE_ROOT=target/site LEPTOS_SITE_PKG_DIR=pkg \
  LEPTOS_SITE_ADDR=127.0.0.1:3000 LEPTOS_RELOAD_PORT=3001 LEPTOS_LIB_DIR=frontend \
  LEPTOS_BIN_DIR=server LEPTOS_JS_MINIFY=true LEPTOS_HASH_FILES=false
cargo build --package=ferrotape-viewer --lib --target-dir=target/front \
  --target=wasm32-unknown-unknown --no-default-features --profile=wasm-release
wasm-bindgen --target=web --out-name=viewer --out-dir=target/site/pkg \
  target/front/wasm32-unknown-unknown/wasm-release/ferrotape_viewer.wasm
mv target/site/pkg/viewer_bg.wasm target/site/pkg/viewer.wasm
wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
  target/site/pkg/viewer.wasm -o target/site/pkg/viewer.wasm

hls_js="node_modules/hls.js/dist/hls.light.min.js"
[ -f "$hls_js" ] || { echo "build-site: $hls_js is missing; run scripts/setup.sh" >&2; exit 1; }
install -D -m 644 "$hls_js" target/site/vendor/hls.light.min.js
