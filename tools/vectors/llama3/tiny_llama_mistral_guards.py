"""Builds the tiny random-weight Llama and Mistral guards of the NemoGuard / WildGuard tests and their PyTorch references.

Writes tests/SafeRoute.Tests/Guards/LlamaTiny/ and tests/SafeRoute.Tests/Guards/MistralTiny/ (model.onnx,
lm_head_rows.safetensors, reference.json each). The C# tests read them (they never run Python). Run from the repository
root with Debian's python3-torch, after tools/vectors/llama3/nemoguard-vectors.mjs has written the golden ids:

    nice -n 19 /usr/bin/python3 tools/vectors/llama3/tiny_llama_mistral_guards.py

Architectures (Hugging Face transformers' modeling_llama / modeling_mistral, in plain PyTorch): token embedding; per
layer RMSNorm (eps 1e-5), attention with grouped key/value heads and rotary embeddings (rotate-half), no biases;
RMSNorm, SwiGLU MLP; final RMSNorm.
- Llama (Llama 3.1, NemoGuard's base): rope theta 500,000 with Llama 3.1's frequency scaling (rope_type "llama3":
  factor 8, low_freq_factor 1, high_freq_factor 4, original_max_position_embeddings 8192), hidden 32, 2 layers,
  4 query heads, 2 key/value heads, head size 8, MLP 64.
- Mistral (Mistral-7B-v0.3, WildGuard's base): rope theta 1,000,000, no scaling, no sliding window (v0.3's
  sliding_window is null), hidden 48, 2 layers, 6 query heads, 2 key/value heads, head size 8, MLP 96.
To keep the files small while feeding real Llama 3 token ids (up to 128,255), the embedding tables have 1,009 rows and
are indexed by id mod 1009 (test graphs, not real models).

Export as Optimum's feature-extraction export of a decoder: inputs input_ids, attention_mask, position_ids (int64,
[batch, seq]); output last_hidden_state [batch, seq, H] (after the final norm). The verdict logits are h_last times
the lm_head rows of the verdict tokens (lm_head_rows.safetensors, [n, H], in the order the manifest lists them: safe
tokens, then unsafe). Masks add -1e9 (never -inf), so a fully masked padded row stays finite.

References, in float64 from the same float32 weights, for each golden case of
tests/SafeRoute.Tests/Text/NemoGuardVectors.json: p(unsafe) and the router features (h_last after the prefill), single
rows and one left-padded batch. Llama: the NemoGuard cases (real Llama 3.1 ids, prompt-only and prompt + response),
verdict tokens "safe" | "unsafe". Mistral: the WildGuard cases on the Llama 3 stand-in tokenizer, verdict tokens
" no", " No" | " yes", " Yes".
"""
import json
import math
import os
import struct

import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
VECTORS = os.path.join(ROOT, "tests", "SafeRoute.Tests", "Text", "NemoGuardVectors.json")
TABLE = 1009
EPS = 1e-5
NEG = -1e9


