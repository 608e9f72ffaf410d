# -*- coding: utf-8 -*-

import unittest

from support import RuntimeTestCase, _runtime  # noqa: F401  (installs the fake native module)

from zato.common.util.api import convert_impl_name, uncamelify


class UncamelifyTestCase(unittest.TestCase):

    def test_uncamelify(self):
        self.assertEqual(uncamelify('MyService'), 'my-service')
        self.assertEqual(uncamelify('GetMarketCap'), 'get-market-cap')
        self.assertEqual(uncamelify('HTTPHandler'), 'http-handler')
        self.assertEqual(uncamelify('ILikeToReadWSDLDocs'), 'i-like-to-read-wsdl-docs')
        self.assertEqual(uncamelify('lower'), 'lower')

    def test_convert_impl_name(self):
        self.assertEqual(convert_impl_name('demo.MyService'), 'demo.my-service')
        self.assertEqual(convert_impl_name('my_api.GetUser'), 'my-api.get-user')
        self.assertEqual(convert_impl_name('demo.HTTPHandler'), 'demo.http-handler')
        self.assertEqual(convert_impl_name('demo._Private'), 'demo._private')


class DeployNamingTestCase(RuntimeTestCase):

    def names(self, source, file_name):
        return [item['name'] for item in self.deploy(source, file_name)]

    def test_module_underscore_and_camel_case(self):
        source = 'from zato.server.service import Service\n' \
                 'class GetUser(Service):\n    def handle(self): pass\n' \
                 'class HTTPHandler(Service):\n    def handle(self): pass\n'
        self.assertEqual(self.names(source, 'my_api.py'), ['my-api.get-user', 'my-api.http-handler'])

    def test_full_path_and_pyw(self):
        source = 'from zato.server.service import Service\nclass MyService(Service):\n    def handle(self): pass\n'
        self.assertEqual(self.names(source, '/opt/pickup/billing.pyw'), ['billing.my-service'])

    def test_explicit_name_and_inherited_name(self):
        source = (
            'from zato.server.service import Service\n'
            'class Base(Service):\n    name = "custom.base"\n    def handle(self): pass\n'
            'class Child(Base):\n    pass\n'
            'class Other(Service):\n    name = 123\n    def handle(self): pass\n'
        )
        result = self.deploy(source, 'named.py')
        # Child inherits the explicit name and, being later, replaces Base under it.
        self.assertEqual([(item['name'], item['class_name']) for item in result],
            [('custom.base', 'Child'), ('named.other', 'Other')])

    def test_underscore_class_deployed_imported_and_dont_import_skipped(self):
        source = (
            'from zato.server.service import Service\n'
            'from zato.server.service import Service as Imported\n'
            'class _Helper(Service):\n    def handle(self): pass\n'
            'class Skipped(Service):\n    zato_dont_import = True\n    def handle(self): pass\n'
            'class NotAService:\n    pass\n'
        )
        result = self.deploy(source, 'misc.py')
        self.assertEqual(result, [{'name': 'misc._helper', 'impl_name': 'misc._Helper',
            'class_name': '_Helper', 'file_name': 'misc.py'}])

    def test_class_imported_from_other_service_module_not_redeployed(self):
        self.deploy('from zato.server.service import Service\nclass Shared(Service):\n    def handle(self): pass\n',
            'shared_mod.py')
        result = self.deploy('from shared_mod import Shared\n', 'importer.py')
        self.assertEqual(result, [])
        self.assertEqual(_runtime.service_names(), ['shared-mod.shared'])

    def test_get_name_classmethod(self):
        self.deploy('from zato.server.service import Service\n'
                    'class GetMarketCap(Service):\n    def handle(self):\n'
                    '        self.response.payload = self.get_name() + "|" + self.name\n', 'finance.py')
        self.assertEqual(self.payload_of('finance.get-market-cap'), 'finance.get-market-cap|finance.get-market-cap')


if __name__ == '__main__':
    unittest.main()
