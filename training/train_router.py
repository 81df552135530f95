"""Train the SafeRoute router (method doc §2) on the ROUTER split and pick its threshold ε on the DEV split.

Inputs (written by `SafeRoute.ModelPrep features`, i.e. computed by the .NET library): work/features/{router,dev}.f32
(small-guard last-token hidden states, float32 [N, H]) and {router,dev}.tsv (label, small logits/p, large p).
Hard label t = [large right] and [small wrong]. Network: BayesLinear(H,512) → LayerNorm → ReLU → BayesLinear(512,512) →
LayerNorm → ReLU → BayesLinear(512,1); loss BCE-with-logits + 0.01·KL(q ‖ N(0, 0.1²)) / #Bayes parameters; AdamW lr 1e-3,
100 warm-up steps then linear decay to 0, batch 512, class-balanced sampling with replacement, stratified 10% validation
split of the router split, last epoch kept. Writes router.safetensors (reference tensor names, F32, metadata threshold).
ε: the best routed F1 on dev with a large-guard share ≤ --max-share (route when score > ε, as the library does) and,
with --max-cost-share, a large-guard cost share ≤ that: the routed rows' share of the tokens the large guard would run
over the whole split (column large_tokens; long inputs are read in several windows, so the hard rows can cost more than
their count share).
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

from common import f1_stats, save_safetensors

PRIOR_SIGMA = 0.1


class BayesLinear(nn.Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight_mu = nn.Parameter(torch.empty(n_out, n_in))
        self.weight_log_sigma = nn.Parameter(torch.full((n_out, n_in), math.log(PRIOR_SIGMA)))
        self.bias_mu = nn.Parameter(torch.empty(n_out))
        self.bias_log_sigma = nn.Parameter(torch.full((n_out,), math.log(PRIOR_SIGMA)))
        nn.init.kaiming_normal_(self.weight_mu)
        bound = 1.0 / math.sqrt(n_in)
        nn.init.uniform_(self.bias_mu, -bound, bound)

    def forward(self, x, sample):
        if not sample:
            return F.linear(x, self.weight_mu, self.bias_mu)
        w = self.weight_mu + torch.exp(self.weight_log_sigma) * torch.randn_like(self.weight_mu)
        b = self.bias_mu + torch.exp(self.bias_log_sigma) * torch.randn_like(self.bias_mu)
        return F.linear(x, w, b)

    def kl(self):
        total = 0.0
        for mu, ls in ((self.weight_mu, self.weight_log_sigma), (self.bias_mu, self.bias_log_sigma)):
            total = total + (math.log(PRIOR_SIGMA) - ls + (torch.exp(ls) ** 2 + mu ** 2) / (2 * PRIOR_SIGMA ** 2) - 0.5).sum()
        return total

    def count(self):
        return self.weight_mu.numel() + self.bias_mu.numel()


class Router(nn.Module):
    def __init__(self, h, width=512):
        super().__init__()
        w = width
        # Index layout of the reference nn.Sequential: 0 BayesLinear, 1 LayerNorm, 2 ReLU, 3 BayesLinear, 4 LayerNorm,
        # 5 ReLU, 6 BayesLinear.
        self.cls = nn.ModuleList([BayesLinear(h, w), nn.LayerNorm(w), nn.ReLU(), BayesLinear(w, w),
                                  nn.LayerNorm(w), nn.ReLU(), BayesLinear(w, 1)])

    def forward(self, x, sample=False):
        for m in self.cls:
            x = m(x, sample) if isinstance(m, BayesLinear) else m(x)
        return x.squeeze(-1)

    def kl(self):
        bayes = [m for m in self.cls if isinstance(m, BayesLinear)]
        return sum(m.kl() for m in bayes) / sum(m.count() for m in bayes)


def load(work, split):
    import csv
    with open(os.path.join(work, "features", split + ".tsv"), encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    x = np.fromfile(os.path.join(work, "features", split + ".f32"), dtype="<f4").reshape(len(rows), -1)
    label = np.array([int(r["label"]) for r in rows])
    ps = np.array([float(r["small_p"]) for r in rows])
    pl = np.array([float(r["large_p"]) for r in rows])
    t = (((pl > 0.5).astype(int) == label) & ((ps > 0.5).astype(int) != label)).astype(np.float32)
    return x, label, ps, pl, t


def feature_column(work, split, name):
    """One column of features/<split>.tsv as floats, or None in older files without it."""
    import csv
    with open(os.path.join(work, "features", split + ".tsv"), encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return np.array([float(r[name]) for r in rows]) if rows and name in rows[0] else None


def large_tokens(work, split):
    """The tokens the large guard runs per row (column large_tokens, every window), or None in older files."""
    return feature_column(work, split, "large_tokens")


def routing_chars(work, split):
    """The length length-aware routing reads per row (column chars: prompt + response UTF-16 code units, as
    RoutedSafetyGuard.RoutingLength counts them), or None in older files."""
    return feature_column(work, split, "chars")


LENGTH_AWARE_CEILING = float(np.float32(0.9))  # RoutedSafetyGuard.LengthAwareCeiling (a float, widened to double)


def effective_threshold(eps, reference, n):
    """RoutedSafetyGuard.EffectiveThreshold, in the same arithmetic: min(ε √((n + L) / 2L), max(ε, 0.9)) in double from the
    float32 ε and L, then rounded to float32; ε itself when reference is None."""
    eps = float(np.float32(eps))
    if reference is None:
        return np.full(len(n), np.float32(eps), np.float32)
    ref = float(np.float32(reference))
    return np.minimum(eps * np.sqrt((n + ref) / (2.0 * ref)), max(eps, LENGTH_AWARE_CEILING)).astype(np.float32)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default="training/work")
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--max-share", type=float, default=0.20)
    ap.add_argument("--max-cost-share", type=float, default=1.0,
                    help="also cap the routed rows' share of the large guard's tokens (features column large_tokens)")
    ap.add_argument("--length-aware", action="store_true",
                    help="calibrate ε for length-aware routing (RoutedSafetyGuardOptions.LengthAwareRouting) with L = the "
                         "median length of the router split's inputs, stored as length_reference metadata")
    ap.add_argument("--width", type=int, default=512, help="hidden width of both MLP layers (the paper's is 512)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    rng = np.random.RandomState(args.seed)

    x, label, ps, pl, t = load(args.work, "router")
    # Stratified 10% validation split (by hard label).
    val_idx = []
    for c in (0, 1):
        idx = np.where(t == c)[0]
        idx = idx[rng.permutation(len(idx))]
        val_idx.extend(idx[: int(round(0.1 * len(idx)))].tolist())
    val_mask = np.zeros(len(t), dtype=bool)
    val_mask[val_idx] = True
    xtr, ttr, xva, tva = x[~val_mask], t[~val_mask], x[val_mask], t[val_mask]
    print(f"router split: {len(t)} rows, {int(t.sum())} hard; train {len(ttr)} ({int(ttr.sum())} hard), val {len(tva)} ({int(tva.sum())} hard)", flush=True)

    model = Router(x.shape[1], args.width)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    batch = 512
    steps_per_epoch = math.ceil(len(ttr) / batch)
    total = steps_per_epoch * args.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: (s + 1) / 100 if s < 100 else max(0.0, (total - s) / max(1, total - 100)))
    weights = np.where(ttr == 1, 1.0 / max(1, ttr.sum()), 1.0 / max(1, (1 - ttr).sum()))
    sampler_gen = torch.Generator().manual_seed(args.seed)
    xt, tt = torch.from_numpy(xtr), torch.from_numpy(ttr)
    t0 = time.time()
    for epoch in range(args.epochs):
        model.train()
        idx = torch.multinomial(torch.from_numpy(weights), len(ttr), replacement=True, generator=sampler_gen)
        for s in range(steps_per_epoch):
            b = idx[s * batch:(s + 1) * batch]
            logit = model(xt[b], sample=True)
            loss = F.binary_cross_entropy_with_logits(logit, tt[b]) + 0.01 * model.kl()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        if (epoch + 1) % max(1, args.epochs // 5) == 0:
            model.eval()
            with torch.no_grad():
                sv = torch.sigmoid(model(torch.from_numpy(xva))).numpy()
            st = f1_stats(sv > 0.5, tva)
            print(f"epoch {epoch + 1}: loss {loss.item():.4f} val routing F1 {st['f1']:.4f} (ε=0.5, share {np.mean(sv > 0.5):.3f})", flush=True)
    train_seconds = time.time() - t0
    model.eval()

    # Threshold on DEV: best routed F1 with share ≤ max-share.
    xd, ld, psd, pld, td = load(args.work, "dev")
    with torch.no_grad():
        sd = torch.sigmoid(model(torch.from_numpy(xd))).double().numpy()
    cost = large_tokens(args.work, "dev")
    if args.max_cost_share < 1.0 and cost is None:
        raise SystemExit("--max-cost-share needs the large_tokens column (rerun ModelPrep features)")
    reference, nd = None, None
    if args.length_aware:
        n_router, nd = routing_chars(args.work, "router"), routing_chars(args.work, "dev")
        if n_router is None or nd is None:
            raise SystemExit("--length-aware needs the chars column (rerun ModelPrep features)")
        reference = float(np.float32(np.median(n_router)))
        # Every ε at which some row's decision changes: its score (capped rows) and its score over its length factor.
        candidates = np.concatenate([sd, sd / np.sqrt((nd + reference) / (2.0 * reference)), [1.0]])
    else:
        candidates = np.concatenate([sd, [1.0]])
    sd32 = sd.astype(np.float32)

    def route_at(eps):
        return sd32 > effective_threshold(eps, reference, nd if nd is not None else np.zeros(len(sd)))

    def calibrate(candidates, route_at, max_cost_share):
        best = None
        # Each candidate is an ε at which some row sits exactly on its threshold; the routed set stays the same from
        # there up to the next candidate, so try the midpoints: then no row's score sits on the chosen threshold, where
        # features that differ in the last bit (another batch shape, another CPU) could flip its routing.
        points = np.unique(np.float32(np.clip(candidates, 0.0, 1.0)))
        for eps in np.append((points[:-1].astype(np.float64) + points[1:]) / 2.0, points[-1]).astype(np.float32):
            route = route_at(eps)
            share = float(route.mean())
            f = f1_stats(np.where(route, pld > 0.5, psd > 0.5), ld)["f1"]
            cost_share = float(cost[route].sum() / cost.sum()) if cost is not None else share
            if share <= args.max_share and cost_share <= max_cost_share and (best is None or f > best[1] + 1e-12):
                best = (float(eps), f, share, cost_share)
        return best

    # With --length-aware, also the paper's rule calibrated the same way: the ε to use with LengthAwareRouting = false.
    # Turning length-aware routing off chooses quality over the large guard's cost, so no cost cap there.
    uniform = None
    if reference is not None:
        u = calibrate(np.concatenate([sd, [1.0]]), lambda e: sd32 > np.float32(e), 1.0)
        uniform = {"threshold": u[0], "dev_routed_f1": u[1], "dev_share": u[2], "dev_cost_share": u[3]}
        print(f"dev, the paper's rule calibrated the same way: ε={u[0]:.6g} routed F1 {u[1]:.4f} share {u[2]:.3f} cost share {u[3]}", flush=True)

    best = calibrate(candidates, route_at, args.max_cost_share)
    eps, f, share, _ = best
    eps32 = float(np.float32(eps))
    route = route_at(eps32)
    cost_share = float(cost[route].sum() / cost.sum()) if cost is not None else None
    rs = f1_stats(route, td)
    print(f"dev: ε={eps32:.6g}" + (f" length-aware L={reference:g}" if reference is not None else "") + f" routed F1 {f:.4f} share {share:.3f} cost share {cost_share} routing F1 {rs['f1']:.4f} P {rs['precision']:.4f} R {rs['recall']:.4f}; "
          f"small F1 {f1_stats(psd > 0.5, ld)['f1']:.4f} large F1 {f1_stats(pld > 0.5, ld)['f1']:.4f}; trained {train_seconds:.0f}s", flush=True)

    tensors = {}
    for i in (0, 3, 6):
        m = model.cls[i]
        for n in ("weight_mu", "weight_log_sigma", "bias_mu", "bias_log_sigma"):
            tensors[f"cls.{i}.{n}"] = getattr(m, n).detach().numpy()
        if i != 6:
            ln = model.cls[i + 1]
            tensors[f"cls.{i + 1}.weight"] = ln.weight.detach().numpy()
            tensors[f"cls.{i + 1}.bias"] = ln.bias.detach().numpy()
    metadata = {"threshold": repr(eps32), "layer_norm_eps": "1e-05"}
    if reference is not None:
        metadata["length_reference"] = repr(reference)
        metadata["uniform_threshold"] = repr(float(np.float32(uniform["threshold"])))
    save_safetensors(args.out, tensors, metadata)
    with open(os.path.join(args.work, "train_router.json"), "w", encoding="utf-8") as fo:
        json.dump({"epochs": args.epochs, "width": args.width, "train_seconds": round(train_seconds, 1), "router_rows": int(len(t)), "router_hard": int(t.sum()),
                   "threshold": eps32, "length_reference": reference, "uniform_rule": uniform, "dev_routed_f1": f, "dev_share": share, "dev_cost_share": cost_share,
                   "max_share": args.max_share, "max_cost_share": args.max_cost_share, "dev_routing": rs}, fo, indent=2)


if __name__ == "__main__":
    main()
