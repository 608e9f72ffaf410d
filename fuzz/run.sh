#!/usr/bin/env bash
# Runs every cargo-fuzz target in turn: `bash fuzz/run.sh [SECONDS] [TARGET...]` (default 120
# seconds per target, all targets). Installs what it lacks (cargo-fuzz, a C++ compiler and
# python3-dev via scripts/install-deps.sh), builds once, then fuzzes one target at a time in a
# single libFuzzer process under `nice -n 19`. Prints per target the executions, exec/s and
# whether it crashed; exits non-zero when any target crashed (the input is kept in
# fuzz/artifacts/<target>/). Idempotent: the corpus grows in fuzz/corpus/<target>, seeded
# and replayed from fuzz/seeds/<target> on every run.
#
# Environment: FUZZ_SANITIZER (default address; `none` for coverage only), CARGO_BUILD_JOBS
# (default 1), FUZZ_ARGS (extra libFuzzer flags), ZATO_FUZZ_ALLOW (known findings, named in
# fuzz/RESULTS.md, to skip instead of crashing on while they are not fixed). Every run is appended to
# fuzz/artifacts/runs.tsv (date, target, seconds, executions, exec/s, result).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
secs="${1:-120}"
[ $# -gt 0 ] && shift
case "$secs" in '' | *[!0-9]*) echo "usage: bash fuzz/run.sh [SECONDS] [TARGET...]" >&2; exit 2 ;; esac

# cargo-fuzz needs nightly flags (-Zsanitizer, -Cpasses=sancov...): stable rustc accepts them
# with RUSTC_BOOTSTRAP.
export RUSTC_BOOTSTRAP=1
export PYO3_PYTHON="${PYO3_PYTHON:-/usr/bin/python3}"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-1}"
sanitizer="${FUZZ_SANITIZER:-address}"

bash scripts/install-deps.sh
if ! command -v c++ >/dev/null 2>&1; then
    echo "A C++ compiler is needed to build libFuzzer: install build-essential" >&2
    exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "Installing cargo-fuzz"
    nice -n 19 cargo install cargo-fuzz --locked
fi

fz="$root/fuzz"
if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi
# -a: debug assertions (integer overflow checks) as in a debug build.
build=(cargo fuzz build -a --sanitizer "$sanitizer")
echo "Building: ${build[*]}"
nice -n 19 "${build[@]}"

mkdir -p "$fz/artifacts"
runs="$fz/artifacts/runs.tsv"
[ -f "$runs" ] || printf 'date\ttarget\tseconds\texecutions\texec_per_sec\tresult\n' >"$runs"
failed=()
summary=()
for t in "${targets[@]}"; do
    mkdir -p "$fz/corpus/$t" "$fz/seeds/$t" "$fz/artifacts/$t"
    log="$fz/artifacts/$t/last-run.log"
    dict=()
    [ -f "$fz/dicts/$t.dict" ] && dict=("-dict=$fz/dicts/$t.dict")
    echo "== $t: ${secs}s"
    set +e
    # shellcheck disable=SC2086
    nice -n 19 cargo fuzz run -a --sanitizer "$sanitizer" "$t" "$fz/corpus/$t" "$fz/seeds/$t" -- \
        -max_total_time="$secs" -print_final_stats=1 -timeout=60 -rss_limit_mb=2048 \
        "${dict[@]}" ${FUZZ_ARGS:-} >"$log" 2>&1
    status=$?
    set -e
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    if [ "$status" -eq 0 ]; then
        result=ok
    else
        result="CRASH (exit $status)"
        failed+=("$t")
        echo "--- $t crashed; the end of $log:"
        tail -40 "$log"
        grep -h 'Test unit written to' "$log" || true
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$t" "$secs" \
        "${execs:-?}" "${rate:-?}" "$result" >>"$runs"
    line=$(printf '%-14s %12s execs %8s exec/s  %s' "$t" "${execs:-?}" "${rate:-?}" "$result")
    echo "$line"
    summary+=("$line")
done

echo
echo "Summary (sanitizer: $sanitizer, ${secs}s per target):"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
    echo "Crashed: ${failed[*]} (inputs in fuzz/artifacts/<target>/)" >&2
    exit 1
fi
