#!/usr/bin/env bash
# Scheduler benchmark: N interval jobs every second on one scheduler and one server (SQLite ODB),
# repeated ROUNDS times on a fresh cluster each; every number is the median over the rounds.
# Per run of a job it measures
#   - fire lateness: when the run was released to the server's invoker
#     (`self.request.scheduler.fired_at`; runs are sent and recorded ahead and released by a
#     timer at their planned time) minus its planned time;
#   - start lateness: when the service's handle() began minus its planned time (the wait for
#     an interpreter included: the server's load, 10,000 services started at once);
# and counts the service's runs against the runs planned (and runs seen twice). The scheduler's
# CPU, its RSS sampled while firing and its peak RSS over the whole life (VmHWM, the import of
# the jobs included) are read from /proc. The issue's goal for 10,000 jobs: p99 fire lateness
# <= 50 ms, RSS <= 40 MiB. No baseline is run: upstream's scheduler cannot be installed here;
# the goals are the reference. Writes bench/SCHEDULER.md and its section of bench/RESULTS.md;
# SCHED_KEEP=DIR keeps the server's and the scheduler's logs of each round under DIR.
#   bash bench/scheduler.sh
#   SCHED_JOBS=1000 SCHED_SECONDS=10 SCHED_ROUNDS=1 bash bench/scheduler.sh   # smoke
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
JOBS="${SCHED_JOBS:-10000}"
SECS="${SCHED_SECONDS:-20}"
ROUNDS="${SCHED_ROUNDS:-3}"
OUT="${SCHED_OUT:-$ROOT/bench/SCHEDULER.md}"
RESULTS="${SCHED_RESULTS:-$ROOT/bench/RESULTS.md}"

bash scripts/install-deps.sh
cargo build --release -p zato-server -p zato-cli -p zato-lb -p zato-scheduler
Z="$ROOT/target/release/zato"
GIT_REV="$(git_rev)"

TMP="$(mktemp -d -t zato-sched.XXXXXX)"
QS=""
cleanup() {
  [ -n "$QS" ] && [ -x "$QS/zato-qs-stop.sh" ] && { "$QS/zato-qs-stop.sh" >/dev/null 2>&1 || true; }
  rm -rf "$TMP"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }

one_round() {
  local r="$1" dir="$TMP/round$1"
  mkdir -p "$dir"
  QS="$dir/qs"
  "$Z" quickstart create "$QS" --servers 1 --http-port "$(port)" --lb-port "$(port)" \
    --lb-agent-port "$(port)" --scheduler-port "$(port)" --no-web-admin --start >/dev/null
  # The service appends one line per run: job id, planned, fired_at and when it started.
  cat > "$dir/tick.py" <<EOF
import os, time
from zato.server.service import Service

_out = os.open('$dir/runs.txt', os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

class Tick(Service):
    name = 'bench.tick'

    def handle(self):
        started = time.time()
        s = self.request.scheduler
        os.write(_out, ('%s %s %s %.6f\n' % (s.job_id, s.planned, s.fired_at, started)).encode())
EOF
  "$Z" service deploy "$QS/server1" "$dir/tick.py" >/dev/null
  # The jobs, as one enmasse file; their first run a few seconds from now.
  python3 - "$JOBS" "$dir/jobs.json" <<'EOF'
import datetime, json, sys
n, path = int(sys.argv[1]), sys.argv[2]
start = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=5)).strftime('%Y-%m-%dT%H:%M:%S')
jobs = [{'name': 'tick-{:05d}'.format(i), 'service': 'bench.tick', 'job_type': 'interval_based',
         'start_date': start, 'seconds': 1} for i in range(n)]
json.dump({'scheduler': jobs}, open(path, 'w'))
EOF
  "$Z" enmasse "$QS/server1" --import --input "$dir/jobs.json" >/dev/null
  local pid spid cpu0 cpu1 scpu0 scpu1 t0 t1 peak=0 rss
  pid="$(cat "$QS/scheduler/pidfile")"
  spid="$(cat "$QS/server1/pidfile")"
  sleep 5
  cpu0="$(ticks "$pid")"
  scpu0="$(ticks "$spid")"
  t0="$(date -u +%Y-%m-%dT%H:%M:%S)"
  local end=$((SECONDS + SECS))
  while [ "$SECONDS" -lt "$end" ]; do
    rss="$(kib "$pid" VmRSS)"
    [ "$rss" -gt "$peak" ] && peak="$rss"
    sleep 0.25
  done
  t1="$(date -u +%Y-%m-%dT%H:%M:%S)"
  cpu1="$(ticks "$pid")"
  scpu1="$(ticks "$spid")"
  echo "$r $t0 $t1 $((cpu1 - cpu0)) $peak $(kib "$pid" VmHWM) $((scpu1 - scpu0))" >> "$TMP/rounds.txt"
  sleep 2
  "$QS/zato-qs-stop.sh" >/dev/null 2>&1 || true
  cp "$dir/runs.txt" "$TMP/runs$r.txt"
  # SCHED_KEEP=DIR keeps each round's logs.
  [ -z "${SCHED_KEEP:-}" ] || {
    mkdir -p "$SCHED_KEEP/round$r"
    cp -r "$QS/server1/logs" "$SCHED_KEEP/round$r/server1"
    cp -r "$QS/scheduler/logs" "$SCHED_KEEP/round$r/scheduler"
    cp "$dir/runs.txt" "$SCHED_KEEP/round$r/"
  }
  rm -rf "$QS"
  QS=""
}

