#!/usr/bin/env bash
# One benchmark run of everything BENCHMARKS.md reports, in order, one thing at a time:
#   scripts/bench-all.sh [OUT]          full run (about 35 minutes on a 2-core VM)
#   PCOLL_BENCH_QUICK=1 scripts/bench-all.sh [OUT]   smoke run (minutes; numbers meaningless)
# Results (logs, CSV, plots) go to OUT (default target/bench-results). Plots need matplotlib
# (`pip install matplotlib`); without it the CSV files are still written.
# Targets: /dev/shm (tmpfs) and target/bench-pools (the disk under the repository); env
# PCOLL_BENCH_SHM / PCOLL_BENCH_DISK override them.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${1:-target/bench-results}
mkdir -p "$out"
out=$(cd "$out" && pwd)
export PCOLL_BENCH_OUT=$out
export PCOLL_BENCH_DISK=${PCOLL_BENCH_DISK:-$root/target/bench-pools}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
mkdir -p "$PCOLL_BENCH_DISK"
rm -f "$out"/*.csv "$out"/*.log

step() { echo "=== $* ($(date +%T))" | tee -a "$out/run.log"; }

step "machine"
{
  echo "date: $(date -u +%FT%TZ)"
  echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (dirty tree)')"
  echo "nproc: $(nproc)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "memory: $(free -g | awk '/Mem:/ {print $2}') GiB"
  echo "kernel: $(uname -r)"
  echo "rustc: $(rustc --version)"
  echo "quick: ${PCOLL_BENCH_QUICK:-0}"
  df -T /dev/shm "$PCOLL_BENCH_DISK" | sed 's/^/df: /'
} | tee "$out/machine.txt"

# Build everything first, so no build overlaps a measurement.
step "build"
cargo bench --no-run >/dev/null 2>&1
cargo build --release --examples >/dev/null 2>&1
(cd peers && cargo bench --no-run >/dev/null 2>&1)

step "probes: msync, pwrite+fdatasync, flush+fence"
cargo run -q --release --example msync_probe /dev/shm "$PCOLL_BENCH_DISK" | tee "$out/probe.md"
step "counters per transaction"
cargo run -q --release --example counters | tee "$out/counters.md"

step "restart with 1 M-entry maps, small and large interrupted transactions"
cargo run -q --release --example restart_maps | tee "$out/restart_maps.md"

# criterion.csv must hold this run only: earlier criterion results (and baselines) are dropped.
rm -rf "$CARGO_TARGET_DIR/criterion"
for b in txn pvec phashmap pbtreemap scaling; do
  step "cargo bench --bench $b"
  cargo bench --bench "$b" > "$out/bench-$b.log" 2>&1
done
for b in kv store restart; do  # btree.rs (u64 ranges vs sled) is left out for time: store covers ranges
  step "peers: cargo bench --bench $b"
  (cd peers && cargo bench --bench "$b") > "$out/peers-$b.log" 2>&1
done

step "criterion.csv and plots"
python3 scripts/criterion_csv.py "$CARGO_TARGET_DIR/criterion" > "$out/criterion.csv"
python3 scripts/plots.py "$out" "$out" || echo "plots skipped (pip install matplotlib)"
step "done"
