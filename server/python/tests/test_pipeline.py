# -*- coding: utf-8 -*-
"""What the call pipeline's shortcuts must not change: lazily built attributes, skipped hooks,
per-class plans, the generic path for unusual classes, SimpleIO fast paths and response copies."""

import datetime
import pickle
import sys
import unittest

from support import CID, RuntimeTestCase, _runtime, make_req, native

from zato.common.ext.bunch import Bunch
from zato.server.service import Service
from zato.server.service.reqresp import Response, SimpleIOPayload
from zato.server.service.support import ChannelInfo, ServiceLogger, wsgi_environ

HEADER = 'from zato.server.service import Service, Int\n'


def http_req(name, payload=None, **kwargs):
    kwargs.setdefault('method', 'GET')
    kwargs.setdefault('params', {'id': '7'})
    kwargs.setdefault('get', {'q': 'search', 'many': ['a', 'b']})
    req = make_req(name, payload, **kwargs)
    req['channel']['security'] = {'id': 1, 'name': 'sec', 'type': 'basic_auth', 'username': 'joe'}
    req['environ'] = {'extra': 'env'}
    return req


class LazyAttributesTestCase(RuntimeTestCase):

    SOURCE = HEADER + '''
captured = {}

class Capture(Service):
    def handle(self):
        captured.clear()
        captured['self'] = self
        kind = self.request.payload
        if kind == 'change-first':
            # Changing these before the first read must not change what the lazy attributes were built from.
            self.cid = 'changed'
            self.name = 'changed'
        if kind == 'assign':
            self.logger = 'my logger'
            self.chan = 'my chan'
            self.environ = {'mine': True}
        captured['logger'] = self.logger
        captured['channel'] = self.channel
        captured['chan'] = self.chan
        captured['environ'] = self.environ
        captured['wsgi_environ'] = self.wsgi_environ
        captured['invocation_time'] = self.invocation_time
        captured['http'] = self.request.http
        captured['input'] = self.request.input
        captured['channel_params'] = self.request.channel_params
        self.response.payload = 'ok'
'''

    def setUp(self):
        super().setUp()
        self.deploy(self.SOURCE, 'capture.py')

    def captured(self):
        return sys.modules['capture'].captured

    def test_values_are_those_of_eager_construction(self):
        req = http_req('capture.capture')
        before = datetime.datetime.utcnow()
        self.call_req(req)
        after = datetime.datetime.utcnow()
        out = self.captured()

        self.assertIsInstance(out['logger'], ServiceLogger)
        self.assertEqual((out['logger'].cid, out['logger'].name), (CID, 'capture.capture'))

        channel = out['channel']
        self.assertIsInstance(channel, ChannelInfo)
        self.assertIs(out['chan'], channel)
        expected = ChannelInfo(req['channel'])
        for attr in ('id', 'name', 'type', 'data_format', 'is_internal', 'match_target', 'url_path',
                'merge_url_params_req', 'impl', 'security'):
            self.assertEqual(getattr(channel, attr), getattr(expected, attr), attr)

        self.assertIs(type(out['environ']), Bunch)
        self.assertEqual(out['environ'], {'extra': 'env'})
        self.assertEqual(out['wsgi_environ'], wsgi_environ(req['http'], req['channel']))
        self.assertEqual(out['wsgi_environ']['QUERY_STRING'], 'q=search&many=a&many=b')

        invocation_time = out['invocation_time']
        self.assertIsInstance(invocation_time, datetime.datetime)
        self.assertIsNone(invocation_time.tzinfo)
        self.assertTrue(before - datetime.timedelta(seconds=1) <= invocation_time <= after)

        http = out['http']
        self.assertEqual(http.to_dict(), {'method': 'GET', 'path': '/test', 'params': {'id': '7'},
            'GET': {'q': 'search', 'many': ['a', 'b']}, 'POST': {}, 'headers': {'x-test': '1'}, 'user_agent': 'tests/1.0'})
        self.assertIs(type(out['input']), Bunch)
        self.assertEqual(out['input'], {'q': 'search', 'many': ['a', 'b'], 'id': '7'})
        self.assertEqual(out['channel_params'], {})

        service = out['self']
        self.assertIsNone(service.transport)
        self.assertIsNone(service.request.transport)
        self.assertTrue(service.request.merge_channel_params)

    def test_built_once_per_call_and_fresh_per_call(self):
        self.call_req(http_req('capture.capture'))
        first = self.captured()
        service = first['self']
        self.assertIs(service.logger, first['logger'])
        self.assertIs(service.request.http, first['http'])
        self.assertIs(service.wsgi_environ, first['wsgi_environ'])
        first_values = dict(first)
        self.call_req(http_req('capture.capture'))
        second = self.captured()
        for key in ('logger', 'channel', 'environ', 'wsgi_environ', 'http', 'input', 'channel_params'):
            self.assertIsNot(second[key], first_values[key], key)

    def test_built_from_the_start_of_the_call(self):
        self.call_req(http_req('capture.capture', 'change-first'))
        logger = self.captured()['logger']
        self.assertEqual((logger.cid, logger.name), (CID, 'capture.capture'))

    def test_assigned_values_win(self):
        self.call_req(http_req('capture.capture', 'assign'))
        out = self.captured()
        self.assertEqual(out['logger'], 'my logger')
        self.assertEqual(out['chan'], 'my chan')
        self.assertEqual(out['environ'], {'mine': True})
        # Only chan was replaced; channel is still the object both names started with.
        self.assertIsInstance(out['channel'], ChannelInfo)

    def test_generated_cid_is_used_by_logger(self):
        req = http_req('capture.capture')
        req['cid'] = ''
        self.call_req(req)
        service = self.captured()['self']
        self.assertEqual(len(service.cid), 24)
        self.assertEqual(self.captured()['logger'].cid, service.cid)
        self.assertEqual(service.request.cid, service.cid)

    def test_missing_request_keys_are_tolerated(self):
        self.assertEqual(_runtime.invoke({'name': 'capture.capture'})[3], 'ok')
        out = self.captured()
        self.assertEqual(len(out['self'].cid), 24)
        self.assertEqual(out['environ'], {})
        self.assertEqual(out['input'], {})
        self.assertIsNone(out['http'].method)

    def test_not_available_before_the_call_starts(self):
        source = HEADER + '''
class Early(Service):
    def __init__(self):
        self.seen = [hasattr(self, name) for name in ('logger', 'channel', 'environ', 'wsgi_environ',
            'invocation_time', 'cid', 'request')]
    def handle(self):
        self.response.payload = {'seen': self.seen, 'later': self.logger.name}
'''
        self.deploy(source, 'early.py')
        self.assertEqual(self.payload_of('early.early'), {'seen': [False] * 7, 'later': 'early.early'})

    def call_req(self, req):
        return _runtime.invoke(req)


