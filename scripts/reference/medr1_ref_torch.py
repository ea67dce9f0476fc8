#!/usr/bin/env python3
"""PyTorch (float64, autograd) implementation of medr1-tiny for gradient goldens.

    python3 scripts/reference/medr1_ref_torch.py MODEL.safetensors INPUTS.json EXPECTED.json

Recomputes the log-probabilities of INPUTS with torch, checks them against the
NumPy reference's values already in EXPECTED.json (a second, independent
implementation), then adds "grad": {tensor name: flat gradient} of
loss = sum_b sum_j loss_weights[b][j] * logp[b][j] to EXPECTED.json.
"""
import json
import math
import sys

import numpy as np
import torch

sys.path.insert(0, __import__("os").path.dirname(__file__))
from medr1_ref import config_from, read_safetensors  # noqa: E402  (file reading only)


def rms(x, g, eps):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * g


def gelu(x):
    return torch.nn.functional.gelu(x, approximate="tanh")


def block(x, W, p, cfg, causal):
    L, d = x.shape
    H = cfg["n_heads"]
    a = rms(x, W[p + ".norm1.weight"], cfg["norm_eps"])
    q = (a @ W[p + ".attn.q.weight"].T).view(L, H, d // H).transpose(0, 1)
    k = (a @ W[p + ".attn.k.weight"].T).view(L, H, d // H).transpose(0, 1)
    v = (a @ W[p + ".attn.v.weight"].T).view(L, H, d // H).transpose(0, 1)
    y = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal)
    x = x + y.transpose(0, 1).reshape(L, d) @ W[p + ".attn.o.weight"].T
    m = rms(x, W[p + ".norm2.weight"], cfg["norm_eps"])
    return x + gelu(m @ W[p + ".mlp.fc1.weight"].T) @ W[p + ".mlp.fc2.weight"].T


def logprobs(cfg, W, image, tokens, start, T):
    s, pch, c = cfg["image_size"], cfg["patch"], cfg["channels"]
    g = s // pch
    img = torch.tensor(np.asarray(image, dtype=np.float32), dtype=torch.float64).view(g, pch, g, pch, c)
    patches = img.permute(0, 2, 1, 3, 4).reshape(g * g, pch * pch * c)
    h = patches @ W["vision.patch.weight"].T + W["vision.patch.bias"] + W["vision.pos"]
    for i in range(cfg["vision_layers"]):
        h = block(h, W, f"vision.blocks.{i}", cfg, False)
    h = rms(h, W["vision.norm.weight"], cfg["norm_eps"])
    t = torch.tensor(tokens, dtype=torch.long)
    x = torch.cat([h, W["text.embed.weight"][t]]) + W["text.pos"][: g * g + len(tokens)]
    for i in range(cfg["text_layers"]):
        x = block(x, W, f"text.blocks.{i}", cfg, True)
    n = g * g
    rows = x[n - 1 + start: n - 1 + len(tokens)]
    logits = rms(rows, W["text.norm.weight"], cfg["norm_eps"]) @ W["text.embed.weight"].T / T
    return torch.log_softmax(logits, -1).gather(1, t[start:].unsqueeze(1)).squeeze(1)


def main(argv):
    meta, Wn = read_safetensors(argv[1])
    cfg = config_from(meta)
    W = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in Wn.items()}
    inputs = json.load(open(argv[2]))
    expected = json.load(open(argv[3]))
    loss = 0
    worst = 0.0
    for b, row in enumerate(inputs["rows"]):
        lp = logprobs(cfg, W, row["image"], row["tokens"], row["target_start"], float(inputs["temperature"]))
        ref = np.array(expected["logprobs"][b])
        worst = max(worst, float(np.max(np.abs(lp.detach().numpy() - ref))))
        loss = loss + (lp * torch.tensor(inputs["loss_weights"][b], dtype=torch.float64)).sum()
    if worst > 1e-9:
        raise SystemExit(f"torch and NumPy references disagree by {worst}")
    loss.backward()
    expected["grad"] = {k: [float("%.9g" % x) for x in W[k].grad.reshape(-1).tolist()] for k in sorted(W)}
    with open(argv[3], "w") as f:
        json.dump(expected, f)
        f.write("\n")
    print(f"torch agrees with NumPy (max diff {worst:.2e}); gradients written", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv)
