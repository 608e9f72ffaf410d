import sys, time, types, os
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(here))
fake = types.ModuleType('_zato_native')
fake.log = lambda *a: None
fake.invoke = lambda *a, **k: None
fake.invoke_async = lambda *a, **k: 'x'
sys.modules['_zato_native'] = fake
from zato import _runtime
_runtime.init({'server_name': 's1', 'cluster_name': 'c'})
_runtime.deploy("from zato.server.service import Service\nclass Hello(Service):\n    def handle(self):\n        self.response.payload = {'hello': 'world'}\n", 'bh.py')
_runtime.deploy("from zato.server.service import Service\nclass Echo(Service):\n    input = 'message', '-count'\n    output = 'message', 'count'\n    def handle(self):\n        self.response.payload.message = self.request.input.message\n        self.response.payload.count = self.request.input.count\n", 'be.py')
def req(name, payload):
    return {'name': name, 'cid': 'a'*24, 'payload': payload, 'raw_request': '', 'data_format': 'json',
            'channel': {'id': 1, 'name': 'ch', 'type': 'http-soap', 'data_format': 'json', 'url_path': '/x', 'is_internal': False, 'merge_url_params_req': True, 'security': None},
            'http': {'method': 'GET', 'path': '/x', 'params': {}, 'GET': {}, 'POST': {}, 'headers': {'host': 'x', 'user-agent': 'wrk', 'accept': '*/*'}, 'user_agent': 'wrk'},
            'environ': {}}
for name, payload in (('bh.hello', None), ('be.echo', {'message': 'hi', 'count': 3})):
    print(_runtime.invoke(req(name, payload)))
    n = 50000
    best = 1e9
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(n):
            _runtime.invoke(req(name, payload))
        best = min(best, (time.perf_counter() - t) / n)
    print(name, f'{best*1e6:.2f} us per invoke')
