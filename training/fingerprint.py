"""Writes the reproduction fixture for the .NET tests (tests/SafeRoute.Tests/DefaultModels/default-dev-fingerprint.tsv).

For every development-split row: its id, label, SHA-256 of the token ids the guards were trained and evaluated on
(rows.jsonl, produced by the library's PromptEncoder through `ModelPrep tokenize`; the hash is over the ids written as
decimal numbers joined by ","), and PyTorch's p(unsafe) from the small and the large guard. Header lines (#) carry the
SHA-256 of the shipped model files, so the test can tell a stale fixture from a wrong library. No text is written.
"""
import hashlib
import os
import sys

from common import file_sha256, load_rows

out, work, dest = sys.argv[1], sys.argv[2], sys.argv[3]


def torch_p(name):
    p = {}
    with open(os.path.join(work, f"torch_dev_p_{name}.tsv"), encoding="utf-8") as f:
        for line in f:
            i, v = line.rstrip("\n").split("\t")
            p[i] = v
    return p


small = torch_p("saferoute-default-small")
large = torch_p("saferoute-default-large")
dev = [r for r in load_rows(work) if r["split"] == "dev"]
with open(dest, "w", encoding="utf-8", newline="\n") as f:
    for rel in ("small/model.onnx", "large/model.onnx", "router.safetensors"):
        f.write(f"# sha256 {rel} {file_sha256(os.path.join(out, rel))}\n")
    f.write("# id\tlabel\tids_sha256\ttorch_small_p\ttorch_large_p\n")
    for r in dev:
        ids = ",".join(str(t) for t in r["ids"]).encode("ascii")
        f.write(f"{r['id']}\t{r['label']}\t{hashlib.sha256(ids).hexdigest()}\t{small[r['id']]}\t{large[r['id']]}\n")
print(f"fingerprint: {len(dev)} dev rows -> {dest}")
