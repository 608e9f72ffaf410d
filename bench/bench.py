#!/usr/bin/env python3
"""Helpers for bench/run.sh (stdlib only).

  bench.py port                                   print a free TCP port on 127.0.0.1
  bench.py wait URL [TIMEOUT_S]                   poll URL until it answers 200
  bench.py admin PORT PASSWORD SERVICE [JSON]     admin-invoke SERVICE, print its decoded response
  bench.py wait-deployed PORT PASSWORD NAME [TIMEOUT_S]
  bench.py check KIND METHOD URL [BODY] [USER:PASSWORD]
                                                  one request: fail unless 200 + the expected body
  bench.py parse WRK_OUTPUT_FILE                  wrk --latency output -> one JSON line
  bench.py startup N PIDFILE CMD...               N fresh starts of CMD, time to first 200 on the
                                                  URL in $BENCH_PING_URL; prints JSON
  bench.py cli BIN_DIR WORK_DIR N                 N rounds of: zato quickstart create, the qs start
                                                  script (until every server answers), zato service
                                                  invoke zato.ping (x5), the same call with curl, the
                                                  qs stop script; prints JSON medians
  bench.py report RUNS_JSONL META_JSON OUT_MD     medians, ratios; writes OUT_MD, prints the table
"""
import base64
import http.client
import json
import os
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import time
import urllib.parse


def die(msg):
    print(f'bench.py: {msg}', file=sys.stderr)
    sys.exit(1)


def request(method, url, body=None, auth=None, timeout=5.0):
    u = urllib.parse.urlsplit(url)
    if u.scheme == 'https':
        # The bench's own CA: the checks are about answers, not about trust.
        ctx = ssl._create_unverified_context()
        conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=timeout, context=ctx)
    else:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    headers = {}
    if body is not None:
        headers['Content-Type'] = 'application/json'
    if auth:
        headers['Authorization'] = 'Basic ' + base64.b64encode(auth.encode()).decode()
    try:
        conn.request(method, u.path + (f'?{u.query}' if u.query else ''),
                     body=body.encode() if isinstance(body, str) else body, headers=headers)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def cmd_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    print(s.getsockname()[1])
    s.close()


def cmd_wait(url, timeout='30'):
    deadline = time.monotonic() + float(timeout)
    last = None
    while time.monotonic() < deadline:
        try:
            status, body = request('GET', url, timeout=1.0)
            if status == 200:
                return
            last = f'HTTP {status}: {body[:200]!r}'
        except OSError as e:
            last = repr(e)
        time.sleep(0.01)
    die(f'{url} not answering 200 after {timeout}s (last: {last})')


def admin(port, password, service, payload_json='null'):
    body = json.dumps({
        'name': service,
        'payload': base64.b64encode(payload_json.encode()).decode(),
        'data_format': 'json',
    })
    status, raw = request('POST', f'http://127.0.0.1:{port}/zato/admin/invoke', body,
                          f'admin.invoke:{password}')
    if status != 200:
        die(f'admin invoke of {service} -> HTTP {status}: {raw[:500]!r}')
    doc = json.loads(raw)
    resp = doc.get('response')
    return base64.b64decode(resp).decode() if resp else ''


def cmd_admin(port, password, service, payload_json='null'):
    print(admin(port, password, service, payload_json))


def cmd_wait_deployed(port, password, name, timeout='30'):
    deadline = time.monotonic() + float(timeout)
    while time.monotonic() < deadline:
        out = admin(port, password, 'zato.service.is-deployed', json.dumps({'name': name}))
        if json.loads(out).get('is_deployed') is True:
            return
        time.sleep(0.02)
    die(f'service {name} not deployed after {timeout}s')


def expect_ok(kind, doc):
    """True when the parsed JSON body `doc` is what target `kind` must answer."""
    if kind == 'hello':
        return doc == {'hello': 'world'}
    if kind == 'ping':
        return isinstance(doc, dict) and doc.get('pong') == 'zato'
    if kind == 'echo':
        return doc == {'message': 'hi', 'count': 3}
    if kind == 'admin-ping':
        if not isinstance(doc, dict) or not doc.get('response'):
            return False
        inner = json.loads(base64.b64decode(doc['response']))
        return isinstance(inner, dict) and inner.get('pong') == 'zato'
    die(f'unknown check kind {kind}')


