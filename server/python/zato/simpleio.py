# -*- coding: utf-8 -*-
"""SimpleIO element types, in upstream's module zato.simpleio: `Int('-age')` is an optional Int named age.

Each type converts request values in `from_input` and response values in `to_output`, raising
ValueError/TypeError on values it cannot convert; the caller reports those with the element's name.

The rest of the module is the other public names of upstream's zato.simpleio (the Cython SimpleIO):
the backward-compatible aliases (Boolean, Integer, ...), the configuration and definition holders,
SIO_TYPE_MAP and the helpers. Parsing and serializing are done by zato.server.service.simpleio, so
upstream's engine class CySimpleIO is not available here.
"""

import logging
from copy import deepcopy
from json import JSONEncoder

from zato.common import convert
# ZATO_NONE is unused here; upstream's module has it, so user code may import it from here.
from zato.common.api import APISPEC, DATA_FORMAT, ZATO_NONE  # noqa: F401
from zato.common.ext.bunch import Bunch

logger = logging.getLogger('zato')

# Upstream's default of optional elements in definitions older than its Cython rewrite.
backward_compat_default_value = ''

# `-name` is an optional element.
prefix_optional = '-'

DATA_FORMAT_CSV = DATA_FORMAT.CSV
DATA_FORMAT_DICT = DATA_FORMAT.DICT
DATA_FORMAT_JSON = DATA_FORMAT.JSON
DATA_FORMAT_POST = DATA_FORMAT.POST
DATA_FORMAT_FORM = DATA_FORMAT.FORM_DATA


class SIODefinitionError(Exception):
    """An invalid SimpleIO definition, reported at deploy time."""


class _NotGiven:
    """A value that was not given on input or output; always false."""

    def __repr__(self):
        return 'NotGiven'

    def __str__(self):
        return '<_NotGiven>'

    def __bool__(self):
        return False


class _InternalNotGiven(_NotGiven):
    """Like NotGiven, for the runtime's own use only."""

    def __repr__(self):
        return 'InternalNotGiven'

    def __str__(self):
        return '<_InternalNotGiven>'


NotGiven = _NotGiven()
InternalNotGiven = _InternalNotGiven()


class ParsingError(Exception):
    pass


class SerialisationError(Exception):
    pass


class ElemType:
    """Numeric type codes of elements (`elem._type`), as upstream numbers them."""

    as_is = 1000
    bool = 2000
    csv = 3000
    date = 4000
    date_time = 5000
    decimal = 5000  # upstream gives decimal the same code as date_time
    dict_ = 6000
    dict_list = 7000
    float_ = 8000
    int_ = 9000
    list_ = 10000
    secret = 11000
    text = 12000
    utc = 13000  # deprecated upstream
    uuid = 14000
    user_defined = 1000000


sio_text_type = ElemType.text


class Elem:
    """Base of all typed elements; `Int('-age')` is an optional element named `age`."""

    type_name = 'AsIs'
    _type = ElemType.as_is

    # Types for which an empty string cannot be a real value (it usually means "not given" in a query string).
    empty_is_missing = False

    def __init__(self, name, *args, **kwargs):
        if not isinstance(name, str) or not name.lstrip('-'):
            raise SIODefinitionError('Invalid SimpleIO element name: {!r}'.format(name))
        self.is_marked_optional = name.startswith('-')
        self.name = name[1:] if self.is_marked_optional else name
        self.default = kwargs.get('default', NotGiven)
        self.args = args
        self.kwargs = kwargs
        self.is_required = not self.is_marked_optional

    def from_input(self, value):
        return value

    def to_output(self, value):
        return value

    @property
    def pretty(self):
        """The name as a definition spells it: `-name` if optional."""
        return self.name if self.is_required else '-' + self.name

    # Elements sort and hash by name, as upstream's do.

    def __lt__(self, other):
        return self.name < (other.name if isinstance(other, Elem) else other)

    def __gt__(self, other):
        return self.name > (other.name if isinstance(other, Elem) else other)

    def __hash__(self):
        return hash(self.name)

    def __repr__(self):
        return '<{} {}{}>'.format(type(self).__name__, '' if self.is_required else '-', self.name)


class AsIs(Elem):
    pass


class Opaque(AsIs):
    type_name = 'Opaque'


