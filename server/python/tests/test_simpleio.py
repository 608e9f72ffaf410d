# -*- coding: utf-8 -*-

import unittest

from support import RuntimeTestCase, _runtime

HEADER = 'from zato.server.service import Service, AsIs, Bool, CSV, Date, DateTime, Decimal, Dict, DictList, ' \
         'Float, Int, List, Opaque, Text, UTC, UUID, Model\n'


def echo_service(class_body, class_name='Echo'):
    """A service whose body is given; by default it echoes request.input as repr-able types."""
    return HEADER + 'class {}(Service):\n{}'.format(class_name, class_body)


ECHO_TYPES = '''
    def handle(self):
        self.response.payload = {key: [type(value).__name__, value] for key, value in self.request.input.items()}
'''


class ShortFormTestCase(RuntimeTestCase):

    def test_single_string_and_tuple(self):
        self.deploy(echo_service("    input = 'a', '-b'\n" + ECHO_TYPES), 'sio.py')
        self.assertEqual(self.payload_of('sio.echo', {'a': 'x'}), {'a': ['str', 'x'], 'b': ['NoneType', None]})
        self.assertEqual(self.payload_of('sio.echo', {'a': 1, 'b': 'y', 'extra': 1}), {'a': ['int', 1], 'b': ['str', 'y']})

    def test_missing_required_lists_every_field(self):
        self.deploy(echo_service("    input = 'name', 'email', '-phone', Int('age')\n" + ECHO_TYPES), 'sio.py')
        with self.assertRaises(_runtime.ServiceError) as ctx:
            self.call('sio.echo', {'phone': '1'})
        self.assertEqual(ctx.exception.status, 400)
        self.assertEqual(str(ctx.exception), 'Missing input: name, email, age')

    def test_implicit_types(self):
        self.deploy(echo_service("    input = 'id', 'user_id', 'is_active', '-has_x', 'password', '-page_size', 'plain'\n"
            + ECHO_TYPES), 'sio.py')
        payload = {'id': '5', 'user_id': 7, 'is_active': 'TRUE', 'has_x': 'off', 'password': 123, 'page_size': '',
            'plain': 3}
        self.assertEqual(self.payload_of('sio.echo', payload), {
            'id': ['int', 5], 'user_id': ['int', 7], 'is_active': ['bool', True], 'has_x': ['bool', False],
            'password': ['str', '123'], 'page_size': ['NoneType', None], 'plain': ['int', 3]})

    def test_implicit_types_follow_init_config(self):
        _runtime.init({'simple_io': {'int_suffixes': ['_num'], 'bool_prefixes': ['flag_']}})
        self.deploy(echo_service("    input = 'a_num', 'flag_x', 'b_id'\n" + ECHO_TYPES), 'sio.py')
        self.assertEqual(self.payload_of('sio.echo', {'a_num': '1', 'flag_x': '1', 'b_id': '2'}),
            {'a_num': ['int', 1], 'flag_x': ['bool', True], 'b_id': ['str', '2']})

    def test_conversion_errors_name_element_and_value(self):
        self.deploy(echo_service("    input = 'user_id', Bool('flag'), Date('-when')\n" + ECHO_TYPES), 'sio.py')
        with self.assertRaises(_runtime.ServiceError) as ctx:
            self.call('sio.echo', {'user_id': 'abc', 'flag': 'maybe', 'when': '2020-13-45'})
        self.assertEqual(ctx.exception.status, 400)
        self.assertEqual(str(ctx.exception), "Invalid value for user_id (Int): 'abc'; "
            "Invalid value for flag (Bool): 'maybe'; Invalid value for when (Date): '2020-13-45'")

    def test_explicit_types(self):
        body = ("    input = Int('i'), Float('f'), Decimal('d'), Date('dt'), DateTime('dtm'), UTC('u'), UUID('uu'), "
                "CSV('c'), List('l'), DictList('dl'), Dict('di'), AsIs('a'), Opaque('o'), Text('t'), Bool('-is_b')\n"
                "    def handle(self):\n"
                "        i = self.request.input\n"
                "        self.response.payload = {'types': {k: type(v).__name__ for k, v in i.items()},\n"
                "            'u_tz': str(i.u.tzinfo), 'd': str(i.d), 'c': i.c, 'dl_x': i.dl[0].x, 'di_k': i.di.k,\n"
                "            'dtm_hour': i.dtm.hour, 't': i.t}\n")
        self.deploy(echo_service(body), 'sio.py')
        payload = {'i': '10', 'f': '1.5', 'd': '0.1', 'dt': '2024-02-03', 'dtm': '2024-02-03T04:05:06',
            'u': '2024-02-03T04:05:06+02:00', 'uu': '12345678-1234-5678-1234-567812345678', 'c': 'a, b,c',
            'l': [1, 2], 'dl': [{'x': 1}], 'di': {'k': 'v'}, 'a': {'any': 1}, 'o': object.__name__, 't': 5}
        out = self.payload_of('sio.echo', payload)
        self.assertEqual(out['types'], {'i': 'int', 'f': 'float', 'd': 'Decimal', 'dt': 'date', 'dtm': 'datetime',
            'u': 'datetime', 'uu': 'UUID', 'c': 'list', 'l': 'list', 'dl': 'list', 'di': 'Bunch', 'a': 'dict',
            'o': 'str', 't': 'str', 'is_b': 'NoneType'})
        self.assertEqual(out['u_tz'], 'UTC')
        self.assertEqual(out['d'], '0.1')
        self.assertEqual(out['c'], ['a', 'b', 'c'])
        self.assertEqual((out['dl_x'], out['di_k'], out['dtm_hour'], out['t']), (1, 'v', 4, '5'))

    def test_list_type_rejects_scalars(self):
        self.deploy(echo_service("    input = List('l'), Dict('-d')\n" + ECHO_TYPES), 'sio.py')
        with self.assertRaises(_runtime.ServiceError) as ctx:
            self.call('sio.echo', {'l': 'not-a-list', 'd': [1]})
        self.assertEqual(str(ctx.exception), "Invalid value for l (List): 'not-a-list'; Invalid value for d (Dict): [1]")

    def test_path_params_and_query_string(self):
        self.deploy(echo_service("    input = 'a', 'b', '-c'\n" + ECHO_TYPES), 'sio.py')
        # Message first, then path params, then the query string.
        out = self.payload_of('sio.echo', {'a': 'msg'}, method='GET', params={'a': 'path', 'b': 'path'},
            get={'b': 'qs', 'c': 'qs'})
        self.assertEqual(out, {'a': ['str', 'msg'], 'b': ['str', 'path'], 'c': ['str', 'qs']})
        # merge_url_params_req: path params win over the message.
        out = self.payload_of('sio.echo', {'a': 'msg'}, method='GET', params={'a': 'path', 'b': 'path'}, merge=True)
        self.assertEqual(out['a'], ['str', 'path'])
        # ... and the query string over path params (url_params_pri=qs-over-path, the default).
        out = self.payload_of('sio.echo', {'a': 'msg'}, method='GET', params={'a': 'path', 'b': 'path'},
            get={'b': 'qs'}, merge=True)
        self.assertEqual((out['a'], out['b']), (['str', 'path'], ['str', 'qs']))
        out = self.payload_of('sio.echo', {'a': 'msg'}, method='GET', params={'a': 'path', 'b': 'path'},
            get={'b': 'qs'}, merge=True, url_params_pri='path-over-qs', params_pri='msg-over-channel-params')
        self.assertEqual((out['a'], out['b']), (['str', 'msg'], ['str', 'path']))

    def test_form_data(self):
        self.deploy(echo_service("    input = 'name', '-is_ok'\n" + ECHO_TYPES), 'sio.py')
        self.assertEqual(self.payload_of('sio.echo', {'name': 'x', 'is_ok': 'on'}, data_format='form'),
            {'name': ['str', 'x'], 'is_ok': ['bool', True]})

    def test_xml_and_soap_input(self):
        self.deploy(echo_service("    input = 'name', 'user_id'\n" + ECHO_TYPES), 'sio.py')
        xml = '<request><name>Zato</name><user_id>3</user_id></request>'
        self.assertEqual(self.payload_of('sio.echo', xml, data_format='xml'),
            {'name': ['str', 'Zato'], 'user_id': ['int', 3]})
        soap = ('<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
                '<ns:get xmlns:ns="urn:x"><ns:name>S</ns:name><ns:user_id>4</ns:user_id></ns:get>'
                '</soapenv:Body></soapenv:Envelope>')
        self.assertEqual(self.payload_of('sio.echo', soap, data_format='soap'),
            {'name': ['str', 'S'], 'user_id': ['int', 4]})
        with self.assertRaises(_runtime.ServiceError) as ctx:
            self.call('sio.echo', '<broken', data_format='xml')
        self.assertEqual(ctx.exception.status, 400)

    def test_output_types_and_missing_required_output(self):
        body = ("    output = 'user_id', 'is_ok', Decimal('price'), DateTime('-when'), UUID('-uu'), CSV('-tags'), '-note'\n"
                "    def handle(self):\n"
                "        import datetime, decimal, uuid\n"
                "        p = self.response.payload\n"
                "        if self.request.payload == 'incomplete':\n"
                "            p.user_id = 1\n"
                "            return\n"
                "        p.user_id = '12'\n"
                "        p['is_ok'] = 'yes'\n"
                "        p.price = decimal.Decimal('1.50')\n"
                "        p.when = datetime.datetime(2024, 1, 2, 3, 4, 5)\n"
                "        p.uu = uuid.UUID(int=1)\n"
                "        p.tags = ['a', 'b']\n")
        self.deploy(echo_service(body), 'sio.py')
        self.assertEqual(self.payload_of('sio.echo'), {'user_id': 12, 'is_ok': True, 'price': '1.50',
            'when': '2024-01-02T03:04:05', 'uu': '00000000-0000-0000-0000-000000000001', 'tags': 'a,b', 'note': None})
        with self.assertRaises(Exception) as ctx:
            self.call('sio.echo', 'incomplete')
        self.assertNotIsInstance(ctx.exception, _runtime.ServiceError)
        self.assertEqual(str(ctx.exception), 'Missing output: is_ok, price')

    def test_repeated_output(self):
        body = ("    output = 'id', '-name'\n"
                "    def handle(self):\n"
                "        if self.request.payload == 'slice':\n"
                "            self.response.payload[:] = [{'id': '1', 'name': 'a'}, {'id': 2, 'extra': 'dropped'}]\n"
                "        elif self.request.payload == 'append':\n"
                "            self.response.payload.append({'id': 3})\n"
                "        else:\n"
                "            self.response.payload = [{'id': 4, 'name': 'd'}]\n")
        self.deploy(echo_service(body), 'sio.py')
        self.assertEqual(self.payload_of('sio.echo', 'slice'), [{'id': 1, 'name': 'a'}, {'id': 2, 'name': None}])
        self.assertEqual(self.payload_of('sio.echo', 'append'), [{'id': 3, 'name': None}])
        self.assertEqual(self.payload_of('sio.echo', 'assign'), [{'id': 4, 'name': 'd'}])

    def test_object_output_read_by_attribute(self):
        body = ("    output = 'id', 'name'\n"
                "    def handle(self):\n"
                "        class Row:\n"
                "            id = '9'\n"
                "            name = 'row'\n"
                "        self.response.payload = Row()\n")
        self.deploy(echo_service(body), 'sio.py')
        self.assertEqual(self.payload_of('sio.echo'), {'id': 9, 'name': 'row'})

    def test_untouched_sio_payload_is_none(self):
        self.deploy(echo_service("    output = 'a'\n    def handle(self):\n        pass\n"), 'sio.py')
        self.assertEqual(self.call('sio.echo'), (200, None, {}, None))

    def test_input_only_sio_passes_output_through(self):
        self.deploy(echo_service("    input = '-a'\n    def handle(self):\n"
                                 "        self.response.payload.anything = {'x': 1}\n"), 'sio.py')
        self.assertEqual(self.payload_of('sio.echo'), {'anything': {'x': 1}})


