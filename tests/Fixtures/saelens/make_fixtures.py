#!/usr/bin/env python3
"""Writes SAELens-layout folders with random weights, inputs, and the latents and reconstructions that SAELens's
encode/decode equations give, for Mechanist's loader to reproduce (tests/Mechanist.Host.Tests/SaeLensFixtureTests.cs);
and one sparsify (EleutherAI) folder with the latents of sparsify's encoder.

This is an independent reimplementation of SAELens's equations (sae_lens/saes/{standard,topk,jumprelu,gated}_sae.py
and transcoder.py, version 6) in plain PyTorch; it does not import or run SAELens. The weights files are written by hand
in the safetensors format (8-byte little-endian header length, JSON header, raw little-endian data).

Run from this folder with any Python that has torch and numpy:  python3 make_fixtures.py
"""
import json
import os
import struct

import numpy as np
import torch

D_IN, D_SAE, D_OUT, ROWS, K = 16, 48, 12, 32, 5


def write_safetensors(path, tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name in sorted(tensors):
        array = tensors[name].detach().cpu().numpy().astype("<f4")
        blob = array.tobytes(order="C")
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def cfg(architecture, **extra):
    c = {
        "architecture": architecture,
        "d_in": D_IN,
        "d_sae": D_SAE,
        "dtype": "float32",
        "device": "cpu",
        "apply_b_dec_to_input": True,
        "normalize_activations": "none",
        "reshape_activations": "none",
        "metadata": {"hook_name": "blocks.3.hook_resid_post", "model_name": "fixture", "sae_lens_version": "6.0.0"},
    }
    c.update(extra)
    return c


def save(folder, config, weights, x, latents, reconstruction):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "cfg.json"), "w") as f:
        json.dump(config, f, indent=2)
    write_safetensors(os.path.join(folder, "sae_weights.safetensors"), weights)
    write_safetensors(os.path.join(folder, "expected.safetensors"),
                      {"activations": x, "latents": latents, "reconstruction": reconstruction})


def main():
    g = torch.Generator().manual_seed(1234)
    r = lambda *shape, scale=1.0: torch.randn(*shape, generator=g) * scale
    x = r(ROWS, D_IN)

    def base():
        return {"W_enc": r(D_IN, D_SAE, scale=0.5), "b_enc": r(D_SAE, scale=0.3),
                "W_dec": r(D_SAE, D_IN, scale=0.5), "b_dec": r(D_IN, scale=0.3)}

    def process_sae_in(w, x, apply_b_dec=True):  # sae.py: process_sae_in
        return x - w["b_dec"] * apply_b_dec

    def decode(w, f):  # sae.py / each architecture: feature_acts @ W_dec + b_dec
        return f @ w["W_dec"] + w["b_dec"]

    # standard_sae.py: ReLU(sae_in @ W_enc + b_enc)
    w = base()
    f = torch.relu(process_sae_in(w, x) @ w["W_enc"] + w["b_enc"])
    save("standard", cfg("standard"), w, x, f, decode(w, f))

    # topk_sae.py: topk of hidden_pre, ReLU on the values, scattered into zeros
    w = base()
    hidden_pre = process_sae_in(w, x) @ w["W_enc"] + w["b_enc"]
    top = torch.topk(hidden_pre, k=K, dim=-1)
    f = torch.zeros_like(hidden_pre).scatter(-1, top.indices, torch.relu(top.values))
    save("topk", cfg("topk", k=K), w, x, f, decode(w, f))

    # The same equations in a pre-6.0 config: architecture "standard" with activation_fn_str "topk".
    legacy = cfg("standard", activation_fn_str="topk", activation_fn_kwargs={"k": K}, hook_name="blocks.3.hook_resid_post")
    del legacy["metadata"]
    save("topk_legacy", legacy, w, x, f, decode(w, f))

    # jumprelu_sae.py: ReLU(hidden_pre) * (hidden_pre > threshold); Gemma Scope style: no b_dec on the input
    w = base()
    w["threshold"] = torch.rand(D_SAE, generator=g) * 0.8
    hidden_pre = process_sae_in(w, x, apply_b_dec=False) @ w["W_enc"] + w["b_enc"]
    f = torch.relu(hidden_pre) * (hidden_pre > w["threshold"]).float()
    save("jumprelu", cfg("jumprelu", apply_b_dec_to_input=False), w, x, f, decode(w, f))

    # gated_sae.py: gate (sae_in @ W_enc + b_gate > 0) times ReLU(sae_in @ (W_enc * exp(r_mag)) + b_mag)
    w = base()
    del w["b_enc"]
    w.update({"b_gate": r(D_SAE, scale=0.3), "r_mag": r(D_SAE, scale=0.2), "b_mag": r(D_SAE, scale=0.3)})
    sae_in = process_sae_in(w, x)
    active = ((sae_in @ w["W_enc"] + w["b_gate"]) > 0).float()
    magnitude = torch.relu(sae_in @ (w["W_enc"] * w["r_mag"].exp()) + w["b_mag"])
    f = active * magnitude
    save("gated", cfg("gated"), w, x, f, decode(w, f))

    # transcoder.py (SkipTranscoder): no b_dec on the input; output f @ W_dec + b_dec + x @ W_skip.T
    w = {"W_enc": r(D_IN, D_SAE, scale=0.5), "b_enc": r(D_SAE, scale=0.3), "W_dec": r(D_SAE, D_OUT, scale=0.5),
         "b_dec": r(D_OUT, scale=0.3), "W_skip": r(D_OUT, D_IN, scale=0.2)}
    f = torch.relu(x @ w["W_enc"] + w["b_enc"])
    out = f @ w["W_dec"] + w["b_dec"] + x @ w["W_skip"].T
    save("skip_transcoder", cfg("skip_transcoder", d_out=D_OUT, apply_b_dec_to_input=False, hook_name_out="blocks.3.hook_mlp_out"),
         w, x, f, out)

    # sparsify (EleutherAI) layout: cfg.json + sae.safetensors with encoder.weight [n, d]; encode is
    # ReLU(linear(x - b_dec)) then topk (fused_encoder.py), decode sums the top rows of W_dec plus b_dec.
    enc_w, enc_b, w_dec, b_dec = r(D_SAE, D_IN, scale=0.5), r(D_SAE, scale=0.3), r(D_SAE, D_IN, scale=0.5), r(D_IN, scale=0.3)
    pre = torch.relu((x - b_dec) @ enc_w.T + enc_b)
    top = torch.topk(pre, k=K, dim=-1)
    f = torch.zeros_like(pre).scatter(-1, top.indices, top.values)
    os.makedirs("sparsify", exist_ok=True)
    with open(os.path.join("sparsify", "cfg.json"), "w") as fh:
        json.dump({"activation": "topk", "expansion_factor": 3, "normalize_decoder": True, "num_latents": 0, "k": K,
                   "multi_topk": False, "skip_connection": False, "transcode": False, "d_in": D_IN}, fh)
    write_safetensors(os.path.join("sparsify", "sae.safetensors"),
                      {"encoder.weight": enc_w, "encoder.bias": enc_b, "W_dec": w_dec, "b_dec": b_dec})
    write_safetensors(os.path.join("sparsify", "expected.safetensors"),
                      {"activations": x, "latents": f, "reconstruction": f @ w_dec + b_dec})


if __name__ == "__main__":
    main()
