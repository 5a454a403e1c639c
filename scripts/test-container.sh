#!/usr/bin/env bash
# End-to-end checks of the container image: build it, run it the ways README documents, measure it.
# Called by .ci/run (as root, CI=true, no stdin); also fine to run by hand.
#
# Usage: scripts/test-container.sh
#
# Environment:
#   TEXTGEN_IMAGE=my-text-gen       image tag to build and test
#   TEXTGEN_MAX_IMAGE_MB=25         size limit of the image without the model (MB = 10^6 bytes)
#   TEXTGEN_MAX_CACHED_BUILD_S=60   time limit of a rebuild with no source change
#   TEXTGEN_COLD_BUILD=1            build the first time with --no-cache (a true cold build time)
#   TEXTGEN_PULL_BASE_IMAGES=1      pull missing base images from the registry instead of building
#                                   offline stand-ins with scripts/offline-base-images.sh
#   TEXTGEN_BUILDKIT=0              use the legacy builder instead of BuildKit
#
# Needs: Debian/Ubuntu with apt (to install docker.io and debootstrap when missing), root for
# dockerd and debootstrap. Exit status 0 only when every check passed.
set -euo pipefail

repo_root=$(cd -P "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

image=${TEXTGEN_IMAGE:-my-text-gen}
max_image_mb=${TEXTGEN_MAX_IMAGE_MB:-25}
max_cached_build_s=${TEXTGEN_MAX_CACHED_BUILD_S:-60}
default_model=SmolLM2-135M-Instruct.Q4_1.gguf
export DOCKER_BUILDKIT=${TEXTGEN_BUILDKIT:-1}

log() { printf '\n=== %s\n' "$*"; }
info() { printf '    %s\n' "$*"; }
die() { printf '\nFAIL: %s\n' "$*" >&2; exit 1; }

failures=()
passes=()
pass() { passes+=("$1"); printf '    PASS  %s\n' "$1"; }
fail() { failures+=("$1"); printf '    FAIL  %s\n' "$1" >&2; }

work=$(mktemp -d)
containers=()
cleanup() {
    local c
    for c in "${containers[@]}"; do "$docker" rm -f "$c" >/dev/null 2>&1 || true; done
    rm -rf "$work"
}
trap cleanup EXIT

now_ns() { date +%s%N; }
secs_since() { awk -v a="$1" -v b="$(now_ns)" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }

# --- the engine -------------------------------------------------------------------------------------
log "Docker engine"
if ! { [ -x /usr/bin/docker ] && command -v dockerd >/dev/null; }; then
    command -v apt-get >/dev/null || die "docker.io is missing and there is no apt-get to install it"
    info "installing docker.io and debootstrap from Debian"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq </dev/null
    apt-get install -y -qq --no-install-recommends docker.io debootstrap ca-certificates </dev/null >/dev/null
fi
# The `docker` first on PATH may be a client without buildx (BuildKit then falls back or fails);
# Debian's /usr/bin/docker drives the engine's built-in BuildKit.
if [ -x /usr/bin/docker ]; then docker=/usr/bin/docker; else docker=$(command -v docker); fi

if ! "$docker" info >/dev/null 2>&1; then
    info "starting dockerd (log: /var/log/textgen-dockerd.log)"
    nohup dockerd >/var/log/textgen-dockerd.log 2>&1 </dev/null &
    for _ in $(seq 1 60); do
        "$docker" info >/dev/null 2>&1 && break
        sleep 1
    done
    "$docker" info >/dev/null 2>&1 || { tail -n 30 /var/log/textgen-dockerd.log >&2; die "dockerd did not start within 60 s"; }
fi
info "engine $("$docker" version -f '{{.Server.Version}}'), client $docker, DOCKER_BUILDKIT=$DOCKER_BUILDKIT"

# --- base images ------------------------------------------------------------------------------------
log "Base images"
# The list is read whole first: `grep -q` on the pipe would stop reading early, and under pipefail the
# listing's SIGPIPE made the test false, so missing images were never built.
base_list=$(scripts/offline-base-images.sh --list)
if grep -q ' missing$' <<<"$base_list"; then
    sed 's/^/    /' <<<"$base_list"
    if [ "${TEXTGEN_PULL_BASE_IMAGES:-0}" = 1 ]; then
        awk '$2 == "missing" { print $1 }' <<<"$base_list" |
            while read -r base; do "$docker" pull "$base"; done
    else
        if ! command -v debootstrap >/dev/null; then
            command -v apt-get >/dev/null || die "debootstrap is missing and there is no apt-get to install it"
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap </dev/null >/dev/null
        fi
        start=$(now_ns)
        scripts/offline-base-images.sh
        info "offline stand-ins built in $(secs_since "$start") s"
    fi
fi
scripts/offline-base-images.sh --list | sed 's/^/    /'

# --- build ------------------------------------------------------------------------------------------
build() { # build LOGFILE ARGS... ; prints the wall time in seconds
    local logfile=$1 start
    shift
    start=$(now_ns)
    if ! "$docker" build --progress=plain "$@" . >"$logfile" 2>&1 </dev/null; then
        tail -n 60 "$logfile" >&2
        die "docker build $* failed (full log above, last 60 lines)"
    fi
    secs_since "$start"
}
# --progress is BuildKit-only.
if [ "$DOCKER_BUILDKIT" = 0 ]; then build() {
    local logfile=$1 start
    shift
    start=$(now_ns)
    "$docker" build "$@" . >"$logfile" 2>&1 </dev/null || { tail -n 60 "$logfile" >&2; die "docker build $* failed"; }
    secs_since "$start"
}; fi

log "docker build -t $image ."
cold_flag=()
[ "${TEXTGEN_COLD_BUILD:-0}" = 1 ] && cold_flag=(--no-cache)
build_s=$(build "$work/build.log" "${cold_flag[@]}" -t "$image")
info "built in $build_s s${cold_flag:+ (--no-cache: cold)}"
image_id=$("$docker" image inspect -f '{{.Id}}' "$image")

log "Stage sizes"
mapfile -t stages < <(awk 'toupper($1) == "FROM" && tolower($(NF - 1)) == "as" { print $NF }' Dockerfile)
for stage in "${stages[@]}"; do
    build "$work/stage-$stage.log" --target "$stage" -t "$image:stage-$stage" >/dev/null
    printf '    %-10s %s\n' "$stage" "$(mb "$("$docker" image inspect -f '{{.Size}}' "$image:stage-$stage")")"
done
size=$("$docker" image inspect -f '{{.Size}}' "$image")
printf '    %-10s %s  (%s, the image)\n' "final" "$(mb "$size")" "$image"

log "Image without the model"
build "$work/build-no-model.log" --build-arg WITH_DEFAULT_MODEL=0 -t "$image:no-model" >/dev/null
size_no_model=$("$docker" image inspect -f '{{.Size}}' "$image:no-model")
# Cross-check from the layers of the real image: everything but the COPY of /models.
size_layers=$("$docker" history --no-trunc --human=false --format '{{.CreatedBy}}|{{.Size}}' "$image" |
    awk -F'|' '$1 !~ /\/models\// { s += $2 } END { print s + 0 }')
info "with the model:    $(mb "$size")"
info "without the model: $(mb "$size_no_model") ($image:no-model; layers of $image minus /models: $(mb "$size_layers"))"
if awk -v s="$size_no_model" -v m="$max_image_mb" 'BEGIN { exit !(s <= m * 1e6) }'; then
    pass "image without the model is $(mb "$size_no_model") <= $max_image_mb MB"
else
    fail "image without the model is $(mb "$size_no_model") > $max_image_mb MB"
fi

# --- runs -------------------------------------------------------------------------------------------
# run NAME ARGS... : docker run --rm ARGS, stdout/stderr to $work/NAME.{out,err}, status to $work/NAME.rc
run() {
    local name=$1 rc=0
    shift
    "$docker" run --rm "$@" >"$work/$name.out" 2>"$work/$name.err" </dev/null || rc=$?
    echo "$rc" >"$work/$name.rc"
}
rc_of() { cat "$work/$1.rc"; }
has_text() { grep -q '[^[:space:]]' "$work/$1.out"; }
show() { # show NAME: the output, indented, for the log
    sed 's/^/      | /' "$work/$1.out" | head -n 12
    if [ -s "$work/$1.err" ]; then sed 's/^/      ! /' "$work/$1.err" | head -n 6; fi
}
expect_text() { # expect_text NAME DESCRIPTION
    show "$1"
    if [ "$(rc_of "$1")" = 0 ] && has_text "$1"; then pass "$2"; else fail "$2 (exit $(rc_of "$1"), stdout $(wc -c <"$work/$1.out") bytes)"; fi
}

log "docker run --rm $image   (demo prompt)"
# Time from `docker run` to the first byte on stdout (the CLI prints no prompt echo by default).
start=$(now_ns)
first_ns=""
{
    IFS= read -r -n 1 -d '' first_char || true
    first_ns=$(now_ns)
    printf '%s' "${first_char:-}" >"$work/demo.out"
    cat >>"$work/demo.out"
} < <(rc=0; "$docker" run --rm "$image" 2>"$work/demo.err" </dev/null || rc=$?; echo "$rc" >"$work/demo.rc")
total_s=$(secs_since "$start")
ttft_s=$(awk -v a="$start" -v b="$first_ns" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
[ -s "$work/demo.rc" ] || echo 255 >"$work/demo.rc"
expect_text demo "default run exits 0 and prints generated text"
info "docker run -> first token: $ttft_s s; whole run (64 tokens): $total_s s"
start=$(now_ns)
run version "$image" --version
info "docker run of \`textgen --version\` (container start/stop overhead): $(secs_since "$start") s"

log "Prompt and flags"
run haiku "$image" "Write a haiku about rust" --max-tokens 20
expect_text haiku "prompt argument with --max-tokens 20"
run short "$image" "Write a haiku about rust" --max-tokens 3 --temperature 0
run long "$image" "Write a haiku about rust" --max-tokens 30 --temperature 0
if [ "$(rc_of short)" = 0 ] && [ "$(rc_of long)" = 0 ] && has_text long &&
    [ "$(wc -c <"$work/short.out")" -lt "$(wc -c <"$work/long.out")" ]; then
    pass "--max-tokens is honoured (3 tokens: $(wc -c <"$work/short.out") bytes < 30 tokens: $(wc -c <"$work/long.out") bytes)"
else
    show short; show long
    fail "--max-tokens 3 should print less than --max-tokens 30"
fi
run greedy_demo "$image" "Once upon a time, there was a little" --max-tokens 30 --temperature 0
if has_text greedy_demo && ! cmp -s "$work/long.out" "$work/greedy_demo.out"; then
    pass "the prompt argument changes the text"
else
    fail "the same text came out for two different prompts"
fi
run seed1 "$image" "Write a haiku about rust" --max-tokens 24 --seed 7 --temperature 0.8
run seed2 "$image" "Write a haiku about rust" --max-tokens 24 --seed 7 --temperature 0.8
show seed1
if [ "$(rc_of seed1)" = 0 ] && has_text seed1 && cmp -s "$work/seed1.out" "$work/seed2.out"; then
    pass "--seed 7 --temperature 0.8 twice gives identical text"
else
    show seed2
    fail "--seed 7 --temperature 0.8 gave different text (or failed)"
fi

log "Missing model"
run nomodel -e TEXTGEN_MODEL=/models/nope.gguf "$image"
show nomodel
err_lines=$(grep -c '[^[:space:]]' "$work/nomodel.err" || true)
if [ "$(rc_of nomodel)" != 0 ] && [ "$err_lines" = 1 ] && ! grep -q 'panicked' "$work/nomodel.err"; then
    pass "missing model: one-line error, exit $(rc_of nomodel)"
else
    fail "missing model: want a non-zero exit and one line on stderr (exit $(rc_of nomodel), $err_lines lines)"
fi

log "Mounted model"
mkdir -p "$work/models"
cid=$("$docker" create "$image")
containers+=("$cid")
"$docker" cp "$cid:/models/$default_model" "$work/models/x.gguf"
chmod -R a+rX "$work/models"
run mounted -v "$work/models:/models2:ro" -e TEXTGEN_MODEL=/models2/x.gguf "$image:no-model" --max-tokens 16
expect_text mounted "model mounted at /models2 runs in the image built without a model"
run mounted_over -v "$work/models:/models:ro" -e TEXTGEN_MODEL=/models/x.gguf "$image" --max-tokens 16
expect_text mounted_over "-v \$dir:/models -e TEXTGEN_MODEL=/models/x.gguf (README form)"
run no_model_image "$image:no-model"
if [ "$(rc_of no_model_image)" != 0 ] && [ "$(grep -c '[^[:space:]]' "$work/no_model_image.err" || true)" = 1 ]; then
    pass "image without a model and no mount: one-line error, exit $(rc_of no_model_image)"
else
    show no_model_image
    fail "image without a model and no mount should fail with one line"
fi

log "Non-root, read-only, no capabilities"
user=$("$docker" image inspect -f '{{.Config.User}}' "$image")
case ${user%%:*} in
    ''|0|root) fail "image USER is '${user}' (root)" ;;
    *) pass "image USER is $user" ;;