class ClassicFormTestCase(RuntimeTestCase):

    def test_classic_required_optional_and_defaults(self):
        body = ('    class SimpleIO:\n'
                "        input_required = ('name', Int('age'))\n"
                "        input_optional = ('nick', 'is_admin', Int('score', default=10))\n"
                "        output_required = ('greeting',)\n"
                "        output_optional = ('extra', 'nick')\n"
                "        default_input_value = 'n/a'\n"
                '    def handle(self):\n'
                '        i = self.request.input\n'
                "        self.response.payload.greeting = '{} {} {} {}'.format(i.name, i.age + 1, i.nick, i.score)\n"
                '        self.response.payload.nick = [i.nick, i.is_admin]\n')
        self.deploy(echo_service(body), 'classic.py')
        self.assertEqual(self.payload_of('classic.echo', {'name': 'A', 'age': '41'}),
            {'greeting': 'A 42 n/a 10', 'extra': None, 'nick': ['n/a', 'n/a']})
        with self.assertRaises(_runtime.ServiceError) as ctx:
            self.call('classic.echo', {})
        self.assertEqual(str(ctx.exception), 'Missing input: name, age')
        self.assertEqual(_runtime.describe('classic.echo')['input_optional'], ['nick', 'is_admin', 'score'])

    def test_classic_input_output_with_dash_convention(self):
        body = ('    class SimpleIO:\n'
                "        input = 'a', '-b'\n"
                "        output = 'c'\n"
                '    def handle(self):\n'
                "        self.response.payload.c = '{}-{}'.format(self.request.input.a, self.request.input.b)\n")
        self.deploy(echo_service(body), 'classic.py')
        self.assertEqual(self.payload_of('classic.echo', {'a': 1}), {'c': '1-None'})

    def test_response_elem_never_wraps_and_classic_wrapper_is_stripped(self):
        body = ('    class SimpleIO:\n'
                "        response_elem = 'my_response'\n"
                "        output_required = ('a',)\n"
                '    def handle(self):\n'
                "        if self.request.payload == 'wrapped':\n"
                "            self.response.payload = {'my_response': {'a': 'w'}}\n"
                '        else:\n'
                "            self.response.payload.a = 'plain'\n")
        self.deploy(echo_service(body), 'classic.py')
        self.assertEqual(self.payload_of('classic.echo'), {'a': 'plain'})
        self.assertEqual(self.payload_of('classic.echo', 'wrapped'), {'a': 'w'})

    def test_output_repeated_and_skip_empty_keys(self):
        body = ('    class SimpleIO:\n'
                "        output_required = ('id',)\n"
                "        output_optional = ('name', 'note', 'keep')\n"
                '        output_repeated = True\n'
                '        skip_empty_keys = True\n'
                "        force_empty_keys = ('keep',)\n"
                '    def handle(self):\n'
                "        self.response.payload[:] = [{'id': 1, 'name': 'x', 'note': ''}, {'id': 2}]\n")
        self.deploy(echo_service(body), 'classic.py')
        self.assertEqual(self.payload_of('classic.echo'),
            [{'id': 1, 'name': 'x', 'keep': None}, {'id': 2, 'keep': None}])

    def test_default_output_value(self):
        body = ('    class SimpleIO:\n'
                "        output_optional = ('a', 'b')\n"
                "        default_value = ''\n"
                '    def handle(self):\n'
                "        self.response.payload.a = 1\n")
        self.deploy(echo_service(body), 'classic.py')
        self.assertEqual(self.payload_of('classic.echo'), {'a': 1, 'b': ''})


