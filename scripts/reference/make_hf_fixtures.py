#!/usr/bin/env python3
"""Tiny Hugging Face model folders (config.json + safetensors + tokenizer) with transformers as the reference.
Run by hand (not by CI); needs torch, transformers, tokenizers, safetensors, numpy (no Hub access):

    /work/refenv/bin/python scripts/reference/make_hf_fixtures.py

Writes into crates/textgen-core/tests/fixtures/hf/:

tok-byte-level/    A Llama-3/SmolLM-style tokenizer.json: byte-level BPE trained here on a small corpus, the
                   Llama-3 split regex, specials <|begin_of_text|> (BOS, added by the post-processor),
                   <|end_of_text|>, <|eot_id|>, <|im_start|>, <|im_end|>; tokenizer_config.json with a chat template.
tok-sentencepiece/ A Llama-2/TinyLlama/Mistral-style tokenizer.json: SentencePiece-style BPE (Prepend/Replace
                   "▁" normalizer, no pre-tokenizer) with byte fallback (<0x00>..<0xFF> at ids 3..258),
                   <unk>=0, <s>=1 (BOS, added by the post-processor), </s>=2, plus [INST] / [/INST] specials.
tok-llama-class/   The same tokenizer.json with tokenizer_class LlamaTokenizer (as Llama 2, TinyLlama and Mistral
                   folders have): transformers 5 replaces its normalizer with a Metaspace pre-tokenizer.
tokenizer_cases.json  {"cases": [...strings...], "<tokenizer dir>": {"with_special": [[ids]...],
                   "without_special": [[ids]...]}} from transformers' AutoTokenizer (add_special_tokens=True/False).

llama/    LlamaForCausalLM, rope_parameters llama3 (factor 8, original context 32), F32, sharded in 3 files with
          model.safetensors.index.json, byte-level tokenizer.
mistral/  MistralForCausalLM, sliding_window 4 (shorter than the test input), tied embeddings, F32 single
          model.safetensors, SentencePiece-style tokenizer.
llama-linear-f16/  LlamaForCausalLM (TinyLlama-style), rope_parameters linear (factor 2), attention_bias (q/k/v/o
          biases), head_dim 32 with hidden 64 and 4 heads (queries wider than the hidden size), tied embeddings,
          weights stored as F16, the tok-llama-class tokenizer.
qwen2/    Qwen2ForCausalLM (q/k/v biases), rope_theta 1e6, weights stored as BF16 (the reference runs the same
          BF16 values upcast to F32), byte-level tokenizer.
Each model folder also holds expected.json: input_ids, logits [n][vocab] of one no-cache forward pass in
float32 (eager attention) by transformers loading the saved folder, greedy: {prompt, ids (generated only), min_top2_gap}; llama's also q8_0_logits: the same pass with every
weight matrix rounded through Q8_0 blocks (the reference for --quantize q8_0).

Models are random (seeded) with a scaled init so next-token distributions are peaked, RMSNorm weights
1 + 0.1 N(0,1), and every bias random, so each code path changes the logits.
"""
import json
import os
import shutil

import torch

torch.set_num_threads(1)

import transformers  # noqa: E402
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers  # noqa: E402
from transformers import (  # noqa: E402
    AutoModelForCausalLM,
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    MistralConfig,
    MistralForCausalLM,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen2ForCausalLM,
)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../crates/textgen-core/tests/fixtures/hf")

CORPUS = [
    "Once upon a time, there was a little cat who lived in a small house near the river.",
    "The quick brown fox jumps over the lazy dog. The dog did not care at all.",
    "In 2024 the numbers 12345 and 678 were added: 12345 + 678 = 13023.",
    "def main():\n    print('hello world')\n    return 0\n",
    "Hello, world! How are you today? I'm fine, thanks. Don't worry, we'll see.",
    "She said: \"it's a beautiful day\", and they went outside to play in the sun.",
] * 20

CASES = [
    "Hello world",
    "Once upon a time, there was a little",
    "  leading and trailing spaces  ",
    "tabs\tand\nnewlines\n\n\nand\r\nCRLF",
    "        eight spaces",
    "\n",
    " ",
    "",
    "12345 + 678 = 13023, pi is 3.14159",
    "héllo wörld, ça va? naïve café",
    "日本語のテキストと中文文本",
    "emoji 🦀🚀 and family 👨‍👩‍👧",
    "don't won't it's we'll they've I'm you'd",
    "DON'T SHOUT",
    "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
    "<|begin_of_text|>text<|eot_id|> after",
    "[INST] a question [/INST] an answer</s>",
    "<s>starts with bos",
    " leading space",
    "[INST]  two spaces after a special",
    "trailing newline\n",
    "a" * 40,
]

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
LLAMA2_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}[INST] {{ m['content'] }} [/INST]"
    "{% else %} {{ m['content'] }}{{ eos_token }}{% endif %}{% endfor %}"
)


