# -*- coding: utf-8 -*-
"""Shared test helpers: a fake `_zato_native` module and request builders."""

import os
import sys
import types
import unittest

# Make `import zato` work whatever directory the tests are started from.
_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _root not in sys.path:
    sys.path.insert(0, _root)

CID = 'ab' * 12


class FakeNative(types.ModuleType):
    """Stands in for the Rust-provided module: records calls, serves a few built-in services."""

    def __init__(self):
        super().__init__('_zato_native')
        self.reset()

    def reset(self):
        self.logs = []
        self.invocations = []
        self.async_calls = []

    def log(self, level, cid, logger_name, msg):
        self.logs.append((level, cid, logger_name, msg))

    def invoke(self, name, payload, cid, channel, data_format):
        self.invocations.append((name, payload, cid, channel, data_format))
        if name == 'zato.ping':
            return {'pong': 'zato'}
        if name == 'zato.wrapped':
            return {'response': {'inner': payload}}
        if name == 'zato.prefixed':
            return {'zato_env': {'ok': True}}
        if name == 'builtin.two-keys':
            return {'response': 1, 'other': 2}
        raise LookupError(name)

    def invoke_async(self, name, payload, channel, callback, expiration, cid):
        self.async_calls.append((name, payload, channel, callback, expiration, cid))
        return '0123456789abcdef01234567'


native = FakeNative()
sys.modules['_zato_native'] = native

from zato import _runtime  # noqa: E402  (must come after the fake is installed)


def make_req(name, payload=None, data_format='json', channel_type='http-soap', method=None, params=None,
        get=None, merge=False, environ=None, raw_request='', url_params_pri=None, params_pri=None):
    http = {}
    if method is not None or params is not None or get is not None:
        http = {'method': method or 'POST', 'path': '/test', 'params': params or {}, 'GET': get or {},
            'POST': {}, 'headers': {'x-test': '1'}, 'user_agent': 'tests/1.0'}
    return {
        'name': name,
        'cid': CID,
        'payload': payload,
        'raw_request': raw_request,
        'data_format': data_format,
        'channel': {'id': 1, 'name': 'test.channel', 'type': channel_type, 'data_format': data_format,
            'url_path': '/test', 'is_internal': False, 'merge_url_params_req': merge,
            'url_params_pri': url_params_pri, 'params_pri': params_pri,
            'security': None},
        'http': http,
        'environ': environ or {},
    }


class RuntimeTestCase(unittest.TestCase):
    """Each test starts with an empty registry and default settings."""

    def setUp(self):
        native.reset()
        _runtime.init({'server_name': 'server1', 'cluster_name': 'cluster1'})
        _runtime._registry = {}
        native.reset()

    def deploy(self, source, file_name='demo.py'):
        return _runtime.deploy(source, file_name)

    def call(self, name, payload=None, **kwargs):
        return _runtime.invoke(make_req(name, payload, **kwargs))

    def payload_of(self, name, payload=None, **kwargs):
        return self.call(name, payload, **kwargs)[3]