class HookPlanTestCase(RuntimeTestCase):

    SOURCE = HEADER + '''
calls = []

class Base(Service):
    def before_handle(self):
        calls.append('base.before_handle')
    def after_handle(self):
        calls.append('base.after_handle')
    def finalize_handle(self):
        calls.append('base.finalize_handle')

class Child(Base):
    def before_handle(self):
        super().before_handle()
        calls.append('child.before_handle')
    def handle(self):
        calls.append('child.handle')

class Mixin:
    def accept(self):
        calls.append('mixin.accept')
        return True
    def validate_output(self):
        calls.append('mixin.validate_output')

class WithMixin(Mixin, Service):
    def handle(self):
        calls.append('with-mixin.handle')

class Plain(Service):
    def handle(self):
        calls.append('plain.handle')
'''

    def setUp(self):
        super().setUp()
        self.deploy(self.SOURCE, 'hookplan.py')
        self.calls = sys.modules['hookplan'].calls
        self.calls.clear()

    def test_inherited_and_overridden_hooks_run(self):
        self.call('hookplan.child')
        self.assertEqual(self.calls, ['base.before_handle', 'child.before_handle', 'child.handle',
            'base.after_handle', 'base.finalize_handle'])

    def test_base_class_alone(self):
        with self.assertRaises(NotImplementedError):
            self.call('hookplan.base')
        self.assertEqual(self.calls, ['base.before_handle', 'base.finalize_handle'])

    def test_hooks_from_a_mixin(self):
        self.call('hookplan.with-mixin')
        self.assertEqual(self.calls, ['mixin.accept', 'with-mixin.handle', 'mixin.validate_output'])

    def test_class_without_hooks_skips_them(self):
        plan = _runtime._registry['hookplan.plain'].plan
        self.assertTrue(plan.is_simple)
        for hook in ('accept', 'validate_input', 'before_handle', 'after_handle', 'validate_output', 'finalize_handle'):
            self.assertFalse(getattr(plan, hook), hook)
        self.assertEqual(dict(plan.verbs), {})

        # Service's own no-op hooks are not called at all.
        called = []
        originals = {}
        for hook in ('accept', 'validate_input', 'before_handle', 'after_handle', 'validate_output', 'finalize_handle'):
            originals[hook] = vars(Service)[hook]
            setattr(Service, hook, lambda self, _hook=hook: called.append(_hook) or True)
        try:
            self.call('hookplan.plain')
        finally:
            for hook, func in originals.items():
                setattr(Service, hook, func)
        self.assertEqual(called, [])
        self.assertEqual(self.calls, ['plain.handle'])

    def test_plan_sees_changes_made_by_after_add_to_store(self):
        source = HEADER + '''
calls = []
class Late(Service):
    @classmethod
    def after_add_to_store(cls, logger):
        cls.before_handle = lambda self: calls.append('added before_handle')
    def handle(self):
        calls.append('handle')
'''
        self.deploy(source, 'late.py')
        self.call('late.late')
        self.assertEqual(sys.modules['late'].calls, ['added before_handle', 'handle'])


