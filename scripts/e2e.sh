#!/usr/bin/env bash
# Runs the Playwright suite against release servers started here on free ports, each with its
# own data directory, sending mail to the SMTP sink that test.sh started (FERROTAPE_TEST_SMTP_URL,
# FERROTAPE_TEST_MAIL_DIR):
#   1. the embedded default (local media storage), seeded with the demo talks: every test;
#   2. the first server behind nginx configured by deploy/nginx/ferrotape.conf: end2end/front/;
#   3. a server with its RTMP ingest running: the live tests (end2end/live/);
#   4. the same binary storing media in the S3 server test.sh started (FERROTAPE_TEST_S3_*):
#      the upload test again, which then checks that chunks went straight to the bucket;
#   5. past one machine: two replicas of the server sharing a PostgreSQL of their own and an S3
#      bucket, one separate WORKER_BINARY doing every job, behind nginx with both replicas as
#      its upstream: end2end/replicas/.
# E2E_STAGES (default "local front live s3 replicas") runs only some of them ("front" needs
# "local"), for working on one.
# Usage: scripts/e2e.sh SERVER_BINARY DATA_DIR WORKER_BINARY
set -euo pipefail
cd "$(dirname "$0")/.."
server_bin="$1"
data_dir="$2"
worker_bin="$3"
stages=" ${E2E_STAGES:-local front live s3 replicas} "
stage() { [[ "$stages" == *" $1 "* ]]; }
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
  port="$(free_port)"
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

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts nginx with deploy/nginx/ferrotape.conf under DIR in front of the given platform
# addresses (host:port), serving MEDIA_DIR at its internal location; sets `front_url`. nginx
# connects to the platform from 127.0.0.2: only that address is made a trusted proxy, so the
# suites' own requests (from 127.0.0.1) are answered as ever.
start_front() {
  local front="$1" media_dir="$2"
  shift 2
  mkdir -p "$front/logs"
  local port upstreams=""
  port="$(free_port)"
  for address in "$@"; do upstreams+="server $address; "; done
  sed -e "s|@LISTEN@|127.0.0.1:$port|" -e "s|@PLATFORM@|$upstreams|" \
    -e "s|@MEDIA_DIR@|$media_dir|" deploy/nginx/ferrotape.conf > "$front/ferrotape.conf"
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
  for _ in $(seq 1 100); do curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null && break; sleep 0.1; done
  front_url="http://127.0.0.1:$port"
}

run_suite() {
  local data="$1"
  shift
  mkdir -p end2end/artifacts
  env FERROTAPE_DATA_DIR="$data" FERROTAPE_BIN="$(realpath "$server_bin")" BASE_URL="$base_url" \
    ARTIFACTS_DIR="$PWD/end2end/artifacts" MAIL_DIR="$FERROTAPE_TEST_MAIL_DIR" \
    timeout --kill-after=15s 30m node --test --test-force-exit --test-concurrency=1 --test-timeout=600000 "$@"
}

s3=(
  FERROTAPE_S3_ENDPOINT="${FERROTAPE_TEST_S3_ENDPOINT:?run the end-to-end tests through make test (it starts the S3 server)}"
  FERROTAPE_S3_ACCESS_KEY_ID="$FERROTAPE_TEST_S3_ACCESS_KEY_ID"
  FERROTAPE_S3_SECRET_ACCESS_KEY="$FERROTAPE_TEST_S3_SECRET_ACCESS_KEY"
)

if stage local; then
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
  # It also sits behind the nginx front server below (the trusted proxy 127.0.0.2).
  start_server "$data_dir/local" FERROTAPE_TRUSTED_PROXIES=127.0.0.2 \
    FERROTAPE_MEDIA_ACCEL_REDIRECT=/_ferrotape_media/
  local_url="$base_url"
  run_suite "$data_dir/local" end2end/tests/
fi

