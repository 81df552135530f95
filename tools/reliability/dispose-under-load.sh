#!/usr/bin/env bash
# Dispose-under-load reliability check (issue 14, defect 2): runs the dispose-under-load child process RUNS times (50 by
# default) and counts its exits. Each run loads the small, the large and a routed test guard without micro-batching,
# calls each from concurrent callers and disposes it while runs are in flight (Dispose, DisposeAsync, both at once, or
# from a continuation). Exit 0 is a clean run; 2 an unexpected outcome (an exception other than
# ObjectDisposedException, or a bad/degraded verdict); 3 or 124 a hang; 134/139 a native crash (SIGABRT/SIGSEGV).
#
#   tools/reliability/dispose-under-load.sh [RUNS]        # builds tests/SafeRoute.Tests (Release) first
#   NO_BUILD=1 tools/reliability/dispose-under-load.sh 50 # uses the existing build
#
# The same check runs in the test suite with 10 runs: DisposeUnderLoadTests.DisposeUnderLoad_InChildProcesses_NeverCrashes
# (SAFEROUTE_DISPOSE_RUNS=50 dotnet test tests/SafeRoute.Tests -c Release --filter TestCategory=Reliability).
set -euo pipefail
runs="${1:-50}"
config="${CONFIG:-Release}"
cd "$(dirname "$0")/../.."
if [[ "${NO_BUILD:-0}" != "1" ]]; then
  dotnet build tests/SafeRoute.Tests -c "$config" -nologo -v quiet
fi

dll="tests/SafeRoute.Tests/bin/$config/net10.0/SafeRoute.Tests.dll"
models="$(mktemp -d)"
trap 'rm -rf "$models"' EXIT

declare -A exits=()
failed=0
for ((i = 1; i <= runs; i++)); do
  set +e
  output="$(timeout 180 dotnet exec "$dll" dispose-under-load --models "$models" --seed "$i" 2>&1)"
  code=$?
  set -e
  exits[$code]=$(( ${exits[$code]:-0} + 1 ))
  if [[ $code -ne 0 ]]; then
    failed=$((failed + 1))
    echo "run $i: exit $code"
    tail -n 5 <<<"$output" | sed 's/^/    /'
  fi
done

summary=""
for code in $(printf '%s\n' "${!exits[@]}" | sort -n); do
  summary+="exit $code: ${exits[$code]}  "
done
echo "dispose-under-load: $runs runs, $failed failed ($summary)"
[[ $failed -eq 0 ]]
