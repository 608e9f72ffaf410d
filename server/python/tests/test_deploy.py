# -*- coding: utf-8 -*-

import sys
import threading
import unittest

from support import RuntimeTestCase, _runtime, native

DEMO = '''
from zato.server.service import Service

class MyService(Service):
    input = '-name'
    output = 'salutation'

    def handle(self):
        self.response.payload.salutation = 'Howdy {}!'.format(self.request.input.name)
'''

HELLO = '''
from zato.server.service import Service

class HelloWorld(Service):
    def handle(self):
        self.response.payload = 'How goes it?'
'''


class DeployTestCase(RuntimeTestCase):

    def test_demo(self):
        result = self.deploy(DEMO, 'demo.py')
        self.assertEqual(result, [{'name': 'demo.my-service', 'impl_name': 'demo.MyService',
            'class_name': 'MyService', 'file_name': 'demo.py'}])
        self.assertEqual(self.call('demo.my-service', {'name': 'Zato'}), (200, None, {}, {'salutation': 'Howdy Zato!'}))
        self.assertTrue(_runtime.has_service('demo.my-service'))
        self.assertEqual(_runtime.describe('demo.my-service'), {
            'name': 'demo.my-service', 'impl_name': 'demo.MyService', 'file_name': 'demo.py',
            'input_required': [], 'input_optional': ['name'], 'output_required': ['salutation'],
            'output_optional': []})

    def test_hello_world(self):
        self.deploy(HELLO, 'hello.py')
        self.assertEqual(self.call('hello.hello-world'), (200, None, {}, 'How goes it?'))

    def test_zero_services(self):
        self.assertEqual(self.deploy('X = 1\n', 'helpers.py'), [])
        self.assertEqual(_runtime.service_names(), [])

    def test_staged_file_is_live_only_once_committed(self):
        self.deploy(DEMO, 'demo.py')
        module_before = sys.modules['demo']
        staged = _runtime.stage(HELLO.replace('HelloWorld', 'MyService'), 'demo.py')
        self.assertEqual([s['name'] for s in staged], ['demo.my-service'])
        # Not committed: the old code still answers; discarded, the old module is back.
        self.assertEqual(self.call('demo.my-service', {'name': 'Zato'})[3], {'salutation': 'Howdy Zato!'})
        self.assertTrue(_runtime.discard())
        self.assertIs(sys.modules['demo'], module_before)
        self.assertEqual(self.call('demo.my-service', {'name': 'Zato'})[3], {'salutation': 'Howdy Zato!'})
        # Staged and committed: the new code answers.
        _runtime.stage(HELLO.replace('HelloWorld', 'MyService'), 'demo.py')
        self.assertTrue(_runtime.commit())
        self.assertEqual(self.call('demo.my-service')[3], 'How goes it?')
        self.assertFalse(_runtime.commit())

    def test_syntax_error_leaves_registry_unchanged(self):
        self.deploy(DEMO, 'demo.py')
        before = _runtime._registry
        module_before = sys.modules['demo']
        with self.assertRaises(_runtime.DeployError) as ctx:
            self.deploy(DEMO + '\ndef broken(:\n    pass\n', 'demo.py')
        err = ctx.exception
        self.assertEqual(err.file_name, 'demo.py')
        self.assertEqual(err.line, 11)
        self.assertEqual(err.message, 'SyntaxError: invalid syntax')
        self.assertEqual(str(err), 'demo.py:11: SyntaxError: invalid syntax')
        self.assertIs(_runtime._registry, before)
        self.assertIs(sys.modules['demo'], module_before)
        self.assertEqual(self.payload_of('demo.my-service', {'name': 'A'}), {'salutation': 'Howdy A!'})

    def test_import_time_exception_leaves_registry_unchanged(self):
        self.deploy(HELLO, 'hello.py')
        source = HELLO + '\nclass Second(Service):\n    def handle(self): pass\n\ndata = {}\nvalue = data["missing"]\n'
        with self.assertRaises(_runtime.DeployError) as ctx:
            self.deploy(source, 'hello.py')
        self.assertEqual(ctx.exception.line, 12)
        self.assertEqual(ctx.exception.message, "KeyError: 'missing'")
        self.assertEqual(_runtime.service_names(), ['hello.hello-world'])

    def test_error_in_nested_function_points_at_deepest_frame_in_file(self):
        source = 'def fail():\n    raise RuntimeError("deep")\n\nfail()\n'
        with self.assertRaises(_runtime.DeployError) as ctx:
            self.deploy(source, '/srv/pickup/nested.py')
        self.assertEqual(ctx.exception.line, 2)
        self.assertEqual(str(ctx.exception), '/srv/pickup/nested.py:2: RuntimeError: deep')

    def test_new_module_not_left_in_sys_modules_after_failure(self):
        with self.assertRaises(_runtime.DeployError):
            self.deploy('raise ValueError("x")\n', 'never_ok.py')
        self.assertNotIn('never_ok', sys.modules)

    def test_invalid_simple_io_is_a_deploy_error(self):
        source = HELLO + '\nclass BadIO(Service):\n    input = 123\n    def handle(self): pass\n'
        with self.assertRaises(_runtime.DeployError) as ctx:
            self.deploy(source, 'hello.py')
        self.assertEqual(ctx.exception.line, 8)
        self.assertIn('BadIO', ctx.exception.message)
        self.assertEqual(_runtime.service_names(), [])

    def test_duplicate_element_is_a_deploy_error(self):
        source = 'from zato.server.service import Service\nclass Dup(Service):\n    input = "a", "-a"\n'
        with self.assertRaises(_runtime.DeployError) as ctx:
            self.deploy(source, 'dup.py')
        self.assertIn('Duplicate', ctx.exception.message)

    def test_redeploy_replaces_and_drops(self):
        self.deploy(HELLO + '\nclass Gone(Service):\n    def handle(self): pass\n', 'hello.py')
        self.deploy(DEMO, 'demo.py')
        self.assertEqual(_runtime.service_names(), ['demo.my-service', 'hello.gone', 'hello.hello-world'])
        self.deploy(HELLO.replace('How goes it?', 'Version 2'), 'hello.py')
        self.assertEqual(_runtime.service_names(), ['demo.my-service', 'hello.hello-world'])
        self.assertEqual(self.payload_of('hello.hello-world'), 'Version 2')

    def test_later_file_replaces_same_name(self):
        first = 'from zato.server.service import Service\nclass A(Service):\n    name = "shared.name"\n' \
                '    def handle(self): self.response.payload = "first"\n'
        self.deploy(first, 'first.py')
        self.deploy(first.replace('"first"', '"second"'), 'second.py')
        self.assertEqual(self.payload_of('shared.name'), 'second')
        self.assertEqual(_runtime.describe('shared.name')['file_name'], 'second.py')

    def test_other_files_can_import_deployed_module(self):
        self.deploy('GREETING = "hi from lib"\n', 'mylib.py')
        self.deploy('import mylib\nfrom zato.server.service import Service\n'
                    'class UseLib(Service):\n    def handle(self): self.response.payload = mylib.GREETING\n', 'user.py')
        self.assertEqual(self.payload_of('user.use-lib'), 'hi from lib')

    def test_remove(self):
        self.deploy(DEMO, 'demo.py')
        before = _runtime._registry
        self.assertTrue(_runtime.remove('demo.my-service'))
        self.assertFalse(_runtime.remove('demo.my-service'))
        self.assertIsNot(_runtime._registry, before)
        self.assertFalse(_runtime.has_service('demo.my-service'))
        self.assertIsNone(_runtime.describe('demo.my-service'))
        with self.assertRaises(LookupError):
            self.call('demo.my-service')

    def test_store_hooks(self):
        source = (
            'from zato.server.service import Service\n'
            'calls = []\n'
            'class Hooked(Service):\n'
            '    @staticmethod\n'
            '    def before_add_to_store(logger):\n'
            '        logger.info("before %s", Hooked.get_name())\n'
            '        return True\n'
            '    @staticmethod\n'
            '    def after_add_to_store(logger):\n'
            '        calls.append("after")\n'
            'class Refused(Service):\n'
            '    @staticmethod\n'
            '    def before_add_to_store(logger):\n'
            '        return False\n'
        )
        result = self.deploy(source, 'hooks.py')
        self.assertEqual([item['name'] for item in result], ['hooks.hooked'])
        self.assertEqual(sys.modules['hooks'].calls, ['after'])
        self.assertIn((20, '', 'zato.hot-deploy', 'before hooks.hooked'), native.logs)

    def test_failing_store_hook_is_deploy_error(self):
        source = ('from zato.server.service import Service\nclass H(Service):\n'
                  '    @staticmethod\n    def after_add_to_store(logger):\n        raise ValueError("nope")\n')
        with self.assertRaises(_runtime.DeployError) as ctx:
            self.deploy(source, 'failhook.py')
        self.assertEqual(ctx.exception.line, 5)
        self.assertEqual(_runtime.service_names(), [])

    def test_dataclass_with_future_annotations_in_service_file(self):
        source = (
            'from __future__ import annotations\n'
            'from dataclasses import dataclass\n'
            'from zato.server.service import Model, Service\n'
            '@dataclass(init=False)\n'
            'class Req(Model):\n    user_id: int\n    note: str = ""\n'
            'class Svc(Service):\n'
            '    input = Req\n'
            '    def handle(self):\n'
            '        self.response.payload = {"id": self.request.input.user_id, "note": self.request.input.note}\n'
        )
        self.deploy(source, 'models.py')
        self.assertEqual(self.payload_of('models.svc', {'user_id': '7'}), {'id': 7, 'note': ''})

    def test_sys_exit_at_import_is_deploy_error(self):
        with self.assertRaises(_runtime.DeployError) as ctx:
            self.deploy('import sys\nsys.exit(3)\n', 'exits.py')
        self.assertEqual((ctx.exception.line, ctx.exception.message), (2, 'SystemExit: 3'))

    def test_invocations_during_redeploys(self):
        # Readers never lock: every call must see a complete registry, either version of the file.
        self.deploy(HELLO, 'hello.py')
        errors, results = [], set()

        def reader():
            try:
                for _ in range(300):
                    results.add(self.payload_of('hello.hello-world'))
            except Exception as e:
                errors.append(e)

        threads = [threading.Thread(target=reader) for _ in range(4)]
        for thread in threads:
            thread.start()
        for idx in range(50):
            self.deploy(HELLO.replace('How goes it?', 'v{}'.format(idx % 2)), 'hello.py')
        for thread in threads:
            thread.join()
        self.assertEqual(errors, [])
        self.assertTrue(results <= {'How goes it?', 'v0', 'v1'})
        self.assertEqual(self.payload_of('hello.hello-world'), 'v1')


if __name__ == '__main__':
    unittest.main()