class ModelTestCase(RuntimeTestCase):

    SOURCE = '''
from dataclasses import dataclass, field
from typing import List, Optional
from zato.server.service import Model, Service

@dataclass(init=False)
class Address(Model):
    city: str
    zip_code: int

@dataclass
class CreateUser(Model):
    name: str
    age: int
    address: Address
    tags: List[str] = field(default_factory=list)
    score: Optional[float] = None

@dataclass(init=False)
class UserOut(Model):
    user_name: str
    city: str

class Create(Service):
    input = CreateUser
    output = UserOut

    def handle(self):
        inp = self.request.input
        assert isinstance(inp, CreateUser) and isinstance(inp.address, Address)
        if inp.name == 'list':
            self.response.payload = [UserOut(user_name='a', city='b')]
            return
        self.response.payload = UserOut(user_name='{}/{}/{}'.format(inp.name, inp.age + 1, inp.score), city=inp.address.city)
'''

    def test_model_input_and_output(self):
        self.deploy(self.SOURCE, 'users.py')
        out = self.payload_of('users.create', {'name': 'N', 'age': '30', 'address': {'city': 'C', 'zip_code': '1'},
            'score': '2'})
        self.assertEqual(out, {'user_name': 'N/31/2.0', 'city': 'C'})
        self.assertEqual(self.payload_of('users.create', {'name': 'list', 'age': 1,
            'address': {'city': 'C', 'zip_code': 1}}), [{'user_name': 'a', 'city': 'b'}])
        self.assertEqual(_runtime.describe('users.create')['input_required'], ['name', 'age', 'address'])
        self.assertEqual(_runtime.describe('users.create')['input_optional'], ['tags', 'score'])

    def test_model_missing_and_invalid(self):
        self.deploy(self.SOURCE, 'users.py')
        with self.assertRaises(_runtime.ServiceError) as ctx:
            self.call('users.create', {'address': {'city': 'C'}})
        self.assertEqual(ctx.exception.status, 400)
        self.assertEqual(str(ctx.exception), 'Missing input: name, age, address.zip_code')
        with self.assertRaises(_runtime.ServiceError) as ctx:
            self.call('users.create', {'name': 'n', 'age': 'old', 'address': {'city': 'C', 'zip_code': 1}})
        self.assertEqual(str(ctx.exception), "Invalid value for age (int): 'old'")

    def test_model_from_query_string(self):
        self.deploy(self.SOURCE, 'users.py')
        # Fields come from path params and the query string too; 'address' there is text, not an object.
        with self.assertRaises(_runtime.ServiceError) as ctx:
            self.call('users.create', None, method='GET', params={'name': 'Q'}, get={'age': '5', 'address': 'x'})
        self.assertEqual(str(ctx.exception), "Invalid value for address (expected an object): 'x'")

    def test_model_class_must_be_dataclass(self):
        source = 'from zato.server.service import Model, Service\nclass M(Model):\n    a: int\n' \
                 'class S(Service):\n    input = M\n'
        with self.assertRaises(_runtime.DeployError) as ctx:
            self.deploy(source, 'm.py')
        self.assertIn('dataclass', ctx.exception.message)


if __name__ == '__main__':
    unittest.main()
