#!/usr/bin/env bash
# Runs the Playwright suite against release servers started here on free ports, each with its
# own data directory, sending mail to the SMTP sink that test.sh started (FERROTAPE_TEST_SMTP_URL,
# FERROTAPE_TEST_MAIL_DIR):
#   1. the embedded default (local media storage), seeded with the demo talks: every test;
#   2. the first server behind nginx configured by deploy/nginx/ferrotape.conf: end2end/front/;
#   3. a server with its RTMP ingest running: the live tests (end2end/live/);
#   4. the same binary storing media in the S3 server test.sh started (FERROTAPE_TEST_S3_*):
#      the upload test again, which then checks that chunks went straight to the bucket.
# Usage: scripts/e2e.sh SERVER_BINARY DATA_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
server_bin="$1"
data_dir="$2"
mkdir -p "$data_dir"
chmod 755 "$data_dir"

export FERROTAPE_SITE_ROOT="$PWD/target/site"
export FERROTAPE_SMTP_URL="${FERROTAPE_TEST_SMTP_URL:?run the end-to-end tests through make test (it starts the SMTP sink)}"
export FERROTAPE_MAIL_FROM="Ferrotape <no-reply@ferrotape.test>"
unset DATABASE_URL

server_pids=()
# A server that does not stop within 30 s of SIGTERM is a bug worth seeing, not a reason to hang.
stop_servers() {
  for pid in "${server_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${server_pids[@]}"; do
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "e2e: a server ignored SIGTERM for 30 s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
}
trap stop_servers EXIT

# Starts a server on a free port with data under DIR (plus any extra VAR=value settings) and
# waits until it is ready; sets `base_url`.
start_server() {
  local dir="$1"
  shift
  mkdir -p "$dir"
  chmod 755 "$dir"
  local port
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  # The suites' servers run side by side: none of them starts an RTMP ingest on the one port.
  env FERROTAPE_DATA_DIR="$dir" FERROTAPE_BIND="127.0.0.1:$port" FERROTAPE_LIVE_INGEST=off "$@" "$server_bin" > "$dir/server.log" 2>&1 &
  local pid=$!
  server_pids+=("$pid")
  for _ in $(seq 1 300); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { cat "$dir/server.log"; echo "server exited" >&2; exit 1; }
    sleep 0.1
  done
  base_url="http://127.0.0.1:$port"
}

run_suite() {
  local data="$1"
  shift
  mkdir -p end2end/artifacts
  env FERROTAPE_DATA_DIR="$data" FERROTAPE_BIN="$(realpath "$server_bin")" BASE_URL="$base_url" \
    ARTIFACTS_DIR="$PWD/end2end/artifacts" MAIL_DIR="$FERROTAPE_TEST_MAIL_DIR" \
    timeout --kill-after=15s 30m node --test --test-force-exit --test-concurrency=1 --test-timeout=600000 "$@"
}

echo "e2e: local storage"
# The demo talks without their generated clips: the watch-page tests expect this one video.
FERROTAPE_DATA_DIR="$data_dir/local" "$server_bin" --log warn seed-demo --no-videos
# A 40 s 854x480 clip for the watch-page tests, attached to a demo talk through the real
# pipeline: the server's in-process worker transcodes it (480p and 360p rungs) once it starts.
clip="$data_dir/watch-clip.mp4"
ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=854x480:rate=30:duration=40 \
  -f lavfi -i sine=frequency=440:duration=40 -c:v libx264 -preset ultrafast -pix_fmt yuv420p \
  -c:a aac -shortest -movflags +faststart "$clip"
FERROTAPE_DATA_DIR="$data_dir/local" "$server_bin" --log warn import-video \
  --talk adaptive-streaming-from-first-principles "$clip"
# It also sits behind the nginx front server below, which connects from 127.0.0.2: only that
# address is a trusted proxy, so the suites' own requests (from 127.0.0.1) are answered as ever.
start_server "$data_dir/local" FERROTAPE_TRUSTED_PROXIES=127.0.0.2 \
  FERROTAPE_MEDIA_ACCEL_REDIRECT=/_ferrotape_media/
run_suite "$data_dir/local" end2end/tests/

echo "e2e: behind the nginx front server (deploy/nginx/ferrotape.conf)"
front="$data_dir/front"
mkdir -p "$front/logs"
front_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
sed -e "s|@LISTEN@|127.0.0.1:$front_port|" -e "s|@PLATFORM@|server ${base_url#http://};|" \
  -e "s|@MEDIA_DIR@|$data_dir/local/media/|" deploy/nginx/ferrotape.conf > "$front/ferrotape.conf"
cat > "$front/nginx.conf" <<NGINX
daemon off;
worker_processes 1;
pid $front/nginx.pid;
error_log $front/logs/error.log warn;
events { worker_connections 1024; }
http {
  include /etc/nginx/mime.types;
  access_log $front/logs/access.log;
  proxy_bind 127.0.0.2;
  include $front/ferrotape.conf;
}
NGINX
nginx -p "$front" -c "$front/nginx.conf" -e "$front/logs/error.log" &
server_pids+=($!)
for _ in $(seq 1 100); do curl -fsS -o /dev/null "http://127.0.0.1:$front_port/healthz" 2>/dev/null && break; sleep 0.1; done
(
  base_url="http://127.0.0.1:$front_port"
  run_suite "$data_dir/local" end2end/front/ || { tail -20 "$front/logs/error.log"; exit 1; }
)

echo "e2e: live streaming"
# A server with its RTMP ingest on a port of its own; streams end 3 s after their last push so
# the recording test does not wait out the default minute.
rtmp_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
start_server "$data_dir/live" FERROTAPE_LIVE_INGEST=on FERROTAPE_RTMP_BIND="127.0.0.1:$rtmp_port" \
  FERROTAPE_LIVE_RECONNECT_SECS=3
(
  export RTMP_URL="rtmp://127.0.0.1:$rtmp_port/live"
  run_suite "$data_dir/live" end2end/live/
)

echo "e2e: S3 storage"
s3=(
  FERROTAPE_S3_ENDPOINT="${FERROTAPE_TEST_S3_ENDPOINT:?run the end-to-end tests through make test (it starts the S3 server)}"
  FERROTAPE_S3_ACCESS_KEY_ID="$FERROTAPE_TEST_S3_ACCESS_KEY_ID"
  FERROTAPE_S3_SECRET_ACCESS_KEY="$FERROTAPE_TEST_S3_SECRET_ACCESS_KEY"
  FERROTAPE_S3_BUCKET="ferrotape-e2e"
)
start_server "$data_dir/s3" "${s3[@]}"
(
  export "${s3[@]}" EXPECT_DIRECT_UPLOADS_TO="$FERROTAPE_TEST_S3_ENDPOINT"
  run_suite "$data_dir/s3" end2end/tests/upload.test.mjs
)
