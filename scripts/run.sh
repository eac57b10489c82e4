#!/usr/bin/env bash
# `make run`: install what is missing, build in release, serve http://127.0.0.1:3000 in the
# embedded mode (PostgreSQL and media under ./data, worker in-process).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh run
source scripts/env.sh

scripts/build-site.sh

first_start=0
[ -d "${FERROTAPE_DATA_DIR:-./data}/postgres" ] || first_start=1
if [ "$first_start" = 1 ] && [ "${FERROTAPE_SKIP_DEMO:-0}" != 1 ]; then
  # A fresh install gets a few demo talks so the catalog is not empty (skip: FERROTAPE_SKIP_DEMO=1).
  "$TARGET_DIR/release/ferrotape" seed-demo
  # ...and one of them a playable video (a generated test pattern; the worker transcodes it
  # in the background once the server is up).
  demo_clip="$(mktemp -d)/demo-test-pattern.mp4"
  if ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=1280x720:rate=30:duration=60 \
      -f lavfi -i sine=frequency=330:duration=60 -c:v libx264 -preset veryfast -pix_fmt yuv420p \
      -c:a aac -shortest -movflags +faststart "$demo_clip"; then
    "$TARGET_DIR/release/ferrotape" import-video --talk adaptive-streaming-from-first-principles "$demo_clip" || true
  fi
  rm -rf "$(dirname "$demo_clip")"
fi
exec "$TARGET_DIR/release/ferrotape" "$@"
