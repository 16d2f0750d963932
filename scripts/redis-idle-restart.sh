#!/usr/bin/env bash
# Restart of a `--durability sync` pcoll-redis killed right after a burst of writes, or after
# it sat idle for 2 s (it checkpoints a second after its last write), issue 15/16:
#   scripts/redis-idle-restart.sh [LOG_SIZE] [DIR]   (default: the server's default log, /tmp)
# Each case: a fresh pool, `redis-benchmark -t set -P 16 -n 400000 -r 1000000 -d 100`, a SET
# of a probe key, the wait, SIGKILL, then a new server timed from its start to the first GET
# that answers the probe (scripts/timed_start.py, as redis-restart.sh), and its own
# "open in ... ms" line.
set -euo pipefail
cd "$(dirname "$0")/.."
LOG=${1:-}
DIR=${2:-/tmp/pcoll-redis-idle}
PORT=7418
BIN=$PWD/target/release/pcoll-redis
cargo build -q --release -p pcoll-redis
. scripts/restart-lib.sh
for wait in 0 2; do
  fresh_server $PORT "$DIR" "$BIN" "$LOG"
  rate=$(redis-benchmark -p $PORT -t set -c 50 -d 100 -r 1000000 -n 400000 -P 16 -q 2>&1 |
    tr '\r' '\n' | grep "per second" | tail -1)
  redis-cli -p $PORT set probe hello > /dev/null
  sleep $wait
  kill -KILL $pid
  wait $pid 2> /dev/null || true
  timed_restart $PORT "$DIR" "$BIN" "killed after ${wait} s idle (load: $rate)"
done
