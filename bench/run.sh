#!/usr/bin/env bash
# Load benchmark: zato-server vs a raw hyper hello-world (bench/hello), measured with wrk.
#   bash bench/run.sh                                 # full run (~3-4 min), writes bench/RESULTS.md
#   BENCH_SECONDS=2 BENCH_ROUNDS=1 bash bench/run.sh  # smoke run
# Env: BENCH_SECONDS (10) per wrk run, BENCH_ROUNDS (3) interleaved rounds, BENCH_THREADS (2),
# BENCH_CONNECTIONS (32), BENCH_STARTS (3) fresh starts for the startup time,
# BENCH_OUT (bench/RESULTS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
SECONDS_PER_RUN="${BENCH_SECONDS:-10}"
ROUNDS="${BENCH_ROUNDS:-3}"
THREADS="${BENCH_THREADS:-2}"
CONNS="${BENCH_CONNECTIONS:-32}"
STARTS="${BENCH_STARTS:-3}"
OUT="${BENCH_OUT:-$ROOT/bench/RESULTS.md}"
PY=(python3 "$ROOT/bench/bench.py")

bench_build -p zato-server -p zato-cli -p zato-lb -p zato-scheduler -p zato-web-admin -p bench-hello
command -v wrk >/dev/null || { echo "wrk is missing" >&2; exit 1; }
command -v haproxy >/dev/null || { echo "haproxy is missing" >&2; exit 1; }

TMP="$(mktemp -d -t zato-bench.XXXXXX)"
pids=()
stop_pid() {  # SIGTERM, then wait for it (SIGKILL after 10 s)
  local p=$1
  kill -TERM "$p" 2>/dev/null || return 0
  for _ in $(seq 1 1000); do kill -0 "$p" 2>/dev/null || break; sleep 0.01; done
  kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -f "$TMP/startup.pid" ] && stop_pid "$(cat "$TMP/startup.pid")"
  for p in "${pids[@]}"; do stop_pid "$p"; done
  [ "$rc" -eq 0 ] || show_server_log
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- baseline -------------------------------------------------------------------------------
BASE_PORT=$("${PY[@]}" port)
"$BIN/bench-hello" "127.0.0.1:$BASE_PORT" &
pids+=($!)
"${PY[@]}" wait "http://127.0.0.1:$BASE_PORT/"

# --- server ---------------------------------------------------------------------------------
new_server bench
"$BIN/zato-server" "$TMP/server1" > "$TMP/server.stdout" 2>&1 &
SERVER_PID=$!
pids+=("$SERVER_PID")
"${PY[@]}" wait "http://127.0.0.1:$PORT/zato/ping"

cp "$ROOT/bench/services/bench_hello.py" "$ROOT/bench/services/bench_echo.py" \
  "$ROOT/bench/services/bench_outgoing.py" "$TMP/server1/pickup/incoming/services/"
"${PY[@]}" wait-deployed "$PORT" "$PW" bench.hello
"${PY[@]}" wait-deployed "$PORT" "$PW" bench.echo
"${PY[@]}" wait-deployed "$PORT" "$PW" bench.outgoing
"${PY[@]}" admin "$PORT" "$PW" zato.http-soap.create \
  '{"name": "bench-hello", "url_path": "/bench/hello", "service": "bench.hello", "connection": "channel", "transport": "plain_http", "data_format": "json", "method": "GET"}' >/dev/null
"${PY[@]}" admin "$PORT" "$PW" zato.http-soap.create \
  '{"name": "bench-echo", "url_path": "/bench/echo", "service": "bench.echo", "connection": "channel", "transport": "plain_http", "data_format": "json", "method": "POST"}' >/dev/null
"${PY[@]}" admin "$PORT" "$PW" zato.http-soap.create \
  "{\"name\": \"bench-hello-out\", \"url_path\": \"/\", \"host\": \"http://127.0.0.1:$BASE_PORT\", \"connection\": \"outgoing\", \"transport\": \"plain_http\", \"data_format\": \"json\"}" >/dev/null
"${PY[@]}" admin "$PORT" "$PW" zato.http-soap.create \
  '{"name": "bench-outgoing", "url_path": "/bench/outgoing", "service": "bench.outgoing", "connection": "channel", "transport": "plain_http", "data_format": "json", "method": "GET"}' >/dev/null
"${PY[@]}" wait "http://127.0.0.1:$PORT/bench/hello" 10

