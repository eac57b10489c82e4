#!/usr/bin/env bash
# `make test`: every test. Installs what is missing (the Whisper model too, converted once into
# ~/.cache/ferrotape/models), runs the model converter's tests, builds the release site, starts a private
# PostgreSQL, an SMTP sink and an S3 server (SeaweedFS) for the integration tests, runs the Rust tests (nextest) and the end-to-end tests
# (Playwright in Chromium against the release server on a free port with its own data dir).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
# Each phase's start time, printed as a table when the run ends however it ends (CI shows only
# the tail of the output, so the table says where the time went even after a timeout).
phases=()
phase() { phases+=("$(( $(date +%s) - started )) $*"); echo "== $* (at $(( $(date +%s) - started )) s)"; }
timings() {
  echo "== phase start times (s since make test began; total $(( $(date +%s) - started )) s):"
  printf '   %s\n' "${phases[@]}"
}

phase "setup (install what is missing)"
scripts/setup.sh test
source scripts/env.sh
work="$(mktemp -d "${TMPDIR:-/tmp}/ferrotape-test.XXXXXX")"
chmod 755 "$work"   # the embedded PostgreSQL runs as `postgres` when we are root
pids=()
cleanup() {
  timings
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'echo "== terminated" >&2; exit 143' TERM INT

phase "Whisper model (tiny.en as ggml, converted once into ~/.cache/ferrotape/models)"
# Outside the clone so that every clone and run reuses it; the Rust tests read
# FERROTAPE_TEST_WHISPER_MODEL, the servers the end-to-end tests start FERROTAPE_WHISPER_MODEL.
export FERROTAPE_TEST_WHISPER_MODEL="$HOME/.cache/ferrotape/models/ggml-tiny.en.bin"
scripts/whisper-model.sh "$FERROTAPE_TEST_WHISPER_MODEL"
export FERROTAPE_WHISPER_MODEL="$FERROTAPE_TEST_WHISPER_MODEL"

phase "whisper model converter tests"
"$FERROTAPE_VENV/bin/python" -m unittest discover -s scripts/tests -t scripts/tests

phase "release build (server + wasm bundle)"
scripts/build-site.sh
server_bin="$TARGET_DIR/release/ferrotape"

phase "PostgreSQL for the integration tests"
env -u DATABASE_URL "$server_bin" --data-dir "$work/it" --log warn \
  embedded-postgres --url-file "$work/it-url" > "$work/it-postgres.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 600); do [ -s "$work/it-url" ] && break; sleep 0.1; done
[ -s "$work/it-url" ] || { cat "$work/it-postgres.log"; echo "test PostgreSQL did not start" >&2; exit 1; }
export FERROTAPE_TEST_DATABASE_URL="$(cat "$work/it-url")"

phase "SMTP sink for the account-mail tests"
"$FERROTAPE_VENV/bin/python" scripts/smtp-sink.py "$work/mail" > "$work/smtp-sink.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do [ -s "$work/mail/port" ] && break; sleep 0.1; done
[ -s "$work/mail/port" ] || { cat "$work/smtp-sink.log"; echo "SMTP sink did not start" >&2; exit 1; }
export FERROTAPE_TEST_SMTP_URL="smtp://127.0.0.1:$(cat "$work/mail/port")"
export FERROTAPE_TEST_MAIL_DIR="$work/mail"

phase "S3 server (SeaweedFS) for the S3 storage tests"
scripts/s3-server.sh "$work/s3" > "$work/s3.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 600); do [ -s "$work/s3/env" ] && break; sleep 0.1; done
[ -s "$work/s3/env" ] || { cat "$work/s3.log"; echo "the S3 server did not start" >&2; exit 1; }
source "$work/s3/env"

phase "compile-time SQL data (.sqlx) is current"
FERROTAPE_BIN="$server_bin" scripts/sqlx-prepare.sh --check

phase "Rust tests"
cargo nextest run --workspace --exclude ferrotape-frontend --exclude ferrotape-viewer \
  --exclude ferrotape-subtitle-editor --no-fail-fast

phase "end-to-end tests"
# The separate worker of the replicas stage is the debug build the Rust tests just made (its
# jobs' heavy lifting is ffmpeg's and whisper.cpp's, built optimised either way).
scripts/e2e.sh "$server_bin" "$work/e2e" "$TARGET_DIR/debug/ferrotape-worker"

phase "all tests passed"
