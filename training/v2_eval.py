"""Development-split evaluation of the v2 pair + router from PyTorch outputs (issue 16): small, large, routed, oracle,
entropy routing at the router's share, routing F1, and a paired bootstrap 95% interval of (router − entropy) for routed
F1 and routing F1. Reads WORK_V2/features/dev.{f32,tsv} (ModelPrep features, through the library) and ROUTER (router.safetensors).
Usage: v2_eval.py WORK_V2 ROUTER OUT.json"""
import json
import struct
import sys

import numpy as np

sys.path.insert(0, __import__("os").path.dirname(__file__))
from common import f1_stats  # noqa: E402
from train_router import effective_threshold, large_tokens, load, routing_chars  # noqa: E402


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    out = {k: np.frombuffer(data[v["data_offsets"][0]:v["data_offsets"][1]], dtype="<f4").reshape(v["shape"]) for k, v in header.items()}
    return out, meta


def router_scores(w, x):
    def ln(h, g, b):
        m = h.mean(-1, keepdims=True); v = ((h - m) ** 2).mean(-1, keepdims=True)
        return (h - m) / np.sqrt(v + 1e-5) * g + b
    h = np.maximum(ln(x @ w["cls.0.weight_mu"].T + w["cls.0.bias_mu"], w["cls.1.weight"], w["cls.1.bias"]), 0)
    h = np.maximum(ln(h @ w["cls.3.weight_mu"].T + w["cls.3.bias_mu"], w["cls.4.weight"], w["cls.4.bias"]), 0)
    z = h @ w["cls.6.weight_mu"].T + w["cls.6.bias_mu"]
    return 1 / (1 + np.exp(-z[:, 0]))


def main():
    work, router, out = sys.argv[1:4]
    x, label, ps, pl, t = load(work, "dev")
    w, meta = read_safetensors(router)
    eps = float(meta["threshold"])
    reference = float(meta["length_reference"]) if "length_reference" in meta else None
    s = router_scores(w.copy(), x.astype(np.float64))
    n = routing_chars(work, "dev")
    if reference is not None and n is None:
        raise SystemExit("the router is length-aware but the features have no chars column (rerun ModelPrep features)")
    route = s.astype(np.float32) > effective_threshold(eps, reference, n if n is not None else np.zeros(len(s)))
    share = float(route.mean())
    q = np.clip(ps, 1e-12, 1 - 1e-12)
    ent = -(q * np.log2(q) + (1 - q) * np.log2(1 - q))
    k = int(route.sum())

    def top_k(score, count):
        """The count highest-scoring rows (ties in row order): a method routed at a given share."""
        chosen = np.zeros(len(x), bool)
        chosen[np.argsort(-score, kind="stable")[:count]] = True
        return chosen

    ent_route = top_k(ent, k)  # the k most uncertain inputs: entropy routing at the same share
    paper_route = top_k(s, k)  # the same router, one threshold for all, at the same share

    def routed(r, idx=slice(None)):
        return np.where(r[idx], pl[idx] > 0.5, ps[idx] > 0.5)

    def paired_bootstrap(a, b):
        """95% intervals of (a − b) in routed F1 and routing F1 over 1,000 paired resamples (seed 1234)."""
        rng = np.random.RandomState(1234)
        d_f1, d_rf1 = [], []
        for _ in range(1000):
            i = rng.randint(0, len(x), len(x))
            d_f1.append(f1_stats(routed(a, i), label[i])["f1"] - f1_stats(routed(b, i), label[i])["f1"])
            d_rf1.append(f1_stats(a[i], t[i])["f1"] - f1_stats(b[i], t[i])["f1"])
        return {"routedF1": [float(np.percentile(d_f1, 2.5)), float(np.percentile(d_f1, 97.5))],
                "routingF1": [float(np.percentile(d_rf1, 2.5)), float(np.percentile(d_rf1, 97.5))]}

    res = {"rows": int(len(x)), "hard": int(t.sum()), "threshold": eps, "lengthReference": reference,
           "small": f1_stats(ps > 0.5, label), "large": f1_stats(pl > 0.5, label),
           "routed": {**f1_stats(routed(route), label), "largeShare": share, "routing": f1_stats(route, t)},
           "oracle": {**f1_stats(routed(t > 0.5), label), "largeShare": float(t.mean())},
           "entropyAtRouterShare": {**f1_stats(routed(ent_route), label), "largeShare": float(ent_route.mean()), "routing": f1_stats(ent_route, t)},
           "routerPaperRuleAtSameShare": {**f1_stats(routed(paper_route), label), "largeShare": float(paper_route.mean()), "routing": f1_stats(paper_route, t)},
           "entropy05": {**f1_stats(routed(ent > 0.5), label), "largeShare": float((ent > 0.5).mean()), "routing": f1_stats(ent > 0.5, t)}}
    gap = res["large"]["f1"] - res["small"]["f1"]
    cost = large_tokens(work, "dev")
    if cost is not None:  # the routed rows' share of the large guard's tokens (the latency the router spends)
        res["routed"]["largeCostShare"] = float(cost[route].sum() / cost.sum())
        res["entropyAtRouterShare"]["largeCostShare"] = float(cost[ent_route].sum() / cost.sum())
        res["routerPaperRuleAtSameShare"]["largeCostShare"] = float(cost[paper_route].sum() / cost.sum())
    res["gapClosed"] = (res["routed"]["f1"] - res["small"]["f1"]) / gap if gap > 0 else None
    if "uniform_threshold" in meta:
        # The paper's rule at the file's uniform_threshold (what LengthAwareRouting = false runs) vs entropy at its share.
        u_route = s.astype(np.float32) > np.float32(float(meta["uniform_threshold"]))
        u_ent = top_k(ent, int(u_route.sum()))
        res["uniformRule"] = {**f1_stats(routed(u_route), label), "threshold": float(meta["uniform_threshold"]),
                              "largeShare": float(u_route.mean()), "routing": f1_stats(u_route, t),
                              "entropyRouting": f1_stats(u_ent, t), "entropyRoutedF1": f1_stats(routed(u_ent), label)["f1"],
                              "bootstrap": paired_bootstrap(u_route, u_ent)}
        if cost is not None:
            res["uniformRule"]["largeCostShare"] = float(cost[u_route].sum() / cost.sum())
    res["bootstrapRouterMinusEntropy"] = paired_bootstrap(route, ent_route)
    with open(out, "w") as f:
        json.dump(res, f, indent=2)
    for k_ in ("small", "large", "routed", "oracle", "entropyAtRouterShare", "routerPaperRuleAtSameShare", "entropy05"):
        v = res[k_]
        print(f"{k_:22s} F1 {v['f1']:.4f} P {v['precision']:.4f} R {v['recall']:.4f}" +
              (f"  share {v['largeShare']:.3f}" if "largeShare" in v else "") +
              (f"  cost share {v['largeCostShare']:.3f}" if "largeCostShare" in v else "") + (f"  routing F1 {v['routing']['f1']:.4f}" if "routing" in v else ""))
    print("gap closed", res["gapClosed"], "bootstrap 95% (router − entropy):", res["bootstrapRouterMinusEntropy"])
    if "uniformRule" in res:
        u = res["uniformRule"]
        print(f"paper's rule at uniform_threshold: F1 {u['f1']:.4f} share {u['largeShare']:.3f} routing F1 {u['routing']['f1']:.4f} "
              f"vs entropy {u['entropyRouting']['f1']:.4f}; bootstrap {u['bootstrap']}")


if __name__ == "__main__":
    main()
