#!/usr/bin/env bash
# Load / soak test on loopback: `textgen serve` on the default model, N streaming OpenAI clients
# (textgen-loadgen: mixed chat and text completions, every stream checked) for D seconds. Reports requests,
# errors, time to first token and inter-token latency p50/p99, and the server's RSS (from /proc) at start,
# after warm-up, in the middle and at the end; then stops the server with SIGTERM (it must exit 0).
#
# Usage: scripts/load-test.sh [--clients N] [--duration S] [--max-tokens M] [--out FILE]
#   CI:   scripts/load-test.sh --clients 16 --duration 60
#   soak: scripts/load-test.sh --clients 64 --duration 300 --out soak.txt
# Server flags come from the environment (TEXTGEN_MAX_CONCURRENT, TEXTGEN_THREADS, TEXTGEN_MODEL, ...);
# the queue is sized so that no client is refused (TEXTGEN_MAX_QUEUE = clients unless set).
#
# Exit 0 only when every request succeeded, the server stayed healthy, RSS stayed flat after warm-up
# (end <= warm-up + 10% + 32 MB) and the server shut down cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."

clients=64 duration=60 max_tokens=48 out=""
while [ $# -gt 0 ]; do
    case "$1" in
        --clients) clients=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --max-tokens) max_tokens=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        *) echo "usage: $0 [--clients N] [--duration S] [--max-tokens M] [--out FILE]" >&2; exit 2 ;;
    esac
done
[ "$duration" -ge 10 ] || { echo "--duration must be at least 10 s" >&2; exit 2; }
model=${TEXTGEN_MODEL:-models/SmolLM2-135M-Instruct.Q4_1.gguf}
[ -f "$model" ] || { echo "model missing at $model: run scripts/fetch-default-model.sh" >&2; exit 1; }
export TEXTGEN_MAX_QUEUE=${TEXTGEN_MAX_QUEUE:-$clients}

cargo build --release --locked -p textgen-cli -p textgen-loadgen
work=$(mktemp -d)
server_pid=""
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

target/release/textgen serve --port 0 --model "$model" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 1 600); do
    grep -q 'ready' "$work/server.log" && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; echo "server exited" >&2; exit 1; }
    sleep 0.1
done
grep -q 'ready' "$work/server.log" || { echo "server not ready after 60 s" >&2; exit 1; }
url=$(grep -o 'http://[0-9.:]*' "$work/server.log" | head -n 1)
port=${url##*:}

rss_mb() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$server_pid/status"; }
rss_start=$(rss_mb)
started=$(date +%s)
target/release/textgen-loadgen --url "$url" --clients "$clients" --duration "$duration" \
    --max-tokens "$max_tokens" >"$work/summary.txt" &
loadgen_pid=$!
sleep_until() { local t=$(( started + $1 - $(date +%s) )); [ "$t" -le 0 ] || sleep "$t"; }
warm_at=$(( duration / 6 ))
sleep_until "$warm_at"; rss_warm=$(rss_mb)
sleep_until $(( duration / 2 )); rss_mid=$(rss_mb)
sleep_until $(( duration - 1 )); rss_end=$(rss_mb)
loadgen_rc=0
wait "$loadgen_pid" || loadgen_rc=$?

healthy=yes
target/release/textgen healthcheck --port "$port" >/dev/null 2>&1 || healthy=no
kill -TERM "$server_pid"
shutdown_rc=0
wait "$server_pid" || shutdown_rc=$?
server_pid=""
fivexx=$(grep -cE ' 5[0-9][0-9] [0-9.]+ms' "$work/server.log" || true)
panics=$(grep -c 'panicked' "$work/server.log" || true)
flat=$(awk -v w="$rss_warm" -v e="$rss_end" 'BEGIN { print (e <= w * 1.10 + 32) ? "yes" : "no" }')

report=$(
    echo "load test: $clients clients, $duration s, max_tokens 8..$max_tokens, model $(basename "$model"), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
    cat "$work/summary.txt"
    echo "server RSS MB: start $rss_start  warm-up (${warm_at} s) $rss_warm  middle $rss_mid  end $rss_end  (flat after warm-up: $flat)"
    echo "server: healthy after the run: $healthy; 5xx responses: $fivexx; panics: $panics; SIGTERM exit status: $shutdown_rc"
)
echo "$report"
[ -z "$out" ] || echo "$report" >"$out"
[ "$loadgen_rc" = 0 ] && [ "$healthy" = yes ] && [ "$fivexx" = 0 ] && [ "$panics" = 0 ] &&
    [ "$flat" = yes ] && [ "$shutdown_rc" = 0 ] || { echo "FAIL: load test" >&2; exit 1; }
echo "PASS: load test"
