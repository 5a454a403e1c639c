#!/usr/bin/env python3
"""Renders a fixed set of conversations with transformers' `apply_chat_template` for every template in
crates/textgen-core/tests/fixtures/chat_templates/*.json (each a subset of a model's tokenizer_config.json:
chat_template, bos_token, eos_token) and writes expected.json next to them.

Run once in a throwaway venv (no torch needed):
    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install transformers jinja2
    /tmp/venv/bin/python scripts/reference/make_chat_template_fixtures.py

Template sources: SmolLM2-135M-Instruct (the GGUF's tokenizer.chat_template), Meta-Llama-3-8B-Instruct,
Mistral-7B-Instruct-v0.1, Qwen2-7B-Instruct and gemma-7b-it tokenizer_config.json; hf_features.json is
written here to exercise what Hugging Face templates use beyond plain Jinja (namespace, loop controls,
Python string methods, tojson, whitespace control).
"""
import json
import pathlib

import transformers
from tokenizers import Tokenizer, models
from transformers import PreTrainedTokenizerFast

DIR = pathlib.Path(__file__).resolve().parents[2] / "crates/textgen-core/tests/fixtures/chat_templates"

CONVERSATIONS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [
        {"role": "system", "content": "You are a terse assistant."},
        {"role": "user", "content": "Hi!"},
    ],
    [
        {"role": "system", "content": "You answer in French."},
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Bonjour !"},
        {"role": "user", "content": "How are you?"},
    ],
    [
        {"role": "user", "content": "Tell me a joke."},
        {"role": "assistant", "content": "Why did the crab never share? Because it was shellfish."},
    ],
    [
        {"role": "user", "content": "  Ünïcödé 🦀 and spaces  \n"},
        {"role": "assistant", "content": "\n  trimmed? \"quoted\" <tag> & {braces}  "},
        {"role": "user", "content": "Line one\nLine two\n\nLine four"},
    ],
    [
        {"role": "user", "content": "1"},
        {"role": "assistant", "content": "2"},
        {"role": "user", "content": "3"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "5"},
        {"role": "assistant", "content": "6"},
        {"role": "user", "content": "7"},
    ],
]


def tokenizer_for(cfg):
    vocab = {"<unk>": 0}
    for key in ("bos_token", "eos_token"):
        if isinstance(cfg.get(key), str):
            vocab.setdefault(cfg[key], len(vocab))
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=cfg.get("bos_token"),
        eos_token=cfg.get("eos_token"),
        unk_token="<unk>",
        chat_template=cfg["chat_template"],
    )


def main():
    cases = []
    for path in sorted(DIR.glob("*.json")):
        if path.name == "expected.json":
            continue
        cfg = json.loads(path.read_text())
        tok = tokenizer_for(cfg)
        for i, conv in enumerate(CONVERSATIONS):
            for gen in (True, False):
                case = {"template": path.stem, "conversation": i, "add_generation_prompt": gen}
                try:
                    case["output"] = tok.apply_chat_template(conv, tokenize=False, add_generation_prompt=gen)
                except Exception as e:  # the template's raise_exception (e.g. Gemma refuses a system turn)
                    case["error"] = str(e)
                cases.append(case)
    out = {
        "generated_by": f"scripts/reference/make_chat_template_fixtures.py, transformers {transformers.__version__}",
        "conversations": CONVERSATIONS,
        "cases": cases,
    }
    (DIR / "expected.json").write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
    print(f"{len(cases)} cases, {sum('error' in c for c in cases)} errors")


if __name__ == "__main__":
    main()