def rms_norm(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * w


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def llama3_inv_freq(head, theta, factor, low, high, original):
    """transformers' _compute_llama3_parameters: long wavelengths divided by factor, short kept, smooth in between."""
    inv = 1.0 / (theta ** (torch.arange(0, head, 2, dtype=torch.float64) / head))
    low_wavelen, high_wavelen = original / low, original / high
    wavelen = 2 * math.pi / inv
    scaled = torch.where(wavelen > low_wavelen, inv / factor, inv)
    smooth = (original / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    medium = (wavelen >= high_wavelen) & (wavelen <= low_wavelen)
    return torch.where(medium, smoothed, scaled).to(torch.float32)


class Config:
    def __init__(self, hidden, layers, heads, kv_heads, head, mlp, inv_freq):
        self.hidden, self.layers, self.heads, self.kv_heads, self.head, self.mlp = hidden, layers, heads, kv_heads, head, mlp
        self.inv_freq = inv_freq


class Layer(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.input_norm = torch.nn.Parameter(1 + 0.1 * torch.randn(c.hidden))
        self.q = torch.nn.Parameter(torch.randn(c.heads * c.head, c.hidden) * 0.2)
        self.k = torch.nn.Parameter(torch.randn(c.kv_heads * c.head, c.hidden) * 0.2)
        self.v = torch.nn.Parameter(torch.randn(c.kv_heads * c.head, c.hidden) * 0.2)
        self.o = torch.nn.Parameter(torch.randn(c.hidden, c.heads * c.head) * 0.2)
        self.post_norm = torch.nn.Parameter(1 + 0.1 * torch.randn(c.hidden))
        self.gate = torch.nn.Parameter(torch.randn(c.mlp, c.hidden) * 0.2)
        self.up = torch.nn.Parameter(torch.randn(c.mlp, c.hidden) * 0.2)
        self.down = torch.nn.Parameter(torch.randn(c.hidden, c.mlp) * 0.2)

    def forward(self, x, cos, sin, mask):
        c = self.c
        h = rms_norm(x, self.input_norm)
        b, s = x.shape[0], x.shape[1]
        q = (h @ self.q.t()).reshape(b, s, c.heads, c.head).transpose(1, 2)
        k = (h @ self.k.t()).reshape(b, s, c.kv_heads, c.head).transpose(1, 2)
        v = (h @ self.v.t()).reshape(b, s, c.kv_heads, c.head).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        # repeat_kv, written with unsqueeze and concatenation so that the export keeps batch and sequence dynamic.
        k = torch.cat([k.unsqueeze(2)] * (c.heads // c.kv_heads), dim=2).flatten(1, 2)
        v = torch.cat([v.unsqueeze(2)] * (c.heads // c.kv_heads), dim=2).flatten(1, 2)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(c.head) + mask
        attn = torch.softmax(scores, dim=-1) @ v
        x = x + attn.transpose(1, 2).flatten(2) @ self.o.t()
        h = rms_norm(x, self.post_norm)
        return x + (torch.nn.functional.silu(h @ self.gate.t()) * (h @ self.up.t())) @ self.down.t()


class TinyDecoder(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed = torch.nn.Parameter(torch.randn(TABLE, c.hidden) * 0.5)
        self.layers = torch.nn.ModuleList([Layer(c) for _ in range(c.layers)])
        self.norm = torch.nn.Parameter(1 + 0.1 * torch.randn(c.hidden))
        self.register_buffer("inv_freq", c.inv_freq.clone())

    def forward(self, input_ids, attention_mask, position_ids):
        x = self.embed[torch.remainder(input_ids, TABLE)]
        s = input_ids.shape[1]
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


def build(name, config, labels, cases, generator, seed):
    torch.manual_seed(seed)
    out = os.path.join(ROOT, "tests", "SafeRoute.Tests", "Guards", name)
    os.makedirs(out, exist_ok=True)
    model = TinyDecoder(config).eval()
    order = labels["safe"] + labels["unsafe"]
    # Small rows keep p(unsafe) spread around 0.5 (random rows of the usual size give near-certain verdicts), so that
    # an uncertainty router sends some inputs on and keeps others.
    rows = torch.randn(len(order), config.hidden) * 0.12
    write_safetensors(os.path.join(out, "lm_head_rows.safetensors"), "lm_head_rows", rows)
    ids, mask, pos = batch([[1, 2, 3], [4, 5]])
    torch.onnx.export(
        model, (ids, mask, pos), os.path.join(out, "model.onnx"),
        input_names=["input_ids", "attention_mask", "position_ids"], output_names=["last_hidden_state"],
        dynamic_axes={n: {0: "batch", 1: "sequence"} for n in ["input_ids", "attention_mask", "position_ids", "last_hidden_state"]},
        opset_version=17, do_constant_folding=True)

    model64 = TinyDecoder(config).eval()
    model64.load_state_dict(model.state_dict())
    model64 = model64.double()
    rows64 = rows.double()
    ns = len(labels["safe"])

    def p_unsafe(h):
        e = torch.softmax(rows64 @ h, dim=0)
        return float(e[ns:].sum())

    results = []
    with torch.no_grad():
        for index, case in enumerate(cases):
            i, m, p = batch([case["ids"]])
            h = model64(i, m, p)[0, -1]
            results.append({"index": index, "p": p_unsafe(h), "features": [float(x) for x in h]})
        i, m, p = batch([c["ids"] for c in cases])
        hb = model64(i, m, p)[:, -1]
        batch_max_diff = max(float((hb[k] - torch.tensor(results[k]["features"], dtype=torch.float64)).abs().max()) for k in range(len(cases)))
        h32 = model(i, m, p)[:, -1].double()
        f32_max_diff = float((h32 - hb).abs().max())

    json.dump({
        "generator": "tools/vectors/llama3/tiny_llama_mistral_guards.py",
        "torch": torch.__version__,
        "cases": generator,
        "labels": labels,
        "hiddenSize": config.hidden,
        "invFreq": [float(x) for x in config.inv_freq],
        "batchVsSingleMaxDiff": batch_max_diff,
        "float32VsFloat64MaxDiff": f32_max_diff,
        "results": results,
    }, open(os.path.join(out, "reference.json"), "w", encoding="utf-8"), indent=1)
    print(name, "batch vs single", batch_max_diff, "f32 vs f64", f32_max_diff, "p", [round(r["p"], 4) for r in results])


def main():
    vectors = json.load(open(VECTORS, encoding="utf-8"))
    golden = {t["text"]: t["ids"] for t in vectors["verdictTokens"]}
    one = lambda text: golden[text][0]  # noqa: E731 (each verdict string is one token; checked by the C# tests)

    llama = Config(32, 2, 4, 2, 8, 64, llama3_inv_freq(8, 500_000.0, 8.0, 1.0, 4.0, 8192))
    build("LlamaTiny", llama, {"safe": [one("safe")], "unsafe": [one("unsafe")]},
          vectors["nemoguard"], "NemoGuardVectors.json: nemoguard", seed=31)

    inv = (1.0 / (1_000_000.0 ** (torch.arange(0, 8, 2, dtype=torch.float64) / 8))).to(torch.float32)
    mistral = Config(48, 2, 6, 2, 8, 96, inv)
    build("MistralTiny", mistral, {"safe": [one(" no"), one(" No")], "unsafe": [one(" yes"), one(" Yes")]},
          vectors["wildguardStandIn"], "NemoGuardVectors.json: wildguardStandIn", seed=37)


if __name__ == "__main__":
    main()
