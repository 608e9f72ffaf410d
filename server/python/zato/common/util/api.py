# -*- coding: utf-8 -*-
"""Utilities with upstream names: uncamelify, service naming, CIDs and time helpers."""

import datetime as dt
import os
import re

# An upper-case letter that starts a new word: either right after a lower-case one ("yS" in MyService),
# or the last capital of an acronym followed by lower-case ("H" in HTTPHandler).
_uncamelify_re = re.compile(r'((?<=[a-z])[A-Z]|(?<!\A)[A-Z](?=[a-z]))')


def uncamelify(value, separator='-', elem_func=str.lower):
    """MyService -> my-service, GetMarketCap -> get-market-cap, HTTPHandler -> http-handler."""
    return elem_func(_uncamelify_re.sub(separator + r'\1', value))


def get_impl_name(cls):
    return '{}.{}'.format(cls.__module__, cls.__name__)


def convert_impl_name(impl_name):
    """Upstream's rule: uncamelify everything, `_` -> `-` in the module path, tidy up the class part."""
    parts = uncamelify(impl_name).split('.')
    path, class_name = parts[:-1], parts[-1]
    path = [elem.replace('_', '-') for elem in path]

    # A class name starting with a capital got a separator in front of it, e.g. `demo.-my-service`.
    if class_name.startswith('-'):
        class_name = class_name[1:]
    class_name = class_name.replace('_-', '_')
    return '.'.join(path + [class_name])


def get_service_name(cls):
    """The explicit string `name` attribute (on the class or a base) wins, otherwise derive it."""
    name = getattr(cls, 'name', None)
    if isinstance(name, str) and name:
        return name
    return convert_impl_name(get_impl_name(cls))


def new_cid():
    """24 hex characters, like the host's CIDs."""
    return os.urandom(12).hex()


def utcnow():
    """A naive datetime in UTC, as upstream services expect."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def make_repr(obj, attrs=None):
    names = attrs or [name for name in vars(obj) if not name.startswith('_')]
    return '<{} at {} {}>'.format(type(obj).__name__, hex(id(obj)),
        ', '.join('{}:`{!r}`'.format(name, getattr(obj, name, None)) for name in names))
