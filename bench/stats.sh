#!/usr/bin/env bash
# Statistics on vs off: wrk against the Python hello REST channel of two servers of one cluster
# (SQLite ODB), the first with `[stats] enabled = true` (the default: every call counted and
# timed, written to the ODB once a second, /zato/metrics), the second with it off. Rounds
# alternate between them; medians of BENCH_ROUNDS rounds. Writes bench/STATS.md and its
# section of bench/RESULTS.md.
#   bash bench/stats.sh
#   BENCH_ROUNDS=1 STATS_SECONDS=3 bash bench/stats.sh   # smoke
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
ROUNDS="${BENCH_ROUNDS:-5}"
SECS="${STATS_SECONDS:-10}"
CONNS="${STATS_CONNECTIONS:-32}"
OUT="${BENCH_STATS_OUT:-$ROOT/bench/STATS.md}"
RESULTS="${BENCH_RESULTS:-$ROOT/bench/RESULTS.md}"
PY=(python3 "$ROOT/bench/bench.py")

bench_build -p zato-server -p zato-cli

TMP="$(mktemp -d -t zato-stats-bench.XXXXXX)"
PIDS=()
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  [ "$rc" -eq 0 ] || show_server_log
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

new_server bench
PORT_ON=$PORT
PORT_OFF=$("${PY[@]}" port)
"$BIN/zato" create server "$TMP/server2" bench server2 --odb-type sqlite --odb-db-name "$TMP/zato.db" \
  --secret-key="$(sed -n 's/^key1 = "\(.*\)"/\1/p' "$TMP/server1/config/repo/secrets.conf" | head -1)" \
  --http-host 127.0.0.1 --http-port "$PORT_OFF" >> "$TMP/create.log" 2>&1 || { cat "$TMP/create.log" >&2; exit 1; }
sed -i 's/^enabled = true/enabled = false/' "$TMP/server2/config/repo/server.conf"
grep -q '^enabled = false' "$TMP/server2/config/repo/server.conf"
cp "$ROOT/bench/services/bench_hello.py" "$TMP/server1/pickup/incoming/services/"
for s in server1 server2; do
  "$BIN/zato-server" "$TMP/$s" > "$TMP/$s.stdout" 2>&1 &
  PIDS+=($!)
done
for p in "$PORT_ON" "$PORT_OFF"; do "${PY[@]}" wait "http://127.0.0.1:$p/zato/ping" 60; done
"${PY[@]}" wait-deployed "$PORT_ON" "$PW" bench.hello
"${PY[@]}" wait-deployed "$PORT_OFF" "$PW" bench.hello
"${PY[@]}" admin "$PORT_ON" "$PW" zato.http-soap.create \
  '{"name": "bench-hello", "url_path": "/bench/hello", "service": "bench.hello", "connection": "channel", "transport": "plain_http", "data_format": "json", "method": "GET"}' >/dev/null
for p in "$PORT_ON" "$PORT_OFF"; do "${PY[@]}" wait "http://127.0.0.1:$p/bench/hello" 10; done

: > "$TMP/runs.txt"
for round in $(seq 1 "$ROUNDS"); do
  for kind in on off; do
    port=$PORT_ON; [ "$kind" = off ] && port=$PORT_OFF
    wrk -t2 -c"$CONNS" -d"${SECS}s" --latency "http://127.0.0.1:$port/bench/hello" > "$TMP/wrk.txt"
    res=$("${PY[@]}" parse "$TMP/wrk.txt")
    echo "$round $kind $res" >> "$TMP/runs.txt"
    echo "round $round stats $kind: $(echo "$res" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(round(r["rps"]), "req/s, non-2xx", r["non2xx"])')"
  done
done
# What the statistics recorded must be what wrk sent (all rounds against the first server).
COUNTED=$("${PY[@]}" admin "$PORT_ON" "$PW" zato.service.get-stats-table '{}' \
  | python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(r["item_total_usage"] for r in d if r["name"]=="bench.hello"))')
ERRORS=$( (grep -cE ' ERROR |panicked' "$TMP"/server*/logs/server.log "$TMP"/server*.stdout || true) | awk -F: '{s+=$2} END {print s+0}')

python3 - "$TMP/runs.txt" "$OUT" "$RESULTS" "$GIT_REV" "$ROUNDS" "$SECS" "$CONNS" "$ERRORS" "$COUNTED" <<'PYEOF'
import datetime, json, os, statistics, sys
sys.path.insert(0, 'bench')
import sections
runs_path, out, results, rev, rounds, secs, conns, errors, counted = sys.argv[1:]
runs = {'on': [], 'off': []}
for line in open(runs_path):
    rnd, kind, res = line.split(' ', 2)
    runs[kind].append(json.loads(res))
med = lambda kind, k: statistics.median(x[k] for x in runs[kind])
fmt = lambda xs: ', '.join('{:,.0f}'.format(x) for x in xs)
on, off = med('on', 'rps'), med('off', 'rps')
sent = sum(x['requests'] for x in runs['on'])
gap = 100.0 * (off - on) / off if off else 0
rows = [
    '| measure | median | rounds | goal |', '|---|--:|---|---|',
    '| Python hello over REST, statistics on, req/s | {:,.0f} | {} | |'.format(on, fmt(x['rps'] for x in runs['on'])),
    '| Python hello over REST, statistics off, req/s | {:,.0f} | {} | |'.format(off, fmt(x['rps'] for x in runs['off'])),
    '| cost of statistics (off - on) / off | {:.1f} % | | <= 3 % |'.format(gap),
    '| p99 on / off | {:.2f} / {:.2f} ms | | |'.format(med('on', 'p99_ms'), med('off', 'p99_ms')),
    '| calls counted by statistics / requests wrk completed | {} / {} | | equal |'.format(counted, sent),
]
command = 'BENCH_ROUNDS={} STATS_SECONDS={} bash bench/stats.sh'.format(rounds, secs)
body = '\n'.join([
    '## Statistics on vs off', '',
    'Command: `{}` at {} ({} cores), {}; wrk -t2 -c{} for {} s per measurement, rounds alternating, medians; server errors logged: {}.'.format(
        command, rev, os.cpu_count(), datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'), conns, secs, errors), '',
    'Two servers of one cluster (SQLite ODB), one with `[stats] enabled = true` (every call counted and timed per',
    'service and channel, minutes written to the ODB once a second, Prometheus histograms), one with it off; both',
    'serve the same Python hello REST channel. wrk can complete a few requests after its count, so "counted" may',
    'exceed "completed" by the connections still open when it stopped.', '',
] + rows) + '\n'
open(out, 'w').write('# Statistics benchmark\n\n' + body.split('\n', 2)[2])
sections.put(results, 'stats', body)
print('\n'.join(rows))
PYEOF
