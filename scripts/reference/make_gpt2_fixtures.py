#!/usr/bin/env python3
"""Tiny GPT-2 and SentencePiece-vocabulary fixtures with Hugging Face transformers as the reference. Run by hand
(not by CI); needs torch, transformers, tokenizers, sentencepiece, safetensors, gguf, numpy:

    /work/refenv/bin/python scripts/reference/make_gpt2_fixtures.py

Writes into crates/textgen-core/tests/fixtures/:

tiny-gpt2/hf/ (config.json, model.safetensors, tokenizer.json, tokenizer_config.json)
    A random GPT2LMHeadModel (vocab VOCAB, n_embd 64, 2 layers, 4 heads, n_positions 64, gelu_new, tied
    lm_head), float32, saved with save_pretrained, with a byte-level BPE tokenizer trained here with the
    `tokenizers` library on CORPUS (special token <|endoftext|> = id 0, bos = eos). To make the test useful
    the init is scaled (initializer_range 0.2), LayerNorm weights are 1 + 0.1 N(0,1) and every bias is
    0.1 N(0,1) (a forgotten bias changes the logits).
tiny-gpt2/model.gguf
    The same model written the way llama.cpp's convert_hf_to_gguf.py writes GPT-2: architecture "gpt2",
    Conv1D weights transposed to the Linear [out, in] layout, fused attn_qkv, output.weight = token_embd,
    tokenizer.ggml.model "gpt2" (pre "gpt-2"), token types CONTROL for special added tokens, merges.
tiny-gpt2/expected.json
    transformers_version; logits_input_ids and logits ([n][VOCAB], float32 shortest decimals) of one
    forward pass; generate: [{prompt, ids, min_top2_gap}] greedy continuations (max_new_tokens 16, no eos
    stop); tokenizer: [{text, add_special_tokens, ids, decoded}] for TRICKY strings (decoded =
    tokenizer.decode(ids) with special tokens kept).
tiny-spm/vocab.gguf
    A tensor-less GGUF holding a SentencePiece BPE vocabulary (trained here with `sentencepiece`, byte
    fallback, digits split, vocab SPM_VOCAB) as llama.cpp's converter writes it: tokenizer.ggml.model
    "llama", tokens, scores, token_type (NORMAL 1, UNKNOWN 2, CONTROL 3, USER_DEFINED 4, BYTE 6),
    bos 1, eos 2, unk 0, add_bos_token true, add_eos_token false.
tiny-spm/expected.json
    transformers_version; tokenizer: [{text, add_special_tokens, ids, decoded}] from transformers'
    LlamaTokenizer built from the SentencePiece model (its default settings), for TRICKY strings. The script
    checks that transformers' own GGUF loader (AutoTokenizer with gguf_file) gives the same ids from vocab.gguf.
"""
import json
import os
import shutil
import tempfile

import numpy as np
import torch

torch.set_num_threads(1)

import gguf  # noqa: E402
import sentencepiece as spm  # noqa: E402
import transformers  # noqa: E402
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers  # noqa: E402
from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast, LlamaTokenizer  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../crates/textgen-core/tests/fixtures")
GPT2_DIR = os.path.join(FIXTURES, "tiny-gpt2")
SPM_DIR = os.path.join(FIXTURES, "tiny-spm")

VOCAB, HIDDEN, LAYERS, HEADS, CTX = 384, 64, 2, 4, 64
LN_EPS = 1e-5
EOT = "<|endoftext|>"
SPM_VOCAB = 420

CORPUS = [
    "Once upon a time, there was a little girl named Emma who loved to play in the sun.",
    "The quick brown fox jumps over the lazy dog. The cat sat on the mat.",
    "Hello, world! Hello there; how are you today? I'm fine, thanks. You're welcome.",
    "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n",
    "In 1969, the first humans walked on the moon. 3.14159 and 2,718 are numbers; 42 is the answer.",
    "Café, naïve, résumé and façade keep their accents. Ünïcödé is everywhere.",
    "Tabs\tand  double  spaces   and\nnewlines\n\nare whitespace.",
    "It's a dog's life; they'll say we've done what I'd do.",
]

TRICKY = [
    "Hello, world!",
    " leading space",
    "trailing space ",
    "  two leading spaces",
    "multiple    inner     spaces",
    "line one\nline two\n\nline four",
    "\ttab\tseparated\tvalues",
    "\n\n",
    " ",
    "",
    "digits 0123456789 and 3.14159",
    "emoji 🦀🚀 and ❤️",
    "CJK 你好世界 日本語",
    "accents: café naïve Ünïcödé",
    "unknown ☃ ∮ ⅏ characters",
    "It's you're we'll they'd",
    "def f(x):\n    return x * 2\n",
    f"special {EOT} in text",
    f"{EOT}starts with special",
    "<s>bos text</s> and <unk>",
    "mixed \r\n windows line",
]


