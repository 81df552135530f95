"""Builds a tiny random-weight Gemma-2-style guard that reads real Gemma 2 token ids, and its PyTorch reference.

Writes tests/SafeRoute.Tests/Guards/GemmaTinyRealIds/{model.onnx, lm_head_rows.safetensors, reference.json}. The C#
tests read them (they never run Python). Run from the repository root with Debian's python3-torch:

    nice -n 19 /usr/bin/python3 tools/vectors/gemma/tiny_gemma_real_ids.py

The architecture, sizes and export are tiny_gemma_guard.py's (imported from it), except that the embedding table has
1,009 rows and is indexed by id mod 1009 (as tools/vectors/qwen3/tiny_qwen3_guard.py does), so that ids of Gemma 2's
256,000-token vocabulary can be fed: a test graph, not a real model. The ids are the golden ids of
tests/SafeRoute.Tests/Text/GemmaVectors.json ("guardCases": every ShieldGemma policy's row of four requests, rendered
and tokenized by tools/vectors/gemma/sentencepiece-bpe-vectors.mjs with Gemma 2's tokenizer.json), not SafeRoute's.
The verdict rows are "No" then "Yes" (Gemma ids 1294 and 3553); p(violation) = softmax[Yes] after Gemma 2's final
soft-cap (30), computed in float64 from the float32 weights.
"""
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import tiny_gemma_guard as g  # noqa: E402  (seeds torch with 1717 on import)

TABLE = 1009
g.VOCAB = TABLE
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
OUT = os.path.join(ROOT, "tests", "SafeRoute.Tests", "Guards", "GemmaTinyRealIds")
VECTORS = os.path.join(ROOT, "tests", "SafeRoute.Tests", "Text", "GemmaVectors.json")


class TinyGemma2RealIds(g.TinyGemma2):
    def forward(self, input_ids, attention_mask, position_ids):
        return super().forward(torch.remainder(input_ids, TABLE), attention_mask, position_ids)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(2017)
    model = TinyGemma2RealIds().eval()
    shared = torch.randn(g.HIDDEN)
    rows = torch.stack([shared + 0.12 * torch.randn(g.HIDDEN), shared + 0.12 * torch.randn(g.HIDDEN)]) * 6.0
    g.write_safetensors(os.path.join(OUT, "lm_head_rows.safetensors"), "lm_head_rows", rows)

    ids, mask, pos = g.batch([[2, 255999, 3], [106, 5]])
    torch.onnx.export(
        model, (ids, mask, pos), os.path.join(OUT, "model.onnx"),
        input_names=["input_ids", "attention_mask", "position_ids"], output_names=["last_hidden_state"],
        dynamic_axes={n: {0: "batch", 1: "sequence"} for n in ["input_ids", "attention_mask", "position_ids", "last_hidden_state"]},
        opset_version=17, do_constant_folding=True)

    model64 = TinyGemma2RealIds().eval()
    model64.load_state_dict(model.state_dict())
    model64 = model64.double()
    rows64 = rows.double()
    vectors = json.load(open(VECTORS, encoding="utf-8"))["gemma2"]["guardCases"]
    cases = []
    with torch.no_grad():
        for case in vectors:
            per_policy = []
            hs = []
            for pol in case["policies"]:
                i, m, p = g.batch([pol["ids"]])
                h = model64(i, m, p)[0, -1]
                hs.append(h)
                z = g.FINAL_CAP * torch.tanh((rows64 @ h) / g.FINAL_CAP)
                per_policy.append({"code": pol["code"], "ids": pol["ids"], "p": float(torch.softmax(z, dim=0)[1])})
            cases.append({"prompt": case["prompt"], "response": case["response"], "policies": per_policy,
                          "features": [float(x) for x in torch.stack(hs).mean(0)],
                          "p": max(pp["p"] for pp in per_policy)})
    json.dump({"generator": "tools/vectors/gemma/tiny_gemma_real_ids.py", "torch": torch.__version__,
               "embeddingRows": TABLE, "cases": cases},
              open(os.path.join(OUT, "reference.json"), "w", encoding="utf-8"), indent=1, ensure_ascii=False)
    print([[round(pp["p"], 4) for pp in c["policies"]] for c in cases])


if __name__ == "__main__":
    main()
