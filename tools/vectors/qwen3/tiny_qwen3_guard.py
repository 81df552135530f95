"""Builds the tiny random-weight Qwen3-style guard of the Qwen3Guard tests and its PyTorch reference outputs.

Writes tests/SafeRoute.Tests/Guards/Qwen3Tiny/{model.onnx, lm_head_rows.safetensors, reference.json}. The C# tests
read them (they never run Python). Run from the repository root with Debian's python3-torch:

    nice -n 19 /usr/bin/python3 tools/vectors/qwen3/tiny_qwen3_guard.py

Architecture (Qwen3, as in Hugging Face transformers' modeling_qwen3): token embedding; per layer RMSNorm, attention
with grouped key/value heads, RMSNorm over each head of q and k (Qwen3's q_norm/k_norm) before rotary embeddings
(theta 1e6, rotate-half), no biases; RMSNorm, SwiGLU MLP; final RMSNorm. Sizes are tiny (hidden 32, 2 layers, 4 query
heads, 2 key/value heads, head size 8, MLP 64). To keep the file small while feeding real Qwen3 token ids (up to
151,668), the embedding table has 1,009 rows and is indexed by id mod 1009 (a test graph, not a real model).

Export as Optimum's feature-extraction export of a decoder: inputs input_ids, attention_mask, position_ids (int64,
[batch, seq]); output last_hidden_state [batch, seq, 32] (after the final norm). The verdict logits are h_last times
the lm_head rows of the verdict tokens (lm_head_rows.safetensors, [n, 32], in the order the manifest lists the tokens:
safe tokens, then unsafe, then controversial). Masks add -1e9 (never -inf), so a fully masked padded row stays finite.

Reference: for each golden case of tests/SafeRoute.Tests/Text/Qwen3GuardVectors.json (the ids of an independent
tokenizer), p(unsafe) under strict (controversial counts as unsafe) and loose (controversial counts as safe), and the
router features (h_last), computed in float64 from the same float32 weights; single rows and one left-padded batch.
"""
import json
import math
import os
import struct

import torch

torch.manual_seed(17)
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
OUT = os.path.join(ROOT, "tests", "SafeRoute.Tests", "Guards", "Qwen3Tiny")
VECTORS = os.path.join(ROOT, "tests", "SafeRoute.Tests", "Text", "Qwen3GuardVectors.json")

HIDDEN, LAYERS, HEADS, KV_HEADS, HEAD, MLP, TABLE = 32, 2, 4, 2, 8, 64, 1009
EPS, THETA = 1e-6, 1_000_000.0
NEG = -1e9

# Verdict tokens of the test manifest (ids from the golden vectors: " Safe", " safe" | " Unsafe", " unsafe" | " Cont").
LABELS = {"safe": [22291, 6092], "unsafe": [73067, 19860], "controversial": [2093]}


