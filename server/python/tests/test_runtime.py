# -*- coding: utf-8 -*-

import logging
import os
import sys
import tempfile
import unittest

from support import CID, RuntimeTestCase, _runtime, make_req, native

HEADER = 'from zato.server.service import Service\n'


class HandlerTestCase(RuntimeTestCase):

    VERBS = HEADER + '''
class Verbs(Service):
    def handle_GET(self):
        self.response.payload = 'get'
    def handle_POST(self):
        self.response.payload = 'post'

class Both(Service):
    def handle_GET(self):
        self.response.payload = 'get'
    def handle(self):
        self.response.payload = 'generic'
'''

    def test_per_verb_handlers(self):
        self.deploy(self.VERBS, 'verbs.py')
        self.assertEqual(self.payload_of('verbs.verbs', method='GET'), 'get')
        self.assertEqual(self.payload_of('verbs.verbs', method='post'), 'post')
        self.assertEqual(self.payload_of('verbs.both', method='GET'), 'get')
        self.assertEqual(self.payload_of('verbs.both', method='DELETE'), 'generic')
        self.assertEqual(self.payload_of('verbs.both'), 'generic')

    def test_no_handler_for_verb_is_405(self):
        self.deploy(self.VERBS, 'verbs.py')
        with self.assertRaises(_runtime.ServiceError) as ctx:
            self.call('verbs.verbs', method='DELETE')
        self.assertEqual(ctx.exception.status, 405)
        self.assertEqual(str(ctx.exception), 'Method not allowed: DELETE')
        self.assertEqual(ctx.exception.headers, {'Allow': 'GET, POST'})

    def test_accept_false(self):
        self.deploy(HEADER + 'class No(Service):\n    def accept(self):\n        return self.request.payload == "ok"\n'
            '    def handle(self):\n        self.response.payload = "handled"\n', 'acc.py')
        self.assertEqual(self.payload_of('acc.no', 'ok'), 'handled')
        with self.assertRaises(_runtime.ServiceError) as ctx:
            self.call('acc.no', 'nope')
        self.assertEqual((ctx.exception.status, str(ctx.exception)), (400, 'Request not accepted'))

    def test_http_exceptions(self):
        source = HEADER + (
            'from zato.common.exception import BadRequest, Unauthorized, Forbidden, NotFound, MethodNotAllowed\n'
            'class Raiser(Service):\n'
            '    def handle(self):\n'
            '        kind = self.request.payload\n'
            '        if kind == "bad": raise BadRequest(self.cid, "Invalid customer")\n'
            '        if kind == "auth": raise Unauthorized(self.cid, "Who are you", "Basic realm=x")\n'
            '        if kind == "forbidden": raise Forbidden(self.cid)\n'
            '        if kind == "missing": raise NotFound(self.cid, "No such thing")\n'
            '        if kind == "method": raise MethodNotAllowed(self.cid, "Nope")\n'
            '        raise ValueError("plain error")\n')
        self.deploy(source, 'raiser.py')
        expected = {'bad': (400, 'Invalid customer'), 'auth': (401, 'Who are you'),
            'forbidden': (403, 'You are not allowed to access this resource'), 'missing': (404, 'No such thing'),
            'method': (405, 'Nope')}
        for kind, (status, message) in expected.items():
            with self.assertRaises(_runtime.ServiceError) as ctx:
                self.call('raiser.raiser', kind)
            self.assertEqual((ctx.exception.status, ctx.exception.message), (status, message))
        with self.assertRaises(_runtime.ServiceError) as ctx:
            self.call('raiser.raiser', 'auth')
        self.assertEqual(ctx.exception.headers, {'WWW-Authenticate': 'Basic realm=x'})
        with self.assertRaises(ValueError) as ctx:
            self.call('raiser.raiser', 'other')
        self.assertEqual(str(ctx.exception), 'plain error')

    def test_unknown_service(self):
        with self.assertRaises(LookupError) as ctx:
            self.call('no.such.service')
        self.assertEqual(ctx.exception.args, ('no.such.service',))

    def test_response_attributes_and_plain_conversion(self):
        source = HEADER + (
            'import datetime, decimal, uuid\n'
            'from zato.common.ext.bunch import Bunch\n'
            'class Resp(Service):\n'
            '    def handle(self):\n'
            '        self.response.status_code = 201\n'
            '        self.response.content_type = "application/vnd.test+json"\n'
            '        self.response.headers["X-Count"] = 3\n'
            '        self.response.payload = Bunch(d=decimal.Decimal("1.10"), t=datetime.date(2024, 5, 6),\n'
            '            u=uuid.UUID(int=2), nested=[Bunch(x=(1, 2))], b=b"bytes")\n'
            'class Raw(Service):\n'
            '    def handle(self):\n'
            '        self.response.payload = b"\\x00\\x01" if self.request.payload else 5\n')
        self.deploy(source, 'resp.py')
        status, content_type, headers, payload = self.call('resp.resp')
        self.assertEqual((status, content_type, headers), (201, 'application/vnd.test+json', {'X-Count': '3'}))
        self.assertEqual(payload, {'d': '1.10', 't': '2024-05-06', 'u': '00000000-0000-0000-0000-000000000002',
            'nested': [{'x': [1, 2]}], 'b': 'bytes'})
        self.assertIs(type(payload), dict)
        self.assertIs(type(payload['nested'][0]), dict)
        self.assertEqual(self.payload_of('resp.raw', 'yes'), b'\x00\x01')
        self.assertEqual(self.payload_of('resp.raw'), '5')