class GenericPathTestCase(RuntimeTestCase):
    """Classes that customise instance set-up are handled exactly as before the shortcuts existed."""

    SOURCE = HEADER + '''
import logging
calls = []

class CustomInit(Service):
    def __init__(self):
        super().__init__()
        self.before_handle = lambda: calls.append('instance before_handle')
        self.handle_GET = lambda: calls.append('instance handle_GET')
    def handle(self):
        calls.append('handle')

class Tracking(Service):
    def __setattr__(self, name, value):
        calls.append(name)
        super().__setattr__(name, value)
    def handle(self):
        self.response.payload = {'logger': type(self.logger).__name__, 'channel': self.channel.name}

class ShadowedLogger(Service):
    logger = logging.getLogger('shadow')
    def handle(self):
        self.response.payload = [type(self.logger).__name__, self.logger.name]

class Named(Service):
    name = 'explicit.name'
    def handle(self):
        self.response.payload = [self.name, self.logger.name]
'''

    def setUp(self):
        super().setUp()
        self.deploy(self.SOURCE, 'generic.py')
        self.calls = sys.modules['generic'].calls
        self.calls.clear()

    def plan(self, name):
        return _runtime._registry[name].plan

    def test_which_classes_take_the_generic_path(self):
        self.assertFalse(self.plan('generic.custom-init').is_simple)
        self.assertFalse(self.plan('generic.tracking').is_simple)
        self.assertFalse(self.plan('generic.shadowed-logger').is_simple)
        # A plain class attribute named like a stored attribute does not need the generic path.
        self.assertTrue(self.plan('explicit.name').is_simple)

    def test_instance_level_hooks_and_handlers(self):
        self.call('generic.custom-init')
        self.assertEqual(self.calls, ['instance before_handle', 'handle'])
        self.calls.clear()
        self.call('generic.custom-init', method='GET')
        self.assertEqual(self.calls, ['instance before_handle', 'instance handle_GET'])

    def test_setattr_sees_every_attribute(self):
        self.assertEqual(self.payload_of('generic.tracking', method='GET'), {'logger': 'ServiceLogger',
            'channel': 'test.channel'})
        for name in ('name', 'impl_name', 'cid', 'data_format', 'transport', 'invocation_time', 'wsgi_environ',
                'channel', 'chan', 'environ', 'logger', 'time', 'config', 'user_config', 'server', 'request', 'response'):
            self.assertIn(name, self.calls)

    def test_runtime_values_win_over_class_attributes(self):
        self.assertEqual(self.payload_of('generic.shadowed-logger'), ['ServiceLogger', 'generic.shadowed-logger'])
        self.assertEqual(self.payload_of('explicit.name'), ['explicit.name', 'explicit.name'])


