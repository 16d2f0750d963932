#!/usr/bin/env bash
# redis-benchmark against pcoll-redis and redis-server, same run, same box (issue 16):
#   scripts/redis-throughput.sh [DIR]        (default DIR = /tmp/pcoll-redis-tput, on the disk)
# Pairs of equal durability:
# - pcoll-redis `--durability process` against redis-server without persistence
#   (`--save "" --appendonly no`): neither syncs; pcoll-redis survives kill -9, Redis does not;
# - pcoll-redis `--durability sync` against redis-server `--appendonly yes --appendfsync
#   always`: both make every write durable before answering.
# Each: `redis-benchmark -t set,get,incr,lpush,rpop,sadd,hset,zadd -c 50 -d 100 -r 1000000`
# at -P 1 and -P 16 (-n 200000; N1S=100000 for the durable pair at -P 1, whose runs of
# 20,000 lasted under half a second and moved with a few slow fsyncs; N16=1000000 for longer,
# steadier -P 16 runs, whose tables then grow to ~630,000 keys). A fresh server and store for
# every run. Server and benchmark share the 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-/tmp/pcoll-redis-tput}
PORT=7412
TESTS=set,get,incr,lpush,rpop,sadd,hset,zadd
N16=${N16:-200000}
cargo build -q --release -p pcoll-redis

run() { # name, requests, pipeline, server command...
  local name=$1 n=$2 p=$3
  shift 3
  rm -rf "$DIR"
  mkdir -p "$DIR"
  "$@" > "$DIR/server.log" 2>&1 &
  local pid=$!
  until [ "$(redis-cli -p $PORT ping 2>/dev/null)" = "PONG" ]; do :; done
  local out
  out=$(redis-benchmark -p $PORT -t $TESTS -c 50 -d 100 -r 1000000 -n "$n" -P "$p" -q 2>&1 |
    tr '\r' '\n' | grep "requests per second" |
    sed -E 's/^([A-Z_]+)[^:]*: ([0-9.]+) requests per second.*/\1=\2/' | tr '\n' ' ')
  echo "$name -P $p: $out"
  kill -KILL $pid 2>/dev/null || true
  wait $pid 2>/dev/null || true
}

P=(target/release/pcoll-redis --port $PORT --pool "$DIR/r.pool")
R=(redis-server --port $PORT --dir "$DIR" --daemonize no)
# PIPES="16" runs one pipeline depth only; ROUNDS=3 repeats everything, the two servers of
# a pair one after the other in each round (this VM's speed drifts by tens of percent over
# minutes: pairs measured side by side, several times, are what a ratio can rest on);
# DURABLE=0 skips the sync / AOF always pair, PROCESS=0 the process / no persistence pair.
for round in $(seq "${ROUNDS:-1}"); do
  [ "${ROUNDS:-1}" = 1 ] || echo "round $round"
  for pipe in ${PIPES:-1 16}; do
    [ "${PROCESS:-1}" = 1 ] || continue
    n=$([ $pipe = 1 ] && echo 200000 || echo "$N16")
    run "pcoll-redis process" "$n" $pipe "${P[@]}" --durability process
    run "redis-server no persistence" "$n" $pipe "${R[@]}" --save "" --appendonly no
  done
  [ "${DURABLE:-1}" = 1 ] || continue
  for pipe in ${PIPES:-1 16}; do
    n=$([ $pipe = 1 ] && echo "${N1S:-100000}" || echo "$N16")
    run "pcoll-redis sync" "$n" $pipe "${P[@]}" --durability sync
    run "redis-server AOF always" "$n" $pipe "${R[@]}" --save "" --appendonly yes --appendfsync always
  done
done
