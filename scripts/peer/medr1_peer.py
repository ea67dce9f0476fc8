#!/usr/bin/env python3
"""The PyTorch peer of medr1-bench: docs/benchmarks.md's workloads in PyTorch eager.

    python3 medr1_peer.py [--threads 1,2] [--reps 5] [ID ...]     IDs: peak W1 W2 W3 W4 W6

medr1-tiny (docs/model.md) written plainly in PyTorch: float32 on the CPU,
random weights from a fixed seed, the same shapes, thread counts and
repetitions as medr1-bench (median of `reps` timed runs after one warm-up),
and the same JSON lines (id, value, unit, threads, seconds) with "impl":
"pytorch". The work matches what medr1 computes, not more:

  peak  torch.mm of two 2048 x 2048 float32 matrices (MKL's sgemm).
  W1    one GRPO step: W2's sampling, the format reward on the completions'
        text, reference log-probabilities without grad, the policy's
        forward and backward of the grpo loss (beta 0.04) over the 64 rows of
        16 + 48 + 64 positions, gradient clipping at 1, AdamW (lr 1e-5).
  W2    8 prompts (image + 48 tokens) prefilled once, the key/value cache
        repeated for 8 completions each, 64 tokens drawn at temperature 1
        (the first from the prefix's logits, then 63 decode steps), with
        the log-probability of each drawn token.
  W3    one SFT step: 64 sequences of 16 image + 112 text tokens,
        cross-entropy on the 112 text positions, backward, AdamW.
  W4    the same forward without grad, log-probabilities at the 112 text positions.
  W6    peak resident memory (VmHWM) of this process after W1 (run it alone).

Attention uses torch's scaled_dot_product_attention (causal in the text
tower), as an ordinary eager implementation would; the head is applied only
at the positions whose logits are used, as medr1 does.
"""
import argparse
import json
import re
import statistics
import sys
import time
import datetime

import torch
import torch.nn.functional as F