class HandlerChoiceTestCase(RuntimeTestCase):

    SOURCE = HEADER + '''
class Override(Service):
    def accept(self):
        override = self.request.http.headers.get('x-method-override')
        if override:
            self.request.http.method = override
        return True
    def handle_GET(self):
        self.response.payload = 'get'
    def handle_DELETE(self):
        self.response.payload = 'delete'

class Custom(Service):
    def handle_PURGE(self):
        self.response.payload = 'purge'
    def handle_get(self):
        self.response.payload = 'lower-case is never a verb handler'
    def handle(self):
        self.response.payload = 'generic'

class OnlyCustom(Service):
    def handle_PURGE(self):
        self.response.payload = 'purge'
'''

    def setUp(self):
        super().setUp()
        self.deploy(self.SOURCE, 'handlers.py')

    def test_method_changed_by_a_hook_picks_the_handler(self):
        req = make_req('handlers.override', method='GET')
        self.assertEqual(_runtime.invoke(req)[3], 'get')
        req['http']['headers']['x-method-override'] = 'delete'
        self.assertEqual(_runtime.invoke(req)[3], 'delete')

    def test_non_standard_and_lower_case_verbs(self):
        self.assertEqual(self.payload_of('handlers.custom', method='PURGE'), 'purge')
        self.assertEqual(self.payload_of('handlers.custom', method='get'), 'generic')
        self.assertEqual(self.payload_of('handlers.custom'), 'generic')
        self.assertEqual(self.payload_of('handlers.only-custom', method='purge'), 'purge')
        # No standard verb handler: no 405, handle() is Service.handle.
        with self.assertRaises(NotImplementedError):
            self.call('handlers.only-custom', method='GET')

    def test_405_without_method(self):
        with self.assertRaises(_runtime.ServiceError) as ctx:
            self.call('handlers.override')
        self.assertEqual((ctx.exception.status, str(ctx.exception), ctx.exception.headers),
            (405, 'Method not allowed: (none)', {'Allow': 'GET, DELETE'}))


class SimpleIOPayloadTestCase(RuntimeTestCase):

    def test_method_names_as_elements(self):
        source = HEADER + '''
class Names(Service):
    output = 'get', 'update', 'is_set', 'append', '-other'
    def handle(self):
        p = self.response.payload
        p.get = 1
        p.update = 2
        p.is_set = 'no'
        p['append'] = 4
        # Reading the names still gives the methods, as it always did.
        p.update({'other': p.get('get') + p['update']})
        assert p.is_set is True and callable(p.append) and p.getvalue()['is_set'] == 'no'
'''
        self.deploy(source, 'names.py')
        self.assertEqual(self.payload_of('names.names'), {'get': 1, 'update': 2, 'is_set': False, 'append': 4, 'other': 3})

    def test_touched_but_empty(self):
        source = HEADER + '''
class Touched(Service):
    output = '-a'
    def handle(self):
        kind = self.request.payload
        if kind == 'update':
            self.response.payload.update()
        elif kind == 'set-and-delete':
            self.response.payload.a = 1
            del self.response.payload.a
        elif kind == 'empty-dict':
            self.response.payload = {}
        elif kind == 'empty-list':
            self.response.payload = []
'''
        self.deploy(source, 'touched.py')
        self.assertIsNone(self.payload_of('touched.touched'))
        self.assertEqual(self.payload_of('touched.touched', 'update'), {'a': None})
        self.assertEqual(self.payload_of('touched.touched', 'set-and-delete'), {'a': None})
        self.assertEqual(self.payload_of('touched.touched', 'empty-dict'), {'a': None})
        self.assertEqual(self.payload_of('touched.touched', 'empty-list'), [])

    def test_assigned_dict_is_kept_by_reference(self):
        source = HEADER + '''
class ByRef(Service):
    output = 'a', '-b'
    def handle(self):
        data = {'a': 1}
        self.response.payload = data
        self.response.payload.b = 2
        data['a'] = 'changed later'
'''
        self.deploy(source, 'byref.py')
        self.assertEqual(self.payload_of('byref.by-ref'), {'a': 'changed later', 'b': 2})

    def test_direct_construction(self):
        payload = SimpleIOPayload()
        self.assertFalse(payload.is_set)
        payload.x = 1
        self.assertTrue(payload.is_set)
        self.assertEqual((payload['x'], payload.get('x'), 'x' in payload, len(payload)), (1, 1, True, 1))
        self.assertEqual(payload.getvalue(), {'x': 1})
        with self.assertRaises(AttributeError):
            payload.missing
        response = Response(SimpleIOPayload())
        response.payload = {'a': 1}
        self.assertIsInstance(response.payload, SimpleIOPayload)
        response.payload.b = 2
        self.assertEqual(response.payload.getvalue(), {'a': 1, 'b': 2})
        plain = Response()
        self.assertEqual((plain.payload, plain.status_code, plain.content_type, plain.headers), ('', 200, None, {}))


