#!/usr/bin/env python3
"""Two row-aligned sites from one superposition set, for fitting transcoders and crosscoders on data with known
features (not part of the product; needs NumPy only).

Site A is the set's activations; site B is the same rows carried by a random orthogonal map R (seeded), so B = A R
exactly and feature i's direction at B is d_i R. Writes, into the output folder:
  site-a.npy, site-b.npy                 float32 [rows, d]
  directions-b.safetensors               'directions' [n, d]: the features at site B (ground truth of a transcoder A -> B)
  directions-ab.safetensors              'directions' [n, 2d]: [d_i, d_i R] / sqrt(2) (ground truth of a crosscoder on A, B)

  python3 bench/paired_sites.py sp.safetensors paired/ [--seed 7]
"""
import argparse
import json
import os
import struct

import numpy as np


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise SystemExit(f"{path}: tensor '{name}' is {info['dtype']}, expected F32")
        start, end = info["data_offsets"]
        out[name] = np.frombuffer(data[start:end], dtype="<f4").reshape(info["shape"])
    return out


def write_safetensors(path, name, array):
    array = np.ascontiguousarray(array, dtype="<f4")
    header = json.dumps({name: {"dtype": "F32", "shape": list(array.shape), "data_offsets": [0, array.nbytes]}}).encode()
    header += b" " * (-len(header) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(header)))
        f.write(header)
        f.write(array.tobytes())
    os.replace(tmp, path)


def save_npy(path, array):
    tmp = path + ".tmp.npy"
    np.save(tmp, np.ascontiguousarray(array, dtype="<f4"))
    os.replace(tmp, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("set", help="a .safetensors from 'mechanist generate superposition' (activations, directions)")
    parser.add_argument("out", help="output folder")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    tensors = read_safetensors(args.set)
    for name in ("activations", "directions"):
        if name not in tensors:
            raise SystemExit(f"{args.set}: no tensor '{name}'")
    a, d = tensors["activations"], tensors["directions"]
    rng = np.random.default_rng(args.seed)
    q, r = np.linalg.qr(rng.standard_normal((a.shape[1], a.shape[1])))
    rotation = q * np.sign(np.diag(r))
    os.makedirs(args.out, exist_ok=True)
    save_npy(os.path.join(args.out, "site-a.npy"), a)
    save_npy(os.path.join(args.out, "site-b.npy"), a @ rotation)
    write_safetensors(os.path.join(args.out, "directions-b.safetensors"), "directions", d @ rotation)
    write_safetensors(os.path.join(args.out, "directions-ab.safetensors"), "directions",
                      np.concatenate([d, d @ rotation], axis=1) / np.sqrt(2.0))


if __name__ == "__main__":
    main()
