"""Router inputs for the v2 pair from PyTorch outputs (issue 16), in the layout train_router.py reads:
OUT/features/{router,dev}.f32 (small-guard pooled_output, float32 [N, H]) and {router,dev}.tsv (label, small logits/p, large p).
Until the library's classifier guard kind lands these come from train_encoder.py's v2_<name>_{split}.npz (the float32
PyTorch models); afterwards `ModelPrep features` should produce them through the library.
Usage: v2_features.py WORK SMALL_NAME LARGE_NAME OUT_DIR"""
import os
import sys

import numpy as np

work, small, large, out = sys.argv[1:5]
os.makedirs(os.path.join(out, "features"), exist_ok=True)
for split in ("router", "dev"):
    s = np.load(os.path.join(work, f"v2_{small}_{split}.npz"))
    l = np.load(os.path.join(work, f"v2_{large}_{split}.npz"))
    assert (s["ids"] == l["ids"]).all()
    s["features"].astype("<f4").tofile(os.path.join(out, "features", split + ".f32"))
    with open(os.path.join(out, "features", split + ".tsv"), "w", encoding="utf-8") as f:
        f.write("id\tsource\tlabel\tresp\tsmall_safe\tsmall_unsafe\tsmall_p\tlarge_p\n")
        for i in range(len(s["ids"])):
            f.write(f"{s['ids'][i]}\t-\t{int(s['labels'][i])}\t-\t{s['logits'][i,0]!r}\t{s['logits'][i,1]!r}\t{float(s['p'][i])!r}\t{float(l['p'][i])!r}\n")
    print(split, len(s["ids"]), "rows, H =", s["features"].shape[1])
