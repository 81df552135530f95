"""Writes the reproduction fixture of the v2 default pair (issue 16) for the .NET tests
(tests/SafeRoute.Tests/DefaultModels/default-dev-fingerprint.tsv).

For every development-split row: its id, label, the SHA-256 of the input ids each guard was trained and evaluated on
(the small guard's and the large guard's WordPiece rows, written by `ModelPrep tokenize-wordpiece` through the library's
ClassifierEncoder; the hash is over the ids as decimal numbers joined by ","), and PyTorch's p(unsafe) of each
guard with its weights rounded to float16 as the shipped graphs store them (torch_dev_p16_<name>.tsv, written by
train_encoder.py --fp16-torch-check). Header lines (#) carry the SHA-256 of the shipped model
files, so the test can tell a stale fixture from a wrong library. No text is written.
Usage: v2_fingerprint.py OUT WORK SMALL_ROWS LARGE_ROWS SMALL_NAME LARGE_NAME DEST"""
import hashlib
import json
import os
import sys

from common import file_sha256

out, work, small_rows, large_rows, small_name, large_name, dest = sys.argv[1:8]


def dev_ids(path):
    ids = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r["split"] == "dev":
                ids[r["id"]] = (r["label"], hashlib.sha256(",".join(str(t) for t in r["ids"]).encode("ascii")).hexdigest())
    return ids


def torch_p(name):
    p = {}
    with open(os.path.join(work, f"torch_dev_p16_{name}.tsv"), encoding="utf-8") as f:
        for line in f:
            i, v = line.rstrip("\n").split("\t")
            p[i] = v
    return p


small, large = dev_ids(small_rows), dev_ids(large_rows)
ps, pl = torch_p(small_name), torch_p(large_name)
assert list(small) == list(large), "both row files hold the same development split in the same order"
with open(dest, "w", encoding="utf-8", newline="\n") as f:
    for rel in ("small/model.onnx", "large/model.onnx", "router.safetensors"):
        f.write(f"# sha256 {rel} {file_sha256(os.path.join(out, rel))}\n")
    f.write("# id\tlabel\tsmall_ids_sha256\tlarge_ids_sha256\ttorch_small_p\ttorch_large_p\n")
    for i, (label, small_hash) in small.items():
        f.write(f"{i}\t{label}\t{small_hash}\t{large[i][1]}\t{ps[i]}\t{pl[i]}\n")
print(f"fingerprint: {len(small)} dev rows -> {dest}")
