#!/usr/bin/env python3
"""Generates the tiny GPT-2 fixture that Mechanist's GPT-2 implementation is checked against.

An independent GPT-2 forward pass in plain PyTorch (float64), written the way Hugging Face's GPT2LMHeadModel
computes it: Conv1D weights stored [in, out], pre-LayerNorm blocks, causal softmax attention, GELU with the tanh
approximation ("gelu_new"), tied unembedding. Random weights from a fixed seed; no `transformers` and no
`safetensors` package is needed (safetensors files are written by hand below, which also checks Mechanist's
reader against a second writer).

Writes, next to this script:
  config.json           Hugging Face GPT-2 config
  model.safetensors     weights named as GPT2LMHeadModel's state dict ("transformer." prefix, the attn.bias and
                        attn.masked_bias buffers, lm_head.weight equal to wte) in float32
  tokens.jsonl          one list of token ids per line
  expected.safetensors  logits [batch, pos, vocab] and the activations at three hook sites, from the float64
                        forward pass of the float32 weights

Run once with `python3 generate.py`; the outputs are committed. Needs torch (1.13 or later) and numpy.
"""
import json
import math
import os
import struct

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))

CONFIG = {
    "model_type": "gpt2",
    "architectures": ["GPT2LMHeadModel"],
    "vocab_size": 96,
    "n_positions": 16,
    "n_ctx": 16,
    "n_embd": 32,
    "n_layer": 2,
    "n_head": 4,
    "n_inner": None,
    "activation_function": "gelu_new",
    "layer_norm_epsilon": 1e-5,
    "resid_pdrop": 0.1,
    "embd_pdrop": 0.1,
    "attn_pdrop": 0.1,
    "initializer_range": 0.02,
    "bos_token_id": 95,
    "eos_token_id": 95,
    "use_cache": True,
    "transformers_version": "4.44.0",
}
SEED = 20240601
BATCH, POS = 4, 16


def make_weights(gen):
    """GPT2LMHeadModel-style state dict, float32. Larger than GPT-2's init so every path carries signal."""
    c = CONFIG
    d, v, p, inner = c["n_embd"], c["vocab_size"], c["n_positions"], 4 * c["n_embd"]

    def normal(*shape, std):
        return (torch.randn(*shape, generator=gen, dtype=torch.float64) * std).float()

    w = {"transformer.wte.weight": normal(v, d, std=0.5), "transformer.wpe.weight": normal(p, d, std=0.3)}
    mask = torch.tril(torch.ones(p, p)).view(1, 1, p, p)
    for i in range(c["n_layer"]):
        pre = f"transformer.h.{i}."
        w[pre + "ln_1.weight"] = 1 + normal(d, std=0.1)
        w[pre + "ln_1.bias"] = normal(d, std=0.1)
        w[pre + "attn.c_attn.weight"] = normal(d, 3 * d, std=0.25)
        w[pre + "attn.c_attn.bias"] = normal(3 * d, std=0.1)
        w[pre + "attn.c_proj.weight"] = normal(d, d, std=0.2)
        w[pre + "attn.c_proj.bias"] = normal(d, std=0.1)
        w[pre + "ln_2.weight"] = 1 + normal(d, std=0.1)
        w[pre + "ln_2.bias"] = normal(d, std=0.1)
        w[pre + "mlp.c_fc.weight"] = normal(d, inner, std=0.25)
        w[pre + "mlp.c_fc.bias"] = normal(inner, std=0.1)
        w[pre + "mlp.c_proj.weight"] = normal(inner, d, std=0.15)
        w[pre + "mlp.c_proj.bias"] = normal(d, std=0.1)
        # Buffers older transformers versions saved with every checkpoint: the causal mask and its fill value.
        w[pre + "attn.bias"] = mask.clone()
        w[pre + "attn.masked_bias"] = torch.tensor(-1e4)
    w["transformer.ln_f.weight"] = 1 + normal(d, std=0.1)
    w["transformer.ln_f.bias"] = normal(d, std=0.1)
    w["lm_head.weight"] = w["transformer.wte.weight"].clone()
    return w


