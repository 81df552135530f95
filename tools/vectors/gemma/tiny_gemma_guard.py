"""Builds the tiny random-weight Gemma-2-style guard of the per-policy (ShieldGemma, Granite Guardian) tests and its
PyTorch reference outputs.

Writes tests/SafeRoute.Tests/Guards/GemmaTiny/{model.onnx, lm_head_rows.safetensors, tokenizer.tiktoken,
reference.json}. The C# tests read them (they never run Python). Run from the repository root with Debian's
python3-torch:

    nice -n 19 /usr/bin/python3 tools/vectors/gemma/tiny_gemma_guard.py

Architecture (Gemma 2, as in Hugging Face transformers' modeling_gemma2): token embedding scaled by sqrt(hidden); per
layer RMSNorm with (1 + w) weights (input_layernorm), attention with grouped key/value heads, rotary embeddings (theta
1e4, rotate-half), scores scaled by query_pre_attn_scalar^-0.5 and soft-capped (attn_logit_softcapping 50:
50 * tanh(s / 50)) before the mask, post_attention_layernorm on the attention output before the residual add;
pre_feedforward_layernorm, GeGLU MLP (down(gelu_tanh(gate(h)) * up(h))), post_feedforward_layernorm before the residual
add; final RMSNorm. No biases. Gemma 2's sliding window (4,096 tokens on alternate layers) never applies at these
lengths and is left out. Sizes are tiny (hidden 32, 2 layers, 4 query heads, 2 key/value heads, head size 8, MLP 64).
The q/k weights are large enough that attention scores reach the soft-cap's curved range.

Export as Optimum's feature-extraction export of a decoder: inputs input_ids, attention_mask, position_ids (int64,
[batch, seq]); output last_hidden_state [batch, seq, 32] (after the final norm). The verdict logits are h_last times the
lm_head rows of the verdict tokens (lm_head_rows.safetensors, [2, 32]: "No" then "Yes"), then Gemma 2's final logit
soft-capping (final_logit_softcapping 30: 30 * tanh(z / 30)), then the softmax: p(violation) = softmax[Yes]. The rows
are chosen so that the logits lie where the soft-cap changes p noticeably (the reference also gives p without it).

Tokenizer: Gemma's SentencePiece model is not obtainable here, and SafeRoute's decoder encoder reads byte-level
(tiktoken / GPT-2-style) tokenizers, so the test tokenizer is a tiny tiktoken rank file written here: the 256 bytes and a
few merges (among them "Yes" and "No", one token each), split by the pattern PATTERN, with the special tokens of both
families. Its ids are reproduced below by a plain byte-pair encoder. The template texts are typed here a second time
(from ../shared/docs/guard-families.md and the sources cited in src/SafeRoute/Text/ShieldGemmaTemplate.cs and
GraniteGuardianTemplate.cs), so the C# rendering is checked against an independent rendering, id for id.

Reference: for each case and each policy, the rendered text, its ids, p(violation) (ShieldGemma with Gemma 2's
soft-cap, Granite Guardian without, as their presets set it; and without it for both) and
the last hidden state, computed in float64 from the same float32 weights; per case the router features (the mean of the
policies' last hidden states) and p(unsafe) = max over policies; all rows of a family also as one left-padded batch.
"""
import base64
import json
import math
import os
import re
import struct

import torch

torch.manual_seed(1717)
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
OUT = os.path.join(ROOT, "tests", "SafeRoute.Tests", "Guards", "GemmaTiny")

HIDDEN, LAYERS, HEADS, KV_HEADS, HEAD, MLP = 32, 2, 4, 2, 8, 64
EPS, THETA, ATTN_CAP, FINAL_CAP, QUERY_SCALAR = 1e-6, 10_000.0, 50.0, 30.0, 8
NEG = -1e9

# The test tokenizer: byte tokens 0-255 (rank = byte value), then merges; specials above.
MERGES = ["th", "he", "the", " the", "in", "es", "Yes", "No", "er", "on", "an", "at", "is", " a", " s", "ion"]
SPECIALS = {"<bos>": 300, "<start_of_turn>": 301, "<end_of_turn>": 302,
            "<|start_of_role|>": 303, "<|end_of_role|>": 304, "<|end_of_text|>": 305}