# --- load balancers in front of server1: ours and HAProxy with the equivalent config ----------
LB_PORT=$("${PY[@]}" port)
AGENT_PORT=$("${PY[@]}" port)
HA_PORT=$("${PY[@]}" port)
{
  "$BIN/zato" ca create ca "$TMP/ca"
  "$BIN/zato" create load-balancer "$TMP/lb" --ca-path "$TMP/ca" --frontend-bind "127.0.0.1:$LB_PORT" \
    --agent-bind "127.0.0.1:$AGENT_PORT" --server "server1=127.0.0.1:$PORT"
  "$BIN/zato" lb export-haproxy "$TMP/lb" --nbthread "$(nproc)" --output "$TMP/haproxy.cfg"
} >> "$TMP/create.log" 2>&1 || { cat "$TMP/create.log" >&2; exit 1; }
sed -i "s/bind 127.0.0.1:$LB_PORT/bind 127.0.0.1:$HA_PORT/" "$TMP/haproxy.cfg"
# The same pair with HTTPS on the frontend: one certificate (from the same CA) for both.
LBS_PORT=$("${PY[@]}" port)
AGENTS_PORT=$("${PY[@]}" port)
HAS_PORT=$("${PY[@]}" port)
{
  "$BIN/zato" create load-balancer "$TMP/lbs" --ca-path "$TMP/ca" --frontend-bind "127.0.0.1:$LBS_PORT" \
    --agent-bind "127.0.0.1:$AGENTS_PORT" --server "server1=127.0.0.1:$PORT" --tls-host localhost
  "$BIN/zato" lb export-haproxy "$TMP/lbs" --nbthread "$(nproc)" --output "$TMP/haproxy-tls.cfg"
} >> "$TMP/create.log" 2>&1 || { cat "$TMP/create.log" >&2; exit 1; }
sed -i "s/bind 127.0.0.1:$LBS_PORT/bind 127.0.0.1:$HAS_PORT/" "$TMP/haproxy-tls.cfg"
"$BIN/zato-load-balancer" "$TMP/lb" > "$TMP/lb.stdout" 2>&1 &
pids+=($!)
haproxy -db -f "$TMP/haproxy.cfg" > "$TMP/haproxy.stdout" 2>&1 &
pids+=($!)
"$BIN/zato-load-balancer" "$TMP/lbs" > "$TMP/lbs.stdout" 2>&1 &
pids+=($!)
haproxy -db -f "$TMP/haproxy-tls.cfg" > "$TMP/haproxy-tls.stdout" 2>&1 &
pids+=($!)
"${PY[@]}" wait "http://127.0.0.1:$LB_PORT/zato/ping" 10
"${PY[@]}" wait "http://127.0.0.1:$HA_PORT/zato/ping" 10
"${PY[@]}" wait "https://127.0.0.1:$LBS_PORT/zato/ping" 10
"${PY[@]}" wait "https://127.0.0.1:$HAS_PORT/zato/ping" 10

# --- targets --------------------------------------------------------------------------------
ECHO_BODY='{"message":"hi","count":3}'
ADMIN_BODY='{"name": "zato.ping", "payload": "bnVsbA==", "data_format": "json"}'
AUTH_B64=$(printf '%s' "admin.invoke:$PW" | base64 -w0)
lua_post() {  # FILE BODY [AUTH_B64]
  {
    echo 'wrk.method = "POST"'
    printf 'wrk.body = [[%s]]\n' "$2"
    echo 'wrk.headers["Content-Type"] = "application/json"'
    [ -z "${3:-}" ] || printf 'wrk.headers["Authorization"] = "Basic %s"\n' "$3"
  } > "$1"
}
lua_post "$TMP/echo.lua" "$ECHO_BODY"
lua_post "$TMP/admin.lua" "$ADMIN_BODY" "$AUTH_B64"

