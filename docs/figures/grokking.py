#!/usr/bin/env python3
"""Draws the grokking curves of a `mechanist train modular-addition` run as an SVG (standard library only).

usage: python3 docs/figures/grokking.py samples/models/modular-addition > docs/figures/modular-addition-grokking.svg

Left: train and held-out accuracy against epoch. Right: train and held-out cross-entropy (log scale).
Vertical lines mark the epochs recorded in metrics.json where each accuracy first reached 99%.
"""
import json
import math
import os
import sys

folder = sys.argv[1]
rows = [json.loads(line) for line in open(os.path.join(folder, "training_log.jsonl")) if line.strip()]
metrics = json.load(open(os.path.join(folder, "metrics.json")))
last = max(r["epoch"] for r in rows)
stride = max(1, len(rows) // 600)  # at most ~600 points per curve
rows = [r for i, r in enumerate(rows) if i % stride == 0 or r["epoch"] == last]
epochs = [r["epoch"] for r in rows]

W, H, M = 460, 300, dict(left=58, right=24, top=34, bottom=46)
PW, PH = W - M["left"] - M["right"], H - M["top"] - M["bottom"]
TRAIN, TEST = "#1f77b4", "#d62728"


def x_of(epoch):
    return M["left"] + PW * epoch / last


def panel(title, series, y_of, ticks, ylabel):
    out = [f'<text x="{W / 2}" y="20" text-anchor="middle" font-size="14">{title}</text>',
           f'<rect x="{M["left"]}" y="{M["top"]}" width="{PW}" height="{PH}" fill="none" stroke="#888"/>']
    for value, label in ticks:
        y = y_of(value)
        out.append(f'<line x1="{M["left"] - 4}" y1="{y:.1f}" x2="{M["left"] + PW}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(f'<text x="{M["left"] - 7}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{label}</text>')
    step = min((m * 10 ** k for k in range(0, 8) for m in (1, 2, 5) if m * 10 ** k * 6 >= last), default=last)
    for e in range(0, last + 1, step):
        out.append(f'<text x="{x_of(e):.1f}" y="{M["top"] + PH + 16}" text-anchor="middle" font-size="11">{e}</text>')
    out.append(f'<text x="{M["left"] + PW / 2}" y="{H - 8}" text-anchor="middle" font-size="12">epoch</text>')
    out.append(f'<text x="14" y="{M["top"] + PH / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 14 {M["top"] + PH / 2})">{ylabel}</text>')
    for key, colour, label in [("train_accuracy_99_epoch", TRAIN, "train"), ("test_accuracy_99_epoch", TEST, "held-out")]:
        if metrics.get(key) is not None:
            x = x_of(metrics[key])
            out.append(f'<line x1="{x:.1f}" y1="{M["top"]}" x2="{x:.1f}" y2="{M["top"] + PH}" stroke="{colour}" stroke-dasharray="4 3" stroke-width="1"/>')
    for (values, colour, name), ly in zip(series, (M["top"] + 16, M["top"] + 32)):
        points = " ".join(f"{x_of(e):.1f},{y_of(v):.1f}" for e, v in zip(epochs, values))
        out.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
        out.append(f'<text x="{M["left"] + PW - 8}" y="{ly}" text-anchor="end" font-size="12" fill="{colour}">{name}</text>')
    return out


def accuracy_y(a):
    return M["top"] + PH * (1 - a)


losses = [r[k] for r in rows for k in ("train_loss", "test_loss")]
lo, hi = math.floor(math.log10(min(losses))), math.ceil(math.log10(max(losses)))


def loss_y(v):
    return M["top"] + PH * (hi - math.log10(v)) / (hi - lo)


left = panel("accuracy", [([r["train_accuracy"] for r in rows], TRAIN, "train"), ([r["test_accuracy"] for r in rows], TEST, "held-out")],
             accuracy_y, [(t / 4, f"{t / 4:.2f}") for t in range(5)], "accuracy")
right = panel("cross-entropy", [([r["train_loss"] for r in rows], TRAIN, "train"), ([r["test_loss"] for r in rows], TEST, "held-out")],
              loss_y, [(10.0 ** k, f"1e{k}") for k in range(lo, hi + 1, 2)], "loss (log scale)")
options = metrics["options"]
print(f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * W}" height="{H + 22}" font-family="sans-serif">')
print(f'<rect width="{2 * W}" height="{H + 22}" fill="white"/>')
print("<g>" + "".join(left) + "</g>")
print(f'<g transform="translate({W},0)">' + "".join(right) + "</g>")
caption = (f'p = {options["p"]}, {metrics["train_pairs"]} of {metrics["train_pairs"] + metrics["test_pairs"]} pairs train, '
           f'AdamW lr {options["lr"]}, weight decay {options["weight_decay"]}; dashed: first epoch at 99% '
           f'(train {metrics["train_accuracy_99_epoch"]}, held-out {metrics["test_accuracy_99_epoch"]})')
print(f'<text x="{W}" y="{H + 14}" text-anchor="middle" font-size="12">{caption}</text>')
print("</svg>")