def f32_list(a):
    """float32 values as their shortest round-trip decimals."""
    return [float(str(x)) for x in np.asarray(a, dtype=np.float32).ravel()]


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")


def tokenizer_cases(tok, texts):
    out = []
    for text in texts:
        for add in (True, False):
            ids = tok(text, add_special_tokens=add)["input_ids"]
            out.append({"text": text, "add_special_tokens": add, "ids": ids, "decoded": tok.decode(ids)})
    return out


# ----------------------------------------------------------------------------------------------- GPT-2


def train_byte_level_bpe():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB, special_tokens=[EOT], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS * 4, trainer)
    assert tok.get_vocab_size() == VOCAB, tok.get_vocab_size()
    return GPT2TokenizerFast(tokenizer_object=tok, bos_token=EOT, eos_token=EOT, unk_token=EOT)


def build_gpt2():
    cfg = GPT2Config(
        vocab_size=VOCAB, n_positions=CTX, n_embd=HIDDEN, n_layer=LAYERS, n_head=HEADS,
        activation_function="gelu_new", layer_norm_epsilon=LN_EPS, initializer_range=0.2,
        bos_token_id=0, eos_token_id=0, tie_word_embeddings=True,
    )
    cfg._attn_implementation = "eager"
    torch.manual_seed(0)
    model = GPT2LMHeadModel(cfg).eval().to(torch.float32)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight")):
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            elif name.endswith(".bias"):
                p.copy_(0.1 * torch.randn_like(p))
    return model


def gpt2_gguf_tensors(model):
    sd = {k: v.detach().to(torch.float32).numpy() for k, v in model.state_dict().items()}
    t = {"token_embd.weight": sd["transformer.wte.weight"], "position_embd.weight": sd["transformer.wpe.weight"]}
    for i in range(LAYERS):
        p = f"transformer.h.{i}."
        for ours, theirs in [("attn_norm", "ln_1"), ("ffn_norm", "ln_2")]:
            t[f"blk.{i}.{ours}.weight"] = sd[p + theirs + ".weight"]
            t[f"blk.{i}.{ours}.bias"] = sd[p + theirs + ".bias"]
        for ours, theirs in [("attn_qkv", "attn.c_attn"), ("attn_output", "attn.c_proj"),
                             ("ffn_up", "mlp.c_fc"), ("ffn_down", "mlp.c_proj")]:
            t[f"blk.{i}.{ours}.weight"] = sd[p + theirs + ".weight"].T  # Conv1D [in, out] -> Linear [out, in]
            t[f"blk.{i}.{ours}.bias"] = sd[p + theirs + ".bias"]
    t["output_norm.weight"] = sd["transformer.ln_f.weight"]
    t["output_norm.bias"] = sd["transformer.ln_f.bias"]
    t["output.weight"] = sd["transformer.wte.weight"]  # llama.cpp writes the tied head explicitly
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in t.items()}


def write_gpt2_gguf(path, tensors, tok):
    w = gguf.GGUFWriter(path, "gpt2")
    w.add_name("tiny-gpt2-random")
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_block_count(LAYERS)
    w.add_context_length(CTX)
    w.add_embedding_length(HIDDEN)
    w.add_feed_forward_length(4 * HIDDEN)
    w.add_head_count(HEADS)
    w.add_layer_norm_eps(LN_EPS)
    doc = json.loads(tok.backend_tokenizer.to_str())
    vocab = doc["model"]["vocab"]
    tokens = [None] * len(vocab)
    for piece, i in vocab.items():
        tokens[i] = piece
    added = {a["id"]: a for a in doc["added_tokens"]}
    types = []
    for i in range(len(tokens)):
        if i in added:
            types.append(int(gguf.TokenType.CONTROL if added[i]["special"] else gguf.TokenType.USER_DEFINED))
        else:
            types.append(int(gguf.TokenType.NORMAL))
    merges = [m if isinstance(m, str) else " ".join(m) for m in doc["model"]["merges"]]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(tok.bos_token_id)
    w.add_eos_token_id(tok.eos_token_id)
    w.add_add_bos_token(False)
    for name, arr in tensors.items():
        w.add_tensor(name, arr)  # numpy shape [out, in]; GGUF stores dims reversed: [in, out]
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def greedy(model, prompt, n=16):
    ids = torch.tensor([prompt])
    out = model.generate(ids, max_new_tokens=n, min_new_tokens=n, do_sample=False, output_scores=True,
                         return_dict_in_generate=True, pad_token_id=0)
    gap = min(float(torch.topk(s[0], 2).values[0] - torch.topk(s[0], 2).values[1]) for s in out.scores)
    return out.sequences[0, len(prompt):].tolist(), gap


