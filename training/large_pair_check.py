"""Compare two large guards on the dev split, alone, as the mean of their p(unsafe), and as a uniform weight average
(issue 16's options table: the shipped MiniLM large guard and the arctic-embed-xs run). Optionally writes a teacher
for `train_encoder.py --teacher`: log of the two guards' mean softmax on the training rows.

A guard is given as a shipped model folder (its float16 (+ int8 residual) ONNX graph, decoded to the float32 values
ONNX Runtime computes) or as a train_encoder.py checkpoint (ckpt_<name>.pt, float32). Both must be the 6-layer d=384
architecture of --base. The decoded folder is checked against its own fixture p when --fixture is given. Never prints text.

Usage: large_pair_check.py --rows WP_ROWS --base BASE_DIR --a MODEL_DIR_OR_CKPT --b MODEL_DIR_OR_CKPT
       [--fixture default-dev-fingerprint.tsv] [--teacher-out FILE.npz --extra-benign 2000]
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bert  # noqa: E402
from train_encoder import load_rows, metrics, predict, training_rows  # noqa: E402


def decoded_state_dict(onnx_path):
    """The state dict of a graph exported by train_encoder.export_onnx: float16 initializers (+ int8 residual and scale)
    decoded; MatMul weights (anonymous, stored [in, out]) named after the module in their node's output name."""
    import onnx
    from onnx import numpy_helper
    graph = onnx.load(onnx_path).graph
    raw = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    values = {}
    for name, v in raw.items():
        if name.endswith("_fp16"):
            base = name[:-len("_fp16")]
            x = v.astype(np.float32)
            if base + "_res8" in raw:
                x = x + raw[base + "_res8"].astype(np.float32) * raw[base + "_res8_scale"]
            values[base] = x
        elif not name.endswith(("_res8", "_res8_scale")):
            values[name] = v
    sd = {n[len("m."):]: v for n, v in values.items() if n.startswith("m.")}
    for node in graph.node:
        if node.op_type == "MatMul" and node.input[1] in values:
            module = ".".join(node.output[0].split("/")[2:-1])  # "/m/layers.0/query/MatMul_output_0" -> layers.0.query
            sd[module + ".weight"] = values[node.input[1]].T
    return {k: torch.from_numpy(np.ascontiguousarray(v)).float() for k, v in sd.items()}


def load_state(path):
    if os.path.isdir(path):
        return decoded_state_dict(os.path.join(path, "model.onnx"))
    return torch.load(path)["model"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", required=True)
    ap.add_argument("--base", required=True, help="base encoder folder (architecture only)")
    ap.add_argument("--a", required=True)
    ap.add_argument("--b", required=True)
    ap.add_argument("--fixture", default=None, help="fingerprint TSV whose torch_large_p column --a must reproduce")
    ap.add_argument("--teacher-out", default=None)
    ap.add_argument("--extra-benign", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    model = bert.load_pretrained(os.path.join(args.base, "model.onnx"))
    sa, sb = load_state(args.a), load_state(args.b)
    rows = load_rows(args.rows, model.config["max_pos"])
    dev = [r for r in rows if r["split"] == "dev"]
    y = [r["label"] for r in dev]
    out = {}
    model.load_state_dict(sa, strict=True)
    _, _, pa = predict(model, dev)
    out["a"] = metrics(pa, y)
    if args.fixture:
        ref = {}
        with open(args.fixture, encoding="utf-8") as f:
            for line in f:
                if not line.startswith("#"):
                    cols = line.rstrip("\n").split("\t")
                    ref[cols[0]] = float(cols[5])
        out["aMaxAbsDiffFromFixture"] = float(np.abs(pa - np.array([ref[r["id"]] for r in dev])).max())
        if out["aMaxAbsDiffFromFixture"] > 1e-5:
            raise SystemExit(f"--a does not reproduce the fixture: max |dp| {out['aMaxAbsDiffFromFixture']:.2e}")
    model.load_state_dict(sb, strict=True)
    _, _, pb = predict(model, dev)
    out["b"] = metrics(pb, y)
    out["meanP"] = metrics((pa + pb) / 2, y)
    out["agreement"] = round(float(((pa > 0.5) == (pb > 0.5)).mean()), 4)
    model.load_state_dict({k: (sa[k] + sb[k]) / 2 for k in sa})
    _, _, ps = predict(model, dev)
    out["weightAverage"] = metrics(ps, y)
    print(json.dumps(out, indent=1), flush=True)

    if args.teacher_out:
        guard, coverage, extra = training_rows(rows, args.extra_benign)
        train = guard + coverage + extra  # train_encoder.py's rows (the teacher is looked up by id)
        probs = []
        for sd in (sa, sb):
            model.load_state_dict(sd, strict=True)
            logits, _, _ = predict(model, train)
            probs.append(torch.softmax(torch.from_numpy(logits), -1))
        np.savez(args.teacher_out, ids=np.array([r["id"] for r in train]),
                 logits=torch.log((probs[0] + probs[1]) / 2).numpy())
        print(f"teacher: {len(train)} training rows -> {args.teacher_out}")


if __name__ == "__main__":
    main()
