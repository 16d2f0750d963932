#!/usr/bin/env bash
# The pcoll-redis tour: start the server on a pool, write with redis-cli, kill it with
# SIGKILL in the middle of a stream of writes, start it again and read everything back.
#   scripts/redis-tour.sh [POOL]            (needs redis-cli: apt-get install redis-tools)
set -euo pipefail
cd "$(dirname "$0")/.."
POOL=${1:-/tmp/pcoll-redis-tour.pool}
PORT=7413
cargo build -q --release -p pcoll-redis
rm -f "$POOL"
cli() { redis-cli -p $PORT "$@"; }
start() {
  target/release/pcoll-redis --port $PORT --pool "$POOL" --durability sync &
  pid=$!
  until [ "$(cli ping 2>/dev/null)" = "PONG" ]; do sleep 0.01; done
}

echo "== a new server on $POOL"
start
cli set greeting "hello from a pool" > /dev/null
cli rpush queue job1 job2 job3 > /dev/null
cli hset user:1 name ada lang rust > /dev/null
cli zadd scores 10 ada 7 bob > /dev/null
echo "wrote: greeting, queue (3 jobs), user:1 (2 fields), scores (2 members)"

echo "== a stream of INCRs, and kill -9 in the middle of it"
( for i in $(seq 1 100000); do echo "INCR counter"; done | cli > "$POOL.acks" 2>/dev/null ) &
writer=$!
sleep 1
kill -KILL $pid
wait $pid 2>/dev/null || true
wait $writer 2>/dev/null || true
acked=$(grep -c '^[0-9]' "$POOL.acks" || true)
echo "killed: the client saw $acked INCRs acknowledged"

echo "== restart: no recovery code in the server, the pool's open rolls back what was in flight"
start
echo "counter = $(cli get counter) (acknowledged: $acked; at most the one in flight more)"
echo "greeting = $(cli get greeting)"
echo "queue = $(cli lrange queue 0 -1 | tr '\n' ' ')"
echo "user:1 = $(cli hgetall user:1 | tr '\n' ' ')"
echo "scores = $(cli zrange scores 0 -1 withscores | tr '\n' ' ')"
kill -TERM $pid
rm -f "$POOL.acks"
