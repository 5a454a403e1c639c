#!/usr/bin/env python3
"""Runs llama.cpp's tools and textgen alternately on the same model and prints a table of ratios.

Called by scripts/bench-vs-llamacpp.sh (which builds both); see that script for usage.
"""
import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

GPL3 = "/usr/share/common-licenses/GPL-3"


def run(cmd, env=None):
    """Runs cmd (in env, else this process's environment); returns (stdout + stderr, wall seconds). Fails
    loudly."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    out, err = p.communicate()
    wall = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"command failed ({p.returncode}): {' '.join(cmd)}\n{err[-2000:]}")
    return out + err, wall


def run_rss(cmd):
    """Runs cmd; returns (wall seconds, peak RSS in MB) measured with wait4."""
    t = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.execvp(cmd[0], cmd)
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"command failed: {' '.join(cmd)}")
    return wall, ru.ru_maxrss / 1024.0


def jsonl(text):
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return rows


class Bench:
    def __init__(self, a):
        self.a = a
        self.lb = lambda tool: os.path.join(a.llama_bin, tool)

    # Each method returns (llama.cpp value, textgen value) for one alternating round.
    def llama_tg(self, bindir, model, t, n):
        env = dict(os.environ, LD_LIBRARY_PATH=bindir)
        out, _ = run([os.path.join(bindir, "llama-bench"), "-m", model, "-t", str(t), "-p", "0", "-n", str(n),
                      "-r", "1", "-o", "jsonl"], env)
        return jsonl(out)[-1]["avg_ts"]

    def textgen_tg(self, model, t, n):
        out, _ = run([self.a.textgen, "bench", "-m", model, "-t", str(t), "-p", "0", "-n", str(n), "-r", "1", "--json"])
        return [r for r in jsonl(out) if r.get("test") == f"tg{n}"][0]["t/s"]

    def decode(self, model, t, n=128):
        return self.llama_tg(self.a.llama_bin, model, t, n), self.textgen_tg(model, t, n)

    def decode_amx(self, model, t, n=128):
        """decode against llama.cpp's AMX build (whose prefill dies on some VMs)."""
        return self.llama_tg(self.a.llama_amx_bin, model, t, n), self.textgen_tg(model, t, n)

    def prefill(self, model, t, n=512):
        out, _ = run([self.lb("llama-bench"), "-m", model, "-t", str(t), "-p", str(n), "-n", "0", "-r", "1", "-o", "jsonl"])
        ll = jsonl(out)[-1]["avg_ts"]
        out, _ = run([self.a.textgen, "bench", "-m", model, "-t", str(t), "-p", str(n), "-n", "0", "-r", "1", "--json"])
        tg = [r for r in jsonl(out) if r.get("test") == f"pp{n}"][0]["t/s"]
        return ll, tg

    def batched(self, model, t, npl):
        out, _ = run([self.lb("llama-batched-bench"), "-m", model, "-c", "4096", "-b", "2048", "-ub", "512",
                      "-npp", "128", "-ntg", "64", "-npl", str(npl), "-t", str(t), "--output-format", "jsonl"])
        ll = [r for r in jsonl(out) if "speed_tg" in r][-1]["speed_tg"]
        out, _ = run([self.a.textgen, "bench", "-m", model, "-t", str(t), "--parallel", str(npl),
                      "--prompt-tokens", "128", "--gen-tokens", "64", "--json"])
        tg = [r for r in jsonl(out) if r.get("test") == "batched"][0]["s_tg"]
        return ll, tg

    def start(self, model, t):
        ll = run_rss([self.lb("llama-completion"), "-m", model, "-p", "Hello", "-n", "1", "-c", "512",
                      "--no-warmup", "-no-cnv", "-t", str(t)])
        tg = run_rss([self.a.textgen, "generate", "-m", model, "-t", str(t), "-n", "1", "Hello"])
        return ll, tg

    def ppl(self, model, t):
        out, _ = run([self.lb("llama-perplexity"), "-m", model, "-f", GPL3, "-c", "512", "-t", str(t)])
        ll = float(re.search(r"Final estimate: PPL = ([0-9.]+)", out).group(1))
        out, _ = run([self.a.textgen, "perplexity", "-m", model, "-f", GPL3, "-c", "512", "-t", str(t)])
        tg = float(re.search(r"PPL = ([0-9.]+)", out).group(1))
        return ll, tg