esac
run hardened --read-only --cap-drop ALL --security-opt no-new-privileges "$image" --max-tokens 16
expect_text hardened "runs with --read-only --cap-drop ALL --security-opt no-new-privileges"
# The uid of the live process, as the host sees it.
cid=$("$docker" run -d --read-only --cap-drop ALL "$image" "Tell me a very long story" --max-tokens 4000 --temperature 1)
containers+=("$cid")
uid=""
for _ in $(seq 1 50); do
    uid=$("$docker" top "$cid" -o uid,pid 2>/dev/null | awk 'NR == 2 { print $1 }') || true
    [ -n "$uid" ] && break
    sleep 0.1
done
if [ -z "$uid" ]; then
    info "(the process ended before docker top could see it; relying on the image USER)"
elif [ "$uid" = 0 ]; then
    fail "the container process runs as uid 0"
else
    pass "the container process runs as uid $uid"
fi
"$docker" rm -f "$cid" >/dev/null 2>&1 || true

log "No secrets in the image layers"
# Every layer's files (from `docker save`, legacy or OCI layout) and the build history: no private keys,
# credential files or secret-looking build arguments/environment.
mkdir -p "$work/saved" "$work/rootfs"
# A bare repository name would save every tag of it (the build stages too): name the one image.
case "$image" in *:*) image_ref=$image ;; *) image_ref=$image:latest ;; esac
"$docker" save "$image_ref" | tar -x -C "$work/saved"
layer_count=0
while IFS= read -r blob; do
    if tar -tf "$blob" >/dev/null 2>&1; then
        tar -xf "$blob" -C "$work/rootfs" 2>/dev/null || true
        layer_count=$((layer_count + 1))
    fi
