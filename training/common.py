"""Shared helpers: data loading from the prep tool's rows.jsonl (token ids only, never text), safetensors I/O, metrics."""
import hashlib
import json
import os
import struct

import numpy as np


def load_rows(work):
    rows = []
    with open(os.path.join(work, "rows.jsonl"), encoding="utf-8") as f:
        for line in f:
            rows.append(json.loads(line))
    return rows


def save_safetensors(path, tensors, metadata=None):
    """tensors: dict name -> float32 numpy array (C order). Writes the safetensors format (F32, little-endian)."""
    header = {}
    offset = 0
    blobs = []
    for name in tensors:
        arr = np.ascontiguousarray(tensors[name], dtype="<f4")
        nbytes = arr.nbytes
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + nbytes]}
        blobs.append(arr.tobytes())
        offset += nbytes
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def f1_stats(pred, label):
    pred = np.asarray(pred).astype(bool)
    label = np.asarray(label).astype(bool)
    tp = int((pred & label).sum())
    fp = int((pred & ~label).sum())
    fn = int((~pred & label).sum())
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"f1": f, "precision": p, "recall": r}


def file_sha256(path):
    """SHA-256 of a file, lower-case hex, read in 1 MiB chunks (the manifest's "sha256" entries)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