D, HEADS, VOCAB, MAXSEQ, IMG, CH, PATCH = 128, 4, 512, 256, 32, 3, 8
VISION_LAYERS, TEXT_LAYERS, MLP = 2, 4, 4
NP = (IMG // PATCH) ** 2          # 16 image tokens
PDIM = PATCH * PATCH * CH         # 192
EPS = 1e-5


class Block(torch.nn.Module):
    def __init__(self, layers):
        super().__init__()
        res = 0.02 / (2 * layers) ** 0.5
        self.norm1 = torch.nn.Parameter(torch.ones(D))
        self.qkv = torch.nn.Parameter(torch.randn(3 * D, D) * 0.02)
        self.o = torch.nn.Parameter(torch.randn(D, D) * res)
        self.norm2 = torch.nn.Parameter(torch.ones(D))
        self.fc1 = torch.nn.Parameter(torch.randn(MLP * D, D) * 0.02)
        self.fc2 = torch.nn.Parameter(torch.randn(D, MLP * D) * res)

    def forward(self, x, causal, cache=None, pos=None):
        """x (B, L, d). With `cache` (k, v of (B, H, maxLen, dh)), the L new
        rows are written at `pos` and attend to everything before them."""
        B, L, _ = x.shape
        a = rms(x, self.norm1)
        q, k, v = F.linear(a, self.qkv).view(B, L, 3, HEADS, D // HEADS).permute(2, 0, 3, 1, 4)
        if cache is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        else:
            ck, cv = cache
            ck[:, :, pos:pos + L] = k
            cv[:, :, pos:pos + L] = v
            # Prefill (pos 0) is causal over its own rows; a decode row sees the whole cache.
            y = F.scaled_dot_product_attention(q, ck[:, :, :pos + L], cv[:, :, :pos + L], is_causal=(pos == 0))
        x = x + F.linear(y.transpose(1, 2).reshape(B, L, D), self.o)
        return x + F.linear(F.gelu(F.linear(rms(x, self.norm2), self.fc1), approximate="tanh"), self.fc2)


def rms(x, g):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * g


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.patch_w = torch.nn.Parameter(torch.randn(D, PDIM) * 0.02)
        self.patch_b = torch.nn.Parameter(torch.zeros(D))
        self.vision_pos = torch.nn.Parameter(torch.randn(NP, D) * 0.02)
        self.vision = torch.nn.ModuleList(Block(VISION_LAYERS) for _ in range(VISION_LAYERS))
        self.vision_norm = torch.nn.Parameter(torch.ones(D))
        self.embed = torch.nn.Parameter(torch.randn(VOCAB, D) * 0.02)
        self.text_pos = torch.nn.Parameter(torch.randn(MAXSEQ, D) * 0.02)
        self.text = torch.nn.ModuleList(Block(TEXT_LAYERS) for _ in range(TEXT_LAYERS))
        self.text_norm = torch.nn.Parameter(torch.ones(D))

    def image_tokens(self, images):
        """images (B, 32, 32, 3) -> (B, 16, d)."""
        B = images.shape[0]
        g = IMG // PATCH
        p = images.view(B, g, PATCH, g, PATCH, CH).permute(0, 1, 3, 2, 4, 5).reshape(B, NP, PDIM)
        h = F.linear(p, self.patch_w, self.patch_b) + self.vision_pos
        for blk in self.vision:
            h = blk(h, causal=False)
        return rms(h, self.vision_norm)

    def trunk(self, images, tokens, caches=None):
        """The text stream (B, 16 + T, d) before the final norm."""
        s = torch.cat([self.image_tokens(images), F.embedding(tokens, self.embed)], 1)
        s = s + self.text_pos[:s.shape[1]]
        for i, blk in enumerate(self.text):
            s = blk(s, causal=True, cache=None if caches is None else caches[i], pos=0)
        return s

    def logits(self, s):
        return F.linear(rms(s, self.text_norm), self.embed)

    def token_logprobs(self, images, tokens, start):
        """log p(t_j) for text tokens j >= start: position 16 - 1 + j predicts t_j."""
        s = self.trunk(images, tokens)
        T = tokens.shape[1]
        lp = F.log_softmax(self.logits(s[:, NP - 1 + start:NP - 1 + T]), -1)
        return lp.gather(-1, tokens[:, start:, None]).squeeze(-1)

    def decode(self, tokens, caches, pos):
        """One new token per row at position `pos` -> logits (B, V)."""
        s = F.embedding(tokens, self.embed)[:, None] + self.text_pos[pos]
        for i, blk in enumerate(self.text):
            s = blk(s, causal=False, cache=caches[i], pos=pos)
        return self.logits(s[:, 0])


class Inputs:
    """Fixed inputs: W1/W2's 8 prompts and W3/W4's 64 sequences."""
    def __init__(self):
        g = torch.Generator().manual_seed(42)
        self.images = torch.rand(64, IMG, IMG, CH, generator=g) * 2 - 1
        self.seqs = torch.randint(0, VOCAB, (64, 112), generator=g)
        self.prompt_images = torch.rand(8, IMG, IMG, CH, generator=g) * 2 - 1
        self.prompts = torch.cat([torch.ones(8, 1, dtype=torch.long),
                                  torch.randint(7, VOCAB, (8, 47), generator=g)], 1)


def sample(model, inp, group=8, new=64):
    """W2: returns tokens (64, new) and their log-probabilities."""
    with torch.no_grad():
        B, P = inp.prompts.shape
        rows, dh = B * group, D // HEADS
        cap = NP + P + new
        pre = [(torch.empty(B, HEADS, cap, dh), torch.empty(B, HEADS, cap, dh)) for _ in model.text]
        s = model.trunk(inp.prompt_images, inp.prompts, caches=pre)
        logits = model.logits(s[:, -1]).repeat_interleave(group, 0)
        caches = [(k.repeat_interleave(group, 0), v.repeat_interleave(group, 0)) for k, v in pre]
        toks = torch.empty(rows, new, dtype=torch.long)
        lps = torch.empty(rows, new)
        pos = NP + P
        for t in range(new):
            lp = F.log_softmax(logits, -1)
            nxt = torch.multinomial(lp.exp(), 1)
            toks[:, t] = nxt[:, 0]
            lps[:, t] = lp.gather(-1, nxt)[:, 0]
            if t + 1 < new:
                logits = model.decode(nxt[:, 0], caches, pos)
                pos += 1
        return toks, lps


FORMAT = re.compile(r"^<think>.*?</think>\s*<answer>.*?</answer>$", re.S)


def grpo_step(model, ref, opt, inp, group=8, beta=0.04):
    toks, _ = sample(model, inp, group)
    # The format reward on each completion's text (random weights: no real text), group advantages.
    rewards = torch.tensor([1.0 if FORMAT.match(" ".join(f"t{t}" for t in row)) else 0.0 for row in toks.tolist()])
    r = rewards.view(-1, group)
    adv = ((r - r.mean(1, keepdim=True)) / (r.std(1, keepdim=True) + 1e-4)).view(-1)
    images = inp.prompt_images.repeat_interleave(group, 0)
    seqs = torch.cat([inp.prompts.repeat_interleave(group, 0), toks], 1)
    start = inp.prompts.shape[1]
    with torch.no_grad():
        ref_lp = ref.token_logprobs(images, seqs, start)
    lp = model.token_logprobs(images, seqs, start)
    ratio = torch.exp(lp - lp.detach())
    d = ref_lp - lp
    per_token = -ratio * adv[:, None] + beta * (torch.exp(d) - d - 1)
    loss = per_token.mean(1).mean()
    opt.zero_grad(set_to_none=False)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()


def sft_step(model, opt, inp):
    lp = model.token_logprobs(inp.images, inp.seqs, 0)
    loss = -lp.sum() / lp.numel()
    opt.zero_grad(set_to_none=False)
    loss.backward()
    opt.step()


def vmhwm_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def workloads():
    """id -> (unit, prepare() -> run, figure(seconds))."""
    def peak():
        g = torch.Generator().manual_seed(1)
        a, b = torch.rand(2048, 2048, generator=g) - 0.5, torch.rand(2048, 2048, generator=g) - 0.5
        c = torch.empty(2048, 2048)
        return lambda: torch.mm(a, b, out=c)

    def rl():
        torch.manual_seed(1)
        model = Model()
        ref = Model()
        ref.load_state_dict(model.state_dict())
        ref.requires_grad_(False)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-5, betas=(0.9, 0.999), eps=1e-8, weight_decay=0)
        return model, ref, opt, Inputs()

    def w1():
        model, ref, opt, inp = rl()
        return lambda: grpo_step(model, ref, opt, inp)

    def w2():
        model, _, _, inp = rl()
        return lambda: sample(model, inp)

    def w3():
        torch.manual_seed(1)
        model = Model()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0)
        inp = Inputs()
        return lambda: sft_step(model, opt, inp)

    def w4():
        torch.manual_seed(1)
        model, inp = Model(), Inputs()

        def run():
            with torch.no_grad():
                model.token_logprobs(inp.images, inp.seqs, 0)
        return run

    return {
        "peak": ("GFLOP/s", peak, lambda s: 2 * 2048 ** 3 / s / 1e9),
        "W1": ("s/step", w1, lambda s: s),
        "W2": ("tokens/s", w2, lambda s: 8 * 8 * 64 / s),
        "W3": ("positions/s", w3, lambda s: 64 * 128 / s),
        "W4": ("positions/s", w4, lambda s: 64 * 128 / s),
        "W6": ("MiB", w1, lambda s: vmhwm_mib()),
    }


def median_seconds(reps, run):
    run()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("ids", nargs="*")
    o = ap.parse_args()
    table = workloads()
    ids = o.ids or ["peak", "W1", "W2", "W3", "W4"]
    for i in ids:
        if i not in table:
            sys.exit(f"medr1_peer: unknown workload '{i}' (known: {', '.join(table)})")
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    for t in [int(x) for x in o.threads.split(",")]:
        torch.set_num_threads(t)
        for i in ids:
            unit, prepare, figure = table[i]
            secs = median_seconds(1 if i == "W6" else max(1, o.reps), prepare())
            print(json.dumps({"id": i, "value": round(figure(secs), 6), "unit": unit, "threads": t,
                              "impl": "pytorch", "torch": torch.__version__, "date": date,
                              "seconds": round(secs, 6)}), flush=True)


if __name__ == "__main__":
    main()
