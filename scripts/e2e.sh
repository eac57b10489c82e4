#!/usr/bin/env bash
# Runs the Playwright suite against a release server started here on a free port, with its own
# data directory seeded with the demo talks, sending mail to the SMTP sink that test.sh started
# (FERROTAPE_TEST_SMTP_URL, FERROTAPE_TEST_MAIL_DIR). Usage: scripts/e2e.sh SERVER_BINARY DATA_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
server_bin="$1"
data_dir="$2"
mkdir -p "$data_dir"
chmod 755 "$data_dir"

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export FERROTAPE_DATA_DIR="$data_dir" FERROTAPE_BIND="127.0.0.1:$port" FERROTAPE_SITE_ROOT="$PWD/target/site"
export FERROTAPE_SMTP_URL="${FERROTAPE_TEST_SMTP_URL:?run the end-to-end tests through make test (it starts the SMTP sink)}"
export FERROTAPE_MAIL_FROM="Ferrotape <no-reply@ferrotape.test>"
unset DATABASE_URL

"$server_bin" --log warn seed-demo
"$server_bin" > "$data_dir/server.log" 2>&1 &
server_pid=$!
# A server that does not stop within 30 s of SIGTERM is a bug worth seeing, not a reason to hang.
stop_server() {
  kill -TERM "$server_pid" 2>/dev/null || return 0
  for _ in $(seq 1 300); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$server_pid" 2>/dev/null; then
    echo "e2e: the server ignored SIGTERM for 30 s; killing it" >&2
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  wait "$server_pid" 2>/dev/null || true
}
trap stop_server EXIT

for _ in $(seq 1 300); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$data_dir/server.log"; echo "server exited" >&2; exit 1; }
  sleep 0.1
done

mkdir -p end2end/artifacts
FERROTAPE_BIN="$(realpath "$server_bin")" BASE_URL="http://127.0.0.1:$port" ARTIFACTS_DIR="$PWD/end2end/artifacts" MAIL_DIR="$FERROTAPE_TEST_MAIL_DIR" \
  timeout --kill-after=15s 30m node --test --test-concurrency=1 --test-timeout=600000 end2end/tests/