def rms_norm(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * w


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Layer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.input_norm = torch.nn.Parameter(1 + 0.1 * torch.randn(HIDDEN))
        self.q = torch.nn.Parameter(torch.randn(HEADS * HEAD, HIDDEN) * 0.2)
        self.k = torch.nn.Parameter(torch.randn(KV_HEADS * HEAD, HIDDEN) * 0.2)
        self.v = torch.nn.Parameter(torch.randn(KV_HEADS * HEAD, HIDDEN) * 0.2)
        self.o = torch.nn.Parameter(torch.randn(HIDDEN, HEADS * HEAD) * 0.2)
        self.q_norm = torch.nn.Parameter(1 + 0.1 * torch.randn(HEAD))
        self.k_norm = torch.nn.Parameter(1 + 0.1 * torch.randn(HEAD))
        self.post_norm = torch.nn.Parameter(1 + 0.1 * torch.randn(HIDDEN))
        self.gate = torch.nn.Parameter(torch.randn(MLP, HIDDEN) * 0.2)
        self.up = torch.nn.Parameter(torch.randn(MLP, HIDDEN) * 0.2)
        self.down = torch.nn.Parameter(torch.randn(HIDDEN, MLP) * 0.2)

    def forward(self, x, cos, sin, mask):
        h = rms_norm(x, self.input_norm)
        b, s = x.shape[0], x.shape[1]
        q = (h @ self.q.t()).reshape(b, s, HEADS, HEAD)
        k = (h @ self.k.t()).reshape(b, s, KV_HEADS, HEAD)
        v = (h @ self.v.t()).reshape(b, s, KV_HEADS, HEAD).transpose(1, 2)
        q = rms_norm(q, self.q_norm).transpose(1, 2)
        k = rms_norm(k, self.k_norm).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        # Grouped key/value heads shared by HEADS // KV_HEADS query heads each (repeat_kv; written with unsqueeze and
        # concatenation so that the export keeps the batch and sequence axes dynamic).
        k = torch.cat([k.unsqueeze(2)] * (HEADS // KV_HEADS), dim=2).flatten(1, 2)
        v = torch.cat([v.unsqueeze(2)] * (HEADS // KV_HEADS), dim=2).flatten(1, 2)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(HEAD) + mask
        attn = torch.softmax(scores, dim=-1) @ v
        x = x + attn.transpose(1, 2).flatten(2) @ self.o.t()
        h = rms_norm(x, self.post_norm)
        return x + (torch.nn.functional.silu(h @ self.gate.t()) * (h @ self.up.t())) @ self.down.t()


class TinyQwen3(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Parameter(torch.randn(TABLE, HIDDEN) * 0.5)
        self.layers = torch.nn.ModuleList([Layer() for _ in range(LAYERS)])
        self.norm = torch.nn.Parameter(1 + 0.1 * torch.randn(HIDDEN))
        inv = 1.0 / (THETA ** (torch.arange(0, HEAD, 2, dtype=torch.float32) / HEAD))
        self.register_buffer("inv_freq", inv)

    def forward(self, input_ids, attention_mask, position_ids):
        x = self.embed[torch.remainder(input_ids, TABLE)]
        b, s = input_ids.shape
        freqs = position_ids.to(x.dtype).unsqueeze(-1) * self.inv_freq.to(x.dtype)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos().unsqueeze(1), emb.sin().unsqueeze(1)
        causal = torch.ones(s, s, dtype=torch.bool, device=input_ids.device).tril()
        allowed = causal.unsqueeze(0) & attention_mask.bool().unsqueeze(1)
        mask = torch.where(allowed, torch.zeros((), dtype=x.dtype), torch.full((), NEG, dtype=x.dtype)).unsqueeze(1)
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        return rms_norm(x, self.norm)


def write_safetensors(path, name, tensor):
    data = tensor.contiguous().numpy().astype("<f4").tobytes()
    header = json.dumps({name: {"dtype": "F32", "shape": list(tensor.shape), "data_offsets": [0, len(data)]}}).encode()
    header += b" " * ((8 - len(header) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)))
        f.write(header)
        f.write(data)


def batch(rows):
    seq = max(len(r) for r in rows)
    ids = torch.zeros(len(rows), seq, dtype=torch.long)
    mask = torch.zeros(len(rows), seq, dtype=torch.long)
    pos = torch.zeros(len(rows), seq, dtype=torch.long)
    for i, r in enumerate(rows):
        off = seq - len(r)  # left padding, pad id 0, as SafeRoute feeds decoders
        ids[i, off:] = torch.tensor(r)
        mask[i, off:] = 1
        pos[i, off:] = torch.arange(len(r))
    return ids, mask, pos


def main():
    os.makedirs(OUT, exist_ok=True)
    model = TinyQwen3().eval()
    order = LABELS["safe"] + LABELS["unsafe"] + LABELS["controversial"]
    rows = torch.randn(len(order), HIDDEN) * 0.6
    # The controversial row between the first safe and unsafe rows, so that its mass is large enough for strict and
    # loose to give different verdicts on some inputs (random rows leave it near zero).
    ns, nu = len(LABELS["safe"]), len(LABELS["unsafe"])
    rows[ns + nu] = 0.5 * (rows[0] + rows[ns]) + 0.2 * rows[ns + nu]
    write_safetensors(os.path.join(OUT, "lm_head_rows.safetensors"), "lm_head_rows", rows)
    # Category rows: one per Qwen3Guard category (lm_head rows of the first token of each name), read after the prompt,
    # the prefill and " Unsafe\nCategories:" (ids from the golden vectors).
    category_rows = torch.randn(9, HIDDEN) * 0.6
    write_safetensors(os.path.join(OUT, "category_rows.safetensors"), "category_rows", category_rows)

    ids, mask, pos = batch([[1, 2, 3], [4, 5]])
    torch.onnx.export(
        model, (ids, mask, pos), os.path.join(OUT, "model.onnx"),
        input_names=["input_ids", "attention_mask", "position_ids"], output_names=["last_hidden_state"],
        dynamic_axes={n: {0: "batch", 1: "sequence"} for n in ["input_ids", "attention_mask", "position_ids", "last_hidden_state"]},
        opset_version=17, do_constant_folding=True)

    vectors = json.load(open(VECTORS, encoding="utf-8"))
    model64 = TinyQwen3().eval()
    model64.load_state_dict(model.state_dict())
    model64 = model64.double()
    rows64 = rows.double()
    ns, nu = len(LABELS["safe"]), len(LABELS["unsafe"])

    def score(h):
        z = rows64 @ h
        m = z.max()
        e = torch.exp(z - m)
        total = e.sum()
        safe, unsafe, contro = e[:ns].sum(), e[ns:ns + nu].sum(), e[ns + nu:].sum()
        return float((unsafe + contro) / total), float(unsafe / total)

    golden = {t["text"]: t["ids"] for t in vectors["verdictTokens"]}
    category_prefix = golden[" Unsafe\nCategories:"]
    crows64 = category_rows.double()
    cases = []
    with torch.no_grad():
        for index, case in enumerate(vectors["cases"]):
            i, m, p = batch([case["ids"]])
            h = model64(i, m, p)[0, -1]
            strict, loose = score(h)
            i, m, p = batch([case["ids"] + category_prefix])
            hc = model64(i, m, p)[0, -1]
            q = torch.softmax(crows64 @ hc, dim=0)
            cases.append({"index": index, "strict": strict, "loose": loose, "features": [float(x) for x in h],
                          "categories": [float(x) for x in q]})
        # One left-padded batch of every case: each row must give the same numbers as alone.
        i, m, p = batch([c["ids"] for c in vectors["cases"]])
        hb = model64(i, m, p)[:, -1]
        batch_max_diff = max(float((hb[k] - torch.tensor(cases[k]["features"], dtype=torch.float64)).abs().max()) for k in range(len(cases)))
        # The float32 graph against the float64 reference (what the C# tests check, through ONNX Runtime).
        h32 = model(i, m, p)[:, -1].double()
        f32_max_diff = float((h32 - hb).abs().max())

    json.dump({
        "generator": "tools/vectors/qwen3/tiny_qwen3_guard.py",
        "torch": torch.__version__,
        "labels": LABELS,
        "categoryPrefixIds": category_prefix,
        "hiddenSize": HIDDEN,
        "batchVsSingleMaxDiff": batch_max_diff,
        "float32VsFloat64MaxDiff": f32_max_diff,
        "cases": cases,
    }, open(os.path.join(OUT, "reference.json"), "w", encoding="utf-8"), indent=1)
    print("batch vs single", batch_max_diff, "f32 vs f64", f32_max_diff, "p strict", [round(c["strict"], 4) for c in cases])


if __name__ == "__main__":
    main()
