#!/usr/bin/env python3
"""The exact f32 reference for the default model: transformers on the GGUF's dequantized weights.

Run by hand (needs torch, transformers, gguf; not needed by CI):
    python3 scripts/reference/exact_reference.py models/SmolLM2-135M-Instruct.Q4_1.gguf [--tokens ids.json]

Prints the greedy continuation of the reference prompt and the perplexity of /usr/share/common-licenses/GPL-3
computed as llama.cpp's llama-perplexity does (chunks of 512, second half scored). With --tokens, the text is
scored from the given token ids (e.g. `textgen tokenize -f FILE --ids --add-special`) instead of
transformers' tokenizer; --dump-tokens saves transformers' ids (the gpl3_ids_transformers.json fixture).
"""
import argparse, json, math, os, sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

ap = argparse.ArgumentParser()
ap.add_argument("gguf")
ap.add_argument("--tokens")
ap.add_argument("--ctx", type=int, default=512)
ap.add_argument("--text", default="/usr/share/common-licenses/GPL-3")
ap.add_argument("--dump-tokens", help="write transformers' token ids of the text to this JSON file")
args = ap.parse_args()

torch.set_num_threads(os.cpu_count() or 1)
d, f = os.path.split(os.path.abspath(args.gguf))
tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, torch_dtype=torch.float32).eval()

prompt = "Once upon a time, there was a little"
ids = tok(prompt, return_tensors="pt").input_ids
with torch.no_grad():
    out = model.generate(ids, max_new_tokens=40, do_sample=False)
print("greedy:", repr(tok.decode(out[0, ids.shape[1]:])))

if args.tokens:
    tokens = json.load(open(args.tokens))
else:
    tokens = tok(open(args.text).read(), add_special_tokens=True).input_ids
    if args.dump_tokens:
        json.dump(tokens, open(args.dump_tokens, "w"))
n_ctx = args.ctx
first = n_ctx // 2
nll, count = 0.0, 0
with torch.no_grad():
    for c in range(len(tokens) // n_ctx):
        chunk = torch.tensor([tokens[c * n_ctx:(c + 1) * n_ctx]])
        logits = model(chunk).logits[0].double()
        lp = torch.log_softmax(logits[first:n_ctx - 1], dim=-1)
        tgt = chunk[0, first + 1:]
        nll -= lp.gather(1, tgt[:, None]).sum().item()
        count += n_ctx - 1 - first
        print(f"[{c + 1}]{math.exp(nll / count):.4f}", end=",", file=sys.stderr, flush=True)
print(file=sys.stderr)
print(f"tokens {len(tokens)}  scored {count}  PPL {math.exp(nll / count):.4f}")
