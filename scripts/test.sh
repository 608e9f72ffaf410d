#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit tests, the Python package's tests and the
# end-to-end tests against the machine's PostgreSQL and MariaDB. Ends with one total line.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --tests
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
# The end-to-end tests run the real binaries; `cargo test` alone builds a package's binaries
# only when that package has integration tests of its own.
cargo build --workspace --bins
# A second build must find nothing to do: a build script watching a missing file (as cli's
# once did with .git/packed-refs) recompiles its crate on every cargo command.
if cargo build --workspace --bins 2>&1 | grep -E '^\s*Compiling'; then
    echo "a second cargo build recompiled the crates above: some build script reruns every time" >&2
    exit 1
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
read -r passed failed < <(awk '/^test result:/ { for (i = 1; i < NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } } END { print p + 0, f + 0 }' "$log")
echo "Total: ${passed:-0} passed, ${failed:-0} failed"
if [ "$status" -ne 0 ]; then exit "$status"; fi
if [ "${passed:-0}" -eq 0 ]; then echo "no test ran" >&2; exit 1; fi