done < <(find "$work/saved" -type f \( -name layer.tar -o -path '*/blobs/sha256/*' \))
cred_files=$(cd "$work/rootfs" && find . -type f \( -name '.env' -o -name 'id_rsa*' -o -name 'id_ed25519*' \
    -o -name '*.key' -o -name '.netrc' -o -name '.git-credentials' -o -name '.npmrc' -o -name '.pypirc' \
    -o -name '.docker' -o -path '*/.cargo/credentials*' \) | head -n 5)
# Key files are text: binaries that merely contain the PEM marker (TLS libraries) are not keys.
key_files=$(grep -rlIE -- '^-----BEGIN ([A-Z]+ )?PRIVATE KEY-----' "$work/rootfs" 2>/dev/null | head -n 5 || true)
history_hits=$("$docker" history --no-trunc --format '{{.CreatedBy}}' "$image_ref" |
    grep -oiE '[A-Z_]*(TOKEN|PASSWORD|SECRET|API_KEY|CREDENTIAL)[A-Z_]*=[^ ]+' | head -n 5 || true)
if [ "$layer_count" -gt 0 ] && [ -z "$cred_files$key_files$history_hits" ]; then
    pass "no credential files, private keys or secret build args in $layer_count layers"
else
    info "layers: $layer_count; files: ${cred_files:-none}; keys: ${key_files:-none}; history: ${history_hits:-none}"
    fail "the image may carry secrets"
