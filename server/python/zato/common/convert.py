# -*- coding: utf-8 -*-
"""Value converters shared by SimpleIO and Model input, plus `to_plain` for responses.

Every parse_* function raises ValueError or TypeError on input it cannot convert;
callers turn that into a client error naming the element and the value.
"""

import dataclasses
import datetime as dt
import decimal
import enum
import types
import uuid
from collections import deque
from collections.abc import Mapping

_true_values = {'true', '1', 'on', 'yes', 'y', 't'}
_false_values = {'false', '0', 'off', 'no', 'n', 'f'}


def parse_bool(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _true_values:
            return True
        if lowered in _false_values:
            return False
    raise ValueError('not a boolean')


def parse_int(value):
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        # 3.0 is an int in disguise (JSON encoders do this), 3.5 is not.
        if value.is_integer():
            return int(value)
        raise ValueError('not an integer')
    if isinstance(value, decimal.Decimal):
        if value == value.to_integral_value():
            return int(value)
        raise ValueError('not an integer')
    if isinstance(value, (str, bytes)):
        return int(value.strip())
    raise TypeError('not an integer')


def parse_float(value):
    if isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, (str, bytes)):
        return float(value.strip())
    raise TypeError('not a float')


def parse_decimal(value):
    if isinstance(value, decimal.Decimal):
        return value
    if isinstance(value, bool):
        raise TypeError('not a decimal')
    if isinstance(value, (int, str)):
        # Going through str keeps '0.1' exact instead of the binary float approximation.
        return decimal.Decimal(str(value).strip())
    if isinstance(value, float):
        return decimal.Decimal(repr(value))
    raise TypeError('not a decimal')


def parse_date(value):
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            return dt.datetime.fromisoformat(text).date()
    raise TypeError('not a date')


def parse_datetime(value):
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    if isinstance(value, str):
        return dt.datetime.fromisoformat(value.strip())
    raise TypeError('not a datetime')


def parse_utc(value):
    value = parse_datetime(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


def parse_uuid(value):
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        return uuid.UUID(value.strip())
    raise TypeError('not a UUID')


def parse_csv(value):
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str):
        return [item.strip() for item in value.split(',')] if value.strip() else []
    raise TypeError('not a CSV string')


def parse_text(value):
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode('utf8')
    return str(value)


# ################################################################################################################################

# Exact types to_plain returns unchanged (subclasses such as IntEnum or str-based classes take the full path).
_plain_scalars = frozenset((str, int, float, bool, type(None)))


def to_plain(value):
    """Turns a response value into dict/list/str/int/float/bool/None so that the host can serialize it.

    Containers are always copied, even when everything in them is plain already.
    """
    cls = type(value)
    if cls is dict:
        scalars = _plain_scalars
        for key, item in value.items():
            if type(key) is not str or type(item) not in scalars:
                return {key if type(key) is str else _plain_key(key): item if type(item) in scalars else to_plain(item)
                    for key, item in value.items()}
        return value.copy()
    if cls in _plain_scalars:
        return value
    if cls is list:
        scalars = _plain_scalars
        for item in value:
            if type(item) not in scalars:
                return [item if type(item) in scalars else to_plain(item) for item in value]
        return value.copy()
    return _to_plain_other(value)


def _plain_key(key):
    return key if isinstance(key, str) else str(key)


def _to_plain_other(value):
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, enum.Enum):
        return to_plain(value.value)
    if isinstance(value, (int, float)):
        return value
    hook = getattr(type(value), '__zato_plain__', None)
    if hook is not None:
        return to_plain(hook(value))
    if isinstance(value, Mapping):
        return {key if isinstance(key, str) else str(key): to_plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset, deque, range, types.GeneratorType)):
        return [to_plain(item) for item in value]
    if isinstance(value, (type({}.keys()), type({}.values()))):
        return [to_plain(item) for item in value]
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode('utf8', errors='replace')
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # Not dataclasses.asdict: it deep-copies, which fails on values that cannot be copied.
        return {field.name: to_plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    raise TypeError('Cannot convert a value of type {} to a plain response value: {!r}'.format(
        type(value).__name__, value))
