#!/usr/bin/env bash
# Restart after kill -9 with N keys (issue 16): pcoll-redis against redis-server (RDB, AOF),
# same run, same box.
#   scripts/redis-restart.sh [N] [DIR]      (default N = 1000000, DIR = /tmp/pcoll-redis-restart)
# For each server: load N keys `key:<i>` with 100-byte values through `redis-cli --pipe`,
# make them durable the server's way, SIGKILL it, start it again and time start -> the first
# `GET key:<N/2>` that answers the value (Redis answers -LOADING until its data is in memory;
# pcoll-redis answers as soon as it listens). Also: the file size per key, and, for pcoll-redis,
# a restart after a SIGKILL in the middle of redis-benchmark SETs (the open rolls back the
# interrupted transaction).
# Servers:
# - pcoll-redis --durability process (the keys are in the pool file's page cache when acked);
# - redis-server RDB: `--save ""`, then SAVE after the load (the dump it loads on restart);
# - redis-server AOF: `--appendonly yes --appendfsync everysec --auto-aof-rewrite-percentage 0`
#   (the restart replays every SET).
# The timing includes process start and redis-cli round trips (a few ms: `floor` below).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
DIR=${2:-/tmp/pcoll-redis-restart}
PORT=7411
BIN=target/release/pcoll-redis
KEY="key:$((N / 2))"
cargo build -q --release -p pcoll-redis
rm -rf "$DIR"
mkdir -p "$DIR"

now() { date +%s%N; }

# Waits until GET $KEY answers the value; prints the microseconds since $1.
until_get() {
  local t0=$1
  until redis-cli -p $PORT get "$KEY" 2>/dev/null | grep -q '^vvvv'; do :; done
  echo $(( ($(now) - t0) / 1000 ))
}

load() {
  python3 - "$N" <<'EOF' | redis-cli -p $PORT --pipe | tail -1
import sys
n = int(sys.argv[1])
v = "v" * 100
w = sys.stdout.write
for i in range(n):
    k = f"key:{i}"
    w(f"*3\r\n$3\r\nSET\r\n${len(k)}\r\n{k}\r\n$100\r\n{v}\r\n")
EOF
  echo "  loaded: DBSIZE $(redis-cli -p $PORT dbsize)"
}

size() { du -b "$1" | cut -f1; }

echo "== pcoll-redis (process), $N keys"
pstart() { "$BIN" --port $PORT --pool "$DIR/r.pool" --durability process > "$DIR/pcoll.log" 2>&1 & pid=$!; }
pstart
until_get "$(now)" > /dev/null 2>&1 || true
load
t=$( { t0=$(now); redis-cli -p $PORT get "$KEY" > /dev/null; echo $(( ($(now) - t0) / 1000 )); } )
echo "  floor: one GET against a running server: $t us"
echo "  pool file: $(size "$DIR/r.pool") bytes, $(( $(size "$DIR/r.pool") / N )) per key"
kill -KILL $pid; wait $pid 2>/dev/null || true
t0=$(now); pstart; us=$(until_get "$t0")
echo "  restart after kill -9 (idle): first GET after $us us ($(grep -o 'open in [0-9.]* ms' "$DIR/pcoll.log"))"
redis-benchmark -p $PORT -t set -r "$N" -n 100000000 -P 16 -c 8 -d 100 -q > /dev/null 2>&1 &
bench=$!
sleep 2
kill -KILL $pid; wait $pid 2>/dev/null || true
kill $bench 2>/dev/null || true; wait $bench 2>/dev/null || true
t0=$(now); pstart; us=$(until_get "$t0")
echo "  restart after kill -9 mid-writes: first GET after $us us ($(grep -o 'open in [0-9.]* ms' "$DIR/pcoll.log")), DBSIZE $(redis-cli -p $PORT dbsize)"
kill -TERM $pid; wait $pid 2>/dev/null || true

rstart() {
  redis-server --port $PORT --dir "$DIR" --daemonize no --save "" "$@" > "$DIR/redis.log" 2>&1 &
  pid=$!
}

echo "== redis-server RDB, $N keys"
rstart
until [ "$(redis-cli -p $PORT ping 2>/dev/null)" = "PONG" ]; do :; done
load
redis-cli -p $PORT save > /dev/null
echo "  dump.rdb: $(size "$DIR/dump.rdb") bytes, $(( $(size "$DIR/dump.rdb") / N )) per key"
kill -KILL $pid; wait $pid 2>/dev/null || true
t0=$(now); rstart; us=$(until_get "$t0")
echo "  restart after kill -9: first GET after $us us"
kill -KILL $pid; wait $pid 2>/dev/null || true
rm -f "$DIR/dump.rdb"

echo "== redis-server AOF (everysec), $N keys"
aof=(--appendonly yes --appendfsync everysec --auto-aof-rewrite-percentage 0)
rstart "${aof[@]}"
until [ "$(redis-cli -p $PORT ping 2>/dev/null)" = "PONG" ]; do :; done
load
sleep 2 # everysec: the last second reaches the file
echo "  appendonlydir: $(size "$DIR/appendonlydir") bytes, $(( $(size "$DIR/appendonlydir") / N )) per key"
kill -KILL $pid; wait $pid 2>/dev/null || true
t0=$(now); rstart "${aof[@]}"; us=$(until_get "$t0")
echo "  restart after kill -9: first GET after $us us"
kill -KILL $pid; wait $pid 2>/dev/null || true
