#!/usr/bin/env bash
# Runs every fuzz target for a bounded time each: FUZZTIME (default 5s) in CI,
# longer by hand, e.g. FUZZTIME=10m scripts/fuzz.sh. A target that finds a
# failing input writes it under its package's testdata/fuzz/ and this script
# exits non-zero. The seed corpora (testdata/fuzz/) also run as plain tests
# with `go test`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
fuzztime=${FUZZTIME:-5s}

targets=(
  "./lib/sailor FuzzDecodeMessage"
  "./lib/rest FuzzBuildRequest"
  "./lib/fitbitplus FuzzParseAPIError"
  "./lib/sandbox FuzzSandboxHandler"
  "./lib/jsonstr FuzzAppend"
  "./lib/jsonstr FuzzCompact"
)
for t in "${targets[@]}"; do
  read -r pkg name <<<"$t"
  echo "== fuzz $name ($pkg) for $fuzztime"
  go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg"
done
