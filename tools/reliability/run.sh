#!/usr/bin/env bash
# Issue 14's reliability suite, one command:
#
#   tools/reliability/run.sh            # the probes as tests + 50 dispose-under-load child runs
#   tools/reliability/run.sh --bench    # ... and the adversarial-encoding scan (every class at 10 MB; slow: ~15 min)
#
# 1. The probes that stay, as NUnit tests (they also run in CI as part of `dotnet test SafeRoute.sln`):
#    injection fuzz (InjectionFuzzTests: every special string of every preset + 10,000 seeded random strings),
#    adversarial-length work bounds (AdversarialCostTests), corrupt-file corpus (CorruptModelFileTests),
#    faulty-large-guard matrix (RoutedLargeGuardContractTests), misbehaving loopback server (RemoteGuardFailureTests),
#    dispose under load in-process (DisposeUnderLoadTests), supplementary-plane vectors (AstralVectorTests) and the
#    one white-space rule (WhiteSpaceRuleTests). Their printed counts (special ids from user text, corrupt files
#    loaded, ...) are shown.
# 2. tools/reliability/dispose-under-load.sh 50: child processes disposed under load; counts crashes.
# 3. With --bench: `dotnet run -c Release --project benchmarks/SafeRoute.Benchmarks -- adversarial-scan` (worst
#    encoding time per class, preset and context; see benchmarks/README.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
bench=0
[[ "${1:-}" == "--bench" ]] && bench=1

filter="FullyQualifiedName~InjectionFuzzTests|FullyQualifiedName~AdversarialCostTests|FullyQualifiedName~CorruptModelFileTests"
filter+="|FullyQualifiedName~RoutedLargeGuardContractTests|FullyQualifiedName~RemoteGuardFailureTests"
filter+="|FullyQualifiedName~DisposeUnderLoadTests|FullyQualifiedName~AstralVectorTests|FullyQualifiedName~WhiteSpaceRuleTests"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
echo "== reliability: probe tests"
dotnet test tests/SafeRoute.Tests -c Release --filter "$filter" --logger "console;verbosity=detailed" >"$log" 2>&1 || status=$?
grep -E "with special ids from user text|corrupt variants|vectors|Passed!|Failed!|^\s+Failed " "$log" | sed 's/^ *//' | sort -u
[ "$status" -eq 0 ] || { echo "reliability: probe tests FAILED (log kept at $log)"; trap - EXIT; exit 1; }

echo "== reliability: dispose under load, 50 child runs"
NO_BUILD=1 tools/reliability/dispose-under-load.sh 50

if [ "$bench" -eq 1 ]; then
  echo "== reliability: adversarial-encoding scan"
  dotnet run -c Release --project benchmarks/SafeRoute.Benchmarks -- adversarial-scan
fi
echo "reliability: all passed"
