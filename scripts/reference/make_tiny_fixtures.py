#!/usr/bin/env python3
"""Tiny random-weight Llama fixtures with Hugging Face transformers as the reference. Run by hand (not by CI).

    python3 -m venv /tmp/refenv && /tmp/refenv/bin/pip install torch transformers accelerate gguf numpy
    /tmp/refenv/bin/python scripts/reference/make_tiny_fixtures.py

Writes into crates/textgen-core/tests/fixtures/tiny-llama/:

model.gguf
    A random LlamaForCausalLM (vocab 260, hidden 64, ffn 128, 2 layers, 4 heads, 2 KV heads, context 128),
    GGUF v3, every tensor F32, in llama.cpp's layout. To make it a useful test, the init is scaled
    (initializer_range=0.2, lm_head multiplied by LM_HEAD_SCALE so next-token distributions are peaked) and the
    RMSNorm weights are 1 + 0.1 * N(0, 1) instead of all ones. attn_q / attn_k are permuted the way llama.cpp's
    converter does it, so GGML's "normal" RoPE (adjacent pairs) on them equals HF's rotate_half RoPE on the
    original weights. Vocabulary: ids 0..255 are the GPT-2 byte-level characters (id b spells byte b),
    256 "<|endoftext|>", 257 "<|im_start|>", 258 "<|im_end|>", 259 "<pad>" (control tokens); no merges;
    bos 257, eos 256, add_bos_token false.

expected.json
    Reference outputs of transformers (float32, eager attention) on that same model (the HF object, not the
    GGUF). Every float is a float32 value written as its shortest round-trip decimal; a -inf (a filtered
    token) is written as JSON null. Fields:

    transformers_version, torch_version: versions that produced the file.
    config: the model hyper-parameters and special token ids.
    logits_input_ids: the token ids of the single forward pass.
    logits: [n_tokens][260] logits at every position of that pass (no cache).
    generate: list of {name, prompt, params, ids, scores, min_top2_gap}:
        params are the model.generate keyword arguments besides the prompt (always do_sample=false,
        pad_token_id=259; eos_token_id is always a list). ids are the generated ids only (prompt excluded);
        they end with the eos id when generation stopped on it, and beam outputs have their padding removed.
        For beam search ids is a list of num_return_sequences id lists, best first, and scores the matching
        sequences_scores (sum of log-softmax of the processed logits over the generated tokens, eos
        included, divided by n_generated ** length_penalty); for the others ids is one id list and scores null.
        min_top2_gap (greedy only, else null): the smallest gap between the best and second-best processed
        logit over all steps, i.e. how much numerical slack an implementation has.
    processors: list of {name, input_ids, scores_in, params, scores_out}: one logits processor or warper of
        transformers applied to one score vector (vocab 260) given the token history input_ids. name is the
        transformers class (or "chain": params.steps lists [class, params] applied in order, transformers'
        own order for generate) or "frequency_presence_penalty" (OpenAI's definition, computed here with
        numpy: logit[j] -= count[j] * frequency_penalty + (count[j] > 0) * presence_penalty, counts taken
        over input_ids). Warpers keep at least one token (min_tokens_to_keep=1).

Before writing, the script reads model.gguf back with gguf.GGUFReader, checks that un-permuting attn_q/attn_k
gives the HF weights back, and runs its own numpy Llama forward pass on the GGUF tensors with GGML-normal RoPE
(and on the HF weights with rotate_half RoPE): both must match the transformers logits to 1e-4.
"""
import json
import os
import sys

import numpy as np
import torch

torch.set_num_threads(1)

import gguf  # noqa: E402
import transformers  # noqa: E402
from transformers import (  # noqa: E402
    LlamaConfig,
    LlamaForCausalLM,
    LogitsProcessorList,
    MinPLogitsWarper,
    NoRepeatNGramLogitsProcessor,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
    TypicalLogitsWarper,
)

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../crates/textgen-core/tests/fixtures/tiny-llama")

VOCAB, HIDDEN, FFN, LAYERS, HEADS, KV_HEADS, CTX = 260, 64, 128, 2, 4, 2, 128
HEAD_DIM = HIDDEN // HEADS
RMS_EPS, ROPE_THETA = 1e-5, 10000.0
EOT, IM_START, IM_END, PAD = 256, 257, 258, 259
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<pad>"]
LM_HEAD_SCALE = 2.5