class Text(Elem):
    type_name = 'Text'
    _type = ElemType.text
    is_secret = False

    def __init__(self, name, *args, **kwargs):
        super().__init__(name, *args, **kwargs)
        # How bytes become text.
        self.encoding = kwargs.get('encoding', 'utf8')

    def from_input(self, value):
        if isinstance(value, (bytes, bytearray)):
            return bytes(value).decode(self.encoding)
        return convert.parse_text(value)

    to_output = from_input


class Secret(Text):
    """Text that is a secret (a password, a token), as upstream's implicit secret elements are."""

    is_secret = True


class Bool(Elem):
    type_name = 'Bool'
    _type = ElemType.bool
    empty_is_missing = True

    def from_input(self, value):
        return convert.parse_bool(value)

    to_output = from_input


class Int(Elem):
    type_name = 'Int'
    _type = ElemType.int_
    empty_is_missing = True

    def from_input(self, value):
        return convert.parse_int(value)

    to_output = from_input


class Float(Elem):
    type_name = 'Float'
    _type = ElemType.float_
    empty_is_missing = True

    def from_input(self, value):
        return convert.parse_float(value)

    to_output = from_input


class Decimal(Elem):
    type_name = 'Decimal'
    _type = ElemType.decimal
    empty_is_missing = True

    def from_input(self, value):
        return convert.parse_decimal(value)

    def to_output(self, value):
        return str(convert.parse_decimal(value))


class _DateBase(Elem):
    empty_is_missing = True
    parser = None

    def from_input(self, value):
        return type(self).parser(value)

    def to_output(self, value):
        if isinstance(value, str):
            return value
        return type(self).parser(value).isoformat()


class Date(_DateBase):
    type_name = 'Date'
    _type = ElemType.date
    parser = staticmethod(convert.parse_date)


class DateTime(_DateBase):
    type_name = 'DateTime'
    _type = ElemType.date_time
    parser = staticmethod(convert.parse_datetime)


class UTC(_DateBase):
    type_name = 'UTC'
    _type = ElemType.utc
    parser = staticmethod(convert.parse_utc)


class UUID(Elem):
    type_name = 'UUID'
    _type = ElemType.uuid
    empty_is_missing = True

    def from_input(self, value):
        return convert.parse_uuid(value)

    def to_output(self, value):
        return str(convert.parse_uuid(value) if isinstance(value, str) else value)


class CSV(Elem):
    type_name = 'CSV'
    _type = ElemType.csv

    def from_input(self, value):
        return convert.parse_csv(value)

    def to_output(self, value):
        if isinstance(value, (list, tuple, set)):
            return ','.join(str(item) for item in value)
        return str(value)


class List(Elem):
    type_name = 'List'
    _type = ElemType.list_

    def from_input(self, value):
        if isinstance(value, (list, tuple)):
            return list(value)
        raise TypeError('not a list')


class DictList(Elem):
    type_name = 'DictList'
    _type = ElemType.dict_list

    def from_input(self, value):
        if isinstance(value, (list, tuple)) and all(isinstance(item, dict) for item in value):
            return [Bunch(item) for item in value]
        raise TypeError('not a list of objects')


class Dict(Elem):
    type_name = 'Dict'
    _type = ElemType.dict_

    def from_input(self, value):
        if isinstance(value, dict):
            return Bunch(value)
        raise TypeError('not an object')


class _Plain(AsIs):
    """A plain string name with no implicit type: values pass through unchanged."""


_conversion_errors = (ValueError, TypeError, ArithmeticError)

# ################################################################################################################################
# Upstream's older names of the element types

Boolean = Bool
Integer = Int
ListOfDicts = DictList
Unicode = Text


def is_sio_bool(value):
    return isinstance(value, Bool)


def is_sio_int(value):
    return isinstance(value, Int)

# ################################################################################################################################
# Input and output helpers


class SIOJSONEncoder(JSONEncoder):
    """JSON encoder that writes bytes as text in `bytes_to_str_encoding`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.bytes_to_str_encoding = None

    def default(self, value):
        if isinstance(value, bytes):
            return value.decode(self.bytes_to_str_encoding or 'utf8')
        # Upstream's encoder writes anything else it does not know as null, so does this one.
        return None


class ServiceInput(Bunch):
    """A Bunch of a service's input whose missing attributes are reported with the keys it has."""

    __slots__ = ()

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError('No such key `{}` among `{}`'.format(name, self)) from None

    def deepcopy(self):
        return deepcopy(self)

    def require_any(self, *elems):
        """Raises ValueError unless at least one of the named elements has a true value."""
        if not any(self.get(name) for name in elems):
            raise ValueError('At least one of `{}` is required'.format(', '.join(elems)))


