# Sourced by the restart scripts (redis-idle-restart.sh, redis-load-restart.sh).

# fresh_server PORT DIR BIN [LOG_SIZE]: a new pool in DIR and `BIN --durability sync` on it,
# in the background (its pid in $pid), once it answers PING.
fresh_server() {
  local port=$1 dir=$2 bin=$3 log=${4:-}
  rm -rf "$dir"
  mkdir -p "$dir"
  "$bin" --port "$port" --pool "$dir/r.pool" --durability sync ${log:+--log-size $log} \
    > "$dir/first.log" 2>&1 &
  pid=$!
  until [ "$(redis-cli -p "$port" ping 2>/dev/null)" = "PONG" ]; do sleep 0.05; done
}

# timed_restart PORT DIR BIN LABEL: starts `BIN --port PORT --pool DIR/r.pool --durability
# sync`, times it from its start to the first GET of `probe` that answers `hello`
# (scripts/timed_start.py), stops it, and prints the time, LABEL and the server's own
# "open in ... ms".
timed_restart() {
  local port=$1 dir=$2 bin=$3 label=$4 pid us
  python3 scripts/timed_start.py "$port" probe hello "$dir/started" \
    "$bin" --port "$port" --pool "$dir/r.pool" --durability sync
  read -r pid us < "$dir/started"
  kill -KILL "$pid"
  while kill -0 "$pid" 2> /dev/null; do sleep 0.01; done
  awk -v us="$us" 'BEGIN { printf "restart to the first GET: %.1f ms; ", us / 1000 }'
  echo "$label; $(head -1 "$dir/started.log" | grep -o 'open in [0-9.]* ms')"
}