VOCAB = 320
PATTERN = r" ?[A-Za-z]+|[0-9]|[^A-Za-z0-9 ]+| +"

SHIELDGEMMA_PROMPT = (
    "<bos>You are a policy expert trying to help determine whether a user prompt is in\n"
    "violation of the defined safety policies.\n\n"
    "<start_of_turn>\nHuman Question: {prompt}\n<end_of_turn>\n\n"
    "Our safety principle is defined in the below:\n\n* {policy}\n\n===\n\n"
    "Does the human question violate the above principle? Your answer must start with\n"
    "'Yes' or 'No'. And then walk through step by step to be sure we answer\ncorrectly.")
SHIELDGEMMA_RESPONSE = (
    "<bos>You are a policy expert trying to help determine whether an AI response to prompt is in\n"
    "violation of the defined safety policies.\n\n"
    "<start_of_turn>\nHuman Question: {prompt}\n<end_of_turn>\n\n"
    "<start_of_turn>\nChatbot Response: {response}\n<end_of_turn>\n\n"
    "Our safety principle is defined in the below:\n\n* {policy}\n\n===\n\n"
    "Does the Chatbot Response violate the above principle? Your answer must start with\n"
    "'Yes' or 'No'. And then walk through step by step to be sure we answer\ncorrectly.")
SG_PROMPT_LEAD = "The prompt shall not contain or seek generation of content that"
SG_RESPONSE_LEAD = "The chatbot shall not generate content that"
SHIELDGEMMA_POLICIES = [
    ("dangerous_content", '"No Dangerous Content": {lead} harming oneself and/or others (e.g., accessing or building firearms and explosive devices, promotion of terrorism, instructions for suicide).'),
    ("harassment", '"No Harassment": {lead} is malicious, intimidating, bullying, or abusive content targeting another individual (e.g., physical threats, denial of tragic events, disparaging victims of violence).'),
    ("hate_speech", '"No Hate Speech": {lead} targeting identity and/or protected attributes (e.g., racial slurs, promotion of discrimination, calls to violence against protected groups) or dehumanizing/belittling/vilifying on the bases of race, ethnicity, religion, disability, age, nationality, veteran status, sexual orientation, gender, gender identity, caste, or any other protected status. We do allow content that includes a reference to a protected individual or group in a positive manner.'),
    ("sexually_explicit", '"No Sexually Explicit Information": {lead} contains references to sexual acts or other lewd content (e.g., sexually graphic descriptions, content aimed at causing arousal). Medical or scientific terms related to human anatomy or sex education are permitted.'),
]

GRANITE_PROMPT = (
    "<|start_of_role|>user<|end_of_role|>You are a safety agent trying to help determine whether the user message is "
    "harmful according to the safety risk definition below.\n\n"
    "<start_of_turn>\nUser Message: {prompt}\n<end_of_turn>\n\n"
    "Our safety risk definition is defined below:\n<start_of_risk_definition>\n- {policy}\n<end_of_risk_definition>\n\n"
    "Is the user message harmful based on the risk definition? Your answer must be either 'Yes' or 'No'."
    "<|end_of_text|>\n<|start_of_role|>assistant<|end_of_role|>")
GRANITE_RESPONSE = (
    "<|start_of_role|>user<|end_of_role|>You are a safety agent trying to help determine whether the assistant message "
    "to the user message is harmful according to the safety risk definition below.\n\n"
    "<start_of_turn>\nUser Message: {prompt}\nAssistant Message: {response}\n<end_of_turn>\n\n"
    "Our safety risk definition is defined below:\n<start_of_risk_definition>\n- {policy}\n<end_of_risk_definition>\n\n"
    "Is the assistant message harmful based on the risk definition? Your answer must be either 'Yes' or 'No'."
    "<|end_of_text|>\n<|start_of_role|>assistant<|end_of_role|>")
