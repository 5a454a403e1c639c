#!/usr/bin/env bash
# Measures textgen against llama.cpp on the same GGUF, same machine, same run, same threads and sizes, and
# prints a table of ratios (textgen / llama.cpp). Every speed claim in README comes from this script.
#
# Usage: scripts/bench-vs-llamacpp.sh [--tests decode,prefill,batched,start,ppl] [--threads 1,2] [--reps 3]
#                                     [--quants Q4_1,Q8_0,Q4_K_M] [--model FILE]
# llama.cpp comes from the PyPI package llama-cpp-python (its sdist vendors llama.cpp): built once with cmake
# (~10 min on 2 cores) and cached under ~/.cache/textgen/llamacpp. Other quantizations of the model are made
# with llama.cpp's llama-quantize and cached under ~/.cache/textgen/quants. Tests alternate llama.cpp and
# textgen run by run, so machine drift hits both alike.
set -euo pipefail
cd "$(dirname "$0")/.."

LLAMA_CPP_PYTHON="llama-cpp-python==0.3.36"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/textgen"
src="$cache/llamacpp/llama_cpp_python-0.3.36/vendor/llama.cpp"
bin="$src/build/bin"
targets=(llama-bench llama-batched-bench llama-perplexity llama-completion llama-quantize)

# Builds the targets into $1 (extra cmake arguments follow).
build() {
  local dir=$1
  shift
  cmake -S "$src" -B "$dir" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
    -DLLAMA_BUILD_TESTS=OFF "$@" >/dev/null
  cmake --build "$dir" -j"$(nproc)" --target "${targets[@]}" >/dev/null
}

# Whether the llama.cpp tools in $1 process a prompt on this machine (the subshell's stderr takes the shell's
# report of a crash).
works() {
  (LD_LIBRARY_PATH="$1" "$1/llama-bench" -m "$model" -t 1 -p 16 -n 0 -r 1 >/dev/null 2>&1; exit $?) 2>/dev/null
}

model=models/SmolLM2-135M-Instruct.Q4_1.gguf
scripts/fetch-default-model.sh
need_build=0
for t in "${targets[@]}"; do [ -x "$bin/$t" ] || need_build=1; done
if [ "$need_build" = 1 ]; then
  command -v cmake >/dev/null || { apt-get update -qq && apt-get install -y -qq cmake >/dev/null; }
  mkdir -p "$cache/llamacpp"
  if [ ! -d "$src" ]; then
    echo "fetching llama.cpp (sdist of $LLAMA_CPP_PYTHON) from PyPI..." >&2
    python3 -m pip download --quiet --no-deps --no-binary :all: --disable-pip-version-check \
      "$LLAMA_CPP_PYTHON" -d "$cache/llamacpp" >&2
    tar xzf "$cache/llamacpp"/llama_cpp_python-0.3.36.tar.gz -C "$cache/llamacpp"
  fi
  echo "building llama.cpp (once; cached)..." >&2
  build "$src/build"
fi
note="llama.cpp: native build (-DGGML_NATIVE=ON)"
amx=()
# The native build uses AMX where the CPU reports it. Some VMs report AMX without enabling its tile state: there
# llama.cpp's AMX path dies with SIGILL at the first prompt (seen on the 2-core Xeon KVM guests, 2026-12), so
# the comparison uses llama.cpp built without AMX (AVX-512 VNNI kernels, otherwise the same native build). The
# AMX build's decode (no tile instructions for one token) still runs: the table shows it as well.
if ! works "$bin"; then
  amx=(--llama-amx-bin "$bin")
  noamx="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
  bin="$src/build-noamx/bin"
  if ! works "$bin"; then
    echo "llama.cpp's native build fails on this machine; building it without AMX (once; cached)..." >&2
    build "$src/build-noamx" "-DCMAKE_C_FLAGS=$noamx" "-DCMAKE_CXX_FLAGS=$noamx"
    works "$bin" || { echo "llama.cpp fails on this machine even without AMX" >&2; exit 1; }
  fi
  note="llama.cpp: native build without AMX ($noamx; the AMX build dies with SIGILL at prefill here)"
fi

cargo build --release --locked --quiet
export LD_LIBRARY_PATH="$bin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
exec python3 scripts/bench_vs_llamacpp.py --llama-bin "$bin" --textgen target/release/textgen \
  --quant-dir "$cache/quants" --note "$note" "${amx[@]}" "$@"
