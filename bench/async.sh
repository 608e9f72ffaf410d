#!/usr/bin/env bash
# Durable asynchronous invocations on the ODB transport (SQLite, the default ODB), or with
# ASYNC_TRANSPORT=redis on the Redis one (a stream in the local Redis, as with `[kvdb]`): wrk against a
# REST channel whose Python service stores one self.invoke_async of a no-op service per request.
# Measured per round: requests stored per second (wrk's rate) and completed per second (all
# stored while wrk ran, over the time until the last one had run and was deleted). Baseline in
# the same run, interleaved: the same channel whose service invokes the no-op synchronously
# (self.invoke), the same Python work with nothing stored. Also a channel whose service starts a
# parallel execution of eight no-op targets per request (`self.patterns.parallel`, the eight
# stored in one round trip), counted in async invocations. Medians of BENCH_ROUNDS rounds.
# Writes bench/ASYNC.md and its section of bench/RESULTS.md.
#   bash bench/async.sh
#   BENCH_ROUNDS=1 ASYNC_SECONDS=3 bash bench/async.sh   # smoke
#   ASYNC_TRANSPORT=redis bash bench/async.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
ROUNDS="${BENCH_ROUNDS:-3}"
SECS="${ASYNC_SECONDS:-10}"
CONNS="${ASYNC_CONNECTIONS:-16}"
TRANSPORT="${ASYNC_TRANSPORT:-odb}"
case "$TRANSPORT" in
  odb) SERVER_ARGS=(); SECTION=async; DEFAULT_OUT=ASYNC.md ;;
  redis) SERVER_ARGS=(--kvdb-host 127.0.0.1 --kvdb-password ""); SECTION=async-redis; DEFAULT_OUT=ASYNC-REDIS.md ;;
  *) echo "ASYNC_TRANSPORT must be odb or redis, not $TRANSPORT" >&2; exit 2 ;;
esac
OUT="${BENCH_ASYNC_OUT:-$ROOT/bench/$DEFAULT_OUT}"
RESULTS="${BENCH_RESULTS:-$ROOT/bench/RESULTS.md}"
PY=(python3 "$ROOT/bench/bench.py")

bench_build -p zato-server -p zato-cli

TMP="$(mktemp -d -t zato-async-bench.XXXXXX)"
SERVER_PID=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$SERVER_PID" ]; then kill -TERM "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  [ "$rc" -eq 0 ] || show_server_log
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

new_server bench
cp "$ROOT/bench/services/bench_async.py" "$TMP/server1/pickup/incoming/services/"
"$BIN/zato-server" "$TMP/server1" > "$TMP/server.stdout" 2>&1 &
SERVER_PID=$!
"${PY[@]}" wait "http://127.0.0.1:$PORT/zato/ping" 60
for s in bench.noop bench.async-one bench.sync-one bench.parallel-eight bench.noop-7; do "${PY[@]}" wait-deployed "$PORT" "$PW" "$s"; done
for kind in async sync parallel; do
  svc="bench.$kind-one"; [ "$kind" = parallel ] && svc=bench.parallel-eight
  "${PY[@]}" admin "$PORT" "$PW" zato.http-soap.create \
    "{\"name\": \"bench-$kind\", \"url_path\": \"/bench/$kind\", \"service\": \"$svc\", \"connection\": \"channel\", \"transport\": \"plain_http\", \"data_format\": \"json\", \"method\": \"GET\"}" >/dev/null
done
"${PY[@]}" wait "http://127.0.0.1:$PORT/bench/async" 10
"${PY[@]}" wait "http://127.0.0.1:$PORT/bench/sync" 10
"${PY[@]}" wait "http://127.0.0.1:$PORT/bench/parallel" 10

if [ "$TRANSPORT" = redis ]; then
  redis-cli -h 127.0.0.1 PING >/dev/null || { echo "Redis is not answering on 127.0.0.1:6379; start it (redis-server)" >&2; exit 1; }
  left() { redis-cli -h 127.0.0.1 XLEN zato:async:bench; }
  # A run stopped half-way may have left its stream.
  redis-cli -h 127.0.0.1 DEL zato:async:bench >/dev/null
else
  left() { sqlite3 "$TMP/zato.db" 'SELECT COUNT(*) FROM async_request'; }
