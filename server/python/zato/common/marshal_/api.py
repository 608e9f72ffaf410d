# -*- coding: utf-8 -*-
"""`Model`: the dataclass base services use as `input = MyModel` / `output = MyModel`.

Upstream examples decorate models with `@dataclass(init=False)`, so Model supplies an
__init__ taking keyword arguments; `build_model` fills instances from request dicts either way.
"""

import dataclasses
import datetime as dt
import decimal
import json
import sys
import typing
import uuid

from zato.common import convert


class ModelError(ValueError):
    """Raised by build_model; `missing` and `invalid` hold every problem found, dotted for nested models."""

    def __init__(self, missing, invalid):
        self.missing = missing
        self.invalid = invalid
        parts = []
        if missing:
            parts.append('Missing input: ' + ', '.join(missing))
        parts.extend(invalid)
        super().__init__('; '.join(parts))


class Model:

    def __init__(self, **kwargs):
        # Only reached for `@dataclass(init=False)` models (or undecorated ones).
        if dataclasses.is_dataclass(self):
            for field in dataclasses.fields(self):
                if field.name in kwargs:
                    continue
                default = _field_default(field)
                if default is not _missing:
                    setattr(self, field.name, default)
        for key, value in kwargs.items():
            setattr(self, key, value)

    def __getitem__(self, key):
        return getattr(self, key)

    def get(self, key, default=None):
        return getattr(self, key, default)

    def to_dict(self):
        return convert.to_plain(self)

    def to_json(self):
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data):
        return build_model(cls, data)

    def clone(self):
        return build_model(type(self), self.to_dict())


_missing = object()


def _field_default(field):
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return _missing


def is_model_class(value):
    return isinstance(value, type) and dataclasses.is_dataclass(value)


def required_fields(cls):
    return [field.name for field in dataclasses.fields(cls) if field.init and
        field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING]


def optional_fields(cls):
    required = set(required_fields(cls))
    return [field.name for field in dataclasses.fields(cls) if field.init and field.name not in required]


def _type_hints(cls):
    try:
        module = sys.modules.get(cls.__module__)
        return typing.get_type_hints(cls, globalns=getattr(module, '__dict__', None))
    except Exception:
        # Unresolvable string annotations: fall back to whatever is there, strings are simply not converted.
        return {field.name: field.type for field in dataclasses.fields(cls)}


_simple_parsers = {
    int: convert.parse_int,
    float: convert.parse_float,
    bool: convert.parse_bool,
    decimal.Decimal: convert.parse_decimal,
    dt.datetime: convert.parse_datetime,
    dt.date: convert.parse_date,
    uuid.UUID: convert.parse_uuid,
}


def _convert(hint, value, path, missing, invalid):
    if value is None:
        return None
    origin = typing.get_origin(hint)

    # Optional[X] / X | None -> X
    if origin is typing.Union or type(hint).__name__ == 'UnionType':
        args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(args) == 1:
            return _convert(args[0], value, path, missing, invalid)
        return value

    if is_model_class(hint):
        if isinstance(hint, type) and isinstance(value, hint):
            return value
        if not isinstance(value, dict):
            invalid.append('Invalid value for {} (expected an object): {!r}'.format(path, value))
            return value
        return _build(hint, value, path + '.', missing, invalid)

    if origin in (list, typing.List) or hint in (list, typing.List):
        if not isinstance(value, (list, tuple)):
            invalid.append('Invalid value for {} (expected a list): {!r}'.format(path, value))
            return value
        args = typing.get_args(hint)
        if not args:
            return list(value)
        return [_convert(args[0], item, '{}[{}]'.format(path, idx), missing, invalid) for idx, item in enumerate(value)]

    if origin in (dict, typing.Dict) or hint in (dict, typing.Dict):
        if not isinstance(value, dict):
            invalid.append('Invalid value for {} (expected an object): {!r}'.format(path, value))
        return value

    parser = _simple_parsers.get(hint)
    if parser is not None:
        try:
            return parser(value)
        except (ValueError, TypeError, ArithmeticError):
            invalid.append('Invalid value for {} ({}): {!r}'.format(path, hint.__name__, value))
    return value


def _build(cls, data, prefix, missing, invalid):
    hints = _type_hints(cls)
    kwargs = {}
    for field in dataclasses.fields(cls):
        if not field.init:
            continue
        if field.name in data:
            kwargs[field.name] = _convert(hints.get(field.name), data[field.name], prefix + field.name, missing, invalid)
        else:
            default = _field_default(field)
            if default is _missing:
                missing.append(prefix + field.name)
            else:
                kwargs[field.name] = default

    if missing or invalid:
        return None

    if cls.__dataclass_params__.init:
        return cls(**kwargs)

    # init=False: bypass any user __init__ signature, set fields directly, run __post_init__ like dataclasses would.
    instance = cls.__new__(cls)
    for key, value in kwargs.items():
        setattr(instance, key, value)
    post_init = getattr(instance, '__post_init__', None)
    if post_init is not None:
        post_init()
    return instance


def build_model(cls, data):
    """Creates an instance of dataclass `cls` from a dict; raises ModelError listing every problem."""
    if not isinstance(data, dict):
        raise ModelError([], ['Invalid input (expected an object): {!r}'.format(data)])
    missing, invalid = [], []
    instance = _build(cls, data, '', missing, invalid)
    if missing or invalid:
        raise ModelError(missing, invalid)
    return instance
