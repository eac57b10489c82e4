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

# The viewer bundle's budget: what a viewer landing on a shared link downloads of ours before the
# player works, viewer.js and viewer.wasm gzipped, stays within 350 KiB. Checked here, where the
# bundle is made, so that a change breaking it fails the build (and `make test` at its start),
# not a test at the end of the run.
viewer_budget=$((350 * 1024))
viewer_gz=$(( $(stat -c %s target/site/pkg/viewer.wasm.gz) + $(stat -c %s target/site/pkg/viewer.js.gz) ))
if [ "$viewer_gz" -gt "$viewer_budget" ]; then
  echo "build-site: the viewer bundle is $viewer_gz bytes gzipped (viewer.js + viewer.wasm), over its budget of $viewer_budget (350 KiB)" >&2
  exit 1
fi
echo "build-site: viewer bundle $viewer_gz bytes gzipped, budget $viewer_budget"