fi
now() { date +%s%N; }
: > "$TMP/runs.txt"
for round in $(seq 1 "$ROUNDS"); do
  for kind in sync async parallel; do
    t0=$(now)
    wrk -t2 -c"$CONNS" -d"${SECS}s" --latency "http://127.0.0.1:$PORT/bench/$kind" > "$TMP/wrk.txt"
    # The stored requests still to run, then done: completed = all stored / time to the last.
    while [ "$kind" != sync ] && [ "$(left)" != 0 ]; do sleep 0.05; done
    t1=$(now)
    res=$("${PY[@]}" parse "$TMP/wrk.txt")
    echo "$round $kind $t0 $t1 $res" >> "$TMP/runs.txt"
    echo "round $round $kind: $(echo "$res" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(round(r["rps"]), "req/s,", r["requests"], "requests, non-2xx", r["non2xx"])')"
  done
done
ERRORS=$( (grep -cE ' ERROR |panicked' "$TMP/server1/logs/server.log" "$TMP/server.stdout" || true) | awk -F: '{s+=$2} END {print s+0}')

python3 - "$TMP/runs.txt" "$OUT" "$RESULTS" "$GIT_REV" "$ROUNDS" "$SECS" "$CONNS" "$ERRORS" "$TRANSPORT" "$SECTION" <<'PYEOF'
import datetime, json, os, statistics, sys
sys.path.insert(0, 'bench')
import sections
runs_path, out, results, rev, rounds, secs, conns, errors, transport, section = sys.argv[1:]
redis = transport == 'redis'
runs = {'sync': [], 'async': [], 'parallel': []}
# Async invocations each request stores.
per_request = {'sync': 1, 'async': 1, 'parallel': 8}
for line in open(runs_path):
    rnd, kind, t0, t1, res = line.split(' ', 4)
    r = json.loads(res)
    r['completed'] = per_request[kind] * r['requests'] / ((int(t1) - int(t0)) / 1e9)
    runs[kind].append(r)
med = lambda kind, k: statistics.median(x[k] for x in runs[kind])
fmt = lambda xs: ', '.join('{:,.0f}'.format(x) for x in xs)
stored, completed, base = med('async', 'rps'), med('async', 'completed'), med('sync', 'rps')
goal = '>= 20,000/s' if redis else '>= 5,000/s'
rows = [
    '| measure | median | rounds | goal |', '|---|--:|---|---|',
    '| async requests stored/s (self.invoke_async per REST request) | {:,.0f} | {} | |'.format(stored, fmt(x['rps'] for x in runs['async'])),
    '| async requests completed/s (stored, run and deleted) | {:,.0f} | {} | {} |'.format(completed, fmt(x['completed'] for x in runs['async']), goal),
    '| async invocations completed/s, eight per REST request (self.patterns.parallel, stored in one round trip) | {:,.0f} | {} | {} |'.format(med('parallel', 'completed'), fmt(x['completed'] for x in runs['parallel']), goal),
    '| baseline: the same calls synchronous (self.invoke), req/s | {:,.0f} | {} | |'.format(base, fmt(x['rps'] for x in runs['sync'])),
    '| ratio completed async / synchronous | {:.2f}x | | |'.format(completed / base if base else 0),
    '| REST p99 while storing | {:.2f} ms | {} | |'.format(med('async', 'p99_ms'), ', '.join('{:.2f}'.format(x['p99_ms']) for x in runs['async'])),
]
command = '{}BENCH_ROUNDS={} ASYNC_SECONDS={} bash bench/async.sh'.format('ASYNC_TRANSPORT=redis ' if redis else '', rounds, secs)
where = ('a stream in the local Redis (`zato:async:<cluster>`, XADD before the CID is answered; taken with a blocking'
         ' XREADGROUP, acknowledged and deleted in one MULTI/EXEC)') if redis else \
    '`async_request`, committed before the CID is answered'
body = '\n'.join([
    '## Durable asynchronous invocations ({} transport)'.format('Redis' if redis else 'ODB'), '',
    'Command: `{}` at {} ({} cores), {}; wrk -t2 -c{} for {} s per measurement, rounds interleaved, medians; server errors logged: {}.'.format(
        command, rev, os.cpu_count(), datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'), conns, secs, errors), '',
    'One server, SQLite ODB. Each REST request runs a Python service that stores one `self.invoke_async` of a',
    'no-op service ({}); the server runs it and deletes it.'.format(where),
    '"Completed" divides all requests stored during the wrk run by the time until the last had run. The',
    'baseline channel\'s service invokes the no-op synchronously: the same Python work, nothing stored. The',
    'parallel channel\'s service starts `self.patterns.parallel.invoke` of eight no-op services per request',
    '(no on-target callbacks): eight async invocations stored in one round trip (all or none), each run by itself.', '',
] + rows) + '\n'
open(out, 'w').write('# Asynchronous invocations benchmark\n\n' + body.split('\n', 2)[2])
sections.put(results, section, body)
print('\n'.join(rows))
PYEOF