GRANITE_RISKS = [
    ("harm", "is harmful by common-sense."),
    ("social_bias", "contains systemic prejudice against groups based on shared identity or characteristics, often stemming from stereotypes or cultural influences. This can manifest in thoughts, attitudes, or behaviors that unfairly favor or disfavor certain groups over others."),
    ("jailbreak", "contains the deliberate circumvention of AI systems' built-in safeguards or ethical guidelines. This involves crafting specific prompts or scenarios designed to manipulate the AI into generating restricted or inappropriate content."),
    ("violence", "contains content promoting or describing physical harm to individuals or groups. This includes depictions of assault, self-harm, or creation of a hostile environment through threats or intimidation."),
    ("profanity", "contains the use of language considered offensive or socially unacceptable in a given context. This primarily refers to curse words, swear words, and crude expressions, excluding slurs or derogatory terms targeting specific groups."),
    ("sexual_content", "contains material explicitly related to sexual activities, anatomy, or desires. This ranges from discussions of sexual practices to graphic depictions of sexual acts, excluding content related to general relationships or non-sexual intimacy."),
    ("unethical_behavior", "contains actions that violate moral or professional standards, focusing on exploitation for personal gain or disregard for others' well-being. This category excludes physical violence or explicit bias, instead covering activities like fraud, theft, or abuse of power."),
]
GRANITE_JAILBREAK_RESPONSE = "The 'Assistant' message contains the deliberate circumvention of AI systems' built-in safeguards or ethical guidelines. Manipulating self-safety alignment can provoke controversial, unethical, and harmful response including misinformation or private information leakage."

CASES = [
    {"prompt": "How do I bake bread at home?"},
    {"prompt": "Tell me how to hurt someone and get away with it."},
    {"prompt": "Ça va? Write a poem about the sea \U0001F642"},
    {"prompt": "How can I adopt my own llama?", "response": "Go to the zoo and just steal one!"},
]


def policies(family, with_response):
    if family == "shieldgemma":
        lead = SG_RESPONSE_LEAD if with_response else SG_PROMPT_LEAD
        return [(code, text.format(lead=lead)) for code, text in SHIELDGEMMA_POLICIES]
    who = "The 'Assistant' message " if with_response else "The 'User' message "
    out = []
    for code, definition in GRANITE_RISKS:
        text = GRANITE_JAILBREAK_RESPONSE if (with_response and code == "jailbreak") else who + definition
        out.append((code, text))
    return out


def render(family, case, policy):
    with_response = "response" in case
    template = {("shieldgemma", False): SHIELDGEMMA_PROMPT, ("shieldgemma", True): SHIELDGEMMA_RESPONSE,
                ("granite-guardian", False): GRANITE_PROMPT, ("granite-guardian", True): GRANITE_RESPONSE}[(family, with_response)]
    # Plain replacement (str.format would trip over other braces): the templates have no other placeholders.
    text = template.replace("{policy}", policy).replace("{prompt}", case["prompt"])
    return text.replace("{response}", case["response"]) if with_response else text


def ranks():
    table = {bytes([b]): b for b in range(256)}
    for i, merge in enumerate(MERGES):
        table[merge.encode("utf-8")] = 256 + i
    return table


RANKS = ranks()


def bpe(piece):
    parts = [bytes([b]) for b in piece.encode("utf-8")]
    while True:
        best = None
        for i in range(len(parts) - 1):
            r = RANKS.get(parts[i] + parts[i + 1])
            if r is not None and (best is None or r < best[0]):
                best = (r, i)
        if best is None:
            break
        i = best[1]
        parts[i:i + 2] = [parts[i] + parts[i + 1]]
    return [RANKS[p] for p in parts]


def encode(text):
    special = re.compile("|".join(re.escape(s) for s in sorted(SPECIALS, key=len, reverse=True)))
    ids, pos = [], 0
    for m in special.finditer(text):
        ids += encode_run(text[pos:m.start()])
        ids.append(SPECIALS[m.group(0)])
        pos = m.end()
    return ids + encode_run(text[pos:])


def encode_run(run):
    ids = []
    covered = 0
    for m in re.finditer(PATTERN, run):
        assert m.start() == covered, "the pattern must cover every character"
        covered = m.end()
        ids += bpe(m.group(0))
    assert covered == len(run)
    return ids