class SIODefault:
    """Default values of optional input and output elements of one definition."""

    def __init__(self, input_value, output_value, default_value):
        if input_value is InternalNotGiven:
            input_value = backward_compat_default_value if default_value is InternalNotGiven else default_value
        if output_value is InternalNotGiven:
            # Upstream ignores default_value for output here: a missing output default is always ''.
            output_value = backward_compat_default_value
        self.input_value = input_value
        self.output_value = output_value


class SIOSkipEmpty:
    """Which empty input and output values a definition drops (True: all of them, or a set of names)
    and which it keeps even if empty."""

    def __init__(self, input_def, output_def, force_empty_input_set, force_empty_output_set, empty_output_value):
        self.skip_all_empty_input, self.skip_input_set = self._read(input_def)
        self.skip_all_empty_output, self.skip_output_set = self._read(output_def)
        self.empty_output_value = empty_output_value
        self.force_empty_input_set = set(force_empty_input_set or [])
        self.force_empty_output_set = set(force_empty_output_set or [])
        self.has_skip_input_set = bool(self.skip_input_set)

    @staticmethod
    def _read(definition):
        """(skip all, names to skip) from True, False, NotGiven or an iterable of names."""
        if definition is NotGiven or definition is False:
            return False, set()
        if definition is True:
            return True, set()
        return False, set(definition)

# ################################################################################################################################
# Types of elements in API specifications


class SIO_TYPE_MAP:
    """(type, format) of each element type in an OpenAPI 3 specification and in Zato's own one.

    Upstream's Opaque is AsIs itself, so its map entry for AsIs is the one it wrote for Opaque;
    ours are two classes and both get that value.
    """

    class OPEN_API_V3:
        name = APISPEC.OPEN_API_V3
        STRING = ('string', 'string')
        DEFAULT = STRING
        INTEGER = ('integer', 'int32')
        FLOAT = ('float', 'float')
        BOOLEAN = ('boolean', 'boolean')
        LIST = ('array', 'array')
        DICT = ('object', 'object')
        map = {
            AsIs: ('string', 'binary'),
            Bool: BOOLEAN,
            CSV: STRING,
            Dict: ('object', 'object'),
            DictList: ('string', 'binary'),
            Float: ('number', 'float'),
            Int: INTEGER,
            List: ('array', 'array'),
            Opaque: ('string', 'binary'),
            Text: STRING,
            UTC: ('string', 'date-time'),
        }

    class ZATO:
        name = 'zato'
        STRING = ('string', 'string')
        DEFAULT = STRING
        INTEGER = ('integer', 'integer')
        FLOAT = ('float', 'float')
        BOOLEAN = ('boolean', 'boolean')
        LIST = ('list', 'list')
        DICT = ('dict', 'dict')
        map = {
            AsIs: ('opaque', 'opaque'),
            Bool: BOOLEAN,
            CSV: STRING,
            Dict: ('dict', 'dict'),
            DictList: ('list', 'list-of-dicts'),
            Float: ('number', 'float'),
            Int: INTEGER,
            List: ('list', 'list'),
            Opaque: ('opaque', 'opaque'),
            Text: STRING,
            UTC: ('string', 'date-time-utc'),
        }

    def __iter__(self):
        return iter((self.OPEN_API_V3, self.ZATO))

# ################################################################################################################################
# Server-wide SimpleIO configuration (simple-io.conf)


class ConfigItem:
    """Names that get one implicit type: exact names, prefixes and suffixes."""

    def __init__(self):
        self.exact = set()
        self.prefixes = set()
        self.suffixes = set()

    def __str__(self):
        return '<{} at {} e:{}, p:{}, s:{}>'.format(type(self).__name__, hex(id(self)), sorted(self.exact),
            sorted(self.prefixes), sorted(self.suffixes))


class BoolConfig(ConfigItem):
    """Names of boolean elements."""


class IntConfig(ConfigItem):
    """Names of integer elements."""


class SecretConfig(ConfigItem):
    """Names of secret elements (passwords, tokens, API keys)."""