# id | url | wrk lua script (or -) | check kind | check method | check body | check auth
TARGETS=(
  "baseline|http://127.0.0.1:$BASE_PORT/|-|hello|GET||"
  "ping|http://127.0.0.1:$PORT/zato/ping|-|ping|GET||"
  "py-hello|http://127.0.0.1:$PORT/bench/hello|-|hello|GET||"
  "py-echo|http://127.0.0.1:$PORT/bench/echo|$TMP/echo.lua|echo|POST|$ECHO_BODY|"
  "admin-ping|http://127.0.0.1:$PORT/zato/admin/invoke|$TMP/admin.lua|admin-ping|POST|$ADMIN_BODY|admin.invoke:$PW"
  "py-outgoing|http://127.0.0.1:$PORT/bench/outgoing|-|hello|GET||"
  "haproxy-ping|http://127.0.0.1:$HA_PORT/zato/ping|-|ping|GET||"
  "lb-ping|http://127.0.0.1:$LB_PORT/zato/ping|-|ping|GET||"
  "haproxy-https|https://127.0.0.1:$HAS_PORT/zato/ping|-|ping|GET||"
  "lb-https|https://127.0.0.1:$LBS_PORT/zato/ping|-|ping|GET||"
)
check_all() {
  local t id url lua kind method body auth
  for t in "${TARGETS[@]}"; do
    IFS='|' read -r id url lua kind method body auth <<< "$t"
    "${PY[@]}" check "$kind" "$method" "$url" "$body" "$auth"
  done
}
rss() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

echo "== checking every target"
check_all
RSS_IDLE=$(rss "$SERVER_PID" VmRSS)

: > "$TMP/runs.jsonl"
for round in $(seq 1 "$ROUNDS"); do
  echo "== round $round/$ROUNDS (wrk -t$THREADS -c$CONNS -d${SECONDS_PER_RUN}s --latency)"
  [ "$round" -eq 1 ] || check_all
  for t in "${TARGETS[@]}"; do
    IFS='|' read -r id url lua kind method body auth <<< "$t"
    script=()
    [ "$lua" = "-" ] || script=(-s "$lua")
    wrk -t"$THREADS" -c"$CONNS" -d"${SECONDS_PER_RUN}s" --latency "${script[@]}" "$url" \
      > "$TMP/wrk-$id-$round.txt" 2>&1 || { cat "$TMP/wrk-$id-$round.txt" >&2; exit 1; }
    res=$("${PY[@]}" parse "$TMP/wrk-$id-$round.txt")
    echo "{\"target\": \"$id\", \"round\": $round, ${res:1}" >> "$TMP/runs.jsonl"
    "${PY[@]}" show "$id" "$res"
  done
done
echo "== checking every target after the load"
check_all
RSS_AFTER=$(rss "$SERVER_PID" VmRSS)
RSS_HWM=$(rss "$SERVER_PID" VmHWM)
LOG_ERRORS=$(cat "$TMP/server1/logs/server.log" "$TMP/server.stdout" | grep -cE ' ERROR |panicked' || true)
if [ "$LOG_ERRORS" -gt 0 ]; then
  echo "!! the server logged $LOG_ERRORS error/panic lines, e.g.:" >&2
  grep -hE ' ERROR |panicked' "$TMP/server1/logs/server.log" "$TMP/server.stdout" | head -n 10 >&2
fi

# --- startup time: fresh starts of the same server dir ---------------------------------------
ALL_PIDS=("${pids[@]}")
stop_pid "$SERVER_PID"
pids=()
for p in "${ALL_PIDS[@]}"; do [ "$p" = "$SERVER_PID" ] || pids+=("$p"); done
echo "== startup time ($STARTS fresh starts)"
STARTUP=$(BENCH_PING_URL="http://127.0.0.1:$PORT/zato/ping" \
  "${PY[@]}" startup "$STARTS" "$TMP/startup.pid" "$BIN/zato-server" "$TMP/server1")

# --- CLI: quickstart create, cluster start, service invoke -------------------------------------
echo "== CLI timings ($STARTS quickstart clusters)"
CLI_TIMES=$("${PY[@]}" cli "$BIN" "$TMP/cli" "$STARTS")

# --- report ---------------------------------------------------------------------------------
export META_COMMAND="bash bench/run.sh" META_THREADS="$THREADS" META_CONNS="$CONNS" \
  META_SECONDS="$SECONDS_PER_RUN" META_ROUNDS="$ROUNDS" META_STARTUP="$STARTUP" META_CLI="$CLI_TIMES" \
  META_RSS_IDLE="$RSS_IDLE" META_RSS_AFTER="$RSS_AFTER" META_RSS_HWM="$RSS_HWM" META_LOG_ERRORS="$LOG_ERRORS" \
  META_GIT_REV="$GIT_REV" \
  META_WRK_VERSION="$(wrk --version 2>&1 | head -n1 | cut -d' ' -f1-2)"