def byte_level_tokenizer():
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE())
    llama3_split = (
        r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
        r"|\s+(?!\S)|\s+"
    )
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(llama3_split), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=420, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS, trainer)
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.TemplateProcessing(
        single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B",
        special_tokens=[("<|begin_of_text|>", bos)],
    )
    config = {
        "bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>", "add_bos_token": True,
        "chat_template": CHAT_TEMPLATE, "model_max_length": 256, "tokenizer_class": "PreTrainedTokenizerFast",
    }
    return tok, config


def sentencepiece_tokenizer():
    specials = ["<unk>", "<s>", "</s>"]
    byte_tokens = [f"<0x{b:02X}>" for b in range(256)]
    tok = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.decoder = decoders.Sequence([
        decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0),
    ])
    trainer = trainers.BpeTrainer(
        vocab_size=420, special_tokens=specials + byte_tokens, limit_alphabet=60, show_progress=False,
    )
    tok.train_from_iterator(CORPUS, trainer)
    tok.add_special_tokens(["[INST]", "[/INST]"])
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)],
    )
    # The byte tokens belong to the model's vocabulary, not to the added (literal-match) tokens: rebuild.
    j = json.loads(tok.to_str())
    j["added_tokens"] = [t for t in j["added_tokens"] if not t["content"].startswith("<0x")]
    for t in j["added_tokens"]:
        t["special"] = True
    tok = Tokenizer.from_str(json.dumps(j))
    config = {
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "add_bos_token": True,
        "chat_template": LLAMA2_TEMPLATE, "model_max_length": 256, "tokenizer_class": "PreTrainedTokenizerFast",
    }
    return tok, config


def save_tokenizer(tok, config, folder):
    os.makedirs(folder, exist_ok=True)
    tok.save(os.path.join(folder, "tokenizer.json"))
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump(config, f, indent=1, ensure_ascii=False)


def tokenizer_cases(dirs):
    out = {"cases": CASES, "transformers_version": transformers.__version__}
    for name, folder in dirs.items():
        t = AutoTokenizer.from_pretrained(folder)
        out[name] = {
            "vocab_size": len(t),
            "bos_id": t.bos_token_id,
            "eos_id": t.eos_token_id,
            "with_special": [t(c, add_special_tokens=True)["input_ids"] for c in CASES],
            "without_special": [t(c, add_special_tokens=False)["input_ids"] for c in CASES],
        }
        print(name, "vocab", len(t), "example", out[name]["with_special"][11])
    return out


def randomize(model, lm_scale):
    torch.manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            elif name.endswith(".bias"):
                p.copy_(0.5 * torch.randn_like(p))
        if not model.config.tie_word_embeddings:
            model.lm_head.weight.mul_(lm_scale)


def reference(model, input_ids, prompt):
    model.eval()
    with torch.no_grad():
        logits = model(torch.tensor([input_ids])).logits[0].float()
        model.generation_config.eos_token_id = None
        model.generation_config.pad_token_id = 2  # never in a prompt (a pad id in it would be masked)
        out = model.generate(
            torch.tensor([prompt]), attention_mask=torch.ones(1, len(prompt), dtype=torch.long), do_sample=False, max_new_tokens=12, output_scores=True,
            return_dict_in_generate=True,
        )
    ids = out.sequences[0][len(prompt):].tolist()
    gap = min(float(s[0].topk(2).values[0] - s[0].topk(2).values[1]) for s in out.scores)
    return {
        "input_ids": input_ids,
        "logits": [[float(x) for x in row] for row in logits],
        "greedy": {"prompt": prompt, "ids": ids, "min_top2_gap": gap},
    }


def q8_0_logits(model, input_ids):
    """Logits after every 2-D weight is rounded through GGML Q8_0 blocks (32 values, f16 scale amax/127,
    q = roundf(x * (1/scale))): the reference for textgen's --quantize q8_0."""
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 2:
                w = p.reshape(-1, 32)
                d = (w.abs().amax(1, keepdim=True) / 127).half().float()
                inv = torch.where(d > 0, 1.0 / d, torch.zeros_like(d))
                x = w * inv
                q = torch.sign(x) * torch.floor(x.abs() + 0.5)  # C roundf: halves away from zero, as GGML
                p.copy_((q.clamp(-127, 127) * d).reshape(p.shape))
        return [[float(x) for x in row] for row in model(torch.tensor([input_ids])).logits[0]]