class SIOServerConfig:
    """simple-io.conf as upstream's server holds it; zato.common.simpleio_.get_sio_server_config fills it in."""

    def __init__(self):
        self.bool_config = None
        self.int_config = None
        self.secret_config = None
        self.json_encoder = SIOJSONEncoder()
        self.input_required_name = None
        self.input_optional_name = None
        self.output_required_name = None
        self.output_optional_name = None
        self.default_value = None
        self.default_input_value = None
        self.default_output_value = None
        self.response_elem = None
        self.prefix_as_is = None
        self.prefix_bool = None
        self.prefix_csv = None
        self.prefix_date = None
        self.prefix_date_time = None
        self.prefix_dict = None
        self.prefix_dict_list = None
        self.prefix_float = None
        self.prefix_int = None
        self.prefix_list = None
        self.prefix_text = None
        self.prefix_uuid = None
        self.bytes_to_str_encoding = None
        self.skip_empty_keys = None
        self.skip_empty_request_keys = None
        self.skip_empty_response_keys = None

# ################################################################################################################################
# One service's definition, as upstream's engine keeps it


class SIOList:
    """The elements of one of input/output required/optional."""

    def __init__(self):
        self.elems = []
        self.elems_by_name = {}

    def __iter__(self):
        return iter(self.elems)

    def __len__(self):
        return len(self.elems)

    def set_elems(self, elems):
        self.elems[:] = elems
        for elem in self.elems:
            self.elems_by_name[elem.name] = elem

    def get_elem_by_name(self, name):
        return self.elems_by_name[name]

    def get_elem_names(self, use_sorted=False):
        names = [elem.name for elem in self.elems]
        return sorted(names) if use_sorted else names


class CSVConfig:
    """CSV settings of one definition (csv module dialect and options)."""

    def __init__(self):
        self.dialect = 'excel'
        self.common_config = {}
        self.writer_config = {}
        self.should_write_header = True


class XMLConfig:
    """XML settings of one definition."""

    def __init__(self):
        self.namespace = InternalNotGiven
        self.encoding = 'UTF-8'
        self.declaration = True
        self.pretty_print = InternalNotGiven


class SIODefinition:
    """A parsed SimpleIO definition: the four element lists, defaults, empty-key rules, CSV and XML settings."""

    def __init__(self, sio_default, skip_empty):
        self.sio_default = sio_default
        self.skip_empty = skip_empty
        self._input_required = SIOList()
        self._input_optional = SIOList()
        self._output_required = SIOList()
        self._output_optional = SIOList()
        self._csv_config = CSVConfig()
        self._xml_config = XMLConfig()
        self.output_repeated = False
        self.has_input_required = False
        self.has_input_optional = False
        self.has_input_declared = False
        self.has_output_required = False
        self.has_output_optional = False
        self.has_output_declared = False
        self.all_input_elem_names = []
        self.all_output_elem_names = []
        self.all_input_elems = []
        self.all_output_elems = []
        self._service_name = None
        self._response_elem = None
        self._has_response_elem = False

    def get_input_required(self):
        return self._input_required

    def get_input_optional(self):
        return self._input_optional

    def get_output_required(self):
        return self._output_required

    def get_output_optional(self):
        return self._output_optional

    def get_input_required_elem_names(self):
        return self._input_required.get_elem_names()

    def get_input_optional_elem_names(self):
        return self._input_optional.get_elem_names()

    def get_output_required_elem_names(self):
        return self._output_required.get_elem_names()

    def get_output_optional_elem_names(self):
        return self._output_optional.get_elem_names()

    def get_elems_pretty(self, required_list, optional_list):
        """E.g. `a, b; -c, -d`: required names, then optional ones with their dash."""
        required = ', '.join(required_list.get_elem_names())
        optional = ', '.join('-' + name for name in optional_list.get_elem_names())
        return '; '.join(part for part in (required, optional) if part)

    def get_input_pretty(self):
        return self.get_elems_pretty(self._input_required, self._input_optional)

    def get_output_pretty(self):
        return self.get_elems_pretty(self._output_required, self._output_optional)

    def __str__(self):
        return '<{} at {}, input:`{}`, output:`{}`>'.format(type(self).__name__, hex(id(self)), self.get_input_pretty(),
            self.get_output_pretty())


class CySimpleIO:
    """Upstream's SimpleIO engine, attached to each service class as `_sio`. Here SimpleIO definitions are read,
    and input parsed and output serialized, by zato.server.service.simpleio instead, so it cannot be used."""

    is_dataclass = False

    def __init__(self, *args, **kwargs):
        raise NotImplementedError('CySimpleIO is upstream\'s internal SimpleIO engine, not available in this server; '
            'SimpleIO definitions are handled by zato.server.service.simpleio')

    @staticmethod
    def attach_sio(*args, **kwargs):
        raise NotImplementedError('CySimpleIO.attach_sio is not available in this server; '
            'SimpleIO definitions are handled by zato.server.service.simpleio')
