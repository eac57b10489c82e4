# Sourced by the other scripts: cargo-leptos finds wasm-opt (npm's binaryen) and the cargo tools here.
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"
TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
export TARGET_DIR
# Python tools for the tests (the aiosmtpd SMTP sink) live in a venv outside the clone.
FERROTAPE_VENV="${FERROTAPE_VENV:-$HOME/.cache/ferrotape/venv}"
export FERROTAPE_VENV