fi
rm -rf "$work/saved" "$work/rootfs"

log "Server (serve, healthcheck)"
cid=$("$docker" run -d --read-only --cap-drop ALL -p 127.0.0.1::8080 "$image" serve)
containers+=("$cid")
port=$("$docker" port "$cid" 8080/tcp | head -n 1 | sed 's/.*://')
healthy=no
for _ in $(seq 1 50); do
    if "$docker" exec "$cid" /usr/local/bin/textgen healthcheck >/dev/null 2>&1; then healthy=yes; break; fi
    sleep 0.2
done
if [ "$healthy" = yes ]; then
    pass "serve answers /health (checked by \`textgen healthcheck\` inside the container)"
else
    "$docker" logs "$cid" 2>&1 | tail -n 5 >&2
    fail "serve did not become healthy"
fi
answer=$(curl -s --max-time 60 "http://127.0.0.1:$port/v1/chat/completions" -H 'Content-Type: application/json' \
    -d '{"messages":[{"role":"user","content":"What is the capital of France?"}],"temperature":0,"max_tokens":30}' || true)
if printf '%s' "$answer" | grep -q Paris; then
    pass "serve answers an OpenAI chat request from outside the container"
else
    info "answer: $answer"
    fail "serve did not answer the chat request"
fi
start=$(now_ns)
"$docker" stop -t 10 "$cid" >/dev/null
stop_code=$("$docker" inspect -f '{{.State.ExitCode}}' "$cid")
if [ "$stop_code" = 0 ]; then
    pass "serve drains and exits 0 on docker stop ($(secs_since "$start") s)"