def quantized(a, base, q):
    """The model in quantization q (made once with llama-quantize --allow-requantize)."""
    if q == "Q4_1":
        return base
    os.makedirs(a.quant_dir, exist_ok=True)
    out = os.path.join(a.quant_dir, f"SmolLM2-135M-Instruct.{q}.gguf")
    if not os.path.exists(out):
        run([os.path.join(a.llama_bin, "llama-quantize"), "--allow-requantize", base, out + ".tmp", q])
        os.replace(out + ".tmp", out)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--llama-bin", required=True)
    p.add_argument("--textgen", required=True)
    p.add_argument("--quant-dir", required=True)
    p.add_argument("--model", default="models/SmolLM2-135M-Instruct.Q4_1.gguf")
    p.add_argument("--tests", default="decode,prefill,batched,start,ppl")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--quants", default="Q4_1")
    p.add_argument("--note", default="")
    p.add_argument("--llama-amx-bin", default="")
    a = p.parse_args()
    b = Bench(a)
    threads = [int(x) for x in a.threads.split(",")]
    tmax = max(threads)
    tests = a.tests.split(",")
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
    out, _ = run([a.textgen, "bench", "-m", a.model, "-p", "8", "-n", "0", "-r", "1", "--json"])
    isa = next((r["isa"] for r in jsonl(out) if "isa" in r), "?")
    print(f"machine: {cpu}, {os.cpu_count()} cores; {datetime.date.today()}; {a.reps} alternating runs each (mean)")
    print(f"textgen kernels: {isa}; {a.note}\n")
    print("| model | test | threads | llama.cpp | textgen | textgen / llama.cpp | better when |")
    print("|---|---|---|---|---|---|---|")
    for q in a.quants.split(","):
        model = quantized(a, a.model, q)
        cases = []
        if "decode" in tests:
            cases += [(f"decode tg128 (tok/s)", t, lambda m, t=t: b.decode(m, t), "higher") for t in threads]
            if a.llama_amx_bin:
                cases += [(f"decode tg128 (tok/s) vs llama.cpp's AMX build (its prefill dies here)", t,
                           lambda m, t=t: b.decode_amx(m, t), "higher") for t in threads]
        if "prefill" in tests:
            cases.append(("prefill pp512 (tok/s)", tmax, lambda m: b.prefill(m, tmax), "higher"))
        if "batched" in tests:
            for npl in (1, 4, 16):
                cases.append((f"batched decode, {npl} parallel, S_TG (tok/s)", tmax,
                              lambda m, npl=npl: b.batched(m, tmax, npl), "higher"))
        for name, t, fn, better in cases:
            pairs = [fn(model) for _ in range(a.reps)]
            ll = statistics.mean(x[0] for x in pairs)
            tg = statistics.mean(x[1] for x in pairs)
            print(f"| {q} | {name} | {t} | {ll:.2f} | {tg:.2f} | {tg / ll:.2f}x | {better} |", flush=True)
        if "start" in tests:
            pairs = [b.start(model, tmax) for _ in range(a.reps)]
            for i, (name, fmt) in enumerate([("cold start, exec to first token, ctx 512 (s)", "{:.3f}"),
                                             ("peak RSS, ctx 512 (MB)", "{:.1f}")]):
                ll = statistics.mean(x[0][i] for x in pairs)
                tg = statistics.mean(x[1][i] for x in pairs)
                print(f"| {q} | {name} | {tmax} | {fmt.format(ll)} | {fmt.format(tg)} | {tg / ll:.2f}x | lower |", flush=True)
        if "ppl" in tests:
            ll, tg = b.ppl(model, tmax)
            print(f"| {q} | perplexity, GPL-3, ctx 512 | {tmax} | {ll:.4f} | {tg:.4f} | {tg / ll:.3f}x | exact f32 reference: 18.3001 (Q4_1) |", flush=True)


if __name__ == "__main__":
    main()