def make_gpt2():
    tok = train_byte_level_bpe()
    model = build_gpt2()
    hf = os.path.join(GPT2_DIR, "hf")
    shutil.rmtree(GPT2_DIR, ignore_errors=True)
    os.makedirs(hf)
    model.save_pretrained(hf, safe_serialization=True)
    tok.save_pretrained(hf)
    for extra in os.listdir(hf):
        if extra not in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
            os.remove(os.path.join(hf, extra))
    write_gpt2_gguf(os.path.join(GPT2_DIR, "model.gguf"), gpt2_gguf_tensors(model), tok)

    # The reference is what a user gets from the saved folder.
    tok = AutoTokenizer.from_pretrained(hf)
    model = GPT2LMHeadModel.from_pretrained(hf, attn_implementation="eager").eval()
    logits_ids = tok("Hello, world! The cat sat on the mat.")["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([logits_ids])).logits[0]
    gens = []
    for text in ["Once upon a time", "def fibonacci(n):", "The"]:
        prompt = tok(text)["input_ids"]
        ids, gap = greedy(model, prompt)
        gens.append({"prompt": prompt, "ids": ids, "min_top2_gap": gap})
    write_json(os.path.join(GPT2_DIR, "expected.json"), {
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "logits_input_ids": logits_ids,
        "logits": [f32_list(row) for row in logits.numpy()],
        "generate": gens,
        "tokenizer": tokenizer_cases(tok, TRICKY),
    })


# ----------------------------------------------------------------------------------------------- SentencePiece


def train_spm(tmp):
    prefix = os.path.join(tmp, "spm")
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS * 4), model_prefix=prefix, vocab_size=SPM_VOCAB, model_type="bpe",
        byte_fallback=True, split_digits=True, normalization_rule_name="identity",
        remove_extra_whitespaces=False, allow_whitespace_only_pieces=True, character_coverage=1.0,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, add_dummy_prefix=True, minloglevel=2,
    )
    return prefix + ".model"


def write_spm_gguf(path, model_file):
    sp = spm.SentencePieceProcessor(model_file=model_file)
    tokens, scores, types = [], [], []
    for i in range(sp.vocab_size()):
        tokens.append(sp.id_to_piece(i))
        scores.append(sp.get_score(i))
        if sp.is_unknown(i):
            types.append(int(gguf.TokenType.UNKNOWN))
        elif sp.is_control(i):
            types.append(int(gguf.TokenType.CONTROL))
        elif sp.is_unused(i):
            types.append(int(gguf.TokenType.UNUSED))
        elif sp.is_byte(i):
            types.append(int(gguf.TokenType.BYTE))
        else:
            types.append(int(gguf.TokenType.NORMAL))
    w = gguf.GGUFWriter(path, "llama")
    w.add_name("tiny-spm-vocab")
    w.add_tokenizer_model("llama")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(sp.bos_id())
    w.add_eos_token_id(sp.eos_id())
    w.add_unk_token_id(sp.unk_id())
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def make_spm():
    shutil.rmtree(SPM_DIR, ignore_errors=True)
    os.makedirs(SPM_DIR)
    with tempfile.TemporaryDirectory() as tmp:
        model_file = train_spm(tmp)
        gguf_path = os.path.join(SPM_DIR, "vocab.gguf")
        write_spm_gguf(gguf_path, model_file)
        folder = os.path.join(tmp, "hf")
        os.makedirs(folder)
        shutil.copy(model_file, os.path.join(folder, "tokenizer.model"))
        tok = LlamaTokenizer.from_pretrained(folder, add_bos_token=True)  # as Llama tokenizer_config.json files say
        cases = tokenizer_cases(tok, TRICKY)
        from_gguf = AutoTokenizer.from_pretrained(SPM_DIR, gguf_file="vocab.gguf")
        for c in cases:
            got = from_gguf(c["text"], add_special_tokens=c["add_special_tokens"])["input_ids"]
            if got != c["ids"]:
                print("transformers' GGUF loader differs:", repr(c["text"]), c["add_special_tokens"], got, c["ids"])
    write_json(os.path.join(SPM_DIR, "expected.json"), {
        "transformers_version": transformers.__version__,
        "tokenizer": cases,
    })


if __name__ == "__main__":
    make_gpt2()
    make_spm()
    for d in (GPT2_DIR, SPM_DIR):
        for root, _, files in os.walk(d):
            for f in files:
                p = os.path.join(root, f)
                print(f"{os.path.relpath(p, FIXTURES)}: {os.path.getsize(p)} bytes")
