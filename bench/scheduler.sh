#!/usr/bin/env bash
# Scheduler benchmark: N interval jobs every second on one scheduler and one server (SQLite ODB).
# Measures lateness (when the server recorded a run minus its planned time, from job_fire), the
# runs recorded against the runs planned, and the scheduler's CPU and peak RSS. Writes
# bench/SCHEDULER.md. The issue's goal for 10,000 jobs: p99 lateness <= 50 ms, RSS <= 40 MiB.
#   bash bench/scheduler.sh
#   SCHED_JOBS=1000 SCHED_SECONDS=10 bash bench/scheduler.sh   # smoke
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
JOBS="${SCHED_JOBS:-10000}"
SECS="${SCHED_SECONDS:-30}"
OUT="${SCHED_OUT:-$ROOT/bench/SCHEDULER.md}"

bash scripts/install-deps.sh
cargo build --release -p zato-server -p zato-cli -p zato-lb -p zato-scheduler
Z="$ROOT/target/release/zato"
GIT_REV="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
[ -z "$(git status --porcelain -- . ':!bench' 2>/dev/null)" ] || GIT_REV="$GIT_REV + uncommitted changes"

TMP="$(mktemp -d -t zato-sched.XXXXXX)"
QS="$TMP/qs"
cleanup() {
  [ -x "$QS/zato-qs-stop.sh" ] && "$QS/zato-qs-stop.sh" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
"$Z" quickstart create "$QS" --servers 1 --http-port "$(port)" --lb-port "$(port)" \
  --lb-agent-port "$(port)" --scheduler-port "$(port)" --start >/dev/null
cat > "$TMP/tick.py" <<'EOF'
from zato.server.service import Service

class Tick(Service):
    name = 'bench.tick'

    def handle(self):
        pass
EOF
"$Z" service deploy "$QS/server1" "$TMP/tick.py" >/dev/null

# The jobs, as one enmasse file; their first run a few seconds from now.
python3 - "$JOBS" "$TMP/jobs.json" <<'EOF'
import datetime, json, sys
n, path = int(sys.argv[1]), sys.argv[2]
start = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=5)).strftime('%Y-%m-%dT%H:%M:%S')
jobs = [{'name': 'tick-{:05d}'.format(i), 'service': 'bench.tick', 'job_type': 'interval_based',
         'start_date': start, 'seconds': 1} for i in range(n)]
json.dump({'scheduler': jobs}, open(path, 'w'))
EOF
"$Z" enmasse "$QS/server1" --import --input "$TMP/jobs.json" >/dev/null

SCHED_PID="$(cat "$QS/scheduler/pidfile")"
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
sleep 5
CPU0="$(ticks "$SCHED_PID")"
T0="$(date -u +%Y-%m-%dT%H:%M:%S)"
sleep "$SECS"
T1="$(date -u +%Y-%m-%dT%H:%M:%S)"
CPU1="$(ticks "$SCHED_PID")"
HWM_KB="$(awk '/VmHWM/ {print $2}' "/proc/$SCHED_PID/status")"
sleep 2

python3 - "$QS/zato.db" "$T0" "$T1" "$JOBS" "$SECS" "$CPU0" "$CPU1" "$HWM_KB" "$OUT" "$GIT_REV" <<'EOF'
import datetime, os, sqlite3, sys
db, t0, t1, jobs, secs, cpu0, cpu1, hwm, out, rev = sys.argv[1:]
jobs, secs, hwm = int(jobs), int(secs), int(hwm)
rows = sqlite3.connect(db).execute(
    'SELECT planned, fired_at FROM job_fire WHERE planned >= ? AND planned < ?', (t0, t1)).fetchall()
parse = lambda t: datetime.datetime.fromisoformat(t)
late = sorted((parse(f) - parse(p)).total_seconds() * 1000 for p, f in rows)
pct = lambda q: late[min(len(late) - 1, int(q * len(late)))] if late else float('nan')
planned = jobs * secs
cpu = (int(cpu1) - int(cpu0)) / os.sysconf('SC_CLK_TCK') / secs * 100
lines = [
    '# Scheduler benchmark', '',
    'Command: `SCHED_JOBS={} SCHED_SECONDS={} bash bench/scheduler.sh` at {} ({} cores).'.format(
        jobs, secs, rev, os.cpu_count()), '',
    '{} interval jobs every second, one scheduler, one server, SQLite ODB; lateness is when the'.format(jobs),
    'server recorded a run (`job_fire.fired_at`) minus its planned time. No baseline is run: the',
    'goals below are the issue\'s.', '',
    '| measure | value | goal |', '|---|--:|--:|',
    '| runs recorded / planned | {} / {} ({:.1f}%) | 100% |'.format(len(rows), planned, 100.0 * len(rows) / max(planned, 1)),
    '| lateness p50 | {:.1f} ms | |'.format(pct(0.50)),
    '| lateness p99 | {:.1f} ms | <= 50 ms |'.format(pct(0.99)),
    '| lateness max | {:.1f} ms | |'.format(late[-1] if late else float('nan')),
    '| scheduler CPU | {:.1f}% of a core | |'.format(cpu),
    '| scheduler peak RSS | {:.1f} MiB | <= 40 MiB |'.format(hwm / 1024), '',
]
open(out, 'w').write('\n'.join(lines))
print('\n'.join(lines))
EOF
