#!/usr/bin/env bash
# `make test`: every test. Installs what is missing, builds the release site, starts a private
# PostgreSQL for the integration tests, runs the Rust tests (nextest) and the end-to-end tests
# (Playwright in Chromium against the release server on a free port with its own data dir).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
source scripts/env.sh

started=$(date +%s)
work="$(mktemp -d "${TMPDIR:-/tmp}/ferrotape-test.XXXXXX")"
chmod 755 "$work"   # the embedded PostgreSQL runs as `postgres` when we are root
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

echo "== release build (server + wasm bundle)"
cargo leptos build --release
server_bin="$TARGET_DIR/release/ferrotape"

echo "== PostgreSQL for the integration tests"
env -u DATABASE_URL "$server_bin" --data-dir "$work/it" --log warn \
  embedded-postgres --url-file "$work/it-url" > "$work/it-postgres.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 600); do [ -s "$work/it-url" ] && break; sleep 0.1; done
[ -s "$work/it-url" ] || { cat "$work/it-postgres.log"; echo "test PostgreSQL did not start" >&2; exit 1; }
export FERROTAPE_TEST_DATABASE_URL="$(cat "$work/it-url")"

echo "== SMTP sink for the account-mail tests"
"$FERROTAPE_VENV/bin/python" scripts/smtp-sink.py "$work/mail" > "$work/smtp-sink.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do [ -s "$work/mail/port" ] && break; sleep 0.1; done
[ -s "$work/mail/port" ] || { cat "$work/smtp-sink.log"; echo "SMTP sink did not start" >&2; exit 1; }
export FERROTAPE_TEST_SMTP_URL="smtp://127.0.0.1:$(cat "$work/mail/port")"
export FERROTAPE_TEST_MAIL_DIR="$work/mail"

echo "== compile-time SQL data (.sqlx) is current"
FERROTAPE_BIN="$server_bin" scripts/sqlx-prepare.sh --check

echo "== Rust tests"
cargo nextest run --workspace --exclude ferrotape-frontend --no-fail-fast

echo "== end-to-end tests"
scripts/e2e.sh "$server_bin" "$work/e2e"

echo "== all tests passed in $(( $(date +%s) - started )) s"