def cmd_check(kind, method, url, body='', auth=''):
    status, raw = request(method, url, body or None, auth or None)
    try:
        doc = json.loads(raw)
        ok = status == 200 and expect_ok(kind, doc)
    except ValueError:
        ok = False
    if not ok:
        die(f'CHECK FAILED {method} {url} (expected 200 + {kind} body): HTTP {status}: {raw[:500]!r}')
    print(f'  ok  {method} {url} -> {status} {raw[:120].decode(errors="replace")}')


UNITS_MS = {'us': 0.001, 'ms': 1.0, 's': 1000.0, 'm': 60000.0, 'h': 3600000.0}


def to_ms(text):
    for unit in ('us', 'ms', 'm', 's', 'h'):
        if text.endswith(unit) and text[:-len(unit)].replace('.', '', 1).isdigit():
            return float(text[:-len(unit)]) * UNITS_MS[unit]
    raise ValueError(f'bad latency {text!r}')


def parse_wrk(text):
    out = {'rps': None, 'p50_ms': None, 'p99_ms': None, 'requests': None,
           'non2xx': 0, 'socket_errors': 0}
    for line in text.splitlines():
        f = line.split()
        if not f:
            continue
        if f[0] == 'Requests/sec:':
            out['rps'] = float(f[1])
        elif f[0] == '50%':
            out['p50_ms'] = to_ms(f[1])
        elif f[0] == '99%':
            out['p99_ms'] = to_ms(f[1])
        elif len(f) > 2 and f[1] == 'requests' and f[2] == 'in':
            out['requests'] = int(f[0])
        elif line.strip().startswith('Non-2xx or 3xx responses:'):
            out['non2xx'] = int(f[-1])
        elif f[0] == 'Socket' and f[1] == 'errors:':
            # Socket errors: connect 0, read 0, write 0, timeout 0
            out['socket_errors'] = sum(int(x.rstrip(',')) for x in f[3::2])
    missing = [k for k in ('rps', 'p50_ms', 'p99_ms') if out[k] is None]
    if missing:
        die(f'could not parse {missing} from wrk output:\n{text}')
    return out


def cmd_parse(path):
    with open(path) as f:
        print(json.dumps(parse_wrk(f.read())))


def cmd_show(target, res):
    r = json.loads(res)
    print(f"  {target:<11} {r['rps']:>10,.0f} req/s  p50 {r['p50_ms']:.2f} ms  "
          f"p99 {r['p99_ms']:.2f} ms  non-2xx {r['non2xx']}  socket errors {r['socket_errors']}")


def cmd_startup(n, pidfile, *cmd):
    url = os.environ['BENCH_PING_URL']
    times = []
    for _ in range(int(n)):
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(pidfile, 'w') as f:
            f.write(str(proc.pid))
        try:
            while True:
                if proc.poll() is not None:
                    die(f'{cmd} exited with {proc.returncode} before answering {url}')
                if time.monotonic() - t0 > 60:
                    die(f'{url} not answering 200 within 60s of start')
                try:
                    status, _ = request('GET', url, timeout=1.0)
                    if status == 200:
                        break
                except OSError:
                    pass
                time.sleep(0.005)
            times.append((time.monotonic() - t0) * 1000.0)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            os.unlink(pidfile)
    print(json.dumps({'startup_ms': times, 'median_ms': statistics.median(times)}))


def free_ports(n):
    """The first of n consecutive free ports."""
    for _ in range(100):
        s = socket.socket()
        s.bind(('127.0.0.1', 0))
        base = s.getsockname()[1]
        s.close()
        ok = True
        for i in range(n):
            t = socket.socket()
            try:
                t.bind(('127.0.0.1', base + i))
            except OSError:
                ok = False
            finally:
                t.close()
        if ok:
            return base
    die(f'no {n} consecutive free ports')


def timed(cmd, **kw):
    t0 = time.monotonic()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    ms = (time.monotonic() - t0) * 1000.0
    if r.returncode != 0:
        die(f'{cmd} exited with {r.returncode}:\n{r.stdout}{r.stderr}')
    return ms, r.stdout


