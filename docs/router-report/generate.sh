#!/usr/bin/env bash
# Regenerates docs/router-report/ (report.md, report.json, tradeoff.png, safety-f1-by-share.png,
# routing-f1-by-share.png): the shipped default demonstration models (models/default: small and large guard and
# router.safetensors, unchanged) evaluated on the development split with `saferoute eval` — every routing method at its
# own ε, every method at the same large-guard shares (5–50%), paired-bootstrap intervals for the router against the
# best baseline, the area under each curve, and a per-source breakdown.
#
#   bash docs/router-report/generate.sh
#
# Data: ../shared/datasets/train, split exactly as the default models were trained (tools/SafeRoute.ModelPrep split:
# same de-duplication, Alpaca cut and stratified 70/20/10 guard/router/dev split, seed 1234). The router split (which the
# guards never saw, and on which the default router was trained) fits the TS temperature and the BC mean; the report
# is on the dev split, and the budget thresholds are chosen on the dev rows themselves (the report says so: an
# in-sample choice made alike for every method; pass CALIBRATE_ON=<labelled JSONL in the cache> to choose them elsewhere).
# Environment overrides: DATA, WORK (default artifacts/router-report, git-ignored), OUT, ROUTER (default: the shipped
# models/default/router.safetensors), SHARES (0.05,0.10,0.15,0.20,0.30,0.50), BOOTSTRAP (1000), SEED (0),
# CALIBRATE_ON. Nothing here prints dataset text.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DATA=${DATA:-$ROOT/../shared/datasets/train}
WORK=${WORK:-$ROOT/artifacts/router-report}
OUT=${OUT:-$ROOT/docs/router-report}
MODELS=$ROOT/models/default
ROUTER=${ROUTER:-$MODELS/router.safetensors}
SHARES=${SHARES:-0.05,0.10,0.15,0.20,0.30,0.50}
BOOTSTRAP=${BOOTSTRAP:-1000}
SEED=${SEED:-0}

cd "$ROOT"
dotnet build tools/SafeRoute.ModelPrep -c Release -v q -nologo
dotnet build src/SafeRoute.Cli -c Release -v q -nologo
prep() { dotnet "$ROOT/tools/SafeRoute.ModelPrep/bin/Release/net10.0/SafeRoute.ModelPrep.dll" "$@"; }
saferoute() { dotnet "$ROOT/src/SafeRoute.Cli/bin/Release/net10.0/SafeRoute.Cli.dll" "$@"; }

mkdir -p "$WORK" "$OUT"
prep split --data "$DATA" --out "$WORK/data"
ROUTER_ROWS="$WORK/data/router.jsonl"
DEV_ROWS="$WORK/data/dev.jsonl"
# Two caches: the fit rows (router split) apart from the evaluated rows (dev split), as --fit-cache allows.
FIT_CACHE="$WORK/router-split.srfc"
DEV_CACHE="$WORK/dev-split.srfc"

# 1. Both default guards once per row (resumable: rerun after Ctrl+C). Reports identical text with conflicting labels (ids only).
saferoute cache --models "$MODELS" --data "$ROUTER_ROWS" --cache "$FIT_CACHE"
saferoute cache --models "$MODELS" --data "$DEV_ROWS" --cache "$DEV_CACHE"
# 2. Every method on dev; TS and BC fitted on the router split; latency measured on 64 dev rows; budget curves, bootstrap
#    intervals, areas and the per-source breakdown.
CAL=()
if [[ -n "${CALIBRATE_ON:-}" ]]; then CAL=(--calibrate-on "$CALIBRATE_ON"); fi
saferoute eval --models "$MODELS" --cache "$DEV_CACHE" --data "$DEV_ROWS" --fit-data "$ROUTER_ROWS" --fit-cache "$FIT_CACHE" --router "$ROUTER" \
  --shares "$SHARES" --bootstrap "$BOOTSTRAP" --seed "$SEED" "${CAL[@]}" \
  --out "$OUT" --title "Default models, development split" > "$WORK/eval.log"
echo "wrote $OUT (see $WORK/eval.log)"