class SimpleIOInputTestCase(RuntimeTestCase):

    SOURCE = HEADER + '''
captured = {}
class Echo(Service):
    input = 'a', 'b', '-c', '-keys'
    def handle(self):
        inp = self.request.input
        captured['input'] = inp
        self.response.payload = {'a': inp.a, 'c': inp.c, 'keys_is_method': callable(inp.keys),
            'keys_value': inp['keys'], 'has_x': hasattr(inp, 'x')}
        inp.x = 'set'
        del inp.a
        self.response.payload['after'] = [inp.x, hasattr(inp, 'a'), inp.get('a', 'gone')]
'''

    def setUp(self):
        super().setUp()
        self.deploy(self.SOURCE, 'sioin.py')

    def test_input_behaves_as_a_bunch(self):
        out = self.payload_of('sioin.echo', {'a': 1, 'b': 2, 'keys': 'k'})
        self.assertEqual(out, {'a': 1, 'c': None, 'keys_is_method': True, 'keys_value': 'k', 'has_x': False,
            'after': ['set', False, 'gone']})
        inp = sys.modules['sioin'].captured['input']
        self.assertIsInstance(inp, Bunch)
        self.assertEqual(repr(inp), "Bunch(b=2, c=None, keys='k', x='set')")
        self.assertEqual(type(inp.copy()), Bunch)
        copied = pickle.loads(pickle.dumps(inp))
        self.assertIs(type(copied), Bunch)
        self.assertEqual(copied, inp)
        self.assertEqual(copied.b, 2)

    def test_missing_inputs_listed_together(self):
        with self.assertRaises(_runtime.ServiceError) as ctx:
            self.call('sioin.echo', {'c': 1})
        self.assertEqual((ctx.exception.status, str(ctx.exception)), (400, 'Missing input: a, b'))
        with self.assertRaises(_runtime.ServiceError) as ctx:
            self.call('sioin.echo', {})
        self.assertEqual(str(ctx.exception), 'Missing input: a, b')
        with self.assertRaises(_runtime.ServiceError) as ctx:
            self.call('sioin.echo', None)
        self.assertEqual(str(ctx.exception), 'Missing input: a, b')

    def test_query_string_and_message_together(self):
        out = self.payload_of('sioin.echo', {'a': 'msg'}, method='GET', get={'b': 'qs', 'c': 'qs', 'a': 'qs'})
        self.assertEqual(out['a'], 'msg')
        self.assertEqual(out['c'], 'qs')

    def test_dict_subclass_payload(self):
        out = self.payload_of('sioin.echo', Bunch(a=1, b=2))
        self.assertEqual(out['a'], 1)