if stage front; then
  echo "e2e: behind the nginx front server (deploy/nginx/ferrotape.conf)"
  start_front "$data_dir/front" "$data_dir/local/media/" "${local_url#http://}"
  (
    base_url="$front_url"
    run_suite "$data_dir/local" end2end/front/ || { tail -20 "$data_dir/front/logs/error.log"; exit 1; }
  )
fi

if stage live; then
  echo "e2e: live streaming"
  # A server with its RTMP ingest on a port of its own; streams end 3 s after their last push so
  # the recording test does not wait out the default minute.
  rtmp_port="$(free_port)"
  start_server "$data_dir/live" FERROTAPE_LIVE_INGEST=on FERROTAPE_RTMP_BIND="127.0.0.1:$rtmp_port" \
    FERROTAPE_LIVE_RECONNECT_SECS=3
  (
    export RTMP_URL="rtmp://127.0.0.1:$rtmp_port/live"
    run_suite "$data_dir/live" end2end/live/
  )
fi

if stage s3; then
  echo "e2e: S3 storage"
  start_server "$data_dir/s3" "${s3[@]}" FERROTAPE_S3_BUCKET=ferrotape-e2e
  (
    export "${s3[@]}" FERROTAPE_S3_BUCKET=ferrotape-e2e EXPECT_DIRECT_UPLOADS_TO="$FERROTAPE_TEST_S3_ENDPOINT"
    run_suite "$data_dir/s3" end2end/tests/upload.test.mjs
  )
fi

if stage replicas; then
  echo "e2e: two replicas and a separate worker behind nginx"
  [ -x "$worker_bin" ] || { echo "e2e: no worker binary at $worker_bin" >&2; exit 1; }
  replicas="$data_dir/replicas"
  mkdir -p "$replicas"
  chmod 755 "$replicas"
  # Their own PostgreSQL (the embedded one, started alone), shared by both replicas and the worker.
  "$server_bin" --data-dir "$replicas/postgres" --log warn embedded-postgres \
    --url-file "$replicas/database-url" > "$replicas/postgres.log" 2>&1 &
  server_pids+=($!)
  for _ in $(seq 1 600); do [ -s "$replicas/database-url" ] && break; sleep 0.1; done
  [ -s "$replicas/database-url" ] || { cat "$replicas/postgres.log"; echo "e2e: PostgreSQL did not start" >&2; exit 1; }
  shared=(DATABASE_URL="$(cat "$replicas/database-url")" "${s3[@]}" FERROTAPE_S3_BUCKET=ferrotape-replicas)
  # One after the other: the first applies the migrations and makes the token-signing key.
  start_server "$replicas/a" "${shared[@]}" FERROTAPE_IN_PROCESS_WORKER=off FERROTAPE_TRUSTED_PROXIES=127.0.0.2
  replica_a="$base_url" replica_a_pid="${server_pids[-1]}"
  start_server "$replicas/b" "${shared[@]}" FERROTAPE_IN_PROCESS_WORKER=off FERROTAPE_TRUSTED_PROXIES=127.0.0.2
  replica_b="$base_url"
  mkdir -p "$replicas/worker"
  env "${shared[@]}" FERROTAPE_DATA_DIR="$replicas/worker" "$worker_bin" > "$replicas/worker/worker.log" 2>&1 &
  server_pids+=($!)
  # S3 media is streamed by the platform (no X-Accel-Redirect): the media directory is unused.
  mkdir -p "$replicas/front-media"
  start_front "$replicas/front" "$replicas/front-media/" "${replica_a#http://}" "${replica_b#http://}"
  (
    export "${shared[@]}" REPLICA_A="$replica_a" REPLICA_B="$replica_b" REPLICA_A_PID="$replica_a_pid"
    base_url="$front_url"
    run_suite "$replicas/a" end2end/replicas/ || { tail -20 "$replicas/front/logs/error.log" "$replicas/worker/worker.log"; exit 1; }
  )
fi
