"""Measurement only (issue 16's options table; never shipped): one classifier graph holding two guards exported by
train_encoder.py, whose p(unsafe) is the mean of theirs. logits = log(softmax_a + softmax_b), so the library's softmax
of them is the mean of the two softmaxes; pooled_output is guard A's. Writes OUT_DIR/model.onnx, vocab.txt and a
saferoute.json copied from A with the new hash. Both guards must read the same vocabulary and inputs.

Usage: merge_guards_onnx.py GUARD_DIR_A GUARD_DIR_B OUT_DIR"""
import json
import os
import shutil
import sys

import onnx
from onnx import compose, helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import file_sha256  # noqa: E402

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
dir_a, dir_b, out = sys.argv[1:4]
if file_sha256(os.path.join(dir_a, "vocab.txt")) != file_sha256(os.path.join(dir_b, "vocab.txt")):
    raise SystemExit("the two guards read different vocabularies")
first = onnx.load(os.path.join(dir_a, "model.onnx"))
graph = helper.make_graph([], "mean_of_two_guards", list(first.graph.input), list(first.graph.output))
for prefix, d in (("a_", dir_a), ("b_", dir_b)):
    m = compose.add_prefix(onnx.load(os.path.join(d, "model.onnx")), prefix)
    for node in m.graph.node:  # both read the one set of graph inputs
        node.input[:] = [i[len(prefix):] if i[len(prefix):] in INPUTS and i.startswith(prefix) else i for i in node.input]
    graph.node.extend(m.graph.node)
    graph.initializer.extend(m.graph.initializer)
graph.node.extend([
    helper.make_node("Softmax", ["a_logits"], ["a_probs"], axis=-1),
    helper.make_node("Softmax", ["b_logits"], ["b_probs"], axis=-1),
    helper.make_node("Add", ["a_probs", "b_probs"], ["probs_sum"]),
    helper.make_node("Log", ["probs_sum"], ["logits"]),
    helper.make_node("Identity", ["a_pooled_output"], ["pooled_output"]),
])
merged = helper.make_model(graph, opset_imports=first.opset_import)
merged.ir_version = first.ir_version
onnx.checker.check_model(merged)
os.makedirs(out, exist_ok=True)
onnx.save(merged, os.path.join(out, "model.onnx"))
shutil.copyfile(os.path.join(dir_a, "vocab.txt"), os.path.join(out, "vocab.txt"))
with open(os.path.join(dir_a, "saferoute.json"), encoding="utf-8") as f:
    manifest = json.load(f)
manifest["name"] = "measurement-mean-of-two-guards"
manifest["sha256"]["model.onnx"] = file_sha256(os.path.join(out, "model.onnx"))
with open(os.path.join(out, "saferoute.json"), "w", encoding="utf-8") as f:
    json.dump(manifest, f, indent=2)
    f.write("\n")
print(f"merged -> {out}")