for r in $(seq 1 "$ROUNDS"); do
  echo "round $r of $ROUNDS: $JOBS jobs, $SECS s" >&2
  one_round "$r"
done

python3 - "$TMP" "$JOBS" "$SECS" "$ROUNDS" "$OUT" "$RESULTS" "$GIT_REV" <<'EOF'
import datetime, os, statistics, sys
sys.path.insert(0, 'bench')
import sections
tmp, jobs, secs, rounds, out, results, rev = sys.argv[1:]
jobs, secs, rounds = int(jobs), int(secs), int(rounds)
tck = os.sysconf('SC_CLK_TCK')
parse = lambda t: datetime.datetime.fromisoformat(t).replace(tzinfo=datetime.timezone.utc).timestamp()
per_round = []
for line in open(os.path.join(tmp, 'rounds.txt')):
    r, t0, t1, cpu, rss_kib, hwm_kib, server_cpu = line.split()
    lo, hi = parse(t0), parse(t1)
    fired, started, seen, twice = [], [], set(), 0
    for run in open(os.path.join(tmp, 'runs{}.txt'.format(r))):
        job_id, planned, fired_at, began = run.split()
        p = parse(planned)
        if not lo <= p < hi:
            continue
        if (job_id, planned) in seen:
            twice += 1
        seen.add((job_id, planned))
        fired.append((parse(fired_at) - p) * 1000)
        started.append((float(began) - p) * 1000)
    fired.sort(); started.sort()
    pct = lambda xs, q: xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float('nan')
    per_round.append({
        'runs': len(seen), 'planned': jobs * int(hi - lo), 'twice': twice,
        'fire_p50': pct(fired, .5), 'fire_p99': pct(fired, .99), 'fire_max': fired[-1] if fired else float('nan'),
        'start_p50': pct(started, .5), 'start_p99': pct(started, .99),
        'cpu': int(cpu) / tck / (hi - lo) * 100, 'server_cpu': int(server_cpu) / tck / (hi - lo) * 100, 'rss': int(rss_kib) / 1024, 'hwm': int(hwm_kib) / 1024,
    })
med = lambda k: statistics.median(x[k] for x in per_round)
rows = [
    ('runs run / planned', lambda x: '{} / {}'.format(x['runs'], x['planned']), '{:.0f} / {:.0f} ({:.2f}%)'.format(med('runs'), med('planned'), 100 * med('runs') / max(med('planned'), 1)), 'all'),
    ('runs run twice', lambda x: str(x['twice']), '{:.0f}'.format(med('twice')), '0'),
    ('fire lateness p50', lambda x: '{:.1f} ms'.format(x['fire_p50']), '{:.1f} ms'.format(med('fire_p50')), ''),
    ('fire lateness p99', lambda x: '{:.1f} ms'.format(x['fire_p99']), '{:.1f} ms'.format(med('fire_p99')), '<= 50 ms'),
    ('fire lateness max', lambda x: '{:.1f} ms'.format(x['fire_max']), '{:.1f} ms'.format(med('fire_max')), ''),
    ('service start lateness p50', lambda x: '{:.1f} ms'.format(x['start_p50']), '{:.1f} ms'.format(med('start_p50')), ''),
    ('service start lateness p99', lambda x: '{:.1f} ms'.format(x['start_p99']), '{:.1f} ms'.format(med('start_p99')), ''),
    ('scheduler CPU', lambda x: '{:.1f}%'.format(x['cpu']), '{:.1f}% of a core'.format(med('cpu')), ''),
    ('server CPU (recording, starting and running the jobs)', lambda x: '{:.0f}%'.format(x['server_cpu']), '{:.0f}% of a core'.format(med('server_cpu')), ''),
    ('scheduler RSS while firing (peak)', lambda x: '{:.1f} MiB'.format(x['rss']), '{:.1f} MiB'.format(med('rss')), '<= 40 MiB'),
    ('scheduler peak RSS, import included', lambda x: '{:.1f} MiB'.format(x['hwm']), '{:.1f} MiB'.format(med('hwm')), '<= 40 MiB'),
]
hdr = '| measure | median | ' + ' | '.join('round {}'.format(i + 1) for i in range(len(per_round))) + ' | goal |'
sep = '|---|--:|' + '--:|' * len(per_round) + '---|'
table = [hdr, sep] + ['| {} | {} | {} | {} |'.format(name, m, ' | '.join(f(x) for x in per_round), goal) for name, f, m, goal in rows]
command = 'SCHED_JOBS={} SCHED_SECONDS={} SCHED_ROUNDS={} bash bench/scheduler.sh'.format(jobs, secs, rounds)
body = '\n'.join([
    '## Scheduler', '',
    'Command: `{}` at {} ({} cores), {}.'.format(command, rev, os.cpu_count(), datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')), '',
    '{} interval jobs every second, one scheduler, one server, SQLite ODB, {} rounds of {} s on a'.format(jobs, rounds, secs),
    'fresh cluster each. Fire lateness: when a run was released to the server\'s invoker (runs are',
    'sent and recorded ahead, then released by a timer at their time) minus its planned time;',
    'start lateness: when the service began (a second\'s {} runs wait for interpreters in turn).'.format(jobs),
    'No baseline: upstream\'s scheduler cannot be installed here, the goals are the issue\'s.', '',
] + table) + '\n'
open(out, 'w').write('# Scheduler benchmark\n\n' + body.split('\n', 2)[2])
sections.put(results, 'scheduler', body)
print('\n'.join(table))
EOF
