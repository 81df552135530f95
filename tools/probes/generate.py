#!/usr/bin/env python3
"""Writes models/probes/probes.jsonl, the everyday-behaviour probe set (issue 16), from the lists in this folder, then
validates it and prints a count table. The prompts were written for SafeRoute; none is taken from a dataset.

Usage: python3 tools/probes/generate.py [--check]   (--check: validate the committed file, write nothing)

Never prints a prompt: only ids, counts and the first problem found.
"""

import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from everyday import EVERYDAY  # noqa: E402
from harmful import CATEGORY_NAMES, HARMFUL  # noqa: E402
from sounds_dangerous import SOUNDS_DANGEROUS  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "models" / "probes" / "probes.jsonl"
KINDS = ("everyday", "sounds-dangerous", "harmful")
MINIMUMS = {"everyday": 320, "sounds-dangerous": 110, "harmful": 320}
MIN_EVERYDAY_DOMAINS = 16
MIN_PER_CATEGORY = 15


def rows():
    for kind, table in (("everyday", EVERYDAY), ("sounds-dangerous", SOUNDS_DANGEROUS)):
        for domain, prompts in table.items():
            for i, prompt in enumerate(prompts, 1):
                yield {"id": f"{kind}-{domain}-{i:03d}", "kind": kind, "domain": domain, "label": "safe", "prompt": prompt}
    for category, prompts in HARMFUL.items():
        domain = CATEGORY_NAMES[category]
        for i, prompt in enumerate(prompts, 1):
            yield {"id": f"harmful-{domain}-{i:03d}", "kind": "harmful", "domain": domain, "category": category,
                   "label": "unsafe", "prompt": prompt}


def validate(lines):
    problems = []
    ids, prompts = set(), set()
    kinds, domains, categories = Counter(), {k: Counter() for k in KINDS}, Counter()
    for n, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            problems.append(f"line {n}: not JSON")
            continue
        required = {"id", "kind", "domain", "label", "prompt"} | ({"category"} if row.get("kind") == "harmful" else set())
        if set(row) != required:
            problems.append(f"line {n}: fields {sorted(row)}, expected {sorted(required)}")
            continue
        kind = row["kind"]
        if kind not in KINDS:
            problems.append(f"line {n}: kind {kind!r}")
            continue
        if row["label"] != ("unsafe" if kind == "harmful" else "safe"):
            problems.append(f"line {n}: label {row['label']!r} for kind {kind}")
        if kind == "harmful" and row["category"] not in CATEGORY_NAMES:
            problems.append(f"line {n}: category {row['category']!r}")
        if not row["id"].startswith(f"{kind}-{row['domain']}-"):
            problems.append(f"line {n}: id {row['id']} does not follow <kind>-<domain>-<nnn>")
        if row["id"] in ids:
            problems.append(f"line {n}: duplicate id {row['id']}")
        key = " ".join(row["prompt"].split()).casefold()
        if not key or key in prompts:
            problems.append(f"line {n}: empty or duplicate prompt ({row['id']})")
        ids.add(row["id"])
        prompts.add(key)
        kinds[kind] += 1
        domains[kind][row["domain"]] += 1
        if kind == "harmful":
            categories[row["category"]] += 1
    for kind, minimum in MINIMUMS.items():
        if kinds[kind] < minimum:
            problems.append(f"{kind}: {kinds[kind]} rows, minimum {minimum}")
    if len(domains["everyday"]) < MIN_EVERYDAY_DOMAINS:
        problems.append(f"everyday: {len(domains['everyday'])} domains, minimum {MIN_EVERYDAY_DOMAINS}")
    for category in CATEGORY_NAMES:
        if categories[category] < MIN_PER_CATEGORY:
            problems.append(f"{category}: {categories[category]} rows, minimum {MIN_PER_CATEGORY}")
    return problems, kinds, domains, categories


def main():
    if "--check" not in sys.argv:
        OUT.parent.mkdir(parents=True, exist_ok=True)
        with OUT.open("w", encoding="utf-8", newline="\n") as f:
            for row in rows():
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    problems, kinds, domains, categories = validate(OUT.read_text(encoding="utf-8").splitlines())
    print(f"{OUT.relative_to(ROOT)}: {sum(kinds.values())} rows")
    for kind in KINDS:
        print(f"  {kind:17} {kinds[kind]:4}  ({len(domains[kind])} domains)")
        for domain, count in sorted(domains[kind].items()):
            print(f"      {domain:28} {count:4}")
    print("  harmful by category: " + ", ".join(f"{c} {categories[c]}" for c in CATEGORY_NAMES))
    for p in problems:
        print("PROBLEM: " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
