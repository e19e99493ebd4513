#!/usr/bin/env bash
# Digests of every output file of every shipped scenario, for checking that a change leaves the
# results byte-identical: run it with two builds and diff the two listings.
#   tests/scripts/output_digests.sh target/release/peergrid > digests.txt
# summary.json is digested without `runtime_s`, `household_steps_per_s` (they measure the
# machine, not the model) and `provenance.git_commit`. Each scenario runs at its own output level.
set -euo pipefail
bin=$(realpath "${1:?usage: output_digests.sh PEERGRID_BINARY [SCENARIO...]}")
shift
cd "$(dirname "$0")/../.."
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=($(ls scenarios/*.ron | grep -v '\.sweep\.ron$'))
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

digest_dir() {
  local dir=$1 label=$2
  (cd "$dir" && find . -type f | LC_ALL=C sort) | while read -r f; do
    f=${f#./}
    if [ "${f##*/}" = summary.json ]; then
      h=$(jq -S 'del(.runtime_s, .household_steps_per_s, .provenance.git_commit)' "$dir/$f" | sha256sum | cut -c1-16)
    else
      h=$(sha256sum "$dir/$f" | cut -c1-16)
    fi
    echo "$label/$f $h"
  done
}

for s in "${scenarios[@]}"; do
  name=$(basename "$s" .ron)
  "$bin" run "$s" --out "$work/$name" --quiet
  digest_dir "$work/$name" "$name"
  echo "$name/ledger.head_hash $(jq -r '.ledger.head_hash // "none"' "$work/$name/summary.json")"
done
# The street with a treasury and an offline witness (tests/scripts/street-treasury.ron).
"$bin" run tests/scripts/street-treasury.ron --out "$work/treasury" --quiet
digest_dir "$work/treasury" treasury
# A power-flow trace, compare, sweep and export-grid.
"$bin" run scenarios/village.ron --steps 48 --trace-step 30 --out "$work/trace" --quiet
digest_dir "$work/trace" trace
"$bin" compare scenarios/street.ron --out "$work/compare" >/dev/null
digest_dir "$work/compare" compare
"$bin" sweep scenarios/street.sweep.ron --out "$work/sweep" >/dev/null
digest_dir "$work/sweep" sweep
"$bin" export-grid scenarios/village.ron --out "$work/grid.json" >/dev/null
echo "export-grid/village.json $(sha256sum "$work/grid.json" | cut -c1-16)"
