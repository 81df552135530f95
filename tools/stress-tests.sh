#!/usr/bin/env bash
# Runs the test suite several times while every core is kept busy, to show that no test is flaky under load.
#
#   tools/stress-tests.sh [--runs N] [--filter EXPR] [--burners N] [--no-build] [--results DIR] [--hang-timeout T]
#
# Builds SafeRoute.sln (Release) once, starts one CPU burner per core (`yes > /dev/null`, killed again on exit,
# failure or Ctrl+C), then runs `dotnet test SafeRoute.sln -c Release --no-build` N times (default 10). Prints one
# line per run with the passed/failed/skipped counts read from the run's TRX file and its duration, the names of
# the tests that failed, and a summary line. Exits 1 if any run failed (a failed test, a crashed or hung test
# host, or no TRX file), 2 on a usage or build error.
set -euo pipefail

runs=10
filter=""
burner_count="$(nproc 2>/dev/null || echo 2)"
build=1
results=""
hang_timeout="15m"

usage() {
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
    cat <<'EOF'

Options:
  --runs N           how many times to run the suite (default 10)
  --filter EXPR      passed to `dotnet test --filter` (e.g. "FullyQualifiedName~Cancellation")
  --burners N        CPU burners to start (default: one per core, here as reported by nproc; 0 = none)
  --no-build         use the existing Release build
  --results DIR      where TRX files and logs go (default: a new folder under ${TMPDIR:-/tmp})
  --hang-timeout T   a single test that runs longer than T (e.g. 90s, 15m) gets its test host killed, and
                     the run counts as failed instead of hanging (dotnet test --blame-hang-timeout; default 15m)
EOF
}

die() {
    echo "stress-tests: $*" >&2
    exit 2
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --runs) [[ $# -ge 2 ]] || die "--runs needs a value"; runs="$2"; shift 2 ;;
        --runs=*) runs="${1#*=}"; shift ;;
        --filter) [[ $# -ge 2 ]] || die "--filter needs a value"; filter="$2"; shift 2 ;;
        --filter=*) filter="${1#*=}"; shift ;;
        --burners) [[ $# -ge 2 ]] || die "--burners needs a value"; burner_count="$2"; shift 2 ;;
        --burners=*) burner_count="${1#*=}"; shift ;;
        --no-build) build=0; shift ;;
        --results) [[ $# -ge 2 ]] || die "--results needs a value"; results="$2"; shift 2 ;;
        --results=*) results="${1#*=}"; shift ;;
        --hang-timeout) [[ $# -ge 2 ]] || die "--hang-timeout needs a value"; hang_timeout="$2"; shift 2 ;;
        --hang-timeout=*) hang_timeout="${1#*=}"; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument '$1'" ;;
    esac
done

[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive whole number (got '$runs')"
[[ "$burner_count" =~ ^[0-9]+$ ]] || die "--burners must be a whole number (got '$burner_count')"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
if [[ -z "$results" ]]; then
    results="$(mktemp -d "${TMPDIR:-/tmp}/saferoute-stress.XXXXXX")"
else
    mkdir -p "$results"
    results="$(cd "$results" && pwd)"
fi

burners=()
test_pid=""

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [[ -n "$test_pid" ]]; then
        # Only the dotnet test this script started; its test host exits with its parent.
        kill "$test_pid" 2>/dev/null || true
        wait "$test_pid" 2>/dev/null || true
    fi
    if [[ ${#burners[@]} -gt 0 ]]; then
        kill "${burners[@]}" 2>/dev/null || true
        wait "${burners[@]}" 2>/dev/null || true
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'echo "stress-tests: interrupted" >&2; exit 130' INT
trap 'echo "stress-tests: terminated" >&2; exit 143' TERM

now() { date +%s.%N; }
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# Sum of one Counters attribute over every TRX file of a run (a solution may hold several test projects).
counter() {
    local name="$1" dir="$2" sum=0 value file
    for file in "$dir"/*.trx; do
        [[ -e "$file" ]] || continue
        value="$(grep -o "<Counters [^>]*" "$file" | grep -o " $name=\"[0-9]*\"" | grep -o '[0-9]\+' | head -1 || true)"
        sum=$((sum + ${value:-0}))
    done
    echo "$sum"
}

if [[ $build -eq 1 ]]; then
    echo "stress-tests: building SafeRoute.sln (Release) ..."
    if ! dotnet build SafeRoute.sln -c Release -nologo >"$results/build.log" 2>&1; then
        tail -n 30 "$results/build.log" >&2
        die "build failed (log: $results/build.log)"
    fi
fi

for ((i = 0; i < burner_count; i++)); do
    yes >/dev/null &
    burners+=("$!")
done

echo "stress-tests: $runs run(s), ${burner_count} CPU burner(s) on $(nproc 2>/dev/null || echo '?') core(s)${filter:+, filter: $filter}; results in $results"

failed_runs=0
total_start="$(now)"
for ((run = 1; run <= runs; run++)); do
    dir="$results/run-$run"
    mkdir -p "$dir"
    args=(test SafeRoute.sln -c Release --no-build --nologo
        --results-directory "$dir" --logger trx
        --blame-hang --blame-hang-timeout "$hang_timeout" --blame-hang-dump-type none)
    if [[ -n "$filter" ]]; then
        args+=(--filter "$filter")
    fi

    start="$(now)"
    dotnet "${args[@]}" >"$dir/console.log" 2>&1 &
    test_pid=$!
    rc=0
    wait "$test_pid" || rc=$?
    test_pid=""
    elapsed="$(seconds "$start" "$(now)")"

    passed="$(counter passed "$dir")"
    failed="$(counter failed "$dir")"
    errors="$(counter error "$dir")"
    timeouts="$(counter timeout "$dir")"
    aborted="$(counter aborted "$dir")"
    skipped="$(counter notExecuted "$dir")"
    total="$(counter total "$dir")"
    executed="$(counter executed "$dir")"
    # NUnit's explicit and ignored tests are in total but not executed, and not always counted as notExecuted.
    if ((total - executed > skipped)); then
        skipped=$((total - executed))
    fi
    failed=$((failed + errors + timeouts + aborted))
    trx_count="$(find "$dir" -maxdepth 1 -name '*.trx' | wc -l)"

    verdict="ok"
    if [[ $rc -ne 0 || $failed -gt 0 || $trx_count -eq 0 || $total -eq 0 ]]; then
        verdict="FAILED (exit code $rc)"
        failed_runs=$((failed_runs + 1))
    fi

    printf 'run %d/%d: passed %d, failed %d, skipped %d (total %d) in %s s: %s\n' \
        "$run" "$runs" "$passed" "$failed" "$skipped" "$total" "$elapsed" "$verdict"
    if [[ "$verdict" != "ok" ]]; then
        names="$(cat "$dir"/*.trx 2>/dev/null | grep -o '<UnitTestResult [^>]*outcome="\(Failed\|Error\|Timeout\|Aborted\)"[^>]*' \
            | sed 's/.* testName="\([^"]*\)".*/\1/' | sort -u || true)"
        if [[ -n "$names" ]]; then
            sed 's/^/    failed: /' <<<"$names"
        else
            echo "    no failed test named in a TRX file; last lines of $dir/console.log:"
            tail -n 15 "$dir/console.log" | sed 's/^/    | /'
        fi
    fi
done

echo "summary: $failed_runs of $runs run(s) failed, $(seconds "$total_start" "$(now)") s with ${burner_count} CPU burner(s)${filter:+, filter: $filter}; results in $results"
[[ $failed_runs -eq 0 ]]