class OutputTestCase(RuntimeTestCase):

    def test_plain_elements_missing_and_non_plain_values(self):
        source = HEADER + '''
import datetime, decimal
class Out(Service):
    output = 'a', 'b', '-when', '-price'
    def handle(self):
        if self.request.payload == 'incomplete':
            self.response.payload.when = 1
            return
        self.response.payload.a = (1, 2)
        self.response.payload.b = {'nested': decimal.Decimal('1.5')}
        self.response.payload.when = datetime.date(2024, 1, 2)
'''
        self.deploy(source, 'out.py')
        self.assertEqual(self.payload_of('out.out'), {'a': [1, 2], 'b': {'nested': '1.5'}, 'when': '2024-01-02',
            'price': None})
        with self.assertRaises(Exception) as ctx:
            self.call('out.out', 'incomplete')
        self.assertEqual(str(ctx.exception), 'Missing output: a, b')

    def test_returned_containers_are_copies(self):
        source = HEADER + '''
CONSTANT = {'k': 'v'}
ROWS = [1, 2]
class Child(Service):
    def handle(self):
        self.response.payload = ROWS if self.request.payload == 'list' else CONSTANT
class Parent(Service):
    def handle(self):
        result = self.invoke('copies.child')
        result['k'] = 'mutated by parent'
        self.response.payload = result
'''
        self.deploy(source, 'copies.py')
        module = sys.modules['copies']
        out = self.payload_of('copies.child')
        self.assertEqual(out, {'k': 'v'})
        self.assertIsNot(out, module.CONSTANT)
        rows = self.payload_of('copies.child', 'list')
        self.assertEqual(rows, [1, 2])
        self.assertIsNot(rows, module.ROWS)
        self.assertEqual(self.payload_of('copies.parent'), {'k': 'mutated by parent'})
        self.assertEqual(module.CONSTANT, {'k': 'v'})

    def test_response_attribute_conversions(self):
        source = HEADER + '''
class Conv(Service):
    def handle(self):
        kind = self.request.payload
        if kind == 'status-text':
            self.response.status_code = '202'
        elif kind == 'status-bool':
            self.response.status_code = True
        elif kind == 'content-type':
            self.response.content_type = b'text/plain'.decode()
            self.response.payload = 7
        elif kind == 'replaced':
            from zato.server.service.reqresp import Response
            self.response = Response({'fresh': True})
            self.response.headers['X-A'] = 1
'''
        self.deploy(source, 'conv.py')
        self.assertEqual(self.call('conv.conv', 'status-text'), (202, None, {}, ''))
        self.assertEqual(self.call('conv.conv', 'status-bool'), (1, None, {}, ''))
        self.assertEqual(self.call('conv.conv', 'content-type'), (200, 'text/plain', {}, '7'))
        self.assertEqual(self.call('conv.conv', 'replaced'), (200, None, {'X-A': '1'}, {'fresh': True}))
        status, _, _, _ = self.call('conv.conv', 'status-text')
        self.assertIs(type(status), int)


class StateTestCase(RuntimeTestCase):

    def test_init_after_deploy_is_seen_by_calls(self):
        source = HEADER + '''
class Info(Service):
    def handle(self):
        self.response.payload = [self.server.name, self.server.cluster_name, self.time is not None]
'''
        self.deploy(source, 'info.py')
        self.assertEqual(self.payload_of('info.info'), ['server1', 'cluster1', True])
        _runtime.init({'server_name': 'server2', 'cluster_name': 'cluster2'})
        self.assertEqual(self.payload_of('info.info'), ['server2', 'cluster2', True])

    def test_logging_in_hooks_uses_the_call_cid(self):
        source = HEADER + '''
import logging
class Logs(Service):
    def before_handle(self):
        logging.getLogger('lib').info('from stdlib')
    def handle(self):
        raise_in = self.request.payload
    def finalize_handle(self):
        raise RuntimeError('boom')
'''
        self.deploy(source, 'logs.py')
        self.call('logs.logs')
        self.assertIn((20, CID, 'lib', 'from stdlib'), native.logs)
        errors = [entry for entry in native.logs if entry[0] == 40]
        self.assertEqual(len(errors), 1)
        self.assertEqual(errors[0][1:3], (CID, 'logs.logs'))


if __name__ == '__main__':
    unittest.main()
