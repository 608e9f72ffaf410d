# -*- coding: utf-8 -*-
"""SimpleIO element types (upstream keeps them in zato.simpleio too): `Int('-age')` is an optional Int named age.

Each type converts request values in `from_input` and response values in `to_output`, raising
ValueError/TypeError on values it cannot convert; the caller reports those with the element's name.
"""

from zato.common import convert
from zato.common.ext.bunch import Bunch


class SIODefinitionError(Exception):
    """An invalid SimpleIO definition, reported at deploy time."""


class _NotGiven:
    def __repr__(self):
        return 'NotGiven'

    def __bool__(self):
        return False


NotGiven = _NotGiven()


class Elem:
    """Base of all typed elements; `Int('-age')` is an optional element named `age`."""

    type_name = 'AsIs'

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

    def __repr__(self):
        return '<{} {}{}>'.format(type(self).__name__, '' if self.is_required else '-', self.name)


class AsIs(Elem):
    pass


class Opaque(AsIs):
    type_name = 'Opaque'


class Text(Elem):
    type_name = 'Text'

    def from_input(self, value):
        return convert.parse_text(value)

    to_output = from_input


class Bool(Elem):
    type_name = 'Bool'
    empty_is_missing = True

    def from_input(self, value):
        return convert.parse_bool(value)

    to_output = from_input


class Int(Elem):
    type_name = 'Int'
    empty_is_missing = True

    def from_input(self, value):
        return convert.parse_int(value)

    to_output = from_input


class Float(Elem):
    type_name = 'Float'
    empty_is_missing = True

    def from_input(self, value):
        return convert.parse_float(value)

    to_output = from_input


class Decimal(Elem):
    type_name = 'Decimal'
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
    parser = staticmethod(convert.parse_date)


class DateTime(_DateBase):
    type_name = 'DateTime'
    parser = staticmethod(convert.parse_datetime)


class UTC(_DateBase):
    type_name = 'UTC'
    parser = staticmethod(convert.parse_utc)


class UUID(Elem):
    type_name = 'UUID'
    empty_is_missing = True

    def from_input(self, value):
        return convert.parse_uuid(value)

    def to_output(self, value):
        return str(convert.parse_uuid(value) if isinstance(value, str) else value)


class CSV(Elem):
    type_name = 'CSV'

    def from_input(self, value):
        return convert.parse_csv(value)

    def to_output(self, value):
        if isinstance(value, (list, tuple, set)):
            return ','.join(str(item) for item in value)
        return str(value)


class List(Elem):
    type_name = 'List'

    def from_input(self, value):
        if isinstance(value, (list, tuple)):
            return list(value)
        raise TypeError('not a list')


class DictList(Elem):
    type_name = 'DictList'

    def from_input(self, value):
        if isinstance(value, (list, tuple)) and all(isinstance(item, dict) for item in value):
            return [Bunch(item) for item in value]
        raise TypeError('not a list of objects')


class Dict(Elem):
    type_name = 'Dict'

    def from_input(self, value):
        if isinstance(value, dict):
            return Bunch(value)
        raise TypeError('not an object')


class _Plain(AsIs):
    """A plain string name with no implicit type: values pass through unchanged."""


_conversion_errors = (ValueError, TypeError, ArithmeticError)