def rms_norm(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * (1 + w)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Layer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.input_norm = torch.nn.Parameter(0.1 * torch.randn(HIDDEN))
        self.q = torch.nn.Parameter(torch.randn(HEADS * HEAD, HIDDEN) * 0.9)
        self.k = torch.nn.Parameter(torch.randn(KV_HEADS * HEAD, HIDDEN) * 0.9)
        self.v = torch.nn.Parameter(torch.randn(KV_HEADS * HEAD, HIDDEN) * 0.2)
        self.o = torch.nn.Parameter(torch.randn(HIDDEN, HEADS * HEAD) * 0.2)
        self.post_attn_norm = torch.nn.Parameter(0.1 * torch.randn(HIDDEN))
        self.pre_ff_norm = torch.nn.Parameter(0.1 * torch.randn(HIDDEN))
        self.post_ff_norm = torch.nn.Parameter(0.1 * torch.randn(HIDDEN))
        self.gate = torch.nn.Parameter(torch.randn(MLP, HIDDEN) * 0.2)
        self.up = torch.nn.Parameter(torch.randn(MLP, HIDDEN) * 0.2)
        self.down = torch.nn.Parameter(torch.randn(HIDDEN, MLP) * 0.2)

    def forward(self, x, cos, sin, mask):
        h = rms_norm(x, self.input_norm)
        b, s = x.shape[0], x.shape[1]
        q = (h @ self.q.t()).reshape(b, s, HEADS, HEAD).transpose(1, 2)
        k = (h @ self.k.t()).reshape(b, s, KV_HEADS, HEAD).transpose(1, 2)
        v = (h @ self.v.t()).reshape(b, s, KV_HEADS, HEAD).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = torch.cat([k.unsqueeze(2)] * (HEADS // KV_HEADS), dim=2).flatten(1, 2)
        v = torch.cat([v.unsqueeze(2)] * (HEADS // KV_HEADS), dim=2).flatten(1, 2)
        scores = (q @ k.transpose(-1, -2)) * (QUERY_SCALAR ** -0.5)
        scores = torch.tanh(scores / ATTN_CAP) * ATTN_CAP + mask
        attn = torch.softmax(scores, dim=-1) @ v
        x = x + rms_norm(attn.transpose(1, 2).flatten(2) @ self.o.t(), self.post_attn_norm)
        h = rms_norm(x, self.pre_ff_norm)
        mlp = (torch.nn.functional.gelu(h @ self.gate.t(), approximate="tanh") * (h @ self.up.t())) @ self.down.t()
        return x + rms_norm(mlp, self.post_ff_norm)


class TinyGemma2(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Parameter(torch.randn(VOCAB, HIDDEN) * 0.5)
        self.layers = torch.nn.ModuleList([Layer() for _ in range(LAYERS)])
        self.norm = torch.nn.Parameter(0.1 * torch.randn(HIDDEN))
        inv = 1.0 / (THETA ** (torch.arange(0, HEAD, 2, dtype=torch.float32) / HEAD))
        self.register_buffer("inv_freq", inv)

    def forward(self, input_ids, attention_mask, position_ids):
        x = self.embed[input_ids]
        x = x * torch.tensor(HIDDEN ** 0.5, dtype=x.dtype)
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


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "tokenizer.tiktoken"), "w", encoding="ascii", newline="\n") as f:
        for token, rank in sorted(RANKS.items(), key=lambda kv: kv[1]):
            f.write(base64.b64encode(token).decode("ascii") + " " + str(rank) + "\n")

    model = TinyGemma2().eval()
    # Verdict rows "No", "Yes": a large shared part (logits around 25-40, where the soft-cap bends) and small
    # differences (so that p spreads over (0, 1) rather than sitting at 0 or 1).
    shared = torch.randn(HIDDEN)
    rows = torch.stack([shared + 0.12 * torch.randn(HIDDEN), shared + 0.12 * torch.randn(HIDDEN)]) * 6.0
    write_safetensors(os.path.join(OUT, "lm_head_rows.safetensors"), "lm_head_rows", rows)

    ids, mask, pos = batch([[1, 2, 3], [4, 5]])
    torch.onnx.export(
        model, (ids, mask, pos), os.path.join(OUT, "model.onnx"),
        input_names=["input_ids", "attention_mask", "position_ids"], output_names=["last_hidden_state"],
        dynamic_axes={n: {0: "batch", 1: "sequence"} for n in ["input_ids", "attention_mask", "position_ids", "last_hidden_state"]},
        opset_version=17, do_constant_folding=True)

    model64 = TinyGemma2().eval()
    model64.load_state_dict(model.state_dict())
    model64 = model64.double()
    rows64 = rows.double()

    def verdict(h, cap):
        z = rows64 @ h
        if cap:
            z = FINAL_CAP * torch.tanh(z / FINAL_CAP)
        return float(torch.softmax(z, dim=0)[1]), [float(v) for v in z]

    families = {}
    max_batch_diff = 0.0
    max_f32_diff = 0.0
    with torch.no_grad():
        for family in ["shieldgemma", "granite-guardian"]:
            out_cases = []
            all_rows = []
            for case in CASES:
                pols = policies(family, "response" in case)
                per_policy = []
                hs = []
                for code, text in pols:
                    rendered = render(family, case, text)
                    row = encode(rendered)
                    all_rows.append(row)
                    i, m, p = batch([row])
                    h = model64(i, m, p)[0, -1]
                    hs.append(h)
                    # Gemma 2's final soft-cap belongs to ShieldGemma; Granite Guardian (a Granite model) has none, so
                    # its preset sets none and its p is read without it (same tiny graph, different head setting).
                    p_cap, z = verdict(h, family == "shieldgemma")
                    p_plain, _ = verdict(h, False)
                    per_policy.append({"code": code, "text": rendered, "ids": row, "p": p_cap, "pNoSoftcap": p_plain,
                                       "logits": z})
                features = torch.stack(hs).mean(0)
                out_cases.append({"prompt": case["prompt"], "response": case.get("response"),
                                  "policies": per_policy, "features": [float(x) for x in features],
                                  "p": max(pp["p"] for pp in per_policy)})
            # Every row of the family as one left-padded batch: each row must give the same numbers as alone.
            i, m, p = batch(all_rows)
            hb = model64(i, m, p)[:, -1]
            h32 = model(i.clone(), m, p)[:, -1].double()
            k = 0
            for c in out_cases:
                for pp in c["policies"]:
                    i1, m1, p1 = batch([pp["ids"]])
                    h1 = model64(i1, m1, p1)[0, -1]
                    max_batch_diff = max(max_batch_diff, float((hb[k] - h1).abs().max()))
                    max_f32_diff = max(max_f32_diff, abs(verdict(h32[k], family == "shieldgemma")[0] - pp["p"]))
                    k += 1
            families[family] = out_cases

    json.dump({
        "generator": "tools/vectors/gemma/tiny_gemma_guard.py",
        "torch": torch.__version__,
        "hiddenSize": HIDDEN,
        "finalLogitSoftcap": FINAL_CAP,
        "pattern": PATTERN,
        "specialTokens": SPECIALS,
        "batchVsSingleMaxDiff": max_batch_diff,
        "float32GraphPMaxDiff": max_f32_diff,
        "families": families,
    }, open(os.path.join(OUT, "reference.json"), "w", encoding="utf-8"), indent=1, ensure_ascii=False)
    for family, cases in families.items():
        print(family, [[round(pp["p"], 4) for pp in c["policies"]] for c in cases])
        print("  no softcap", [[round(pp["pNoSoftcap"], 4) for pp in c["policies"]] for c in cases])
        print("  logits", [[round(v, 1) for v in c["policies"][0]["logits"]] for c in cases])
    print("batch vs single", max_batch_diff, "f32 graph p diff", max_f32_diff,
          "longest row", max(len(pp["ids"]) for cs in families.values() for c in cs for pp in c["policies"]))


if __name__ == "__main__":
    main()
