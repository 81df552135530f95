#!/usr/bin/env bash
# Regenerates docs/router-report/ (report.md, report.json, tradeoff.png): a SafeRoute router trained with the
# `saferoute` CLI for the default demonstration guard pair, evaluated on the development split.
#
#   bash docs/router-report/generate.sh
#
# Data: ../shared/datasets/train, split exactly as the default models were trained (tools/SafeRoute.ModelPrep split:
# same de-duplication, Alpaca cut and stratified 70/20/10 guard/router/dev split, seed 1234). The router trains on the
# router split (which the guards never saw); ε is chosen on the dev split for the best routed F1 with at most 20% of
# inputs sent to the large guard (the rule the shipped default router uses), and the report is on the dev split.
# Environment overrides: DATA, WORK (default artifacts/router-report, git-ignored), OUT, EPOCHS (300), SEED (1234),
# THREADS (2), MAX_SHARE (0.2). Nothing here prints dataset text.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DATA=${DATA:-$ROOT/../shared/datasets/train}
WORK=${WORK:-$ROOT/artifacts/router-report}
OUT=${OUT:-$ROOT/docs/router-report}
EPOCHS=${EPOCHS:-300}
SEED=${SEED:-1234}
THREADS=${THREADS:-2}
MAX_SHARE=${MAX_SHARE:-0.2}

cd "$ROOT"
dotnet build tools/SafeRoute.ModelPrep -c Release -v q -nologo
dotnet build src/SafeRoute.Cli -c Release -v q -nologo
prep() { dotnet "$ROOT/tools/SafeRoute.ModelPrep/bin/Release/net10.0/SafeRoute.ModelPrep.dll" "$@"; }
saferoute() { dotnet "$ROOT/src/SafeRoute.Cli/bin/Release/net8.0/SafeRoute.Cli.dll" "$@"; }

mkdir -p "$WORK" "$OUT"
prep split --data "$DATA" --out "$WORK/data"
ROUTER_ROWS="$WORK/data/router.jsonl"
DEV_ROWS="$WORK/data/dev.jsonl"
CACHE="$WORK/default-pair.srfc"

# 1. Both default guards once per row (resumable: rerun after Ctrl+C).
saferoute cache --data "$ROUTER_ROWS" --data "$DEV_ROWS" --cache "$CACHE"
# 2. The paper's router on the router split's hard labels.
saferoute train-router --cache "$CACHE" --data "$ROUTER_ROWS" --out "$WORK/router.safetensors" \
  --epochs "$EPOCHS" --seed "$SEED" --threads "$THREADS"
# 3. ε for the best routed F1 on dev with at most MAX_SHARE of inputs sent to the large guard.
saferoute calibrate --router "$WORK/router.safetensors" --cache "$CACHE" --data "$DEV_ROWS" --best-f1 --max-share "$MAX_SHARE"
# 4. Every method on dev; TS and BC fitted on the router split; latency measured on 64 dev rows.
saferoute eval --cache "$CACHE" --data "$DEV_ROWS" --fit-data "$ROUTER_ROWS" --router "$WORK/router.safetensors" \
  --out "$OUT" --title "Default guard pair, development split (1,746 rows)"
