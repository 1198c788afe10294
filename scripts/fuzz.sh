#!/usr/bin/env bash
# Runs every fuzz target for a bounded budget each. By default (CI) the budget
# is a number of executions sized for a few seconds per target on two cores;
# FUZZTIME sets one budget for all, a duration or a count, e.g.
# FUZZTIME=10m scripts/fuzz.sh for a long run. Counts, not durations, by
# default: Go 1.26's fuzz coordinator can report a spurious "context deadline
# exceeded" failure when a duration runs out while a worker is busy
# (golang/go#75804, fixed in Go 1.27); a count never races a deadline.
# Minimization of a new input is bounded by a count as well. A target that
# finds a failing input writes it under its package's testdata/fuzz/ and this
# script exits non-zero. The seed corpora (testdata/fuzz/) also run as plain
# tests with `go test`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

# package, target, default executions
targets=(
  "./lib/sailor FuzzDecodeMessage 10000x"
  "./lib/rest FuzzBuildRequest 40000x"
  "./lib/fitbitplus FuzzParseAPIError 40000x"
  "./lib/sandbox FuzzSandboxHandler 10000x"
)
# A fuzz target written but not listed above would never run: refuse that.
listed=$(printf '%s\n' "${targets[@]}" | awk '{print $2}' | sort)
found=$(grep -rhoE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]+' . | sed 's/^func //' | sort)
if [ "$listed" != "$found" ]; then
  echo "scripts/fuzz.sh: its list differs from the module's fuzz targets (< listed, > found):"
  diff <(echo "$listed") <(echo "$found") || true
  exit 1
fi
for t in "${targets[@]}"; do
  read -r pkg name budget <<<"$t"
  budget=${FUZZTIME:-$budget}
  echo "== fuzz $name ($pkg) for $budget"
  go test -run '^$' -fuzz "^${name}\$" -fuzztime "$budget" -fuzzminimizetime "${FUZZMINIMIZETIME:-1000x}" "$pkg"
done
