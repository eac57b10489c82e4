#!/usr/bin/env bash
# `make run`: install what is missing, build in release, serve http://127.0.0.1:3000 in the
# embedded mode (PostgreSQL, media and the Whisper model under ./data, worker in-process).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh run
source scripts/env.sh

# The subtitle worker's Whisper model: tiny.en converted to ggml once into the data dir (see
# scripts/whisper-model.sh), unless FERROTAPE_WHISPER_MODEL already names a ggml model.
if [ -z "${FERROTAPE_WHISPER_MODEL:-}" ]; then
  FERROTAPE_WHISPER_MODEL="$(realpath -m "${FERROTAPE_DATA_DIR:-./data}/models/ggml-tiny.en.bin")"
  scripts/whisper-model.sh "$FERROTAPE_WHISPER_MODEL"
fi
export FERROTAPE_WHISPER_MODEL

scripts/build-site.sh

first_start=0
[ -d "${FERROTAPE_DATA_DIR:-./data}/postgres" ] || first_start=1
if [ "$first_start" = 1 ] && [ "${FERROTAPE_SKIP_DEMO:-0}" != 1 ]; then
  # A fresh install gets a few demo talks so the catalog is not empty (skip: FERROTAPE_SKIP_DEMO=1).
  # Each gets a short generated clip (speech by espeak-ng): queued here, made and transcoded
  # by the server's worker in the background once it is up.
  "$TARGET_DIR/release/ferrotape" seed-demo
fi
exec "$TARGET_DIR/release/ferrotape" "$@"