class HooksTestCase(RuntimeTestCase):

    SOURCE = HEADER + '''
calls = []

class Hooks(Service):
    def accept(self):
        calls.append('accept')
        return True
    def validate_input(self):
        calls.append('validate_input')
        if self.request.payload == 'invalid':
            raise ValueError('bad input')
    def before_handle(self):
        calls.append('before_handle')
        if self.request.payload == 'hook-error':
            raise RuntimeError('before failed')
    def handle(self):
        calls.append('handle')
        self.response.payload = 'done'
    def after_handle(self):
        calls.append('after_handle')
    def validate_output(self):
        calls.append('validate_output')
    def finalize_handle(self):
        calls.append('finalize_handle')
        raise RuntimeError('finalize failed')
    def before_job(self):
        calls.append('before_job')
    def before_interval_based_job(self):
        calls.append('before_interval_based_job')
    def after_job(self):
        calls.append('after_job')
    def after_interval_based_job(self):
        calls.append('after_interval_based_job')
'''

    def calls(self):
        return sys.modules['hooks'].calls

    def test_order(self):
        self.deploy(self.SOURCE, 'hooks.py')
        self.assertEqual(self.payload_of('hooks.hooks'), 'done')
        self.assertEqual(self.calls(), ['accept', 'validate_input', 'before_handle', 'handle', 'after_handle',
            'validate_output', 'finalize_handle'])
        # finalize_handle's error was logged with its traceback, not raised.
        errors = [entry for entry in native.logs if entry[0] == logging.ERROR]
        self.assertEqual(len(errors), 1)
        self.assertEqual(errors[0][1:3], (CID, 'hooks.hooks'))
        self.assertIn('finalize_handle', errors[0][3])
        self.assertIn('RuntimeError: finalize failed', errors[0][3])

    def test_scheduler_job_hooks(self):
        self.deploy(self.SOURCE, 'hooks.py')
        self.payload_of('hooks.hooks', channel_type='scheduler', environ={'job_type': 'interval_based'})
        self.assertEqual(self.calls(), ['accept', 'before_job', 'before_interval_based_job', 'validate_input',
            'before_handle', 'handle', 'after_handle', 'after_job', 'after_interval_based_job', 'validate_output',
            'finalize_handle'])

    def test_before_handle_error_does_not_fail_the_call(self):
        self.deploy(self.SOURCE, 'hooks.py')
        self.assertEqual(self.payload_of('hooks.hooks', 'hook-error'), 'done')
        self.assertIn('handle', self.calls())
        self.assertTrue(any('before failed' in entry[3] for entry in native.logs))

    def test_validate_input_error_propagates_and_finalize_still_runs(self):
        self.deploy(self.SOURCE, 'hooks.py')
        with self.assertRaises(ValueError):
            self.call('hooks.hooks', 'invalid')
        self.assertEqual(self.calls(), ['accept', 'validate_input', 'finalize_handle'])