def cmd_cli(bin_dir, work_dir, n):
    zato = os.path.join(bin_dir, 'zato')
    res = {'quickstart_ms': [], 'start_ms': [], 'invoke_ms': [], 'curl_ms': [], 'stop_ms': []}
    for i in range(int(n)):
        qs = os.path.join(work_dir, f'qs{i}')
        port = free_ports(2)
        ms, _ = timed([zato, 'quickstart', 'create', qs, '--cluster-name', f'bench{i}',
                       '--http-port', str(port)])
        res['quickstart_ms'].append(ms)
        try:
            ms, _ = timed(['bash', os.path.join(qs, 'zato-qs-start.sh')])
            res['start_ms'].append(ms)
            for url in (f'http://127.0.0.1:{port}/zato/ping', f'http://127.0.0.1:{port + 1}/zato/ping'):
                status, _ = request('GET', url)
                if status != 200:
                    die(f'{url} answered {status} after the start script returned')
            for _ in range(5):
                ms, out = timed([zato, 'service', 'invoke', os.path.join(qs, 'server1'), 'zato.ping'])
                if out.strip() != '{"pong":"zato"}':
                    die(f'zato service invoke printed {out!r}')
                res['invoke_ms'].append(ms)
            # The same admin call without the CLI: curl with the password already known.
            secret = admin_password(zato, qs)
            body = '{"name": "zato.ping", "payload": "bnVsbA==", "data_format": "json"}'
            for _ in range(5):
                ms, out = timed(['curl', '-sf', '-u', f'admin.invoke:{secret}', '-d', body,
                                 f'http://127.0.0.1:{port}/zato/admin/invoke'])
                if 'ZATO_OK' not in out:
                    die(f'curl admin invoke printed {out!r}')
                res['curl_ms'].append(ms)
        finally:
            ms, _ = timed(['bash', os.path.join(qs, 'zato-qs-stop.sh')])
            res['stop_ms'].append(ms)
    print(json.dumps({k: {'all': v, 'median': statistics.median(v)} for k, v in res.items()}))


