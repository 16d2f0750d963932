#!/usr/bin/env bash
# Restart after kill -9 with N keys (issue 16): pcoll-redis against redis-server (RDB, AOF),
# same run, same box.
#   scripts/redis-restart.sh [N] [DIR]      (default N = 1000000, DIR = /tmp/pcoll-redis-restart)
# For each server: load N keys `key:<i>` with 100-byte values (random hex, little to compress)
# through `redis-cli --pipe`, make them durable the server's way, SIGKILL it, start it again
# and time start -> the first `GET key:<N/2>` that answers the value (Redis answers -LOADING
# until its data is in memory; pcoll-redis answers as soon as it listens). The timing is one
# Python process that starts the server and polls it over a socket (no client process start
# inside it). Also: the file size per key, and for pcoll-redis a restart after a SIGKILL in
# the middle of redis-benchmark SETs (the open rolls back the interrupted transaction).
# Servers:
# - pcoll-redis --durability process (the keys are in the pool file's page cache when acked);
# - redis-server RDB: `--save ""`, then SAVE after the load (the dump it loads on restart);
# - redis-server AOF: `--appendonly yes --appendfsync everysec --auto-aof-rewrite-percentage 0`
#   (the restart replays every SET).
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

cat > "$DIR/load.py" <<'PY'
import random, sys
n = int(sys.argv[1])
rng = random.Random(7)
w = sys.stdout.write
for i in range(n):
    k = f"key:{i}"
    v = "vvvv" + "%096x" % rng.getrandbits(384)
    w(f"*3\r\n$3\r\nSET\r\n${len(k)}\r\n{k}\r\n$100\r\n{v}\r\n")
PY

# Starts "$@" and times it to the first good GET; sets $pid and $us.
timed_start() {
  python3 scripts/timed_start.py "$PORT" "$KEY" vvvv "$DIR/started" "$@" &
  wait $!
  read -r pid us < "$DIR/started"
}

background() { "$@" > "$DIR/server.log" 2>&1 & pid=$!; }

ready() { until [ "$(redis-cli -p $PORT ping 2>/dev/null)" = "PONG" ]; do :; done; }

load() {
  python3 "$DIR/load.py" "$N" | redis-cli -p $PORT --pipe | tail -1
  echo "  loaded: DBSIZE $(redis-cli -p $PORT dbsize)"
}

size() { du -sb "$1" | cut -f1; }

stop() { kill -KILL "$pid" 2>/dev/null || true; sleep 0.3; }

echo "== pcoll-redis (process), $N keys"
PCMD=("$BIN" --port $PORT --pool "$DIR/r.pool" --durability process)
background "${PCMD[@]}"
ready
load
echo "  pool file: $(size "$DIR/r.pool") bytes, $(( $(size "$DIR/r.pool") / N )) per key"
stop
timed_start "${PCMD[@]}"
echo "  restart after kill -9 (idle): first GET after $us us ($(grep -o 'open in [0-9.]* ms' "$DIR/started.log"))"
redis-benchmark -p $PORT -t set -r "$N" -n 100000000 -P 16 -c 8 -d 100 -q > /dev/null 2>&1 &
bench=$!
sleep 2
stop
kill $bench 2>/dev/null || true
wait $bench 2>/dev/null || true
timed_start "${PCMD[@]}"
echo "  restart after kill -9 mid-writes: first GET after $us us ($(grep -o 'open in [0-9.]* ms' "$DIR/started.log")), DBSIZE $(redis-cli -p $PORT dbsize)"
stop

echo "== redis-server RDB, $N keys"
RCMD=(redis-server --port $PORT --dir "$DIR" --daemonize no --save "")
background "${RCMD[@]}"
ready
load
redis-cli -p $PORT save > /dev/null
echo "  dump.rdb: $(size "$DIR/dump.rdb") bytes, $(( $(size "$DIR/dump.rdb") / N )) per key"
stop
timed_start "${RCMD[@]}"
echo "  restart after kill -9: first GET after $us us"
stop
rm -f "$DIR/dump.rdb"

echo "== redis-server AOF (everysec), $N keys"
AOF=(--appendonly yes --appendfsync everysec --auto-aof-rewrite-percentage 0)
background "${RCMD[@]}" "${AOF[@]}"
ready
load
sleep 2 # everysec: the last second reaches the file
echo "  appendonlydir: $(size "$DIR/appendonlydir") bytes, $(( $(size "$DIR/appendonlydir") / N )) per key"
stop
timed_start "${RCMD[@]}" "${AOF[@]}"
echo "  restart after kill -9: first GET after $us us"
stop
