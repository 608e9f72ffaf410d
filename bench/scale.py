#!/usr/bin/env python3
"""Helpers for bench/scale.sh (stdlib only; shares bench.py's).

  scale.py services DIR N               write N Python services (scale.s0 ...) in files of 10
  scale.py channels FILE N S            an enmasse JSON file with N `{param}` channels over S services
  scale.py creates PORT PASSWORD N      N zato.http-soap.create calls, one at a time; prints JSON
                                        with each call's milliseconds and the median
  scale.py report RUNS_JSONL META_JSON OUT_MD
                                        medians of the interleaved rounds, ratios; writes OUT_MD
"""
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def cmd_services(out_dir, n):
    n = int(n)
    for f in range(0, n, 10):
        lines = ['from zato.server.service import Service\n']
        for k in range(f, min(f + 10, n)):
            lines.append(f'''
class S{k}(Service):
    name = 'scale.s{k}'

    def handle(self):
        self.response.payload = {{'service': {k}, 'id': self.request.http.params.get('id')}}
''')
        with open(os.path.join(out_dir, f'scale_{f // 10:04d}.py'), 'w') as fh:
            fh.write(''.join(lines))


def channel(i, services):
    return {
        'name': f'scale-{i}', 'connection': 'channel', 'transport': 'plain_http',
        'url_path': f'/scale/{i}/items/{{id}}', 'service': f'scale.s{i % services}',
        'method': 'GET', 'data_format': 'json',
    }


def cmd_channels(path, n, services):
    n, services = int(n), int(services)
    doc = {'channel_plain_http': [channel(i, services) for i in range(n)]}
    with open(path, 'w') as fh:
        json.dump(doc, fh)


def cmd_creates(port, password, n):
    times = []
    for i in range(int(n)):
        payload = channel(1_000_000 + i, 1)
        payload['name'] = f'scale-new-{i}'
        t0 = time.monotonic()
        bench.admin(port, password, 'zato.http-soap.create', json.dumps(payload))
        times.append((time.monotonic() - t0) * 1000.0)
    print(json.dumps({'create_ms': times, 'median_ms': statistics.median(times)}))


def cmd_report(runs_path, meta_path, out_md):
    with open(meta_path) as fh:
        meta = json.load(fh)
    rps = {}
    with open(runs_path) as fh:
        for line in fh:
            r = json.loads(line)
            rps.setdefault(r['target'], []).append(r['rps'])
    first = statistics.median(rps['first'])
    last = statistics.median(rps['last'])
    ratio = last / first if first else 0.0
    create = meta['creates']['median_ms']
    start = meta['startup']['median_ms']
    c, s = meta['channels'], meta['services']
    rows = [
        ('first channel matched, req/s', f'{first:,.0f}', '',
         ', '.join(f'{x:,.0f}' for x in rps['first'])),
        ('last channel matched, req/s', f'{last:,.0f}', f'{ratio:.3f}x of the first (goal >= 0.95x)',
         ', '.join(f'{x:,.0f}' for x in rps['last'])),
        (f'one zato.http-soap.create with {c:,} channels, ms', f'{create:.1f}', 'goal <= 20 ms',
         ', '.join(f'{x:.1f}' for x in meta['creates']['create_ms'])),
        (f'start-up to the first answer ({s:,} services, {c:,} channels), ms', f'{start:.0f}',
         'goal <= 500 ms', ', '.join(f'{x:.0f}' for x in meta['startup']['startup_ms'])),
        (f'enmasse import of {c:,} channels, ms', f"{meta['import_ms']:,}", '', ''),
    ]
    table = ['| measure | median | against | runs |', '|---|---|---|---|']
    table += [f'| {a} | {b} | {c_} | {d} |' for a, b, c_, d in rows]
    text = '\n'.join([
        '# Scale benchmark',
        '',
        f"`bash bench/scale.sh` on {meta['date']} (commit {meta['rev']}, {meta['cpus']} cores), "
        f"{c:,} channels with a `{{param}}` path over {s:,} Python services on one server (SQLite ODB); "
        f"wrk -t{meta['threads']} -c{meta['conns']} -d{meta['seconds']}s, {meta['rounds']} interleaved "
        'rounds per path; medians.',
        '',
        *table,
        '',
    ])
    with open(out_md, 'w') as fh:
        fh.write(text)
    print(text)


def main():
    if len(sys.argv) < 2:
        bench.die(__doc__)
    name, args = sys.argv[1], sys.argv[2:]
    fn = globals().get('cmd_' + name.replace('-', '_'))
    if not fn:
        bench.die(f'unknown command {name}\n{__doc__}')
    fn(*args)


if __name__ == '__main__':
    main()
