"""The web admin's page timings (bench/webadmin.sh): logs in as a browser does, then times
each list page against the admin API calls behind it, made directly in the same rounds."""
import base64
import datetime
import http.cookiejar
import json
import os
import re
import statistics
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import sections  # noqa: E402

# Page → the admin calls it makes (its baseline), as (service, input).
PAGES = [
    ('/services', [('zato.service.get-list', {'query': ''}), ('zato.service.get-stats-table', {'start': '2026-01-01T00:00:00', 'stop': '2099-01-01T00:00:00'})]),
    ('/services?page=10', [('zato.service.get-list', {'query': ''}), ('zato.service.get-stats-table', {'start': '2026-01-01T00:00:00', 'stop': '2099-01-01T00:00:00'})]),
    ('/k/channel-rest', [('zato.http-soap.get-list', {'connection': 'channel', 'transport': 'plain_http'}), ('zato.service.get-list', {}), ('zato.security.get-list', {})]),
    ('/k/channel-rest?page=10', [('zato.http-soap.get-list', {'connection': 'channel', 'transport': 'plain_http'}), ('zato.service.get-list', {}), ('zato.security.get-list', {})]),
    ('/k/basic-auth', [('zato.security.basic-auth.get-list', {})]),
    ('/k/scheduler', [('zato.scheduler.job.get-list', {}), ('zato.service.get-list', {})]),
    ('/stats?period=hour', [('zato.stats.summary.get-summary-by-range', {'start': '2026-01-01T00:00:00', 'stop': '2099-01-01T00:00:00', 'n': 10, 'n_type': 'mean'})]),
]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def login(base, password):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect())
    page = opener.open(base + '/login').read().decode()
    token = re.search(r'name="login_token" value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode({'username': 'admin', 'password': password, 'login_token': token, 'next': '/cluster'}).encode()
    req = urllib.request.Request(base + '/login', data=body, headers={'Origin': base})
    try:
        opener.open(req)
    except urllib.error.HTTPError as e:
        if e.code != 303:
            raise
    return opener


def admin_call(admin_url, auth, service, payload):
    body = json.dumps({'name': service, 'payload': base64.b64encode(json.dumps(payload).encode()).decode(),
                       'channel': 'invoke', 'data_format': 'json'}).encode()
    req = urllib.request.Request(admin_url, data=body, headers={'Authorization': auth})
    urllib.request.urlopen(req).read()


def timed(f):
    t0 = time.perf_counter()
    f()
    return (time.perf_counter() - t0) * 1000


def main():
    base, server_port, admin_pw, user_pw, rounds, out, results, rev, services, channels = sys.argv[1:]
    rounds = int(rounds)
    opener = login(base, user_pw)
    admin_url = 'http://127.0.0.1:{}/zato/admin/invoke'.format(server_port)
    auth = 'Basic ' + base64.b64encode('admin.invoke:{}'.format(admin_pw).encode()).decode()
    page_ms = {p: [] for p, _ in PAGES}
    api_ms = {p: [] for p, _ in PAGES}
    sizes = {}
    for p, calls in PAGES:  # warm-up, and the page must be the page (not the log-in one)
        html = opener.open(base + p).read()
        assert b'Log out' in html, p
        sizes[p] = len(html)
    for _ in range(rounds):
        for p, calls in PAGES:
            page_ms[p].append(timed(lambda: opener.open(base + p).read()))
            api_ms[p].append(timed(lambda: [admin_call(admin_url, auth, s, i) for s, i in calls]))
    med = statistics.median
    rows = ['| page | web admin, median | p90 | the admin calls behind it, direct | ratio | HTML | goal |',
            '|---|--:|--:|--:|--:|--:|---|']
    for p, calls in PAGES:
        xs = sorted(page_ms[p])
        p90 = xs[min(len(xs) - 1, int(0.9 * len(xs)))]
        rows.append('| `{}` | {:.1f} ms | {:.1f} ms | {:.1f} ms ({}) | {:.2f}x | {} kB | < 100 ms {} |'.format(
            p, med(xs), p90, med(api_ms[p]), len(calls), med(xs) / max(med(api_ms[p]), 0.001), sizes[p] // 1024,
            '✓' if med(xs) < 100 else '✗'))
    command = 'WEBADMIN_ROUNDS={} bash bench/webadmin.sh'.format(rounds)
    body = '\n'.join([
        '## Web admin page timings', '',
        'Command: `{}` at {} ({} cores), {}; medians over {} rounds, pages and their baselines alternating.'.format(
            command, rev, os.cpu_count(), datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'), rounds), '',
        'One server (release build, SQLite ODB) with {} Python services and {} REST channels; the web admin logged in'.format(services, channels),
        'as a browser is and pointed at the server. Each page is timed whole (request to last byte, 100 rows a page),',
        'against the admin API calls the page makes, made directly with the same client: the difference is the web',
        'admin\'s own cost (its hop, filtering, paging and rendering).', '',
    ] + rows) + '\n'
    open(out, 'w').write('# Web admin benchmark\n\n' + body.split('\n', 2)[2])
    sections.put(results, 'webadmin', body)
    print('\n'.join(rows))


if __name__ == '__main__':
    main()