LOGITS_IDS = [IM_START] + list(b"Hello, world")  # [257, 72, 101, 108, 108, 111, 44, 32, 119, 111, 114, 108, 100]
PROMPTS = {
    "hello": LOGITS_IDS,
    "cat": list(b"The cat"),
    "ab": [IM_START] + list(b"ab ab ab ab"),  # greedy falls into a loop on this one
}


# ----------------------------------------------------------------------------------------------- model


def build_model():
    cfg = LlamaConfig(
        vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=FFN, num_hidden_layers=LAYERS,
        num_attention_heads=HEADS, num_key_value_heads=KV_HEADS, max_position_embeddings=CTX,
        rms_norm_eps=RMS_EPS, rope_theta=ROPE_THETA, tie_word_embeddings=False, initializer_range=0.2,
        bos_token_id=IM_START, eos_token_id=EOT, pad_token_id=PAD, attn_implementation="eager",
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(cfg).eval().to(torch.float32)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
        model.lm_head.weight.mul_(LM_HEAD_SCALE)
    return model


def byte_level_chars():
    """GPT-2's byte -> printable character table: printable Latin-1 bytes map to themselves, the rest to 256+."""
    keep = set(range(ord("!"), ord("~") + 1)) | set(range(0xA1, 0xAC + 1)) | set(range(0xAE, 0xFF + 1))
    out, extra = [], 0
    for b in range(256):
        if b in keep:
            out.append(chr(b))
        else:
            out.append(chr(256 + extra))
            extra += 1
    return out


def rope_permute(w, n_head):
    """[n_head*head_dim, in] rows reordered so GGML-normal RoPE (adjacent pairs) equals HF rotate_half RoPE."""
    rows, cols = w.shape
    return w.reshape(n_head, 2, rows // n_head // 2, cols).swapaxes(1, 2).reshape(rows, cols)


def rope_unpermute(w, n_head):
    rows, cols = w.shape
    return w.reshape(n_head, rows // n_head // 2, 2, cols).swapaxes(1, 2).reshape(rows, cols)


def gguf_tensors(model):
    sd = {k: v.detach().to(torch.float32).numpy() for k, v in model.state_dict().items()}
    t = {"token_embd.weight": sd["model.embed_tokens.weight"]}
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        t[f"blk.{i}.attn_norm.weight"] = sd[p + "input_layernorm.weight"]
        t[f"blk.{i}.attn_q.weight"] = rope_permute(sd[p + "self_attn.q_proj.weight"], HEADS)
        t[f"blk.{i}.attn_k.weight"] = rope_permute(sd[p + "self_attn.k_proj.weight"], KV_HEADS)
        t[f"blk.{i}.attn_v.weight"] = sd[p + "self_attn.v_proj.weight"]
        t[f"blk.{i}.attn_output.weight"] = sd[p + "self_attn.o_proj.weight"]
        t[f"blk.{i}.ffn_norm.weight"] = sd[p + "post_attention_layernorm.weight"]
        t[f"blk.{i}.ffn_gate.weight"] = sd[p + "mlp.gate_proj.weight"]
        t[f"blk.{i}.ffn_up.weight"] = sd[p + "mlp.up_proj.weight"]
        t[f"blk.{i}.ffn_down.weight"] = sd[p + "mlp.down_proj.weight"]
    t["output_norm.weight"] = sd["model.norm.weight"]
    t["output.weight"] = sd["lm_head.weight"]
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in t.items()}, sd


class _Writer(gguf.GGUFWriter):
    """GGUFWriter that can also write an empty array (llama.cpp files of BPE vocabularies always hold
    tokenizer.ggml.merges, and this vocabulary has none)."""

    def _pack_val(self, val, vtype, add_vtype, sub_type=None):
        if vtype == gguf.GGUFValueType.ARRAY and sub_type is not None and len(val) == 0:
            head = self._pack("I", vtype) if add_vtype else b""
            return head + self._pack("I", sub_type) + self._pack("Q", 0)
        return super()._pack_val(val, vtype, add_vtype, sub_type)


def write_gguf(path, tensors):
    w = _Writer(path, "llama")
    w.add_name("tiny-llama-random")
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_block_count(LAYERS)
    w.add_context_length(CTX)
    w.add_embedding_length(HIDDEN)
    w.add_feed_forward_length(FFN)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV_HEADS)
    w.add_rope_freq_base(ROPE_THETA)
    w.add_layer_norm_rms_eps(RMS_EPS)
    w.add_rope_dimension_count(HEAD_DIM)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("smollm")
    w.add_token_list(byte_level_chars() + SPECIALS)
    w.add_token_types([int(gguf.TokenType.NORMAL)] * 256 + [int(gguf.TokenType.CONTROL)] * len(SPECIALS))
    w.add_key_value(gguf.Keys.Tokenizer.MERGES, [], gguf.GGUFValueType.ARRAY, sub_type=gguf.GGUFValueType.STRING)
    w.add_bos_token_id(IM_START)
    w.add_eos_token_id(EOT)
    w.add_add_bos_token(False)
    for name, arr in tensors.items():
        w.add_tensor(name, arr)  # torch shape [out, in]; GGUF stores dims reversed: [in, out]
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


# ----------------------------------------------------------------------------------------------- numpy check


def np_rms_norm(x, w):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + RMS_EPS) * w