def admin_password(zato, qs):
    """The admin.invoke password, read back from the quickstart's SQLite ODB."""
    import sqlite3
    db = sqlite3.connect(os.path.join(qs, 'zato.db'))
    (stored,) = db.execute("SELECT password FROM sec_base WHERE name = 'admin.invoke'").fetchone()
    db.close()
    key_path = os.path.join(qs, 'server1')
    out = subprocess.run([zato, 'decrypt', '--path', key_path, '--data', stored],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def fmt_ms(v):
    return f'{v * 1000:.0f} µs' if v < 1 else f'{v:.2f} ms'


def cmd_report(runs_path, meta_path, out_md):
    with open(meta_path) as f:
        meta = json.load(f)
    runs = {}
    with open(runs_path) as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                runs.setdefault(r['target'], []).append(r)
    order = [t['id'] for t in meta['targets']]
    labels = {t['id']: t['label'] for t in meta['targets']}
    med = {}
    for t in order:
        rs = runs.get(t, [])
        if not rs:
            die(f'no runs for {t}')
        med[t] = {
            'rps': statistics.median(r['rps'] for r in rs),
            'p50_ms': statistics.median(r['p50_ms'] for r in rs),
            'p99_ms': statistics.median(r['p99_ms'] for r in rs),
            'errors': sum(r['non2xx'] + r['socket_errors'] for r in rs),
            'rounds': len(rs),
            'all_rps': [r['rps'] for r in rs],
        }
    base = med[order[0]]['rps']
    rows = [('Target', 'req/s', 'p50', 'p99', 'vs baseline', 'errors')]
    for t in order:
        m = med[t]
        rows.append((labels[t], f"{m['rps']:,.0f}", fmt_ms(m['p50_ms']), fmt_ms(m['p99_ms']),
                     f"{m['rps'] / base:.3f}×", str(m['errors'])))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    right = [False, True, True, True, True, True]

    def line(r):
        return '| ' + ' | '.join(c.rjust(w) if ra else c.ljust(w)
                                 for c, w, ra in zip(r, widths, right)) + ' |'
    sep = '|' + '|'.join(('-' * (w + 1) + ':') if ra else (':' + '-' * (w + 1))
                         for w, ra in zip(widths, right)) + '|'
    table = '\n'.join([line(rows[0]), sep] + [line(r) for r in rows[1:]])

    rss = meta['rss_kib']
    st = meta['startup']
    cli = meta['cli']
    lb_table = ''
    if 'lb-ping' in med and 'haproxy-ping' in med:
        ours, ha, direct = med['lb-ping'], med['haproxy-ping'], med['ping']
        lb_table = '\n'.join([
            '| Path to `server1 /zato/ping` | req/s | p99 | req/s vs HAProxy | p99 vs HAProxy |',
            '|:--|--:|--:|--:|--:|',
            f"| wrk → server directly | {direct['rps']:,.0f} | {fmt_ms(direct['p99_ms'])} | – | – |",
            f"| wrk → HAProxy → server | {ha['rps']:,.0f} | {fmt_ms(ha['p99_ms'])} | 1.000× | 1.000× |",
            f"| wrk → zato-load-balancer → server | {ours['rps']:,.0f} | {fmt_ms(ours['p99_ms'])} | "
            f"{ours['rps'] / ha['rps']:.3f}× | {ours['p99_ms'] / ha['p99_ms']:.3f}× |",
        ])
        if 'lb-https' in med and 'haproxy-https' in med:
            ours, ha = med['lb-https'], med['haproxy-https']
            lb_table += '\n' + '\n'.join([
                f"| wrk → HAProxy (HTTPS) → server | {ha['rps']:,.0f} | {fmt_ms(ha['p99_ms'])} | 1.000× | 1.000× |",
                f"| wrk → zato-load-balancer (HTTPS) → server | {ours['rps']:,.0f} | {fmt_ms(ours['p99_ms'])} | "
                f"{ours['rps'] / ha['rps']:.3f}× | {ours['p99_ms'] / ha['p99_ms']:.3f}× |",
            ])

    # Both make two HTTP exchanges per request; the ratio is taken within each round.
    outgoing_vs_lb = ''
    if 'py-outgoing' in med and 'lb-ping' in med:
        per = [o['rps'] / l['rps'] for o, l in zip(runs['py-outgoing'], runs['lb-ping'])]
        outgoing_vs_lb = (
            f"Python service calling outgoing REST vs the load balancer passing a request through "
            f"(both two HTTP exchanges per request; goal ≥ 0.5×): median {statistics.median(per):.3f}× "
            f"(per round: {', '.join(f'{x:.3f}×' for x in per)}).")

    def cli_row(label, key, limit):
        c = cli[key]
        runs = ', '.join(f'{x:.0f}' for x in c['all'])
        return f"| {label} | {c['median']:.0f} ms | {limit} | {runs} |"
    cli_table = '\n'.join([
        '| Step | median wall time | target | every run (ms) |',
        '|:--|--:|--:|:--|',
        cli_row('`zato quickstart create` (SQLite, 2 servers, load balancer)', 'quickstart_ms', '≤ 2000 ms'),
        cli_row('`zato-qs-start.sh` until both servers, the load balancer, the scheduler and the web admin run', 'start_ms', '≤ 3000 ms'),
        cli_row('`zato service invoke server1 zato.ping`', 'invoke_ms', '≤ 100 ms'),
        cli_row('baseline: `curl` POST /zato/admin/invoke, password known', 'curl_ms', '–'),
        cli_row('`zato-qs-stop.sh`', 'stop_ms', '–'),
    ])
    per_round = '\n'.join(
        f"| {labels[t]} | " + ' | '.join(f'{x:,.0f}' for x in med[t]['all_rps']) + ' |'
        for t in order)
    round_hdr = '| Target | ' + ' | '.join(f'round {i + 1}' for i in range(meta['rounds'])) + ' |'
    round_sep = '|:--|' + '--:|' * meta['rounds']

    md = f"""# Load benchmark

Command: `{meta['command']}` (from the repository root)

- Date: {meta['date']}
- Machine: {meta['nproc']} CPUs, {meta['cpu_model']}, {meta['kernel']}
- wrk: `wrk -t{meta['threads']} -c{meta['connections']} -d{meta['seconds']}s --latency` per target
  ({meta['wrk_version']}), {meta['rounds']} interleaved round(s) (every target once per round);
  every number below is the median over the rounds (each column's median on its own).
  wrk runs on the same {meta['nproc']} CPUs as the server under test.
- Server: `zato-server`, fresh SQLite ODB, `[main] workers = 1`, default `python_threads`,
  built with `cargo build --release` from git {meta['git_rev']}. Baseline: `bench/hello` (raw hyper, same machine, same wrk).

{table}

`errors` = non-2xx responses + socket errors reported by wrk, summed over all rounds.
Every target was checked (HTTP 200 + expected body) before each round and after the last one.
ERROR/panic lines in the server's log during setup and load: {meta['log_errors']}.

Targets:
""" + '\n'.join(f"- **{t['label']}**: {t['desc']}" for t in meta['targets']) + f"""

Server memory (VmRSS of the server process):

- idle, after deploying the services and channels, before any load: {rss['idle'] / 1024:.1f} MiB
- after all load rounds: {rss['after'] / 1024:.1f} MiB (peak VmHWM {rss['hwm'] / 1024:.1f} MiB)

Startup (process start → first HTTP 200 on `GET /zato/ping`, same server dir with the bench
services deployed, polled every 5 ms): median {st['median_ms']:.0f} ms over {len(st['startup_ms'])} fresh starts
({', '.join(f'{x:.0f}' for x in st['startup_ms'])} ms).

Load balancers (same run, same server, same wrk settings; req/s above 1.0× and p99 below
1.0× are better for us):

{lb_table}

{outgoing_vs_lb}

CLI (release build, {len(cli['quickstart_ms']['all'])} fresh quickstart clusters, each started, invoked 5 times and stopped;
upstream 3.2 took 6.5 s to create, 30.5 s to start and about 3 s per `service invoke` on the
machine of the spec's Part 2):

{cli_table}

`zato service invoke` reads the server's config, decrypts its secrets, looks the admin.invoke
credentials up in the ODB and then makes the same HTTP call as the curl baseline.

Requests/s per round:

{round_hdr}
{round_sep}
{per_round}
"""
    # Other benchmarks' sections (bench/sections.py) stay as they are.
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import sections
    kept = sections.others(out_md)
    with open(out_md, 'w') as f:
        f.write(md + ('\n' + kept if kept else ''))
    print(table)
    print()
    print(f"Server RSS: idle {rss['idle'] / 1024:.1f} MiB, after load {rss['after'] / 1024:.1f} MiB"
          f" (peak {rss['hwm'] / 1024:.1f} MiB)")
    print(f"Startup to first 200 on /zato/ping: median {st['median_ms']:.0f} ms "
          f"({', '.join(f'{x:.0f}' for x in st['startup_ms'])} ms)")
    print()
    print(lb_table)
    print()
    print(cli_table)


def cmd_deploy_reach(port1, port2, password, count, out_path):
    """Uploads `count` versions of a service to the first server; for each, the milliseconds
    until the second serves it (polled every 2 ms), one per line in `out_path`."""
    code = ("from zato.server.service import Service\n\n\nclass Version(Service):\n"
            "    name = 'bench.version'\n\n    def handle(self):\n"
            "        self.response.payload = {{'version': {}}}\n")
    with open(out_path, 'a') as out:
        for n in range(int(count)):
            payload = json.dumps({'payload': base64.b64encode(code.format(n).encode()).decode(),
                                  'payload_name': 'bench_version.py'})
            t0 = time.monotonic()
            admin(port1, password, 'zato.service.upload-package', payload)
            while True:
                body = json.dumps({'name': 'bench.version', 'payload': base64.b64encode(b'{}').decode(),
                                   'data_format': 'json'})
                status, raw = request('POST', f'http://127.0.0.1:{port2}/zato/admin/invoke', body,
                                      f'admin.invoke:{password}')
                if status == 200:
                    resp = json.loads(raw).get('response')
                    if resp and json.loads(base64.b64decode(resp)).get('version') == n:
                        break
                if time.monotonic() - t0 > 10:
                    die(f'version {n} did not reach the second server within 10 s')
                time.sleep(0.002)
            out.write('{:.2f}\n'.format((time.monotonic() - t0) * 1000))


def main():
    if len(sys.argv) < 2:
        die(__doc__)
    name, args = sys.argv[1], sys.argv[2:]
    fn = globals().get('cmd_' + name.replace('-', '_'))
    if not fn:
        die(f'unknown command {name}\n{__doc__}')
    fn(*args)


if __name__ == '__main__':
    main()