class InvokeTestCase(RuntimeTestCase):

    SOURCE = HEADER + '''
from zato.common.exception import BadRequest

class Child(Service):
    input = 'value', '-is_loud'
    output = 'echo', '-cid'

    def handle(self):
        if self.request.input.value == 'raise':
            raise BadRequest(self.cid, 'child says no')
        text = str(self.request.input.value)
        self.response.payload.echo = text.upper() if self.request.input.is_loud else text
        self.response.payload.cid = self.cid + '/' + self.channel.type

class Wrapped(Service):
    def handle(self):
        self.response.payload = {'response': {'inner': True}}

class Parent(Service):
    def handle(self):
        kind = self.request.payload['kind']
        if kind == 'python':
            self.response.payload = self.invoke('invoke-demo.child', {'value': 'hi', 'is_loud': 'true'})
        elif kind == 'class':
            self.response.payload = self.invoke(Child, '{"value": "json text"}')
        elif kind == 'wrapped':
            self.response.payload = {'out': self.invoke('invoke-demo.wrapped')}
        elif kind == 'native':
            self.response.payload = self.invoke('zato.ping')
        elif kind == 'native-unwrap':
            self.response.payload = [self.invoke('zato.wrapped', {'a': 1}), self.invoke('zato.prefixed'),
                self.invoke('builtin.two-keys')]
        elif kind == 'bunch':
            result = self.invoke('zato.ping', as_bunch=True)
            self.response.payload = result.pong
        elif kind == 'missing-input':
            self.invoke('invoke-demo.child', {})
        elif kind == 'catch':
            try:
                self.invoke('invoke-demo.child', {'value': 'raise'})
            except BadRequest as e:
                self.response.payload = 'caught: ' + e.msg
        elif kind == 'propagate':
            self.invoke('invoke-demo.child', {'value': 'raise'})
        elif kind == 'unknown':
            self.invoke('no.such.thing')
        elif kind == 'async':
            self.response.payload = self.invoke_async('invoke-demo.child', {'value': 1})
        elif kind == 'async-named':
            self.response.payload = self.invoke_async('invoke-demo.child', {'value': 2},
                callback=['invoke-demo.child', 'other.callback'], expiration=0, cid='given-cid')
'''

    def setUp(self):
        super().setUp()
        self.deploy(self.SOURCE, 'invoke_demo.py')

    def parent(self, kind):
        return self.payload_of('invoke-demo.parent', {'kind': kind})

    def test_python_to_python(self):
        self.assertEqual(self.parent('python'), {'echo': 'HI', 'cid': CID + '/invoke'})

    def test_class_argument_and_json_text(self):
        self.assertEqual(self.parent('class'), {'echo': 'json text', 'cid': CID + '/invoke'})

    def test_python_result_unwrapped(self):
        self.assertEqual(self.parent('wrapped'), {'out': {'inner': True}})

    def test_native(self):
        self.assertEqual(self.parent('native'), {'pong': 'zato'})
        self.assertEqual(native.invocations, [('zato.ping', '', CID, 'invoke', 'dict')])

    def test_native_unwrap_rule(self):
        self.assertEqual(self.parent('native-unwrap'), [{'inner': {'a': 1}}, {'ok': True}, {'response': 1, 'other': 2}])

    def test_as_bunch(self):
        self.assertEqual(self.parent('bunch'), 'zato')

    def test_child_service_error_propagates(self):
        with self.assertRaises(_runtime.ServiceError) as ctx:
            self.parent('missing-input')
        self.assertEqual(str(ctx.exception), 'Missing input: value')
        with self.assertRaises(_runtime.ServiceError) as ctx:
            self.parent('propagate')
        self.assertEqual((ctx.exception.status, str(ctx.exception)), (400, 'child says no'))

    def test_parent_can_catch_child_bad_request(self):
        self.assertEqual(self.parent('catch'), 'caught: child says no')

    def test_unknown_target_is_not_a_lookup_error(self):
        from zato.common.exception import ServiceMissingException
        with self.assertRaises(ServiceMissingException) as ctx:
            self.parent('unknown')
        self.assertNotIsInstance(ctx.exception, LookupError)
        self.assertIn('no.such.thing', str(ctx.exception))

    def test_invoke_async(self):
        self.assertEqual(self.parent('async'), '0123456789abcdef01234567')
        # No `invoke-demo.parent-async-callback` is deployed: no callback; upstream's default
        # expiration (15 s); a new CID.
        self.assertEqual(native.async_calls, [('invoke-demo.child', {'value': 1}, 'invoke-async', [], 15.0, '')])
        del native.async_calls[:]
        self.parent('async-named')
        self.assertEqual(native.async_calls, [('invoke-demo.child', {'value': 2}, 'invoke-async',
            ['invoke-demo.child', 'other.callback'], 0.0, 'given-cid')])