def np_rope(x, interleaved):
    """x: [T, n_head, head_dim]; interleaved=True is GGML "normal" (pairs 2i, 2i+1), False is rotate_half."""
    t = np.arange(x.shape[0], dtype=np.float64)[:, None]
    inv = ROPE_THETA ** (-np.arange(0, HEAD_DIM, 2, dtype=np.float64) / HEAD_DIM)
    ang = t * inv[None, :]
    cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    if interleaved:
        a, b = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2], out[..., 1::2] = a * cos - b * sin, a * sin + b * cos
    else:
        h = HEAD_DIM // 2
        a, b = x[..., :h], x[..., h:]
        out = np.concatenate([a * cos - b * sin, a * sin + b * cos], axis=-1)
    return out


def np_forward(t, ids, interleaved):
    """Llama forward pass in float64 over GGUF-named tensors (torch shapes)."""
    g = {k: v.astype(np.float64) for k, v in t.items()}
    x = g["token_embd.weight"][ids]
    n = len(ids)
    mask = np.triu(np.full((n, n), -np.inf), 1)
    for i in range(LAYERS):
        L = lambda s: g[f"blk.{i}.{s}.weight"]  # noqa: E731
        h = np_rms_norm(x, L("attn_norm"))
        q = np_rope((h @ L("attn_q").T).reshape(n, HEADS, HEAD_DIM), interleaved)
        k = np_rope((h @ L("attn_k").T).reshape(n, KV_HEADS, HEAD_DIM), interleaved)
        v = (h @ L("attn_v").T).reshape(n, KV_HEADS, HEAD_DIM)
        rep = HEADS // KV_HEADS
        k, v = np.repeat(k, rep, axis=1), np.repeat(v, rep, axis=1)
        att = np.einsum("thd,shd->hts", q, k) / np.sqrt(HEAD_DIM) + mask
        att = np.exp(att - att.max(-1, keepdims=True))
        att /= att.sum(-1, keepdims=True)
        o = np.einsum("hts,shd->thd", att, v).reshape(n, HIDDEN)
        x = x + o @ L("attn_output").T
        h = np_rms_norm(x, L("ffn_norm"))
        gate = h @ L("ffn_gate").T
        x = x + (gate / (1 + np.exp(-gate)) * (h @ L("ffn_up").T)) @ L("ffn_down").T
    return np_rms_norm(x, g["output_norm.weight"]) @ g["output.weight"].T


def field_value(reader, key):
    f = reader.fields[key]
    return f.contents()


