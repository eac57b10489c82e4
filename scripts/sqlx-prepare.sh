#!/usr/bin/env bash
# Regenerates `.sqlx/`, the offline data that lets `sqlx::query!` macros check SQL at compile
# time without a database. Run it after changing a query or a migration; `make test` runs it with
# --check and fails when `.sqlx/` is stale.
#
# It starts a private PostgreSQL (with the `ferrotape` binary already built: FERROTAPE_BIN, or
# target/debug/ferrotape, or target/release/ferrotape), applies migrations/*.sql with psql, and
# re-expands the macros of the crates that use them against it. The binary only provides the PostgreSQL cluster.
#
#   scripts/sqlx-prepare.sh          rewrite .sqlx/
#   scripts/sqlx-prepare.sh --check  fail if .sqlx/ differs from what the queries need
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
mode="${1:-write}"

bin="${FERROTAPE_BIN:-}"
for candidate in "$TARGET_DIR/debug/ferrotape" "$TARGET_DIR/release/ferrotape"; do
  [ -n "$bin" ] || { [ -x "$candidate" ] && bin="$candidate"; }
done
[ -n "$bin" ] || { echo "sqlx-prepare: build the server first (cargo build -p ferrotape-server)" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/ferrotape-sqlx.XXXXXX")"
chmod 755 "$work"
pg_pid=""
touched=()
cleanup() {
  [ -z "$pg_pid" ] || { kill -TERM "$pg_pid" 2>/dev/null; wait "$pg_pid" 2>/dev/null || true; }
  # Give the touched files their times back: otherwise the next release build (make run right
  # after make test) would rebuild these crates and everything above them for nothing.
  local i
  for i in "${!touched[@]}"; do touch -r "$work/mtime.$i" "${touched[$i]}"; done
  rm -rf "$work"
}
trap cleanup EXIT

env -u DATABASE_URL "$bin" --data-dir "$work/pg" --log warn embedded-postgres --url-file "$work/url" > "$work/pg.log" 2>&1 &
pg_pid=$!
for _ in $(seq 1 600); do [ -s "$work/url" ] && break; sleep 0.1; done
[ -s "$work/url" ] || { cat "$work/pg.log"; exit 1; }
url="$(cat "$work/url")"
# The schema comes from the migration files themselves (not the binary's embedded copy), so a
# binary built before a new migration can still prepare the queries that need it.
for migration in migrations/*.sql; do
  psql "$url" --quiet --no-psqlrc --single-transaction -v ON_ERROR_STOP=1 -f "$migration" > /dev/null
done

out="$work/sqlx"
mkdir -p "$out"
# The macros cache nothing between builds we could rely on: force re-expansion of the crates
# that hold queries, online, writing one JSON file per query into $out.
crates=(ferrotape-store)
for crate in "${crates[@]}"; do
  lib="$(dirname "$(cargo metadata --format-version 1 --no-deps | python3 -c "import json,sys; print(next(p['manifest_path'] for p in json.load(sys.stdin)['packages'] if p['name']=='$crate'))")")/src/lib.rs"
  touch -r "$lib" "$work/mtime.${#touched[@]}"
  touched+=("$lib")
  touch "$lib"
done
SQLX_OFFLINE=false DATABASE_URL="$url" SQLX_OFFLINE_DIR="$out" \
  cargo check --quiet $(printf -- '-p %s ' "${crates[@]}")

if [ "$mode" = "--check" ]; then
  if ! diff -r "$out" .sqlx > "$work/diff" 2>&1; then
    cat "$work/diff" >&2
    echo "sqlx-prepare: .sqlx/ is stale; run scripts/sqlx-prepare.sh and commit the result" >&2
    exit 1
  fi
  echo "sqlx-prepare: .sqlx/ matches the queries"
else
  rm -rf .sqlx && cp -r "$out" .sqlx
  echo "sqlx-prepare: wrote $(ls .sqlx | wc -l) query files to .sqlx/"
fi
