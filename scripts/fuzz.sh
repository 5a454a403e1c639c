#!/usr/bin/env bash
# Bounded fuzzing: runs each cargo-fuzz target (fuzz/, see fuzz/README.md) for SECONDS on top of its
# committed seed corpus, with AddressSanitizer. Works on the stable toolchain: cargo-fuzz passes -Z flags,
# which RUSTC_BOOTSTRAP=1 lets stable rustc accept. Installs cargo-fuzz under ~/.cache/textgen/cargo-tools
# when missing. Exit status 0 only when no target crashed, leaked, timed out or ran out of memory.
#
# Usage: scripts/fuzz.sh [SECONDS=60] [TARGET...]     (default: every target)
# Environment: TEXTGEN_FUZZ_SANITIZER=address|none (default address)
#              TEXTGEN_FUZZ_TARGET_DIR (default ~/.cache/textgen/fuzz-target: kept between CI runs, so only
#              the first build is cold; a cold sanitizer build takes 8-25 min on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(gguf tokenizer chat_template request)

tools="${XDG_CACHE_HOME:-$HOME/.cache}/textgen/cargo-tools"
[ -x "$tools/bin/cargo-fuzz" ] || cargo install --locked --root "$tools" cargo-fuzz
export PATH="$tools/bin:$PATH"
export RUSTC_BOOTSTRAP=1
sanitizer=${TEXTGEN_FUZZ_SANITIZER:-address}
target_dir=${TEXTGEN_FUZZ_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/textgen/fuzz-target}
[ -f models/SmolLM2-135M-Instruct.Q4_1.gguf ] || [ -n "${TEXTGEN_FUZZ_MODEL:-}" ] ||
    { echo "default model missing: run scripts/fetch-default-model.sh" >&2; exit 1; }

build_start=$(date +%s)
cargo fuzz build --sanitizer "$sanitizer" --target-dir "$target_dir"
echo "fuzz build: $(( $(date +%s) - build_start )) s"

for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t"
    extra=()
    [ "$t" = request ] && extra+=("-dict=fuzz/dicts/json.dict")
    echo "== fuzz $t ($secs s)"
    log="fuzz/corpus/$t.log"
    rc=0
    cargo fuzz run --sanitizer "$sanitizer" --target-dir "$target_dir" "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=4096 -timeout=20 -print_final_stats=1 "${extra[@]}" \
        >"$log" 2>&1 || rc=$?
    grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || true
    if [ "$rc" != 0 ]; then
        tail -n 40 "$log" >&2
        echo "FAIL: fuzz target $t (exit $rc; input saved under fuzz/artifacts/$t)" >&2
        exit 1
    fi
done
echo "PASS: fuzz targets ${targets[*]}, $secs s each"