def verify_gguf(path, tensors, hf_logits):
    r = gguf.GGUFReader(path)
    assert field_value(r, "general.architecture") == "llama"
    assert field_value(r, "llama.rope.dimension_count") == HEAD_DIM
    assert field_value(r, "tokenizer.ggml.merges") == []
    toks = field_value(r, "tokenizer.ggml.tokens")
    assert len(toks) == VOCAB and toks[256:] == SPECIALS and toks[ord("A")] == "A" and toks[32] == "\u0120"
    read = {}
    for t in r.tensors:
        assert t.tensor_type == gguf.GGMLQuantizationType.F32, t.name
        want = tensors[t.name].shape
        assert list(t.shape) == list(reversed(want)), (t.name, t.shape, want)  # GGUF dims: [in, out]
        read[t.name] = np.array(t.data).reshape(want)
        assert np.array_equal(read[t.name], tensors[t.name]), t.name
    assert set(read) == set(tensors)
    # un-permuted q/k are exactly the HF weights (with the rotate_half RoPE they belong to)
    hf_layout = dict(read)
    for i in range(LAYERS):
        hf_layout[f"blk.{i}.attn_q.weight"] = rope_unpermute(read[f"blk.{i}.attn_q.weight"], HEADS)
        hf_layout[f"blk.{i}.attn_k.weight"] = rope_unpermute(read[f"blk.{i}.attn_k.weight"], KV_HEADS)
        assert np.array_equal(rope_permute(hf_layout[f"blk.{i}.attn_q.weight"], HEADS), read[f"blk.{i}.attn_q.weight"])
    err_ggml = np.abs(np_forward(read, LOGITS_IDS, interleaved=True) - hf_logits).max()
    err_hf = np.abs(np_forward(hf_layout, LOGITS_IDS, interleaved=False) - hf_logits).max()
    # and the permutation matters: the GGUF tensors with HF's RoPE must NOT match
    err_wrong = np.abs(np_forward(read, LOGITS_IDS, interleaved=False) - hf_logits).max()
    print(f"numpy vs transformers logits, max |diff|: GGUF+GGML-normal RoPE {err_ggml:.2e}, "
          f"un-permuted+rotate_half {err_hf:.2e}, GGUF+rotate_half (wrong) {err_wrong:.2e}")
    assert err_ggml < 1e-4 and err_hf < 1e-4 and err_wrong > 1e-2, "GGUF forward pass does not match transformers"


# ----------------------------------------------------------------------------------------------- references


def f32(x):
    """A float32 as its shortest round-trip decimal; -inf -> None (JSON null)."""
    x = np.float32(x)
    if np.isneginf(x):
        return None
    assert np.isfinite(x), x
    return float(str(x))


def f32_list(a):
    return [f32(v) for v in np.asarray(a, dtype=np.float32).reshape(-1)]


def generate(model, prompt, **params):
    kw = dict(do_sample=False, pad_token_id=PAD, **params)
    inp = torch.tensor([prompt])
    with torch.no_grad():
        out = model.generate(inp, attention_mask=torch.ones_like(inp), return_dict_in_generate=True,
                             output_scores=True, **kw)
    eos = set(params["eos_token_id"])
    seqs = []
    for row in out.sequences[:, len(prompt):].tolist():
        cut = next((j + 1 for j, tok in enumerate(row) if tok in eos), len(row))  # drop padding after eos
        seqs.append(row[:cut])
    beam = params.get("num_beams", 1) > 1
    if beam:
        scores = f32_list(out.sequences_scores)
        gap = None
    else:
        scores = None
        gap = min(float(s[0].topk(2).values[0] - s[0].topk(2).values[1]) for s in out.scores)
    return {"prompt": prompt, "params": {"do_sample": False, "pad_token_id": PAD, **params},
            "ids": seqs if beam else seqs[0], "scores": scores, "min_top2_gap": gap}


