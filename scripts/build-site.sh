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

# The second and third bundles — the viewer's (viewer/, see app/src/islands.rs) and the subtitle
# editor's (subtitle-editor/, loaded by /studio/talks/{id}/subtitles only) — built like
# cargo-leptos builds the app's (same target dir, profile and LEPTOS_* variables, so the shared
# crates compile once), then bound and optimised the same way.
export LEPTOS_OUTPUT_NAME=ferrotape LEPTOS_SITE_ROOT=target/site LEPTOS_SITE_PKG_DIR=pkg \
  LEPTOS_SITE_ADDR=127.0.0.1:3000 LEPTOS_RELOAD_PORT=3001 LEPTOS_LIB_DIR=frontend \
  LEPTOS_BIN_DIR=server LEPTOS_JS_MINIFY=true LEPTOS_HASH_FILES=false
for spec in ferrotape-viewer:viewer ferrotape-subtitle-editor:subtitle_editor; do
  package="${spec%%:*}" name="${spec##*:}"
  cargo build --package="$package" --lib --target-dir="$TARGET_DIR/front" \
    --target=wasm32-unknown-unknown --no-default-features --profile=wasm-release
  wasm="$TARGET_DIR/front/wasm32-unknown-unknown/wasm-release/${package//-/_}.wasm"
  # Binding and optimising take a while: done into a folder of their own (cargo-leptos empties
  # the site's pkg/ on every build) and skipped while that output is newer than what cargo built
  # and than this script (which says how it is made). Written under temporary names and renamed
  # last, so an interrupted run leaves no half bundle.
  bundle="$TARGET_DIR/front/$name-bundle"
  if [ ! "$bundle/$name.wasm" -nt "$wasm" ] || [ ! "$bundle/$name.wasm" -nt scripts/build-site.sh ] \
    || [ ! -f "$bundle/$name.js" ]; then
    rm -rf "$bundle.tmp"
    wasm-bindgen --target=web --out-name="$name" --out-dir="$bundle.tmp" "$wasm"
    wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
      "$bundle.tmp/${name}_bg.wasm" -o "$bundle.tmp/$name.wasm"
    # Minified like cargo-leptos minifies the app's glue (esbuild from npm, package.json).
    esbuild "$bundle.tmp/$name.js" --minify --format=esm --log-level=warning \
      --outfile="$bundle.tmp/$name.min.js"
    mv "$bundle.tmp/$name.min.js" "$bundle.tmp/$name.js"
    rm -rf "$bundle"
    mv "$bundle.tmp" "$bundle"
  fi
  install -D -m 644 "$bundle/$name.js" "target/site/pkg/$name.js"
  install -D -m 644 "$bundle/$name.wasm" "target/site/pkg/$name.wasm"
done

hls_js="node_modules/hls.js/dist/hls.light.min.js"
[ -f "$hls_js" ] || { echo "build-site: $hls_js is missing; run scripts/setup.sh" >&2; exit 1; }
install -D -m 644 "$hls_js" target/site/vendor/hls.light.min.js

# Precompressed twins, served by server/src/assets.rs by Accept-Encoding (brotli and gzip at
# their highest levels, once per build, instead of compressing on every request).
for file in target/site/pkg/*.js target/site/pkg/*.wasm target/site/pkg/*.css target/site/vendor/*.js; do
  gzip -9 -k -f "$file"
  brotli -q 11 -k -f "$file"
done
