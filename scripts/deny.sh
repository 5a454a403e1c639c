#!/usr/bin/env bash
# Supply-chain checks with cargo-deny (policy: deny.toml): licenses, bans and sources of every crate in
# Cargo.lock, then RustSec advisories. Installs cargo-deny under ~/.cache/textgen/cargo-tools when missing.
#
# The advisory database is a git repository on github.com. Where github.com cannot be reached (air-gapped
# CI), the advisories check fails, unless TEXTGEN_ADVISORIES=best-effort, which reports it as NOT CHECKED
# in capitals and goes on; licenses, bans and sources are always enforced.
set -euo pipefail
cd "$(dirname "$0")/.."

tools="${XDG_CACHE_HOME:-$HOME/.cache}/textgen/cargo-tools"
[ -x "$tools/bin/cargo-deny" ] || cargo install --locked --root "$tools" cargo-deny
export PATH="$tools/bin:$PATH"

cargo deny --locked check licenses bans sources
rc=0
cargo deny --locked check advisories 2>"${TMPDIR:-/tmp}/textgen-deny-advisories.log" || rc=$?
if [ "$rc" = 0 ]; then
    echo "advisories: ok"
elif grep -qiE 'failed to (fetch|clone|open)|resolve host|network|could not connect' "${TMPDIR:-/tmp}/textgen-deny-advisories.log" &&
    [ "${TEXTGEN_ADVISORIES:-required}" = best-effort ]; then
    echo "advisories: NOT CHECKED (the RustSec database on github.com is unreachable from this machine)"
else
    cat "${TMPDIR:-/tmp}/textgen-deny-advisories.log" >&2
    echo "FAIL: cargo deny check advisories" >&2
    exit 1
fi