def generate_cases(model):
    cases = []

    def add(name, prompt, **params):
        c = generate(model, PROMPTS[prompt], **params)
        cases.append({"name": name, **c})
        return c

    base = add("greedy", "hello", max_new_tokens=20, eos_token_id=[EOT])
    add("greedy_cat", "cat", max_new_tokens=20, eos_token_id=[EOT])
    add("greedy_ab", "ab", max_new_tokens=20, eos_token_id=[EOT])
    one = add("num_beams_1", "hello", max_new_tokens=20, eos_token_id=[EOT], num_beams=1)
    assert one["ids"] == base["ids"], "num_beams=1 differs from greedy"

    rp = add("greedy_repetition_penalty", "ab", max_new_tokens=20, eos_token_id=[EOT], repetition_penalty=1.3)
    nr = add("greedy_no_repeat_ngram", "ab", max_new_tokens=20, eos_token_id=[EOT], no_repeat_ngram_size=2)

    # An eos that greedy emits early on "cat": the first token at step >= 3 not seen before.
    cat = cases[1]["ids"]
    k = next(j for j in range(3, len(cat)) if cat[j] not in cat[:j] and cat[j] < 256)
    eos_early = cat[k]
    early = add("greedy_eos_early", "cat", max_new_tokens=16, eos_token_id=[eos_early])
    assert early["ids"] == cat[: k + 1]
    mnt = add("greedy_min_new_tokens", "cat", max_new_tokens=16, eos_token_id=[eos_early], min_new_tokens=10)

    # Ban two tokens greedy on "hello" would produce (the 2nd and 4th generated ones, if not eos).
    ban = [t for t in dict.fromkeys(base["ids"][1:]) if t != EOT][:3:2]
    bw = add("greedy_bad_words", "hello", max_new_tokens=20, eos_token_id=[EOT], bad_words_ids=[[t] for t in ban])
    assert not set(ban) & set(bw["ids"])
    bias = [[[ban[0]], -4.0], [[base["ids"][5]], -2.5], [[65], 3.0]]
    add("greedy_sequence_bias", "hello", max_new_tokens=20, eos_token_id=[EOT],
        sequence_bias={tuple(s): b for s, b in bias})
    cases[-1]["params"]["sequence_bias"] = bias  # JSON form: [[token ids], bias]

    b4 = add("beam4_early_stopping", "hello", max_new_tokens=12, eos_token_id=[EOT], num_beams=4,
             length_penalty=1.0, early_stopping=True, num_return_sequences=2)
    # An eos inside the best beam (first new token from step 5 on): one returned beam then ends on it.
    best = b4["ids"][0]
    eos_beam = next(best[j] for j in range(5, len(best)) if best[j] not in best[:j] and best[j] < 256)
    add("beam4_early_stopping_eos", "hello", max_new_tokens=12, eos_token_id=[eos_beam], num_beams=4,
        length_penalty=1.0, early_stopping=True, num_return_sequences=2)
    add("beam4_early_stopping_cat", "cat", max_new_tokens=16, eos_token_id=[eos_early], num_beams=4,
        length_penalty=1.0, early_stopping=True, num_return_sequences=2)
    add("beam3_lp05_no_early_stop", "cat", max_new_tokens=16, eos_token_id=[eos_early], num_beams=3,
        length_penalty=0.5, early_stopping=False)
    add("beam3_lp05_no_early_stop_ab", "ab", max_new_tokens=14, eos_token_id=[EOT], num_beams=3,
        length_penalty=0.5, early_stopping=False)

    greedy_ab = cases[2]["ids"]
    notes = {
        "eos_early": eos_early,
        "eos_early_step": k,
        "min_new_tokens_mattered": mnt["ids"] != early["ids"],
        "eos_beam": eos_beam,
        "repetition_penalty_mattered": rp["ids"] != greedy_ab,
        "no_repeat_ngram_mattered": nr["ids"] != greedy_ab,
        "banned": ban,
    }
    return cases, notes


