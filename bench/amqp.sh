#!/usr/bin/env bash
# AMQP benchmark: the server's AMQP channel (consume -> Python service -> ack) and a Python
# service publishing through an outgoing connection, against the same client crate with no
# server (amqp/examples/raw.rs), interleaved in one run. Needs RabbitMQ at 127.0.0.1:5672.
# Writes bench/AMQP.md.
#   bash bench/amqp.sh
#   AMQP_MESSAGES=2000 BENCH_ROUNDS=1 bash bench/amqp.sh   # smoke
# Env: AMQP_MESSAGES (100000) per measurement (large enough that starting the helper
# processes the server side needs does not count), BENCH_ROUNDS (3), AMQP_POOL (2) consumer
# channels, AMQP_PREFETCH (100), BENCH_AMQP_OUT (bench/AMQP.md).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
N="${AMQP_MESSAGES:-100000}"
ROUNDS="${BENCH_ROUNDS:-3}"
POOL="${AMQP_POOL:-2}"
PREFETCH="${AMQP_PREFETCH:-100}"
OUT="${BENCH_AMQP_OUT:-$ROOT/bench/AMQP.md}"
PY=(python3 "$ROOT/bench/bench.py")

cargo build --release -p zato-server -p zato-cli
cargo build --release -p zato-amqp --example raw
BIN="$ROOT/target/release"
RAW="$BIN/examples/raw"
GIT_REV="$(git_rev)"

TMP="$(mktemp -d -t zato-amqp-bench.XXXXXX)"
QIN="zato-bench-in.$$"
QOUT="zato-bench-out.$$"
SERVER_PID=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$SERVER_PID" ]; then kill -TERM "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  "$RAW" delete "$QIN" >/dev/null 2>&1 || true
  "$RAW" delete "$QOUT" >/dev/null 2>&1 || true
  [ "$rc" -eq 0 ] || show_server_log
  [ -z "${BENCH_KEEP_LOG:-}" ] || cp "$TMP/server1/logs/server.log" "$BENCH_KEEP_LOG" 2>/dev/null || true
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

new_server bench
cp "$ROOT/bench/services/bench_amqp.py" "$TMP/server1/pickup/incoming/services/"
"$BIN/zato-server" "$TMP/server1" > "$TMP/server.stdout" 2>&1 &
SERVER_PID=$!
"${PY[@]}" wait "http://127.0.0.1:$PORT/zato/ping" 60
"${PY[@]}" wait-deployed "$PORT" "$PW" bench.amqp-publish
admin() { "${PY[@]}" admin "$PORT" "$PW" "$@"; }
DEF_ID=$(admin zato.definition.amqp.create '{"name": "bench", "host": "127.0.0.1", "port": 5672, "vhost": "/", "username": "guest"}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
admin zato.definition.amqp.change-password "{\"id\": $DEF_ID, \"password1\": \"guest\", \"password2\": \"guest\"}" >/dev/null
admin zato.outgoing.amqp.create '{"name": "bench-out", "def_name": "bench", "pool_size": 4, "delivery_mode": 1}' >/dev/null
"$RAW" fill "$QIN" 0 >/dev/null
CH_ID=$(admin zato.channel.amqp.create "{\"name\": \"bench-in\", \"def_name\": \"bench\", \"queue\": \"$QIN\", \"service\": \"bench.amqp-sink\", \"is_active\": false, \"pool_size\": $POOL, \"prefetch_count\": $PREFETCH}" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')

now() { date +%s%N; }
rate() { python3 -c "import sys; print(round($N / (($2 - $1) / 1e9)))" ; }
rate_of() { sed -n "s/.*$1: $N messages in .* s = \([0-9]*\) msg\/s.*/\1/p" | head -n1; }

: > "$TMP/runs.txt"
for round in $(seq 1 "$ROUNDS"); do
  echo "== round $round/$ROUNDS ($N messages each)"
  r=$("$RAW" publish "$N" 4 256 | rate_of 'published (confirmed)')
  echo "raw-publish $r" | tee -a "$TMP/runs.txt"

  "$RAW" fill "$QOUT" 0 >/dev/null
  t0=$(now)
  admin bench.amqp-publish "{\"count\": $N, \"queue\": \"$QOUT\"}" >/dev/null
  tm=$(now)
  "$RAW" wait-count "$QOUT" "$N" >/dev/null
  t1=$(now)
  "$RAW" delete "$QOUT" >/dev/null
  echo "server-publish $(rate "$t0" "$t1")" | tee -a "$TMP/runs.txt"
  echo "(the service's own loop: $(rate "$t0" "$tm") msg/s)"

  r=$("$RAW" consume "$N" "$POOL" "$PREFETCH" | rate_of 'consumed and acked (from start, incl. connecting)')
  echo "raw-consume $r" | tee -a "$TMP/runs.txt"

  "$RAW" fill "$QIN" "$N" >/dev/null
  t0=$(now)
  admin zato.channel.amqp.edit "{\"id\": $CH_ID, \"is_active\": true}" >/dev/null
  "$RAW" wait-count "$QIN" 0 >/dev/null
  t1=$(now)
  admin zato.channel.amqp.edit "{\"id\": $CH_ID, \"is_active\": false}" >/dev/null
  echo "server-consume $(rate "$t0" "$t1")" | tee -a "$TMP/runs.txt"
done
ERRORS=$( (grep -cE ' ERROR |panicked' "$TMP/server1/logs/server.log" "$TMP/server.stdout" || true) | awk -F: '{s+=$2} END {print s+0}')

python3 - "$TMP/runs.txt" "$OUT" <<PYEOF
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    k, v = line.split()
    runs.setdefault(k, []).append(float(v))
med = {k: statistics.median(v) for k, v in runs.items()}
def row(label, ours, base, goal):
    ratio = med[ours] / med[base] if med[base] else 0
    return (f"| {label} | {med[ours]:,.0f} | {med[base]:,.0f} | {ratio:.2f}x (goal >= {goal}x) | "
            f"{', '.join(f'{x:,.0f}' for x in runs[ours])} / {', '.join(f'{x:,.0f}' for x in runs[base])} |")
text = '\n'.join([
    '# AMQP benchmark', '',
    f"\`bash bench/amqp.sh\` on $(date -u +%Y-%m-%d) (commit $GIT_REV, $(nproc) cores, RabbitMQ on the same machine): "
    f"$N messages of 100 bytes per measurement, $ROUNDS interleaved rounds, medians; server errors logged: $ERRORS.", '',
    '| path | server msg/s | raw msg/s | ratio | runs (server / raw) |', '|---|---|---|---|---|',
    row('consume -> Python service -> ack ($POOL channels, prefetch $PREFETCH)', 'server-consume', 'raw-consume', 0.5),
    row('publish from a Python service (send) vs raw confirmed publish (4 channels, 256 in flight)', 'server-publish', 'raw-publish', 0.7),
    '',
    'Server consume: from activating the channel (zato.channel.amqp.edit) until the queue has no ready message, '
    'connecting included, as the raw consumer includes its own connecting. Server publish: from invoking the service '
    'until the queue holds all its messages; the service uses self.out.amqp.send, which returns once the message is '
    'handed to the connection (the broker\'s confirm is awaited in the background).', '',
])
open(sys.argv[2], 'w').write(text)
print(text)
PYEOF