def layer_norm(x, weight, bias, eps):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def conv1d(x, weight, bias):
    # Hugging Face's Conv1D: weight [in, out].
    return torch.addmm(bias, x.reshape(-1, x.shape[-1]), weight).reshape(*x.shape[:-1], weight.shape[1])


def forward(w, ids):
    """Returns (logits, captured activations by TransformerLens site name)."""
    c = CONFIG
    w = {k: t.double() for k, t in w.items()}
    nh, d = c["n_head"], c["n_embd"]
    dh = d // nh
    b, t = ids.shape
    eps = c["layer_norm_epsilon"]
    seen = {}
    h = w["transformer.wte.weight"][ids] + w["transformer.wpe.weight"][torch.arange(t)][None]
    causal = torch.tril(torch.ones(t, t, dtype=torch.bool))
    for i in range(c["n_layer"]):
        pre = f"transformer.h.{i}."
        x = layer_norm(h, w[pre + "ln_1.weight"], w[pre + "ln_1.bias"], eps)
        q, k, v = conv1d(x, w[pre + "attn.c_attn.weight"], w[pre + "attn.c_attn.bias"]).split(d, dim=2)
        q, k, v = (z.view(b, t, nh, dh).transpose(1, 2) for z in (q, k, v))  # [b, head, t, dh]
        scores = q @ k.transpose(-1, -2) / math.sqrt(dh)
        scores = torch.where(causal, scores, torch.tensor(torch.finfo(scores.dtype).min, dtype=scores.dtype))
        pattern = torch.softmax(scores, dim=-1)
        seen[f"blocks.{i}.attn.hook_pattern"] = pattern
        z = (pattern @ v).transpose(1, 2).reshape(b, t, d)
        h = h + conv1d(z, w[pre + "attn.c_proj.weight"], w[pre + "attn.c_proj.bias"])
        seen[f"blocks.{i}.hook_resid_mid"] = h
        x = layer_norm(h, w[pre + "ln_2.weight"], w[pre + "ln_2.bias"], eps)
        post = gelu_new(conv1d(x, w[pre + "mlp.c_fc.weight"], w[pre + "mlp.c_fc.bias"]))
        seen[f"blocks.{i}.mlp.hook_post"] = post
        h = h + conv1d(post, w[pre + "mlp.c_proj.weight"], w[pre + "mlp.c_proj.bias"])
    h = layer_norm(h, w["transformer.ln_f.weight"], w["transformer.ln_f.bias"], eps)
    logits = h @ w["lm_head.weight"].T
    return logits, seen


DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}


def write_safetensors(path, tensors, metadata=None):
    """The safetensors format by hand: u64 header length, JSON header, raw little-endian data (8-byte aligned header)."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        blob = t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def main():
    gen = torch.Generator().manual_seed(SEED)
    weights = make_weights(gen)
    ids = torch.randint(0, CONFIG["vocab_size"], (BATCH, POS), generator=gen)
    logits, seen = forward(weights, ids)

    with open(os.path.join(HERE, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2)
        f.write("\n")
    write_safetensors(os.path.join(HERE, "model.safetensors"), weights, {"format": "pt"})
    with open(os.path.join(HERE, "tokens.jsonl"), "w") as f:
        for row in ids.tolist():
            f.write(json.dumps(row) + "\n")
    expected = {"logits": logits.float(), "tokens": ids}
    for site in ("blocks.0.attn.hook_pattern", "blocks.1.hook_resid_mid", "blocks.1.mlp.hook_post"):
        expected[site] = seen[site].float()
    write_safetensors(os.path.join(HERE, "expected.safetensors"), expected,
                      {"generator": "tests/Fixtures/gpt2-tiny/generate.py", "seed": str(SEED), "torch": torch.__version__})
    print(f"logits {tuple(logits.shape)}, std {logits.std().item():.3f}; "
          f"pattern max {seen['blocks.0.attn.hook_pattern'].max().item():.3f}")


if __name__ == "__main__":
    main()
