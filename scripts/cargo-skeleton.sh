#!/bin/sh
# Reduce a Cargo workspace to what decides its dependency build: the lock file, every member's
# manifest, and an empty stand-in for each source file cargo needs to accept the manifests
# (lib, bin, proc-macro and build-script targets; tests, benches and examples only where a manifest
# declares them). The Dockerfile builds this skeleton in its own layer, so the dependencies are
# compiled again only when a Cargo.toml or Cargo.lock changes (the idea of cargo-chef, in sh).
#
# Usage: scripts/cargo-skeleton.sh WORKSPACE_DIR OUT_DIR     (needs cargo; POSIX sh)
set -eu

src=${1:?usage: cargo-skeleton.sh WORKSPACE_DIR OUT_DIR}
out=${2:?usage: cargo-skeleton.sh WORKSPACE_DIR OUT_DIR}
src=$(cd -P "$src" && pwd)
mkdir -p "$out"
out=$(cd -P "$out" && pwd)
metadata=$(mktemp)
trap 'rm -f "$metadata"' EXIT

cd "$src"
cargo metadata --offline --no-deps --format-version 1 >"$metadata"

# Copy manifest + lock file, relative to the workspace root.
copy_rel() {
    rel=${1#"$src"/}
    mkdir -p "$out/$(dirname "$rel")"
    cp "$1" "$out/$rel"
}
copy_rel "$src/Cargo.toml"
if [ -f Cargo.lock ]; then copy_rel "$src/Cargo.lock"; fi

# Manifests of all members: "manifest_path":"/abs/path/Cargo.toml".
grep -o '"manifest_path":"[^"]*"' "$metadata" | sed 's/^"manifest_path":"//; s/"$//' | sort -u |
    while IFS= read -r manifest; do copy_rel "$manifest"; done

# Targets: "kind":["bin"],"crate_types":["bin"],"name":"x","src_path":"/abs/path.rs" (field order is
# cargo's serialisation order).
targets=$(grep -o '"kind":\[[^]]*\],"crate_types":\[[^]]*\],"name":"[^"]*","src_path":"[^"]*"' "$metadata" |
    sed 's/^"kind":\["\([^"]*\)".*"src_path":"\([^"]*\)"$/\1 \2/')
[ -n "$targets" ] || { echo "cargo-skeleton: no targets found in cargo metadata" >&2; exit 1; }

# The package directory of a source path: the nearest parent holding a Cargo.toml.
package_dir() {
    dir=$(dirname "$1")
    while [ "$dir" != / ] && [ ! -f "$dir/Cargo.toml" ]; do dir=$(dirname "$dir"); done
    printf '%s\n' "$dir"
}

printf '%s\n' "$targets" | while read -r kind path; do
    case $kind in
        test|bench|example)
            # Auto-discovered ones can vanish from the skeleton; declared ones must exist.
            grep -q "^\[\[$kind\]\]" "$(package_dir "$path")/Cargo.toml" || continue ;;
    esac
    rel=${path#"$src"/}
    mkdir -p "$out/$(dirname "$rel")"
    case $kind in
        lib|rlib|dylib|cdylib|staticlib|proc-macro) : >"$out/$rel" ;;
        *) echo 'fn main() {}' >"$out/$rel" ;;
    esac
done

# Fixed timestamps: the skeleton's bytes alone decide whether the Docker layer cache is reused.
find "$out" -exec touch -h -d @0 {} +
