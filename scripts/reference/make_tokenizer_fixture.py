#!/usr/bin/env python3
"""Token-id fixtures from llama.cpp's `llama-tokenize` (the GGUF reference tokenizer). Run by hand.

    python3 scripts/reference/make_tokenizer_fixture.py LLAMA_TOKENIZE MODEL.gguf

LLAMA_TOKENIZE is the binary built by scripts/bench-vs-llamacpp.sh (or BENCHMARKS.md's recipe). Writes
crates/textgen-core/tests/fixtures/smollm2_tokenizer.json (tricky strings) and gpl3_ids_llama_cpp.json
(the whole GPL-3 text with the model's special tokens added, as llama-perplexity tokenizes it).
"""
import json, os, subprocess, sys, tempfile

CASES = [
    "Hello world",
    "Once upon a time, there was a little",
    "  leading and trailing spaces  ",
    "tabs\tand\nnewlines\n\n\nand\r\nCRLF",
    "        eight spaces then text",
    "\n",
    " ",
    "12345 + 678 = 13023, pi is 3.14159",
    "Prices: $1,000.50 or €2.000,75 (10%)",
    "héllo wörld, ça va? naïve café",
    "日本語のテキストと中文文本",
    "Привет, мир! Γειά σου κόσμε",
    "emoji 🦀🚀 and flags 🇫🇷 and family 👨‍👩‍👧",
    "mixed👍🏽skin tones",
    "def f(x):\n    return x**2  # square\n",
    "<html><body class=\"x\">&amp;</body></html>",
    "don't won't it's we'll they've I'm you'd",
    "DON'T SHOUT",
    "a" * 50,
    "!!!???...,,,;;;",
    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
    "<|endoftext|>text after end",
    "snake_case_identifier and camelCaseIdentifier",
    "https://example.com/path?q=1&r=two#frag",
    "\u00a0non-breaking\u2009thin\u200bzero-width",
]

FIXTURES = os.path.join(os.path.dirname(__file__), "../../crates/textgen-core/tests/fixtures")


def tokenize(binary, model, text, add_special):
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", delete=False, suffix=".txt") as f:
        f.write(text)
    try:
        args = [binary, "-m", model, "-f", f.name, "--ids", "--no-escape", "--log-disable"]
        args += [] if add_special else ["--no-bos"]
        out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(f.name)
    return json.loads(out.strip().splitlines()[-1])


def main():
    binary, model = sys.argv[1], sys.argv[2]
    cases = [{"text": t, "ids": tokenize(binary, model, t, False)} for t in CASES]
    with open(os.path.join(FIXTURES, "smollm2_tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(cases, f, ensure_ascii=False, indent=0)
    gpl = open("/usr/share/common-licenses/GPL-3", encoding="utf-8").read()
    with open(os.path.join(FIXTURES, "gpl3_ids_llama_cpp.json"), "w") as f:
        json.dump(tokenize(binary, model, gpl, True), f)


if __name__ == "__main__":
    main()
