#!/usr/bin/env bash
# Supply-chain checks with cargo-deny (policy: deny.toml): licenses, bans and sources of every crate in
# Cargo.lock, then RustSec advisories. Installs cargo-deny (pinned) under ~/.cache/textgen/cargo-tools when
# missing.
#
# Advisories: the live RustSec database (a git repository on github.com) when it can be fetched; where it
# cannot (air-gapped machines, this project's CI), the committed snapshot third_party/rustsec-advisory-db.tar.gz
# (its date: third_party/README.md). Either way every advisory not ignored in deny.toml fails the check.
set -euo pipefail
cd "$(dirname "$0")/.."

deny_version=0.20.2
cache="${XDG_CACHE_HOME:-$HOME/.cache}/textgen"
tools="$cache/cargo-tools"
if ! "$tools/bin/cargo-deny" --version 2>/dev/null | grep -qx "cargo-deny $deny_version"; then
    cargo install --locked --force --root "$tools" --version "$deny_version" cargo-deny
fi
export PATH="$tools/bin:$PATH"

cargo deny --locked check licenses bans sources
log="${TMPDIR:-/tmp}/textgen-deny-advisories.log"
rc=0
cargo deny --locked check advisories 2>"$log" || rc=$?
if [ "$rc" = 0 ]; then
    echo "advisories: ok (live RustSec database)"
    exit 0
fi
if ! grep -qiE 'failed to (fetch|clone|open)|resolve host|network|could not connect' "$log"; then
    cat "$log" >&2
    echo "FAIL: cargo deny check advisories" >&2
    exit 1
fi

# Offline: the committed snapshot, as a git repository where cargo-deny $deny_version looks for the database
# of https://github.com/rustsec/advisory-db (it reads the HEAD commit's date).
snapshot=third_party/rustsec-advisory-db.tar.gz
date=$(sed -n 's/^snapshot date: //p' third_party/README.md)
db="$cache/advisory-dbs"
dir="$db/advisory-db-3157b0e258782691"
stamp="$(sha256sum "$snapshot" | cut -c1-64)"
if [ "$(cat "$dir/.snapshot" 2>/dev/null)" != "$stamp" ]; then
    rm -rf "$dir"
    mkdir -p "$dir"
    tar -xzf "$snapshot" -C "$dir"
    git -C "$dir" init -q
    git -C "$dir" add -A
    GIT_AUTHOR_DATE="$date" GIT_COMMITTER_DATE="$date" git -C "$dir" -c user.name=textgen \
        -c user.email=textgen@localhost commit -qm "RustSec advisory database snapshot $date"
    echo "$stamp" >"$dir/.snapshot"
fi
config="${TMPDIR:-/tmp}/textgen-deny-offline.toml"
sed "s|^\[advisories\]|[advisories]\ndb-path = \"$db\"|" deny.toml >"$config"
if cargo deny --locked --offline --config "$config" check advisories 2>"$log"; then
    echo "advisories: ok (offline snapshot of the RustSec database from $date; github.com is unreachable)"
else
    cat "$log" >&2
    echo "FAIL: cargo deny check advisories (offline snapshot from $date)" >&2
    exit 1
fi