else
    fail "serve exited $stop_code on docker stop"
fi
"$docker" rm -f "$cid" >/dev/null 2>&1 || true

log "Stopping (SIGTERM to PID 1)"
# As PID 1 a process without its own SIGTERM/SIGINT handler ignores both: `docker stop` would then
# wait for its timeout and kill. textgen handles them: the generation stops at the next token.
# Greedy counting does not reach an end-of-text token for minutes on one thread.
cid=$("$docker" run -d "$image" "1, 2, 3, 4, 5," --max-tokens 100000 --temperature 0 --threads 1)
containers+=("$cid")
sleep 2
running=$("$docker" inspect -f '{{.State.Running}}' "$cid")
if [ "$running" != true ]; then
    info "WARN: the generation ended within 2 s; stop behaviour not measured"
else
    start=$(now_ns)
    "$docker" stop -t 5 "$cid" >/dev/null
    stop_s=$(secs_since "$start")
    stop_code=$("$docker" inspect -f '{{.State.ExitCode}}' "$cid")
    if awk -v t="$stop_s" 'BEGIN { exit !(t < 3) }'; then
        pass "docker stop ends a running generation in $stop_s s (exit $stop_code)"
    else
        fail "docker stop took $stop_s s (exit $stop_code): SIGTERM was not handled by PID 1"
    fi
fi
"$docker" rm -f "$cid" >/dev/null 2>&1 || true

# --- cache ------------------------------------------------------------------------------------------
log "Rebuild with no source change"
# Settle first: when sources were edited during this run (a developer at work), the first rebuild
# legitimately rebuilds; the timed one right after it must be fully cached.
build "$work/settle.log" -t "$image" >/dev/null
settled_id=$("$docker" image inspect -f '{{.Id}}' "$image")
[ "$settled_id" = "$image_id" ] || info "(sources changed during this run; the image was rebuilt first)"
image_id=$settled_id
rebuild_s=$(build "$work/rebuild.log" -t "$image")
rebuilt_id=$("$docker" image inspect -f '{{.Id}}' "$image")
info "rebuilt in $rebuild_s s"
if [ "$rebuilt_id" = "$image_id" ] && awk -v t="$rebuild_s" -v m="$max_cached_build_s" 'BEGIN { exit !(t <= m) }'; then
    pass "rebuild is fully cached ($rebuild_s s, same image id)"
else
    grep -E '^#[0-9]+ \[|DONE [0-9.]+s$' "$work/rebuild.log" | grep -v CACHED | tail -n 20 >&2 || true
    fail "rebuild with no change: $rebuild_s s (limit $max_cached_build_s s), image id $([ "$rebuilt_id" = "$image_id" ] && echo same || echo changed)"
fi

# --- summary ----------------------------------------------------------------------------------------
log "Figures"
info "build (this run):                 $build_s s${cold_flag:+ (cold, --no-cache)}"
info "cached rebuild:                   $rebuild_s s"
info "image with the default model:     $(mb "$size")"
info "image without a model:            $(mb "$size_no_model")"
info "docker run -> first token:        $ttft_s s"
info "docker run, 64 tokens, total:     $total_s s"

log "Result: ${#passes[@]} passed, ${#failures[@]} failed"
if [ ${#failures[@]} -gt 0 ]; then
    printf '    FAILED: %s\n' "${failures[@]}" >&2
    exit 1
fi