class ContextTestCase(RuntimeTestCase):

    def test_attributes(self):
        source = HEADER + '''
import datetime
class Ctx(Service):
    def handle(self):
        r = self.request
        self.response.payload = {
            'name': self.name, 'impl_name': self.impl_name, 'cid': self.cid, 'data_format': self.data_format,
            'transport': self.transport, 'chan': [self.chan.id, self.chan.name, self.chan.type, self.chan.match_target,
                self.channel.is_internal, self.channel.security.username, self.channel.impl],
            'wsgi': [self.wsgi_environ['REQUEST_METHOD'], self.wsgi_environ['PATH_INFO'],
                self.wsgi_environ['QUERY_STRING'], self.wsgi_environ['HTTP_X_TEST']],
            'http': [r.http.method, r.http.path, r.http.params.id, r.http.GET.q, r.http.headers['x-test'],
                r.http.user_agent],
            'input': dict(r.input), 'raw': r.raw_request, 'text': r.text, 'bunch': r.to_bunch().a.b,
            'environ': self.environ.extra, 'server': [self.server.name, self.server.cluster_name],
            'time': [len(self.time.utcnow()), isinstance(self.time.utcnow(needs_format=False), datetime.datetime),
                self.time.today() == datetime.datetime.utcnow().strftime('%Y-%m-%d')],
            'invocation_time': isinstance(self.invocation_time, datetime.datetime),
            'channel_params': r.channel_params,
            'has_kvdb': hasattr(self, 'kvdb'),
        }
        self.sleep(0)
'''
        self.deploy(source, 'ctx.py')
        req = make_req('ctx.ctx', {'a': {'b': 'deep'}}, method='GET', params={'id': '7'}, get={'q': 'search'},
            environ={'extra': 'env'}, raw_request='{"a": {"b": "deep"}}')
        req['channel']['security'] = {'id': 1, 'name': 'sec', 'type': 'basic_auth', 'username': 'joe'}
        out = _runtime.invoke(req)[3]
        self.assertEqual(out['name'], 'ctx.ctx')
        self.assertEqual(out['impl_name'], 'ctx.Ctx')
        self.assertEqual(out['cid'], CID)
        self.assertEqual(out['data_format'], 'json')
        self.assertIsNone(out['transport'])
        self.assertEqual(out['chan'], [1, 'test.channel', 'http-soap', '/test', False, 'joe', None])
        self.assertEqual(out['wsgi'], ['GET', '/test', 'q=search', '1'])
        self.assertEqual(out['http'], ['GET', '/test', '7', 'search', '1', 'tests/1.0'])
        self.assertEqual(out['input'], {'q': 'search', 'id': '7'})
        self.assertEqual((out['raw'], out['text'], out['bunch']), ('{"a": {"b": "deep"}}',) * 2 + ('deep',))
        self.assertEqual(out['environ'], 'env')
        self.assertEqual(out['server'], ['server1', 'cluster1'])
        self.assertEqual(out['time'], [26, True, True])
        self.assertTrue(out['invocation_time'])
        self.assertEqual(out['channel_params'], {})
        self.assertTrue(out['has_kvdb'])

    def test_logger_routing(self):
        source = HEADER + '''
import logging
class Log(Service):
    def handle(self):
        self.logger.info('Hello %s, you are %d', 'Zato', 3)
        self.logger.debug('debug')
        self.logger.warning('warn %(x)s', {'x': 1})
        self.logger.error('no args %s')
        self.logger.critical('crit')
        try:
            1 / 0
        except ZeroDivisionError:
            self.logger.exception('Failed: %s', 'math')
        logging.getLogger('my.lib').warning('from stdlib %s', 'logging')
'''
        self.deploy(source, 'logsvc.py')
        self.call('logsvc.log')
        logs = native.logs
        self.assertEqual(logs[:5], [
            (20, CID, 'logsvc.log', 'Hello Zato, you are 3'),
            (10, CID, 'logsvc.log', 'debug'),
            (30, CID, 'logsvc.log', 'warn 1'),
            (40, CID, 'logsvc.log', 'no args %s'),
            (50, CID, 'logsvc.log', 'crit'),
        ])
        level, cid, name, text = logs[5]
        self.assertEqual((level, cid, name), (40, CID, 'logsvc.log'))
        self.assertTrue(text.startswith('Failed: math\nTraceback (most recent call last):'))
        self.assertIn('ZeroDivisionError: division by zero', text)
        self.assertEqual(logs[6], (30, CID, 'my.lib', 'from stdlib logging'))

    def test_user_config(self):
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(tmp, 'crm.conf'), 'w') as f:
                f.write('top_level = yes\n[api]\naddress = https://example.com/%s\nTimeout = 30\n')
            with open(os.path.join(tmp, 'ignored.txt'), 'w') as f:
                f.write('[x]\na=1\n')
            with open(os.path.join(tmp, 'broken.conf'), 'w') as f:
                f.write('[unterminated\n')
            _runtime.init({'user_config_dir': tmp})
        self.assertEqual(len([entry for entry in native.logs if 'broken.conf' in entry[3]]), 1)
        source = HEADER + '''
class Conf(Service):
    def handle(self):
        self.response.payload = [self.config.user.crm.api.address, self.user_config.crm.api.Timeout,
            self.user_config.crm.top_level, self.user_config is self.config.user, sorted(self.user_config)]
'''
        self.deploy(source, 'conf.py')
        self.assertEqual(self.payload_of('conf.conf'), ['https://example.com/%s', '30', 'yes', True, ['crm']])

    def test_init_defaults(self):
        _runtime.init({})
        state = _runtime._state
        self.assertEqual(state.sio_config['int_exact'], ['id'])
        self.assertIn('xApiKey', state.sio_config['secret_exact'])
        self.assertEqual(dict(state.config), {'user': {}})


if __name__ == '__main__':
    unittest.main()