[ "$SECONDS_PER_RUN" = 10 ] && [ "$ROUNDS" = 3 ] || \
  META_COMMAND="BENCH_SECONDS=$SECONDS_PER_RUN BENCH_ROUNDS=$ROUNDS bash bench/run.sh"
python3 - "$TMP/meta.json" <<'EOF'
import json, os, platform, subprocess, sys, time
e = os.environ
model = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), 'unknown')
meta = {
    'command': e['META_COMMAND'],
    'date': time.strftime('%Y-%m-%d %H:%M:%S %Z'),
    'nproc': int(subprocess.check_output(['nproc']).decode().strip()),
    'cpu_model': model,
    'kernel': f'Linux {platform.release()}',
    'threads': int(e['META_THREADS']), 'connections': int(e['META_CONNS']),
    'seconds': int(e['META_SECONDS']), 'rounds': int(e['META_ROUNDS']),
    'wrk_version': e['META_WRK_VERSION'],
    'rss_kib': {'idle': int(e['META_RSS_IDLE']), 'after': int(e['META_RSS_AFTER']),
                'hwm': int(e['META_RSS_HWM'])},
    'startup': json.loads(e['META_STARTUP']),
    'cli': json.loads(e['META_CLI']),
    'log_errors': int(e['META_LOG_ERRORS']),
    'git_rev': e['META_GIT_REV'],
    'targets': [
        {'id': 'baseline', 'label': 'baseline (raw hyper) GET /',
         'desc': '`bench/hello`, answers `{"hello":"world"}` to everything'},
        {'id': 'ping', 'label': 'GET /zato/ping',
         'desc': 'built-in `zato.ping` on its internal channel (Rust, no Python)'},
        {'id': 'py-hello', 'label': 'Python hello, REST GET',
         'desc': "`bench/services/bench_hello.py`: `self.response.payload = {'hello': 'world'}` "
                 'behind a GET REST channel `/bench/hello`'},
        {'id': 'py-echo', 'label': 'Python SimpleIO echo, REST POST',
         'desc': "`bench/services/bench_echo.py`: `input = 'message', '-count'`, "
                 "`output = 'message', 'count'`, POST `{\"message\":\"hi\",\"count\":3}` to `/bench/echo`"},
        {'id': 'admin-ping', 'label': 'admin invoke zato.ping',
         'desc': '`POST /zato/admin/invoke` (HTTP Basic `admin.invoke`), '
                 '`{"name": "zato.ping", "payload": "bnVsbA==", "data_format": "json"}`'},
        {'id': 'py-outgoing', 'label': 'Python service calling outgoing REST',
         'desc': "`bench/services/bench_outgoing.py`: `self.out.rest['bench-hello-out'].conn.get(self.cid).data` "
                 'behind GET `/bench/outgoing`; the connection points at the baseline server, '
                 'so each request is two HTTP exchanges on the same 2 cores'},
        {'id': 'haproxy-ping', 'label': 'GET /zato/ping via HAProxy',
         'desc': 'HAProxy (Debian package) with the config `zato lb export-haproxy --nbthread $(nproc)` '
                 'writes for the same lb.conf (keep-alive, `http-reuse always`, health checks), '
                 'in front of the same server'},
        {'id': 'lb-ping', 'label': 'GET /zato/ping via zato-load-balancer',
         'desc': 'our load balancer with its default lb.conf (one proxy thread per CPU; these '
                 'requests take its fast path), same server behind it'},
        {'id': 'haproxy-https', 'label': 'HTTPS GET /zato/ping via HAProxy',
         'desc': 'HAProxy with the config `zato lb export-haproxy` writes for a load balancer made '
                 'with `zato create load-balancer --tls-host localhost` (same certificate and key, '
                 'TLS terminated, keep-alive; wrk reuses its TLS connections)'},
        {'id': 'lb-https', 'label': 'HTTPS GET /zato/ping via zato-load-balancer',
         'desc': 'our load balancer with that certificate (`[frontend.tls]`), same server behind it'},
    ],
}
json.dump(meta, open(sys.argv[1], 'w'), indent=1)
EOF
echo
"${PY[@]}" report "$TMP/runs.jsonl" "$TMP/meta.json" "$OUT"
echo
echo "Wrote ${OUT#$ROOT/}"
