#!/usr/bin/env bash
# A private S3 server for the tests and benchmarks: SeaweedFS (`weed mini`, installed into the
# test venv by setup.sh) on loopback, every port free-chosen, signed requests required with a
# fresh key pair. Once S3 answers it writes DIR/env (FERROTAPE_TEST_S3_* lines to source), then
# runs until it gets SIGTERM, which stops SeaweedFS too. Usage: scripts/s3-server.sh DIR
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
dir="$1"
mkdir -p "$dir/data" "$dir/log"
rm -f "$dir/env"

# Nine free ports: S3, master, volume, filer, admin and their gRPC ports (weed's defaults are
# fixed numbers, which a second instance on the machine would collide with). Small volumes with
# many slots: every bucket takes volumes of its own, and the default size leaves few slots.
read -r s3 s3_grpc master master_grpc volume volume_grpc filer filer_grpc admin <<<"$(python3 -c '
import socket
sockets = [socket.socket() for _ in range(9)]
for s in sockets: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in sockets))')"
key="ft$(python3 -c 'import secrets; print(secrets.token_hex(8))')"
secret="$(python3 -c 'import secrets; print(secrets.token_hex(20))')"
cat > "$dir/s3.json" <<EOF
{"identities":[{"name":"ferrotape-test","credentials":[{"accessKey":"$key","secretKey":"$secret"}],
  "actions":["Admin","Read","List","Tagging","Write"]}]}
EOF

"$FERROTAPE_VENV/bin/weed" -logdir="$dir/log" mini -dir="$dir/data" \
  -ip=127.0.0.1 -ip.bind=127.0.0.1 -s3.config="$dir/s3.json" \
  -s3.port="$s3" -s3.port.grpc="$s3_grpc" -master.port="$master" -master.port.grpc="$master_grpc" \
  -volume.port="$volume" -volume.port.grpc="$volume_grpc" -filer.port="$filer" \
  -filer.port.grpc="$filer_grpc" -admin.port="$admin" -admin.ui=false \
  -s3.port.iceberg=0 -s3.port.lance=0 -webdav=false -master.telemetry=false \
  -master.volumeSizeLimitMB=128 -volume.max=200 \
  -filer.localSocket="$dir/filer.sock" -s3.localSocket="$dir/s3.sock" > "$dir/weed.log" 2>&1 &
weed_pid=$!
trap 'kill -TERM $weed_pid 2>/dev/null; wait $weed_pid 2>/dev/null; exit 0' TERM INT
trap 'kill -TERM $weed_pid 2>/dev/null || true' EXIT

for _ in $(seq 1 600); do
  # Unsigned requests get 403: S3 is up and checking signatures.
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$s3/")" = 403 ] && break
  kill -0 "$weed_pid" 2>/dev/null || { cat "$dir/weed.log"; echo "SeaweedFS exited" >&2; exit 1; }
  sleep 0.1
done
cat > "$dir/env.tmp" <<EOF
export FERROTAPE_TEST_S3_ENDPOINT="http://127.0.0.1:$s3"
export FERROTAPE_TEST_S3_ACCESS_KEY_ID="$key"
export FERROTAPE_TEST_S3_SECRET_ACCESS_KEY="$secret"
EOF
mv "$dir/env.tmp" "$dir/env"
wait "$weed_pid"
