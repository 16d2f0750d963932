#!/usr/bin/env bash
# Restart of a `--durability sync` pcoll-redis killed under durable pipelined load (issue 16):
#   scripts/redis-load-restart.sh [LOG_SIZE] [TEST] [ROUNDS] [DIR]
# (defaults: the server's default log, zadd, 3 rounds, /tmp/pcoll-redis-load-restart). Each
# round: a fresh pool, a SET of a probe key, `redis-benchmark -t TEST -c 50 -d 100
# -r 1000000 -P 16` for 4 s (WAIT), SIGKILL of the server mid-load, then a new server timed
# from its start to the first GET that answers the probe (scripts/timed_start.py), and its
# own "open in ... ms" line. The open replays the records the ring holds (up to half of it).
set -euo pipefail
cd "$(dirname "$0")/.."
LOG=${1:-}
TEST=${2:-zadd}
ROUNDS=${3:-3}
DIR=${4:-/tmp/pcoll-redis-load-restart}
PORT=7419
BIN=$PWD/target/release/pcoll-redis
cargo build -q --release -p pcoll-redis
. scripts/restart-lib.sh
for _ in $(seq "$ROUNDS"); do
  fresh_server $PORT "$DIR" "$BIN" "$LOG"
  redis-cli -p $PORT set probe hello > /dev/null
  redis-benchmark -p $PORT -t "$TEST" -c 50 -d 100 -r 1000000 -n 100000000 -P 16 -q \
    > /dev/null 2>&1 &
  bench=$!
  sleep "${WAIT:-4}"
  kill -KILL $pid
  wait $pid 2> /dev/null || true
  kill $bench 2> /dev/null || true
  wait $bench 2> /dev/null || true
  timed_restart $PORT "$DIR" "$BIN" "log ${LOG:-default}, $TEST"
done
