#!/usr/bin/env bash
# Web admin page timings with a big cluster: one server with 1,000 Python services and 1,000
# REST channels, the web admin in front of it; each list page timed against the admin API calls
# behind it. Writes bench/WEBADMIN.md and its section of bench/RESULTS.md.
#   bash bench/webadmin.sh
# Env: WEBADMIN_SERVICES (1000), WEBADMIN_CHANNELS (1000), WEBADMIN_ROUNDS (20).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
SERVICES="${WEBADMIN_SERVICES:-1000}"
CHANNELS="${WEBADMIN_CHANNELS:-1000}"
ROUNDS="${WEBADMIN_ROUNDS:-20}"
PY=(python3 "$ROOT/bench/bench.py")
SC=(python3 "$ROOT/bench/scale.py")

bench_build -p zato-server -p zato-cli -p zato-web-admin

TMP="$(mktemp -d -t zato-webadmin.XXXXXX)"
SERVER_PID=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  "$BIN/zato" stop "$TMP/web-admin" > /dev/null 2>&1 || true
  if [ -n "$SERVER_PID" ]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  [ "$rc" -eq 0 ] || show_server_log
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

new_server webadmin
echo "== $SERVICES services, $CHANNELS channels"
"${SC[@]}" services "$TMP/server1/pickup/incoming/services" "$SERVICES"
"$BIN/zato-server" "$TMP/server1" > "$TMP/server.stdout" 2>&1 &
SERVER_PID=$!
"${PY[@]}" wait "http://127.0.0.1:$PORT/zato/ping" 120
"${PY[@]}" wait-deployed "$PORT" "$PW" "scale.s$((SERVICES - 1))" 120
"${SC[@]}" channels "$TMP/channels.json" "$CHANNELS" "$SERVICES"
"$BIN/zato" enmasse "$TMP/server1" --import --input "$TMP/channels.json" > "$TMP/enmasse.log" 2>&1 \
  || { cat "$TMP/enmasse.log" >&2; exit 1; }

WA_PORT=$("${PY[@]}" port)
USER_PW="bench-$(tr -d - < /proc/sys/kernel/random/uuid)"
"$BIN/zato" create web-admin "$TMP/web-admin" webadmin --lb-address "http://127.0.0.1:$PORT" \
  --bind "127.0.0.1:$WA_PORT" --admin-invoke-password "$PW" > "$TMP/wa-create.log"
"$BIN/zato" update password "$TMP/web-admin" admin --password "$USER_PW" > /dev/null
"$BIN/zato" start "$TMP/web-admin" > /dev/null

python3 "$ROOT/bench/webadmin.py" "http://127.0.0.1:$WA_PORT" "$PORT" "$PW" "$USER_PW" "$ROUNDS" \
  "$ROOT/bench/WEBADMIN.md" "$ROOT/bench/RESULTS.md" "$GIT_REV" "$SERVICES" "$CHANNELS"
