#!/usr/bin/env python3
"""Pairs medr1-bench and medr1_peer.py JSON lines by (round, id, threads) and
prints how many times faster (or smaller) medr1 is, per round and as the
median with the range over rounds.

    python3 compare.py results.jsonl

Each line has "round"; peer lines have "impl": "pytorch". A ratio above 1
means medr1 is ahead: value(medr1) / value(pytorch) for rates (GFLOP/s,
tokens/s, positions/s), the inverse for seconds per step and MiB. For
`peak` the ratio is medr1's product over MKL's sgemm (torch.mm).
"""
import json
import statistics
import sys
from collections import defaultdict

HIGHER_IS_BETTER = {"GFLOP/s", "tokens/s", "positions/s"}


def main():
    runs = defaultdict(dict)   # (id, threads) -> round -> {impl: line}
    with open(sys.argv[1]) as f:
        for raw in f:
            raw = raw.strip()
            if not raw.startswith("{"):
                continue
            d = json.loads(raw)
            if d.get("id") in ("W1.parts", "decode", "W5") or d.get("value") is None:
                continue
            impl = d.get("impl", "medr1")
            runs[(d["id"], d["threads"])].setdefault(d.get("round", 0), {})[impl] = d
    order = {k: i for i, k in enumerate(["peak", "W1", "W2", "W3", "W4", "W6"])}
    print(f"{'id':<5} {'thr':>3} {'medr1':>12} {'pytorch':>12}  {'unit':<12} {'medr1 util':>10}  "
          f"{'ratio: median (range)':<24} per round")
    for key in sorted(runs, key=lambda k: (order.get(k[0], 99), k[1])):
        pairs = [(r, v["medr1"], v["pytorch"]) for r, v in sorted(runs[key].items()) if "medr1" in v and "pytorch" in v]
        if not pairs:
            continue
        unit = pairs[0][1]["unit"]
        ratios = [(m["value"] / p["value"]) if unit in HIGHER_IS_BETTER else (p["value"] / m["value"])
                  for _, m, p in pairs]
        utils = [m.get("utilisation") for _, m, _ in pairs if m.get("utilisation") is not None]
        util = f"{100 * statistics.median(utils):.0f}%" if utils and key[0] != "peak" else "-"
        mv = statistics.median(m["value"] for _, m, _ in pairs)
        pv = statistics.median(p["value"] for _, _, p in pairs)
        span = f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"
        print(f"{key[0]:<5} {key[1]:>3} {mv:>12.4g} {pv:>12.4g}  {unit:<12} {util:>10}  {span:<24} "
              + " ".join(f"{x:.2f}" for x in ratios))


if __name__ == "__main__":
    main()