def processor_cases():
    g = torch.Generator().manual_seed(1234)
    vectors = []
    for scale in (3.0, 5.0, 1.5):
        s = torch.randn(1, VOCAB, generator=g) * scale
        hist = torch.randint(0, VOCAB, (12,), generator=g).tolist()
        a, b, c, x, d = hist[:5]
        hist[-8:] = [a, b, c, x, b, d, a, b]  # ngram 2 bans c and d after b, ngram 3 bans c after (a, b)
        vectors.append((hist, s))
    # A history holding the top tokens, so that the repetition penalty changes the ranking.
    top = vectors[0][1][0].topk(4).indices.tolist()
    vectors.append(([top[0], 7, top[1], 7, top[0], top[2], top[0]], vectors[0][1].clone()))

    singles = [
        ("RepetitionPenaltyLogitsProcessor", {"penalty": 1.3}, lambda p: RepetitionPenaltyLogitsProcessor(**p)),
        ("NoRepeatNGramLogitsProcessor", {"ngram_size": 2}, lambda p: NoRepeatNGramLogitsProcessor(**p)),
        ("NoRepeatNGramLogitsProcessor", {"ngram_size": 3}, lambda p: NoRepeatNGramLogitsProcessor(**p)),
        ("TemperatureLogitsWarper", {"temperature": 0.7}, lambda p: TemperatureLogitsWarper(**p)),
        ("TopKLogitsWarper", {"top_k": 5}, lambda p: TopKLogitsWarper(**p)),
        ("TopPLogitsWarper", {"top_p": 0.8}, lambda p: TopPLogitsWarper(**p)),
        ("TopPLogitsWarper", {"top_p": 0.01}, lambda p: TopPLogitsWarper(**p)),
        ("MinPLogitsWarper", {"min_p": 0.1}, lambda p: MinPLogitsWarper(**p)),
        ("TypicalLogitsWarper", {"mass": 0.9}, lambda p: TypicalLogitsWarper(**p)),
    ]
    ctor = {name: make for name, _, make in singles}
    chains = [
        [("RepetitionPenaltyLogitsProcessor", {"penalty": 1.3}), ("NoRepeatNGramLogitsProcessor", {"ngram_size": 2}),
         ("TemperatureLogitsWarper", {"temperature": 0.7}), ("TopKLogitsWarper", {"top_k": 20}),
         ("TopPLogitsWarper", {"top_p": 0.9}), ("MinPLogitsWarper", {"min_p": 0.05})],
        [("RepetitionPenaltyLogitsProcessor", {"penalty": 1.1}), ("TemperatureLogitsWarper", {"temperature": 1.5}),
         ("TopKLogitsWarper", {"top_k": 40}), ("TopPLogitsWarper", {"top_p": 0.95}),
         ("MinPLogitsWarper", {"min_p": 0.02}), ("TypicalLogitsWarper", {"mass": 0.9})],
    ]
    cases = []
    for hist, s in vectors:
        ids = torch.tensor([hist])
        for name, params, make in singles:
            out = make(params)(ids, s.clone())
            cases.append({"name": name, "input_ids": hist, "scores_in": f32_list(s), "params": params,
                          "scores_out": f32_list(out)})
        for steps in chains:
            out = LogitsProcessorList([ctor[n](p) for n, p in steps])(ids, s.clone())
            cases.append({"name": "chain", "input_ids": hist, "scores_in": f32_list(s),
                          "params": {"steps": [[n, p] for n, p in steps]}, "scores_out": f32_list(out)})
        for fp, pp in ((0.5, 0.3), (-0.4, 1.2)):
            x = s[0].numpy().astype(np.float32)
            counts = np.bincount(np.array(hist), minlength=VOCAB).astype(np.float32)
            out = x - counts * np.float32(fp) - (counts > 0).astype(np.float32) * np.float32(pp)
            cases.append({"name": "frequency_presence_penalty", "input_ids": hist, "scores_in": f32_list(x),
                          "params": {"frequency_penalty": fp, "presence_penalty": pp}, "scores_out": f32_list(out)})
    return cases


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    model = build_model()
    with torch.no_grad():
        hf_logits = model(torch.tensor([LOGITS_IDS]), use_cache=False).logits[0].numpy()

    tensors, _ = gguf_tensors(model)
    gguf_path = os.path.join(OUT_DIR, "model.gguf")
    tmp = gguf_path + ".tmp"
    write_gguf(tmp, tensors)
    verify_gguf(tmp, tensors, hf_logits.astype(np.float64))

    gen, notes = generate_cases(model)
    expected = {
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "config": {"vocab_size": VOCAB, "hidden_size": HIDDEN, "intermediate_size": FFN, "num_hidden_layers": LAYERS,
                   "num_attention_heads": HEADS, "num_key_value_heads": KV_HEADS, "head_dim": HEAD_DIM,
                   "max_position_embeddings": CTX, "rms_norm_eps": RMS_EPS, "rope_theta": ROPE_THETA,
                   "bos_token_id": IM_START, "eos_token_id": EOT, "pad_token_id": PAD,
                   "special_tokens": dict(zip(SPECIALS, range(256, 256 + len(SPECIALS))))},
        "logits_input_ids": LOGITS_IDS,
        "logits": [f32_list(row) for row in hf_logits],
        "generate": gen,
        "processors": processor_cases(),
    }
    json_path = os.path.join(OUT_DIR, "expected.json")
    with open(json_path + ".tmp", "w") as f:
        json.dump(expected, f, separators=(",", ":"))
        f.write("\n")
    os.replace(tmp, gguf_path)
    os.replace(json_path + ".tmp", json_path)

    for c in gen:
        print(f"{c['name']:28} eos={c['params']['eos_token_id']} ids={c['ids']} scores={c['scores']} "
              f"gap={c['min_top2_gap']}")
    print("notes:", notes)
    for p in (gguf_path, json_path):
        print(p, os.path.getsize(p), "bytes")


if __name__ == "__main__":
    sys.exit(main())
