#!/usr/bin/env python3
"""A TopK sparse autoencoder written the way the Python interpretability field writes it, as the side-by-side
reference of `mechanist bench sae --reference pytorch`. Not part of the product; needs only PyTorch and NumPy
(Debian: apt-get install python3-torch).

The model and step follow Gao et al. (2024) and SAELens' TopK trainer in their plain form: the dense latent matrix
is built with a scatter after torch.topk and decoded with a dense matmul (f @ W_dec); the loss is the squared error
summed over features and averaged over rows, plus the AuxK loss on dead latents (the k_aux largest pre-activations
among latents that have not fired for `dead_after_rows` rows reconstruct the residual); the decoder gradient's
component along each row is removed, the gradient norm clipped to 1, torch.optim.Adam steps, and decoder rows are
renormalised. W_dec starts as random unit rows and W_enc as its transpose; b_enc and b_dec start at zero.

Modes (one JSON object on stdout):
  steps    time training steps on rows of an .npy file: per-step seconds after warm-up, and this torch build's
           dense matmul rate for the encoder's shape.
  quality  train on an .npy file until the mean max cosine similarity of the decoder rows with the true directions
           (an .npy [n, d]) reaches a threshold, evaluating every few steps; training seconds exclude evaluation.
"""
import argparse
import json
import os
import resource
import sys
import time

import numpy as np
import torch


class TopKSAE(torch.nn.Module):
    def __init__(self, d_in, d_sae, k, generator):
        super().__init__()
        self.k = k
        w_dec = torch.randn(d_sae, d_in, generator=generator)
        w_dec /= w_dec.norm(dim=1, keepdim=True)
        self.W_dec = torch.nn.Parameter(w_dec)
        self.W_enc = torch.nn.Parameter(w_dec.t().clone())
        self.b_enc = torch.nn.Parameter(torch.zeros(d_sae))
        self.b_dec = torch.nn.Parameter(torch.zeros(d_in))

    def forward(self, x):
        pre = (x - self.b_dec) @ self.W_enc + self.b_enc
        top = torch.topk(pre, self.k, dim=-1)
        f = torch.zeros_like(pre).scatter(-1, top.indices, torch.relu(top.values))
        return f @ self.W_dec + self.b_dec, f, pre


class Trainer:
    def __init__(self, d_in, d_sae, k, lr, seed, dead_after_rows=1_000_000, aux_k=None, aux_coefficient=1.0 / 32):
        generator = torch.Generator().manual_seed(seed)
        self.sae = TopKSAE(d_in, d_sae, k, generator)
        self.opt = torch.optim.Adam(self.sae.parameters(), lr=lr)
        self.rows_since_fired = torch.zeros(d_sae, dtype=torch.long)
        self.dead_after_rows = dead_after_rows
        self.aux_k = aux_k or d_in // 2
        self.aux_coefficient = aux_coefficient

    def step(self, x):
        sae = self.sae
        recon, f, pre = sae(x)
        mse = (recon - x).pow(2).sum(-1).mean()
        loss = mse
        dead = self.rows_since_fired >= self.dead_after_rows
        n_dead = int(dead.sum())
        if n_dead > 0:
            k_aux = min(self.aux_k, n_dead)
            scale = min(n_dead / self.aux_k, 1.0)
            residual = (x - recon).detach()
            masked = torch.where(dead[None], pre, torch.full_like(pre, -float("inf")))
            top = torch.topk(masked, k_aux, dim=-1)
            f_aux = torch.zeros_like(pre).scatter(-1, top.indices, torch.relu(top.values))
            aux = (f_aux @ sae.W_dec - residual).pow(2).sum(-1).mean()
            loss = loss + self.aux_coefficient * scale * aux
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        with torch.no_grad():
            g = sae.W_dec.grad
            g -= (g * sae.W_dec).sum(-1, keepdim=True) * sae.W_dec
        torch.nn.utils.clip_grad_norm_(sae.parameters(), 1.0)
        self.opt.step()
        with torch.no_grad():
            sae.W_dec /= sae.W_dec.norm(dim=-1, keepdim=True)
            fired = (f > 0).any(0)
            self.rows_since_fired += x.shape[0]
            self.rows_since_fired[fired] = 0
        return float(mse)


def matmul_rate(batch, d_in, d_sae):
    a = torch.randn(batch, d_in)
    b = torch.randn(d_in, d_sae)
    best = float("inf")
    for i in range(6):
        start = time.perf_counter()
        c = a @ b
        float(c.sum())
        if i > 0:
            best = min(best, time.perf_counter() - start)
    return 2.0 * batch * d_in * d_sae / best


def peak_rss_bytes():
    # VmHWM of this process's own address space: ru_maxrss would include the parent's RSS at fork.
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def mmcs(directions, decoder_rows):
    t = directions / directions.norm(dim=1, keepdim=True)
    d = decoder_rows / decoder_rows.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return float((t @ d.t()).max(dim=1).values.mean())


def run_steps(args):
    data = torch.from_numpy(np.load(args.data)).float()
    rows = data.shape[0]
    trainer = Trainer(data.shape[1], args.d_sae, args.k, args.lr, args.seed)
    times = []
    cpu_times = []
    for i in range(args.warmup + args.steps):
        start_row = (i * args.batch) % max(1, rows - args.batch + 1)
        x = data[start_row:start_row + args.batch]
        start = time.perf_counter()
        cpu_start = time.process_time()
        trainer.step(x)
        if i >= args.warmup:
            times.append(time.perf_counter() - start)
            cpu_times.append(time.process_time() - cpu_start)
        if args.progress:
            print(json.dumps({"step": i + 1, "seconds": time.perf_counter() - start}), file=sys.stderr, flush=True)
    return {"step_seconds": times, "step_cpu_seconds": cpu_times,
            "matmul_flops_per_second": matmul_rate(args.batch, data.shape[1], args.d_sae)}


def run_quality(args):
    data = torch.from_numpy(np.load(args.data)).float()
    directions = torch.from_numpy(np.load(args.directions)).float()
    rows = data.shape[0]
    batch = min(args.batch, rows)
    trainer = Trainer(data.shape[1], args.d_sae, args.k, args.lr, args.seed)
    generator = torch.Generator().manual_seed(args.seed + 1)
    order = torch.randperm(rows, generator=generator)
    position = 0
    trained = 0.0
    history = []
    step = 0
    reached = False
    while trained < args.max_seconds and step < args.max_steps:
        start = time.perf_counter()
        if position + batch > rows:
            order = torch.randperm(rows, generator=generator)
            position = 0
        x = data[order[position:position + batch]]
        position += batch
        trainer.step(x)
        trained += time.perf_counter() - start
        step += 1
        if step % args.eval_every == 0:
            score = mmcs(directions, trainer.sae.W_dec.detach())
            history.append([step, trained, score])
            if score >= args.threshold:
                reached = True
                break
    return {"reached": reached, "seconds": trained, "steps": step, "history": history, "threshold": args.threshold}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["steps", "quality"])
    parser.add_argument("--data", required=True)
    parser.add_argument("--directions")
    parser.add_argument("--d-sae", type=int, required=True)
    parser.add_argument("--k", type=int, required=True)
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--threshold", type=float, default=0.97)
    parser.add_argument("--eval-every", type=int, default=25)
    parser.add_argument("--max-seconds", type=float, default=600)
    parser.add_argument("--max-steps", type=int, default=1_000_000)
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    result = run_steps(args) if args.mode == "steps" else run_quality(args)
    result.update({
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "peak_rss_bytes": peak_rss_bytes(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
    })
    print(json.dumps(result))


if __name__ == "__main__":
    main()
