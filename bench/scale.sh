#!/usr/bin/env bash
# Scale benchmark: a server with many `{param}` channels and Python services. Measures whether
# matching the last channel costs what matching the first does, what one channel create costs
# in that cluster, and the start-up time to the first answer. Writes bench/SCALE.md.
#   bash bench/scale.sh
#   SCALE_CHANNELS=1000 SCALE_SERVICES=100 BENCH_SECONDS=2 BENCH_ROUNDS=1 bash bench/scale.sh  # smoke
# Env: SCALE_CHANNELS (10000), SCALE_SERVICES (1000), SCALE_CREATES (20), BENCH_SECONDS (5),
# BENCH_ROUNDS (3), BENCH_THREADS (2), BENCH_CONNECTIONS (32), BENCH_STARTS (5),
# BENCH_SCALE_OUT (bench/SCALE.md).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
CHANNELS="${SCALE_CHANNELS:-10000}"
SERVICES="${SCALE_SERVICES:-1000}"
CREATES="${SCALE_CREATES:-20}"
SECONDS_PER_RUN="${BENCH_SECONDS:-5}"
ROUNDS="${BENCH_ROUNDS:-3}"
THREADS="${BENCH_THREADS:-2}"
CONNS="${BENCH_CONNECTIONS:-32}"
STARTS="${BENCH_STARTS:-5}"
OUT="${BENCH_SCALE_OUT:-$ROOT/bench/SCALE.md}"
PY=(python3 "$ROOT/bench/bench.py")
SC=(python3 "$ROOT/bench/scale.py")

bench_build -p zato-server -p zato-cli
command -v wrk >/dev/null || { echo "wrk is missing" >&2; exit 1; }

TMP="$(mktemp -d -t zato-scale.XXXXXX)"
SERVER_PID=""
stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 1 1000); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.01; done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -f "$TMP/startup.pid" ] && kill -KILL "$(cat "$TMP/startup.pid")" 2>/dev/null
  stop_server
  [ "$rc" -eq 0 ] || show_server_log
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

new_server scale

echo "== $SERVICES services, $CHANNELS channels"
"${SC[@]}" services "$TMP/server1/pickup/incoming/services" "$SERVICES"
"$BIN/zato-server" "$TMP/server1" > "$TMP/server.stdout" 2>&1 &
SERVER_PID=$!
"${PY[@]}" wait "http://127.0.0.1:$PORT/zato/ping" 120
"${PY[@]}" wait-deployed "$PORT" "$PW" "scale.s$((SERVICES - 1))" 120
"${SC[@]}" channels "$TMP/channels.json" "$CHANNELS" "$SERVICES"
t0=$(date +%s%N)
"$BIN/zato" enmasse "$TMP/server1" --import --input "$TMP/channels.json" > "$TMP/enmasse.log" 2>&1 \
  || { cat "$TMP/enmasse.log" >&2; exit 1; }
IMPORT_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
FIRST="http://127.0.0.1:$PORT/scale/0/items/1"
LAST="http://127.0.0.1:$PORT/scale/$((CHANNELS - 1))/items/1"
"${PY[@]}" wait "$LAST" 30

: > "$TMP/runs.jsonl"
for round in $(seq 1 "$ROUNDS"); do
  echo "== round $round/$ROUNDS (wrk -t$THREADS -c$CONNS -d${SECONDS_PER_RUN}s)"
  for t in "first|$FIRST" "last|$LAST"; do
    IFS='|' read -r id url <<< "$t"
    wrk -t"$THREADS" -c"$CONNS" -d"${SECONDS_PER_RUN}s" --latency "$url" > "$TMP/wrk-$id-$round.txt" 2>&1 \
      || { cat "$TMP/wrk-$id-$round.txt" >&2; exit 1; }
    res=$("${PY[@]}" parse "$TMP/wrk-$id-$round.txt")
    echo "{\"target\": \"$id\", \"round\": $round, ${res:1}" >> "$TMP/runs.jsonl"
    "${PY[@]}" show "$id" "$res"
  done
done

echo "== $CREATES channel creates"
CREATES_JSON=$("${SC[@]}" creates "$PORT" "$PW" "$CREATES")
echo "$CREATES_JSON"
stop_server

echo "== $STARTS starts"
STARTUP_JSON=$(BENCH_PING_URL="$LAST" "${PY[@]}" startup "$STARTS" "$TMP/startup.pid" \
  "$BIN/zato-server" "$TMP/server1")
echo "$STARTUP_JSON"

cat > "$TMP/meta.json" <<EOF
{"date": "$(date -u +%Y-%m-%d)", "rev": "$GIT_REV", "cpus": $(nproc), "channels": $CHANNELS,
 "services": $SERVICES, "threads": $THREADS, "conns": $CONNS, "seconds": $SECONDS_PER_RUN,
 "rounds": $ROUNDS, "import_ms": $IMPORT_MS, "creates": $CREATES_JSON, "startup": $STARTUP_JSON}
EOF
"${SC[@]}" report "$TMP/runs.jsonl" "$TMP/meta.json" "$OUT"
