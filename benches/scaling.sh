#!/bin/sh
# The scaling table of docs/performance.md: household-steps per second of district-10k.ron's
# design (400 houses per feeder, 45% with PV, 20% with batteries, double auction, ledger built
# but not written) at 1,000, 10,000 and 100,000 households, over one summer week.
#
#   cargo build --release && sh benches/scaling.sh
#
# "stepping" subtracts a one-step run (building the app, the grid model and the outputs) from
# the week, so it is the rate of the steps themselves; "whole run" is what the user waits for.
set -e
bin=${PEERGRID:-./target/release/peergrid}
out=${TMPDIR:-/tmp}/peergrid-scaling
printf '%-10s %-22s %-22s %s\n' households "whole run" "stepping" "peak memory"
for n in 1000 10000 100000; do
  feeders=$((n / 400)); [ "$feeders" -lt 1 ] && feeders=1
  for steps in 1 672; do
    /usr/bin/time -f "%M" -o "$out-mem" "$bin" run scenarios/district-10k.ron --set "households[0].count=$n" --set "topology.feeders=$feeders" \
      --steps "$steps" --output-level aggregate --force --quiet --out "$out-$steps" ${THREADS:+--threads $THREADS}
    eval "t$steps=\$(sed -n 's/.*\"runtime_s\": \([0-9.]*\).*/\1/p' \"$out-$steps/summary.json\")"
    eval "m$steps=\$(cat \"$out-mem\")"
  done
  awk -v n="$n" -v t1="$t1" -v t="$t672" -v m="$m672" 'BEGIN {
    printf "%-10d %6.2f s (%5.2f M/s)    %6.2f s (%5.2f M/s)    %d MB\n", n, t, n * 672 / t / 1e6, t - t1, n * 671 / (t - t1) / 1e6, m / 1024 }'
done
rm -rf "$out-1" "$out-672" "$out-mem"
