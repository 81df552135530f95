"""Train one tiny causal-transformer guard on the GUARD split and export it in the library's model-folder format.

Input: training/work/rows.jsonl from `SafeRoute.ModelPrep tokenize` (token ids produced by the library's PromptEncoder).
Output (--out): model.onnx (inputs input_ids / attention_mask / position_ids, output last_hidden_state), verdict_rows.safetensors
(lm_head_rows [2, H]: safe, unsafe), saferoute.json, and torch_dev_p.tsv (PyTorch p(unsafe) on dev, for `ModelPrep verify`).
The guard is trained as Llama Guard is used: logits of the two verdict tokens = final-norm last-token hidden state · rows,
cross-entropy over those two. Never trains on the router or dev split. Prints no text (there is none in rows.jsonl).
"""
import argparse
import json
import math
import os
import random
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from common import f1_stats, file_sha256, load_rows, save_safetensors

GPT2_VOCAB = 50257
PAD, UNK = 0, 1


def build_vocab(rows, size, must_keep):
    """Frequency cut over the guard-training rows: reduced id 0 = PAD, 1 = UNK, then the most frequent GPT-2 ids (ties by id)."""
    counts = np.zeros(GPT2_VOCAB, dtype=np.int64)
    for r in rows:
        np.add.at(counts, np.asarray(r["ids"], dtype=np.int64), 1)
    for t in must_keep:
        counts[t] = max(counts[t], 1) + 10**9  # always kept
    order = sorted(range(GPT2_VOCAB), key=lambda i: (-counts[i], i))
    kept = [i for i in order[: size - 2] if counts[i] > 0]
    remap = np.full(GPT2_VOCAB, UNK, dtype=np.int64)
    for j, tok in enumerate(kept):
        remap[tok] = j + 2
    return remap, len(kept) + 2


