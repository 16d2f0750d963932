#!/bin/bash
# Fills a sorted set of M (default 1,000,000) members through redis-cli --pipe, then times
# ZRANK, ZREVRANK, ZRANGE by rank, ZCOUNT with one client (redis-benchmark -c 1 -n N).
# Usage: scripts/redis-zrank.sh BIN|redis PORT
BIN=$1; P=${2:-7503}; M=${M:-1000000}; N=${N:-2000}
D=${POOLDIR:-/tmp}/zr-$P; rm -rf $D; mkdir -p $D
if [ "$BIN" = redis ]; then (cd $D && redis-server --port $P --save '' --appendonly no >/dev/null 2>&1 &)
else $BIN --port $P --pool $D/r.pool --durability process >/dev/null 2>&1 & fi
until [ "$(redis-cli -p $P ping 2>/dev/null)" = "PONG" ]; do sleep 0.05; done
python3 -c "
import sys
out=[]
for i in range($M):
    k=b'lb'; m=b'member:%d'%i; s=b'%d'%i
    out.append(b'*4\r\n\$4\r\nZADD\r\n\$2\r\nlb\r\n\$%d\r\n%s\r\n\$%d\r\n%s\r\n'%(len(s),s,len(m),m))
sys.stdout.buffer.write(b''.join(out))" | redis-cli -p $P --pipe >/dev/null
redis-cli -p $P zcard lb
for c in "ZRANK lb member:999990" "ZREVRANK lb member:10" "ZRANGE lb 500000 500009" "ZCOUNT lb 100 900000" "ZRANGE lb 0 9"; do
  r=$(redis-benchmark -p $P -n $N -c 1 -q $c 2>&1 | tr '\r' '\n' | grep "per second" | tail -1 | grep -o "[0-9.]* requests per second, p50=[0-9.]* msec")
  echo "$c: $r req/s"
done
redis-cli -p $P shutdown nosave >/dev/null 2>&1; kill -9 $(pgrep -f "port $P") 2>/dev/null; true