def write_model(folder, model, tok_dir, input_ids, prompt, with_q8_0=False, **save):
    shutil.rmtree(folder, ignore_errors=True)
    model.save_pretrained(folder, **save)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(tok_dir, f), folder)
    # The reference is transformers loading the saved folder (BF16 weights upcast to F32, as textgen reads them).
    reloaded = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager")
    expected = reference(reloaded, input_ids, prompt)
    if with_q8_0:
        expected["q8_0_logits"] = q8_0_logits(reloaded, input_ids)
    expected["transformers_version"] = transformers.__version__
    expected["torch_version"] = torch.__version__
    with open(os.path.join(folder, "expected.json"), "w") as f:
        json.dump(expected, f)
    print(folder, sorted(os.listdir(folder)), "greedy", expected["greedy"]["ids"],
          "gap", expected["greedy"]["min_top2_gap"])


def common(vocab, **extra):
    return dict(
        vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=256, initializer_range=0.2, attn_implementation="eager",
        **extra,
    )


def main():
    os.makedirs(OUT, exist_ok=True)
    bl_dir, sp_dir = os.path.join(OUT, "tok-byte-level"), os.path.join(OUT, "tok-sentencepiece")
    save_tokenizer(*byte_level_tokenizer(), bl_dir)
    save_tokenizer(*sentencepiece_tokenizer(), sp_dir)
    llama_dir = os.path.join(OUT, "tok-llama-class")
    sp_tok, sp_config = sentencepiece_tokenizer()
    save_tokenizer(sp_tok, dict(sp_config, tokenizer_class="LlamaTokenizer"), llama_dir)
    cases = tokenizer_cases({"tok-byte-level": bl_dir, "tok-sentencepiece": sp_dir, "tok-llama-class": llama_dir})
    with open(os.path.join(OUT, "tokenizer_cases.json"), "w") as f:
        json.dump(cases, f, ensure_ascii=False, indent=0)

    bl_vocab = len(PreTrainedTokenizerFast(tokenizer_file=os.path.join(bl_dir, "tokenizer.json")))
    sp_vocab = len(PreTrainedTokenizerFast(tokenizer_file=os.path.join(sp_dir, "tokenizer.json")))
    ids = list(range(5, 19))  # 14 positions: longer than Mistral's window of 4

    torch.manual_seed(0)
    llama = LlamaForCausalLM(LlamaConfig(**common(
        bl_vocab, rms_norm_eps=1e-5, tie_word_embeddings=False, bos_token_id=0, eos_token_id=2,
        rope_parameters={"rope_type": "llama3", "rope_theta": 10000.0, "factor": 8.0, "low_freq_factor": 1.0,
                         "high_freq_factor": 4.0, "original_max_position_embeddings": 32},
    )))
    randomize(llama, 2.5)
    write_model(os.path.join(OUT, "llama"), llama, bl_dir, ids, [0, 40, 41, 42], with_q8_0=True,
                max_shard_size="200KB")

    torch.manual_seed(0)
    mistral = MistralForCausalLM(MistralConfig(**common(
        sp_vocab, rms_norm_eps=1e-5, tie_word_embeddings=True, sliding_window=4, rope_theta=10000.0,
        bos_token_id=1, eos_token_id=2,
    )))
    randomize(mistral, 1.0)
    with torch.no_grad():
        mistral.model.embed_tokens.weight.mul_(2.5)
    write_model(os.path.join(OUT, "mistral"), mistral, sp_dir, ids, [1, 300, 301, 302, 303, 304, 305])

    torch.manual_seed(0)
    tiny = LlamaForCausalLM(LlamaConfig(**common(
        sp_vocab, rms_norm_eps=1e-5, tie_word_embeddings=True, attention_bias=True, head_dim=32, bos_token_id=1,
        eos_token_id=2, rope_parameters={"rope_type": "linear", "rope_theta": 10000.0, "factor": 2.0},
    )))
    randomize(tiny, 1.0)
    with torch.no_grad():
        tiny.model.embed_tokens.weight.mul_(2.5)
    write_model(os.path.join(OUT, "llama-linear-f16"), tiny.to(torch.float16), llama_dir, ids, [1, 300, 301])

    torch.manual_seed(0)
    qwen = Qwen2ForCausalLM(Qwen2Config(**common(
        bl_vocab, rms_norm_eps=1e-6, tie_word_embeddings=False, rope_theta=1000000.0, bos_token_id=0,
        eos_token_id=2,
    )))
    randomize(qwen, 2.5)
    qwen = qwen.to(torch.bfloat16)
    write_model(os.path.join(OUT, "qwen2"), qwen, bl_dir, ids, [0, 50, 51])


if __name__ == "__main__":
    main()
