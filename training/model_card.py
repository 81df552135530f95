"""Writes models/default/MODEL_CARD.md: the static head (training/templates/MODEL_CARD.head.md) plus the measured numbers
from metrics.json and the training logs in the work folder."""
import json
import os
import sys

out, work = sys.argv[1], sys.argv[2]
m = json.load(open(os.path.join(out, "metrics.json"), encoding="utf-8"))
head = open(os.path.join(os.path.dirname(__file__), "templates", "MODEL_CARD.head.md"), encoding="utf-8").read()
small = json.load(open(os.path.join(work, "train_saferoute-default-small.json"), encoding="utf-8"))
large = json.load(open(os.path.join(work, "train_saferoute-default-large.json"), encoding="utf-8"))
router = json.load(open(os.path.join(work, "train_router.json"), encoding="utf-8"))


def arch(t):
    layers = "1 layer" if t["layers"] == 1 else f"{t['layers']} layers"
    towers = t.get("towers", 1)
    shape = f"{layers}, d = {t['d']}" if towers == 1 else f"an ensemble of {towers} towers of {layers}, d = {t['d']} (hidden state {towers * t['d']})"
    pre = f", language-model pre-training ({t['lm_epochs']} epoch) then" if t.get("lm_epochs") else ","
    wv = ", token embeddings started from GloVe word vectors" if t.get("word_vectors") else ""
    fp16 = ", weights stored as float16 (float32 at run time)" if t.get("fp16_weights") else ""
    return (f"{shape}, vocabulary {t['vocab']}, {t['params'] / 1e6:.2f} M parameters{wv}{pre} "
            f"{t['epochs']} verdict-training epochs{' per tower' if towers > 1 else ''}{fp16}")


head = head.replace("SMALL_ARCH", arch(small)).replace("LARGE_ARCH", arch(large))

lines = [head, "", "## Development-split results (measured through the .NET library)", "",
         f"{m['rows']} rows, {m['unsafe']} unsafe (positive class), {m['withResponse']} with a response. "
         f"Always-unsafe baseline F1 {m['allUnsafeBaselineF1']:.3f}; majority (always-safe) baseline F1 0.", "",
         "| method | F1 | precision | recall | large-guard share | routing F1 (vs t) |", "|---|---|---|---|---|---|"]
names = {"small": "small guard alone", "large": "large guard alone", "routed": f"SafeRoute router (ε = {m['routed']['threshold']:.4f})",
         "oracle": "oracle (upper bound, uses labels)", "entropy": "entropy routing (> 0.5 bits)",
         "entropyAtRouterShare": "entropy routing at the router's share"}
for k, name in names.items():
    v = m[k]
    share = f"{v['largeShare'] * 100:.1f}%" if "largeShare" in v else ("0%" if k == "small" else "100%")
    rf1 = f"{v['routing']['f1']:.3f}" if "routing" in v else "–"
    lines.append(f"| {name} | {v['f1']:.3f} | {v['precision']:.3f} | {v['recall']:.3f} | {share} | {rf1} |")
lat = m["latency"]
lines += ["", f"Hard labels (large right, small wrong) on dev: {m['hardLabels']}; on the router split: {router['router_hard']} of {router['router_rows']}.",
          f"Latency, one request of {lat['tokens']} tokens, 1 intra-op thread, median of {lat['runs']} runs (Stopwatch, after warm-up): "
          f"small {lat['smallMedianMs']} ms, large {lat['largeMedianMs']} ms, ratio {lat['ratio']}×.",
          ("" if m["large"]["f1"] >= m["small"]["f1"] + 0.03 else
           f"**Known gap:** the large guard is not yet the required 0.03 F1 above the small guard on dev "
           f"({m['large']['f1']:.3f} vs {m['small']['f1']:.3f}); the issue's margin is not met by these models "
           f"(what was tried, with numbers: training/README.md, \"Experiments\"). "),
          f"Sizes: {m['sizesBytes']['total'] / 1e6:.1f} MB in all" + (" (large guard's weights stored as float16)." if large.get("fp16_weights") else " (fp32)."),
          f"Training time (2 cores, OpenBLAS): small {small['train_seconds']:.0f} s ({small['epochs']} epochs), "
          f"large {large['train_seconds']:.0f} s ({(str(large['towers']) + ' × ') if large.get('towers', 1) > 1 else ''}{large['epochs']} epochs" + (f", plus {large['pretrain_seconds']:.0f} s pre-training" if large.get('pretrain_seconds') else "") + f"), router {router['train_seconds']:.0f} s ({router['epochs']} epochs).", ""]
open(os.path.join(out, "MODEL_CARD.md"), "w", encoding="utf-8").write("\n".join(lines))