class Block(nn.Module):
    def __init__(self, d, heads, dropout):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.ff1 = nn.Linear(d, 4 * d)
        self.ff2 = nn.Linear(4 * d, d)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, add_mask):
        b, t, d = x.shape
        h = self.heads
        q, k, v = self.qkv(self.ln1(x)).chunk(3, dim=-1)
        q = q.reshape(b, t, h, d // h).transpose(1, 2)
        k = k.reshape(b, t, h, d // h).transpose(1, 2)
        v = v.reshape(b, t, h, d // h).transpose(1, 2)
        att = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(d // h)) + add_mask
        att = self.drop(torch.softmax(att, dim=-1))
        y = torch.matmul(att, v).transpose(1, 2).reshape(b, t, d)
        x = x + self.drop(self.proj(y))
        x = x + self.drop(self.ff2(F.gelu(self.ff1(self.ln2(x)))))
        return x


class Guard(nn.Module):
    def __init__(self, remap, vocab, d, layers, heads, max_pos, dropout):
        super().__init__()
        self.register_buffer("remap", torch.from_numpy(remap))
        self.max_pos = max_pos
        self.emb = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(max_pos, d)
        self.blocks = nn.ModuleList([Block(d, heads, dropout) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(d)
        self.drop = nn.Dropout(dropout)
        self.verdict = nn.Parameter(torch.randn(2, d) * 0.02)  # lm_head rows of " safe", " unsafe"
        nn.init.normal_(self.emb.weight, std=0.02)
        nn.init.normal_(self.pos.weight, std=0.02)

    def forward(self, input_ids, attention_mask, position_ids):
        ids = self.remap[torch.clamp(input_ids, 0, GPT2_VOCAB - 1)]
        pos = torch.clamp(position_ids, 0, self.max_pos - 1)
        x = self.drop(self.emb(ids) + self.pos(pos))
        t = input_ids.shape[1]
        ar = torch.arange(t, device=input_ids.device)
        causal = (ar.unsqueeze(0) <= ar.unsqueeze(1)).unsqueeze(0)  # [1, T(query), T(key)]
        allowed = causal & (attention_mask.unsqueeze(1) > 0)  # [B, T, T]
        add_mask = ((1.0 - allowed.to(x.dtype)) * -1e4).unsqueeze(1)  # large negative, never -inf
        for blk in self.blocks:
            x = blk(x, add_mask)
        return self.ln_f(x)

    def lm_logits(self, input_ids, attention_mask, position_ids):
        """Next-token logits over the reduced vocabulary, output embedding tied to the input embedding (pre-training only)."""
        return self.forward(input_ids, attention_mask, position_ids) @ self.emb.weight.t()

    def verdict_logits(self, input_ids, attention_mask, position_ids):
        h = self.forward(input_ids, attention_mask, position_ids)[:, -1, :]
        return h @ self.verdict.t()


def init_word_vectors(model, remap, npz, std, seed):
    """First k dims of every reduced-vocabulary row := its GPT-2 token's word vector, unit-normalised and scaled to element
    std `std`; rows without a vector get N(0, std) there, so both kinds start at the same scale. Returns rows found."""
    vectors, found = npz["vectors"], npz["found"]
    k = vectors.shape[1]
    g = torch.Generator().manual_seed(seed + 7)
    w = model.emb.weight.data
    d = w.shape[1]
    if k > d:
        raise SystemExit(f"word vectors have {k} dims, the model only {d}")
    w[:, :k] = torch.randn(w.shape[0], k, generator=g) * std
    n = 0
    for tok in range(len(remap)):
        j = int(remap[tok])
        if j > 1 and found[tok]:
            v = torch.from_numpy(vectors[tok])
            w[j, :k] = v / v.norm() * (std * math.sqrt(k))
            n += 1
    return n


class Towers(nn.Module):
    """K independently trained guards over the same vocabulary, side by side: the hidden state is the concatenation of the
    towers' final-norm states and the verdict rows the concatenation of their rows divided by K, so h · rows is the mean
    of the towers' verdict logits (an ensemble in the model-folder contract's own terms)."""

    def __init__(self, towers):
        super().__init__()
        self.towers = nn.ModuleList(towers)
        for t in towers[1:]:
            t.remap = towers[0].remap  # one remap table in the exported graph

    @property
    def verdict(self):
        return torch.cat([t.verdict for t in self.towers], dim=1) / len(self.towers)

    def forward(self, input_ids, attention_mask, position_ids):
        return torch.cat([t(input_ids, attention_mask, position_ids) for t in self.towers], dim=-1)

    def verdict_logits(self, input_ids, attention_mask, position_ids):
        h = self.forward(input_ids, attention_mask, position_ids)[:, -1, :]
        return h @ self.verdict.t()


FP16_MIN_ELEMENTS = 4096


def round_weights_fp16(model):
    """Round every weight tensor of at least FP16_MIN_ELEMENTS elements to float16 precision (kept as float32), so the
    PyTorch reference computes exactly what the float16-stored ONNX file computes."""
    with torch.no_grad():
        for p in model.parameters():
            if p.numel() >= FP16_MIN_ELEMENTS:
                p.copy_(p.half().float())


def store_fp16(path):
    """Rewrite an exported float32 ONNX file so that initializers of at least FP16_MIN_ELEMENTS elements are stored as
    float16 and cast back to float32 by a Cast node. ONNX Runtime folds those casts when it loads the session, so
    inference still runs in float32; the file is about half the size. Values must already be float16-exact."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    m = onnx.load(path)
    g = m.graph
    casts, kept = [], []
    for init in g.initializer:
        arr = numpy_helper.to_array(init)
        if init.data_type == TensorProto.FLOAT and arr.size >= FP16_MIN_ELEMENTS:
            half = arr.astype(np.float16)
            if not np.array_equal(half.astype(np.float32), arr):
                raise SystemExit(f"initializer {init.name} is not float16-exact; round the weights first")
            kept.append(numpy_helper.from_array(half, init.name + "__fp16"))
            casts.append(helper.make_node("Cast", [init.name + "__fp16"], [init.name], to=TensorProto.FLOAT,
                                          name=init.name + "__cast"))
        else:
            kept.append(init)
    del g.initializer[:]
    g.initializer.extend(kept)
    nodes = casts + list(g.node)
    del g.node[:]
    g.node.extend(nodes)
    onnx.checker.check_model(m)
    onnx.save(m, path)
    return len(casts)


def add_max_positions(path, max_pos):
    """Record the rows of the position table as ONNX metadata_props "max_position_embeddings", which the library reads
    at load to refuse a maxSequenceLength the graph cannot serve."""
    import onnx

    m = onnx.load(path)
    kept = [p for p in m.metadata_props if p.key != "max_position_embeddings"]
    del m.metadata_props[:]
    m.metadata_props.extend(kept)
    entry = m.metadata_props.add()
    entry.key, entry.value = "max_position_embeddings", str(max_pos)
    onnx.save(m, path)


def left_pad(seqs, pad_id=50256):
    t = max(len(s) for s in seqs)
    ids = np.full((len(seqs), t), pad_id, dtype=np.int64)
    mask = np.zeros((len(seqs), t), dtype=np.int64)
    pos = np.zeros((len(seqs), t), dtype=np.int64)
    for i, s in enumerate(seqs):
        o = t - len(s)
        ids[i, o:] = s
        mask[i, o:] = 1
        pos[i, o:] = np.arange(len(s))
    return torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(pos)


def make_batches(rows, max_tokens, max_batch, rng):
    """Length-bucketed batches: sort by length (random tie-break), chunk by a token budget, shuffle batch order."""
    idx = sorted(range(len(rows)), key=lambda i: (len(rows[i]["ids"]), rng.random()))
    batches, cur, cur_max = [], [], 0
    for i in idx:
        n = len(rows[i]["ids"])
        if cur and (max(cur_max, n) * (len(cur) + 1) > max_tokens or len(cur) >= max_batch):
            batches.append(cur)
            cur, cur_max = [], 0
        cur.append(i)
        cur_max = max(cur_max, n)
    if cur:
        batches.append(cur)
    rng.shuffle(batches)
    return batches


@torch.no_grad()
def predict(model, rows, max_tokens=16384):
    model.eval()
    out = np.zeros(len(rows), dtype=np.float64)
    idx = sorted(range(len(rows)), key=lambda i: len(rows[i]["ids"]))
    b = []
    for k, i in enumerate(idx + [None]):
        if i is not None and (not b or len(rows[i]["ids"]) * (len(b) + 1) <= max_tokens) and len(b) < 256:
            b.append(i)
            continue
        ids, mask, pos = left_pad([rows[j]["ids"] for j in b])
        p = torch.softmax(model.verdict_logits(ids, mask, pos).double(), dim=-1)[:, 1].numpy()
        out[b] = p
        b = [i] if i is not None else []
    return out


def pretrain(model, rows, args):
    """Next-token prediction on unlabelled token sequences (guard-training rows, optionally extra benign text), so that a
    bigger model starts from language knowledge rather than from scratch. Never sees router or dev rows."""
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and n != "pos.weight"]
    no_decay = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and n != "pos.weight")]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.wd}, {"params": no_decay, "weight_decay": 0.0}], lr=args.lr)
    rng = random.Random(args.seed + 2)
    total = len(make_batches(rows, args.max_tokens, args.max_batch, random.Random(0))) * args.lm_epochs
    warm = max(1, total // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / total))))
    n_tokens = sum(len(r["ids"]) for r in rows)
    print(f"[{args.name}] pre-training: {len(rows)} rows, {n_tokens} tokens, {args.lm_epochs} epoch(s)", flush=True)
    for epoch in range(args.lm_epochs):
        model.train()
        tot, cnt, te = 0.0, 0, time.time()
        for b in make_batches(rows, args.max_tokens, args.max_batch, rng):
            ids, mask, pos = left_pad([rows[i]["ids"] for i in b])
            logits = model.lm_logits(ids, mask, pos)[:, :-1, :]
            target = model.remap[torch.clamp(ids[:, 1:], 0, GPT2_VOCAB - 1)]
            valid = (mask[:, :-1] > 0) & (mask[:, 1:] > 0)
            loss = F.cross_entropy(logits[valid], target[valid])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            k = int(valid.sum())
            tot += loss.item() * k
            cnt += k
        print(f"[{args.name}] pre-training epoch {epoch + 1}/{args.lm_epochs} LM loss {tot / cnt:.4f} ({time.time() - te:.0f}s)", flush=True)


def train_verdict(model, train, monitor, args, batch_seed, label):
    """Verdict training: cross-entropy over the two verdict tokens at the last position, AdamW, warm-up + cosine."""
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and n not in ("pos.weight", "emb.weight")]
    no_decay = [p for n, p in model.named_parameters() if not (p.dim() >= 2 or n == "emb.weight") or n == "pos.weight"]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.wd}, {"params": no_decay, "weight_decay": 0.0},
                             {"params": [model.emb.weight], "weight_decay": args.wd, "lr": args.lr * args.emb_lr_mult}], lr=args.lr)
    brng = random.Random(batch_seed)
    steps_per_epoch = len(make_batches(train, args.max_tokens, args.max_batch, random.Random(0)))
    total = steps_per_epoch * args.epochs
    warm = max(1, total // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / total))))
    for epoch in range(args.epochs):
        model.train()
        batches = make_batches(train, args.max_tokens, args.max_batch, brng)
        tot, n = 0.0, 0
        te = time.time()
        for b in batches:
            ids, mask, pos = left_pad([train[i]["ids"] for i in b])
            y = torch.tensor([train[i]["label"] for i in b])
            loss = F.cross_entropy(model.verdict_logits(ids, mask, pos), y)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            tot += loss.item() * len(b)
            n += len(b)
        pm = predict(model, monitor)
        s = f1_stats(pm > 0.5, [r["label"] for r in monitor])
        print(f"[{label}] epoch {epoch + 1}/{args.epochs} loss {tot / n:.4f} monitor F1 {s['f1']:.4f} "
              f"({time.time() - te:.0f}s)", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default="training/work")
    ap.add_argument("--out", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--d", type=int, default=96)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--vocab", type=int, default=8192)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--wd", type=float, default=0.05)
    ap.add_argument("--max-tokens", type=int, default=4096)
    ap.add_argument("--max-batch", type=int, default=64)
    ap.add_argument("--monitor", type=int, default=600, help="guard-split rows held out from training to monitor (not dev)")
    ap.add_argument("--lm-epochs", type=int, default=0,
                    help="language-model pre-training epochs (next-token prediction) before the verdict training")
    ap.add_argument("--lm-rows", type=int, default=0,
                    help="extra unlabelled rows from work/lm_rows.jsonl for pre-training (0 = guard-training rows only)")
    ap.add_argument("--word-vectors", default=None,
                    help="npz from word_vectors.py: start the first dims of each token embedding from its word vector")
    ap.add_argument("--wv-std", type=float, default=0.1, help="element standard deviation of the word-vector part at start")
    ap.add_argument("--emb-lr-mult", type=float, default=1.0, help="learning-rate multiplier for the token embedding")
    ap.add_argument("--towers", type=int, default=1,
                    help="train this many guards (seeds seed, seed+1000, …) and export them side by side as one ensemble")
    ap.add_argument("--fp16-weights", action="store_true",
                    help="round weight tensors to float16 and store them as float16 in model.onnx (cast to float32 at load)")
    ap.add_argument("--only-tower", type=int, default=None,
                    help="train only tower K (0-based) and save it to work/tower_<name>_<K>.pt; towers train independently, "
                         "so separate single-thread processes can train them side by side")
    ap.add_argument("--from-towers", action="store_true",
                    help="load every tower from work/tower_<name>_<K>.pt (written by --only-tower) instead of training")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.use_deterministic_algorithms(True)

    manifest = json.load(open(os.path.join(args.work, "template", "saferoute.json"), encoding="utf-8"))
    safe_id = manifest["verdict"]["safeTokenId"]
    unsafe_id = manifest["verdict"]["unsafeTokenId"]
    max_seq = manifest["maxSequenceLength"]

    rows = load_rows(args.work)
    guard = [r for r in rows if r["split"] == "guard"]
    dev = [r for r in rows if r["split"] == "dev"]
    # Monitor set: a fixed, seeded sample of the guard split, held out from training (dev is never looked at here).
    rng = random.Random(args.seed)
    perm = list(range(len(guard)))
    rng.shuffle(perm)
    monitor = [guard[i] for i in perm[: args.monitor]]
    train = [guard[i] for i in perm[args.monitor:]]

    template_ids = set()
    for r in train:
        template_ids.update(r["ids"][-3:])  # "Answer:" tail is always present
    remap, vocab = build_vocab(train, args.vocab, [safe_id, unsafe_id] + sorted(template_ids))
    covered = np.mean([remap[t] != UNK for r in train for t in r["ids"]])

    wv = np.load(args.word_vectors) if args.word_vectors else None
    towers, wv_found, pretrain_seconds, train_seconds = [], 0, 0.0, 0.0
    tower_file = lambda k: os.path.join(args.work, f"tower_{args.name}_{k}.pt")
    for k in range(args.towers):
        if args.only_tower is not None and k != args.only_tower:
            continue
        if k > 0:
            torch.manual_seed(args.seed + 1000 * k)
        tower = Guard(remap, vocab, args.d, args.layers, args.heads, max_seq, args.dropout)
        if wv is not None:
            wv_found = init_word_vectors(tower, remap, wv, args.wv_std, args.seed + 1000 * k)
        if k == 0:
            n_params = sum(p.numel() for p in tower.parameters()) * args.towers
            print(f"[{args.name}] train {len(train)} monitor {len(monitor)} vocab {vocab} (train-token coverage {covered:.4f}) "
                  f"params {n_params / 1e6:.2f}M d={args.d} L={args.layers} towers={args.towers}", flush=True)
            if wv is not None:
                print(f"[{args.name}] word vectors for {wv_found} of {vocab - 2} vocabulary rows", flush=True)
        if args.from_towers:
            saved = torch.load(tower_file(k))
            tower.load_state_dict(saved["state"])
            train_seconds += saved["train_seconds"]
            pretrain_seconds += saved["pretrain_seconds"]
            towers.append(tower)
            continue
        tp0 = pretrain_seconds
        if args.lm_epochs > 0:
            lm = [{"ids": r["ids"]} for r in train]
            if args.lm_rows > 0:
                with open(os.path.join(args.work, "lm_rows.jsonl"), encoding="utf-8") as f:
                    for i, line in enumerate(f):
                        if i >= args.lm_rows:
                            break
                        lm.append(json.loads(line))
            tp = time.time()
            pretrain(tower, lm, args)
            pretrain_seconds += time.time() - tp
        t0 = time.time()
        train_verdict(tower, train, monitor, args, args.seed + 1 + 1000 * k, f"{args.name}" + (f" tower {k + 1}/{args.towers}" if args.towers > 1 else ""))
        train_seconds += time.time() - t0
        if args.only_tower is not None:
            torch.save({"state": tower.state_dict(), "train_seconds": time.time() - t0, "pretrain_seconds": pretrain_seconds - tp0},
                       tower_file(k))
            tower.eval()
            with open(os.path.join(args.work, f"torch_dev_p_{args.name}_tower{k}.tsv"), "w", encoding="utf-8") as f:
                for r, p in zip(dev, predict(tower, dev)):
                    f.write(f"{r['id']}\t{p:.9f}\n")
            print(f"[{args.name}] tower {k + 1}/{args.towers} saved to {tower_file(k)}", flush=True)
            return
        towers.append(tower)
    model = towers[0] if args.towers == 1 else Towers(towers)
    model.eval()
    if args.fp16_weights:
        round_weights_fp16(model)
    pdev = predict(model, dev)
    sdev = f1_stats(pdev > 0.5, [r["label"] for r in dev])
    print(f"[{args.name}] trained in {train_seconds:.0f}s; dev F1 {sdev['f1']:.4f} P {sdev['precision']:.4f} R {sdev['recall']:.4f}", flush=True)

    # Export.
    os.makedirs(args.out, exist_ok=True)
    ids, mask, pos = left_pad([[464, 318, 257, 1332, 13], [464, 318]])
    torch.onnx.export(
        model, (ids, mask, pos), os.path.join(args.out, "model.onnx"), opset_version=17,
        input_names=["input_ids", "attention_mask", "position_ids"], output_names=["last_hidden_state"],
        dynamic_axes={n: {0: "batch", 1: "sequence"} for n in ("input_ids", "attention_mask", "position_ids", "last_hidden_state")},
        do_constant_folding=True)
    if args.fp16_weights:
        n16 = store_fp16(os.path.join(args.out, "model.onnx"))
        print(f"[{args.name}] {n16} weight tensors stored as float16", flush=True)
    add_max_positions(os.path.join(args.out, "model.onnx"), max_seq)
    save_safetensors(os.path.join(args.out, "verdict_rows.safetensors"),
                     {"lm_head_rows": model.verdict.detach().numpy()})
    manifest["name"] = args.name
    manifest["hiddenSize"] = args.d * args.towers
    # Verified at load by the library: a file changed after export (even one that still parses) is refused.
    manifest["sha256"] = {f: file_sha256(os.path.join(args.out, f)) for f in ("model.onnx", "verdict_rows.safetensors")}
    with open(os.path.join(args.out, "saferoute.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    # PyTorch p(unsafe) for every dev row, one unpadded row at a time (the library batches with left padding).
    with torch.no_grad(), open(os.path.join(args.work, f"torch_dev_p_{args.name}.tsv"), "w", encoding="utf-8") as f:
        for r in dev:
            i, m, p = left_pad([r["ids"]])
            z = model.verdict_logits(i, m, p).double()
            f.write(f"{r['id']}\t{torch.softmax(z, -1)[0, 1].item():.9f}\n")
    info = {"name": args.name, "params": n_params, "d": args.d, "layers": args.layers, "heads": args.heads, "towers": args.towers, "fp16_weights": args.fp16_weights, "vocab": vocab,
            "epochs": args.epochs, "lm_epochs": args.lm_epochs, "lm_rows": args.lm_rows, "lr": args.lr, "dropout": args.dropout, "weight_decay": args.wd, "seed": args.seed,
            "word_vectors": bool(args.word_vectors), "word_vector_rows": wv_found, "wv_std": args.wv_std, "emb_lr_mult": args.emb_lr_mult,
            "train_rows": len(train), "monitor_rows": len(monitor), "train_seconds": round(train_seconds, 1), "pretrain_seconds": round(pretrain_seconds, 1),
            "torch_dev": sdev}
    with open(os.path.join(args.work, f"train_{args.name}.json"), "w", encoding="utf-8") as f:
        json.dump(info, f, indent=2)


if __name__ == "__main__":
    main()
