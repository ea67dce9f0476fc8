#!/usr/bin/env python3
"""Independent NumPy implementation of medr1-tiny (docs/model.md).

Reads a safetensors checkpoint written by the Swift code (config from its
__metadata__), an inputs JSON ({"temperature": T, "rows": [{"image": [...],
"tokens": [...], "target_start": k}, ...]}), and prints the expected token
log-probabilities and entropies as JSON:

    python3 scripts/reference/medr1_ref.py MODEL.safetensors INPUTS.json > EXPECTED.json

Everything is computed in float64 from the float32 weights. It shares no code
with the Swift implementation: the safetensors reader, patching, attention,
norms and GELU are written here from the spec. With --grad (needs PyTorch) it
also writes the gradient of loss = sum_rows sum_j w[b][j] * logp[b][j] for the
weights "loss_weights" given in the inputs (see medr1_ref_torch.py).
"""
import json
import struct
import sys

import numpy as np


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    tensors = {}
    for name, e in header.items():
        if e["dtype"] != "F32":
            raise ValueError(f"{path}: tensor {name} has dtype {e['dtype']}, expected F32")
        b, end = e["data_offsets"]
        arr = np.frombuffer(data[base + b:base + end], dtype="<f4").reshape(e["shape"])
        tensors[name] = arr.astype(np.float64)
    return meta, tensors


def config_from(meta):
    ints = ["image_size", "channels", "patch", "d_model", "n_heads", "vision_layers",
            "text_layers", "mlp_ratio", "vocab_size", "max_seq"]
    cfg = {k: int(meta[k]) for k in ints}
    cfg["norm_eps"] = float(meta["norm_eps"])
    cfg["n_patches"] = (cfg["image_size"] // cfg["patch"]) ** 2
    return cfg


def rmsnorm(x, g, eps):
    # RMSNorm(x) = x / sqrt(mean(x^2) + eps) * g
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * g


def gelu(x):
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x ** 3)))


def softmax_rows(s):
    s = s - np.max(s, axis=-1, keepdims=True)
    e = np.exp(s)
    return e / np.sum(e, axis=-1, keepdims=True)


def block(x, W, prefix, cfg, causal):
    L, d = x.shape
    heads = cfg["n_heads"]
    dh = d // heads
    a = rmsnorm(x, W[prefix + ".norm1.weight"], cfg["norm_eps"])
    q = a @ W[prefix + ".attn.q.weight"].T
    k = a @ W[prefix + ".attn.k.weight"].T
    v = a @ W[prefix + ".attn.v.weight"].T
    out = np.zeros_like(x)
    for h in range(heads):
        sl = slice(h * dh, (h + 1) * dh)
        s = q[:, sl] @ k[:, sl].T / np.sqrt(dh)
        if causal:
            s = np.where(np.tril(np.ones((L, L), dtype=bool)), s, -np.inf)
        out[:, sl] = softmax_rows(s) @ v[:, sl]
    x = x + out @ W[prefix + ".attn.o.weight"].T
    m = rmsnorm(x, W[prefix + ".norm2.weight"], cfg["norm_eps"])
    return x + gelu(m @ W[prefix + ".mlp.fc1.weight"].T) @ W[prefix + ".mlp.fc2.weight"].T


def patches(image, cfg):
    """(H, W, C) row-major floats -> (n_patches, patch*patch*C): patches in
    row-major grid order, each flattened in (row, column, channel) order."""
    s, p, c = cfg["image_size"], cfg["patch"], cfg["channels"]
    g = s // p
    img = np.asarray(image, dtype=np.float32).astype(np.float64).reshape(s, s, c)
    return img.reshape(g, p, g, p, c).transpose(0, 2, 1, 3, 4).reshape(g * g, p * p * c)


def token_logprobs(cfg, W, image, tokens, target_start, temperature):
    h = patches(image, cfg) @ W["vision.patch.weight"].T + W["vision.patch.bias"] + W["vision.pos"]
    for i in range(cfg["vision_layers"]):
        h = block(h, W, f"vision.blocks.{i}", cfg, causal=False)
    img = rmsnorm(h, W["vision.norm.weight"], cfg["norm_eps"])
    emb = W["text.embed.weight"]
    s = np.concatenate([img, emb[np.asarray(tokens, dtype=np.int64)]], axis=0)
    s = s + W["text.pos"][: s.shape[0]]
    for i in range(cfg["text_layers"]):
        s = block(s, W, f"text.blocks.{i}", cfg, causal=True)
    logits = (rmsnorm(s, W["text.norm.weight"], cfg["norm_eps"]) @ emb.T) / temperature
    z = logits - np.max(logits, axis=-1, keepdims=True)
    logsm = z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))
    n = cfg["n_patches"]
    lp, ent = [], []
    for j in range(target_start, len(tokens)):
        row = logsm[n - 1 + j]  # position N-1+j predicts text token j
        lp.append(float(row[tokens[j]]))
        ent.append(float(-np.sum(np.exp(row) * row)))
    return lp, ent


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    meta, W = read_safetensors(argv[1])
    cfg = config_from(meta)
    with open(argv[2]) as f:
        inputs = json.load(f)
    T = float(inputs["temperature"])
    out = {"logprobs": [], "entropy": []}
    for row in inputs["rows"]:
        lp, ent = token_logprobs(cfg, W, row["image"], row["tokens"], row["target_start"], T)
        out["logprobs"].append(lp)
        out["entropy"].append(ent)
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
