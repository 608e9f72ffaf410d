#!/usr/bin/env bash
# Hot deploy reaching a second server: two servers of one cluster on a PostgreSQL ODB (woken by
# LISTEN/NOTIFY, a push transport), two on SQLite with Redis (`[kvdb]`: woken by a PUBLISH, the
# other push transport), against two on SQLite alone (the baseline: a 200 ms poll of cluster
# events). Per round and cluster, DEPLOY_COUNT uploads of a new version of a service to
# server1, each timed until server2 serves it (the upload and server1's own deploy included).
# Rounds alternate between the clusters; medians and p90s over all deploys. Writes
# bench/DEPLOY.md and its section of bench/RESULTS.md.
#   bash bench/deploy.sh
#   BENCH_ROUNDS=1 DEPLOY_COUNT=5 bash bench/deploy.sh   # smoke
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
ROUNDS="${BENCH_ROUNDS:-3}"
COUNT="${DEPLOY_COUNT:-20}"
OUT="${BENCH_DEPLOY_OUT:-$ROOT/bench/DEPLOY.md}"
RESULTS="${BENCH_RESULTS:-$ROOT/bench/RESULTS.md}"
PY=(python3 "$ROOT/bench/bench.py")

bench_build -p zato-server -p zato-cli

TMP="$(mktemp -d -t zato-deploy-bench.XXXXXX)"
DB="zato_bench_deploy_$$"
PIDS=()
psql_admin() { psql -h 127.0.0.1 -U postgres -d postgres -qAt -c "$1"; }
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  psql_admin "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  # The Redis cluster's async stream (made at its servers' start).
  redis-cli -h 127.0.0.1 DEL "zato:async:deploy-redis-$$" >/dev/null 2>&1 || true
  if [ "$rc" -ne 0 ]; then tail -n 20 "$TMP"/*/server*/logs/server.log 2>/dev/null >&2 || true; fi
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

psql_admin "SELECT 1" >/dev/null || { echo "PostgreSQL is not answering on 127.0.0.1:5432 (user postgres, trust auth); start it" >&2; exit 1; }
psql_admin "CREATE DATABASE $DB" >/dev/null
PW="admin.invoke.$(tr -d - < /proc/sys/kernel/random/uuid)"
KEY=$("$BIN/zato" crypto create-secret-key)
declare -A PORT1 PORT2
redis-cli -h 127.0.0.1 PING >/dev/null || { echo "Redis is not answering on 127.0.0.1:6379; start it (redis-server)" >&2; exit 1; }
KINDS=(push redis poll)
for kind in "${KINDS[@]}"; do
  extra=()
  if [ "$kind" = push ]; then
    odb=(--odb-type postgresql --odb-host 127.0.0.1 --odb-port 5432 --odb-user postgres --odb-password "" --odb-db-name "$DB")
  else
    odb=(--odb-type sqlite --odb-db-name "$TMP/$kind.db")
  fi
  # A cluster name of its own: Redis is shared with whatever else runs here.
  [ "$kind" = redis ] && extra=(--kvdb-host 127.0.0.1 --kvdb-password "")
  mkdir -p "$TMP/$kind"
  PORT1[$kind]=$("${PY[@]}" port)
  PORT2[$kind]=$("${PY[@]}" port)
  {
    "$BIN/zato" create odb "${odb[@]}"
    "$BIN/zato" create cluster "deploy-$kind-$$" "${odb[@]}" --secret-key="$KEY" --admin-invoke-password="$PW"
    for n in 1 2; do
      port=${PORT1[$kind]}; [ "$n" = 2 ] && port=${PORT2[$kind]}
      "$BIN/zato" create server "$TMP/$kind/server$n" "deploy-$kind-$$" "server$n" "${odb[@]}" \
        --secret-key="$KEY" --http-host 127.0.0.1 --http-port "$port" "${extra[@]}"
    done
  } > "$TMP/$kind/create.log" 2>&1 || { cat "$TMP/$kind/create.log" >&2; exit 1; }
  for n in 1 2; do
    "$BIN/zato-server" "$TMP/$kind/server$n" > "$TMP/$kind/server$n.stdout" 2>&1 &
    PIDS+=($!)
  done
  "${PY[@]}" wait "http://127.0.0.1:${PORT1[$kind]}/zato/ping" 60
  "${PY[@]}" wait "http://127.0.0.1:${PORT2[$kind]}/zato/ping" 60
done

for round in $(seq 1 "$ROUNDS"); do
  for kind in "${KINDS[@]}"; do
    "${PY[@]}" deploy-reach "${PORT1[$kind]}" "${PORT2[$kind]}" "$PW" "$COUNT" "$TMP/$kind.ms"
    echo "round $round $kind: $(tail -n "$COUNT" "$TMP/$kind.ms" | sort -n | awk '{a[NR]=$1} END {print "median", a[int((NR+1)/2)], "ms"}')"
  done
done

python3 - "$TMP/push.ms" "$TMP/redis.ms" "$TMP/poll.ms" "$OUT" "$RESULTS" "$GIT_REV" "$ROUNDS" "$COUNT" <<'PYEOF'
import datetime, os, statistics, sys
sys.path.insert(0, 'bench')
import sections
push_path, redis_path, poll_path, out, results, rev, rounds, count = sys.argv[1:]
load = lambda p: sorted(float(l) for l in open(p) if l.strip())
push, redis, poll = load(push_path), load(redis_path), load(poll_path)
p90 = lambda xs: xs[min(len(xs) - 1, int(0.9 * len(xs)))]
med = statistics.median
rows = [
    '| measure | push (PostgreSQL LISTEN/NOTIFY) | push (SQLite + Redis PUBLISH) | baseline: poll (SQLite, 200 ms) | goal |',
    '|---|--:|--:|--:|---|',
    '| upload to server1 → served by server2, median | {:.1f} ms | {:.1f} ms | {:.1f} ms | <= 100 ms |'.format(med(push), med(redis), med(poll)),
    '| p90 | {:.1f} ms | {:.1f} ms | {:.1f} ms | |'.format(p90(push), p90(redis), p90(poll)),
    '| slowest | {:.1f} ms | {:.1f} ms | {:.1f} ms | |'.format(push[-1], redis[-1], poll[-1]),
    '| deploys | {} | {} | {} | |'.format(len(push), len(redis), len(poll)),
]
command = 'BENCH_ROUNDS={} DEPLOY_COUNT={} bash bench/deploy.sh'.format(rounds, count)
body = '\n'.join([
    '## Hot deploy reaching a second server', '',
    'Command: `{}` at {} ({} cores), {}; rounds alternating between the clusters, medians over all deploys.'.format(
        command, rev, os.cpu_count(), datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')), '',
    'Three clusters of two servers each: one on PostgreSQL, whose servers wake each other with LISTEN/NOTIFY,',
    'one on SQLite with `[kvdb]`, whose servers wake each other with a Redis PUBLISH, and one on SQLite alone,',
    'whose servers poll the cluster events every 200 ms. Each measurement uploads a new version',
    'of a service to server1 (`zato.service.upload-package`, which returns once server1 deployed it) and times',
    'until server2 answers with that version (polled every 2 ms).', '',
] + rows) + '\n'
open(out, 'w').write('# Hot deploy benchmark\n\n' + body.split('\n', 2)[2])
sections.put(results, 'deploy', body)
print('\n'.join(rows))
PYEOF
