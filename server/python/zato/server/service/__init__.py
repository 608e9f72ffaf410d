# -*- coding: utf-8 -*-
"""`Service`, the base class of every user service, plus SimpleIO types and Model re-exported as upstream does."""

import datetime as dt
import json
import time

from zato.common.api import CHANNEL, DATA_FORMAT
from zato.common.convert import to_plain
from zato.common.exception import ServiceMissingException
from zato.common.ext.bunch import Bunch, bunchify
from zato.common.marshal_.api import Model
from zato.common.util.api import get_impl_name, get_service_name
from zato.common.util.lazy import lazy_attr
from zato.simpleio import AsIs, Bool, CSV, Date, DateTime, Decimal, Dict, DictList, Float, Int, \
     List, Opaque, Text, UTC, UUID
from zato.server.service.support import ChannelInfo, ServiceLogger, native, wsgi_environ

__all__ = ['Service', 'Model', 'Bunch', 'AsIs', 'Bool', 'CSV', 'Date', 'DateTime', 'Decimal', 'Dict', 'DictList',
    'Float', 'Int', 'List', 'Opaque', 'Text', 'UTC', 'UUID', 'DATA_FORMAT']

# Integer is an upstream alias of Int.
Integer = Int


def _unwrap(result):
    """Upstream's invoke() returns what is inside {'response': ...} or {'zato_...': ...}."""
    if isinstance(result, dict) and len(result) == 1:
        key = next(iter(result))
        if isinstance(key, str) and (key == 'response' or key.startswith('zato')):
            return result[key]
    return result


def _maybe_json(payload):
    # A JSON document passed as text to a Python service is parsed, as upstream does for JSON channels.
    if isinstance(payload, str) and payload.lstrip()[:1] in ('{', '['):
        try:
            return json.loads(payload)
        except ValueError:
            pass
    return payload


def _call_data(service, attr_name, key):
    """What the runtime stored for this call (see pipeline.run); AttributeError outside of a call, e.g. in __init__."""
    try:
        return service.__dict__[key]
    except KeyError:
        raise AttributeError("'{}' object has no attribute '{}'".format(type(service).__name__, attr_name)) from None


def _channel_info(service, attr_name):
    # self.channel and self.chan are one object, as if both had been assigned when the call started.
    data = service.__dict__
    info = data.get('_zato_channel')
    if info is None:
        info = data['_zato_channel'] = ChannelInfo(_call_data(service, attr_name, '_zato_req').get('channel') or {})
    return info


class Service:
    """Subclass this and implement handle() (or handle_GET, handle_POST, ...).

    A new instance is created for each call; the runtime sets the per-call attributes
    (cid, request, response, logger, channel, ...) before any hook runs. Those that most
    calls never use (logger, channel/chan, environ, wsgi_environ, invocation_time) are built
    on first access from what the call started with, then stored on the instance like the others.
    """

    def __init__(self, *ignored_args, **ignored_kwargs):
        pass

    # ############################################################################################################################
    # Per-call attributes built on first access (see zato.server.service.pipeline)

    @lazy_attr
    def logger(self):
        return ServiceLogger(_call_data(self, 'logger', '_zato_cid'), _call_data(self, 'logger', '_zato_entry').name)

    @lazy_attr
    def channel(self):
        return _channel_info(self, 'channel')

    @lazy_attr
    def chan(self):
        return _channel_info(self, 'chan')

    @lazy_attr
    def environ(self):
        return Bunch(_call_data(self, 'environ', '_zato_req').get('environ') or {})

    @lazy_attr
    def wsgi_environ(self):
        req = _call_data(self, 'wsgi_environ', '_zato_req')
        return wsgi_environ(req.get('http') or {}, req.get('channel') or {})

    # Outgoing connections: one shared set of wrappers (they hold names only).

    @property
    def outgoing(self):
        from zato.server.connection import outgoing
        return outgoing

    out = outgoing

    @property
    def kvdb(self):
        from zato.server.connection import kvdb
        return kvdb

    @lazy_attr
    def invocation_time(self):
        # The wall clock was read when the call started; only the datetime is made here (naive, in UTC).
        started = _call_data(self, 'invocation_time', '_zato_started')
        return dt.datetime.fromtimestamp(started, dt.timezone.utc).replace(tzinfo=None)

    # ############################################################################################################################
    # Naming

    @classmethod
    def get_name(cls):
        return get_service_name(cls)

    @classmethod
    def get_impl_name(cls):
        return get_impl_name(cls)

    # ############################################################################################################################
    # Deployment hooks: returning a false value from before_add_to_store skips the class, as upstream.

    @staticmethod
    def before_add_to_store(logger):
        return True

    @staticmethod
    def after_add_to_store(logger):
        pass

    # ############################################################################################################################
    # Per-call hooks, all no-ops by default

    def accept(self, *ignored_args, **ignored_kwargs):
        return True

    def validate_input(self):
        pass

    def validate_output(self):
        pass

    def before_handle(self):
        pass

    def after_handle(self):
        pass

    def finalize_handle(self):
        pass

    def before_job(self):
        pass

    def before_one_time_job(self):
        pass

    def before_interval_based_job(self):
        pass

    def before_cron_style_job(self):
        pass

    def after_job(self):
        pass

    def after_one_time_job(self):
        pass

    def after_interval_based_job(self):
        pass

    def after_cron_style_job(self):
        pass

    def handle(self):
        raise NotImplementedError('Should be overridden by subclasses (Service.handle)')

    # ############################################################################################################################
    # Invoking other services

    def invoke(self, name, payload='', channel=CHANNEL.INVOKE, data_format=DATA_FORMAT.DICT, transport=None,
            serialize=False, as_bunch=False, timeout=None, raise_timeout=True, **kwargs):
        """Synchronously invokes another service with the same CID and returns its response payload."""
        from zato import _runtime

        entry, name = _runtime._resolve(name)
        if entry is not None:
            req = {
                'name': entry.name,
                'cid': self.cid,
                'payload': _maybe_json(payload),
                'raw_request': payload,
                'data_format': data_format,
                'channel': {'id': None, 'name': channel, 'type': channel, 'data_format': data_format,
                    'url_path': None, 'is_internal': True, 'merge_url_params_req': False, 'security': None},
                'http': {},
                'environ': kwargs.get('environ') or {},
            }
            result = _runtime._run(entry, req)[3]
        else:
            try:
                result = native().invoke(name, to_plain(payload), self.cid, channel, data_format)
            except LookupError:
                # Not a LookupError on purpose: the host must not mistake it for "the outer service is missing".
                raise ServiceMissingException(self.cid, 'Service `{}` does not exist'.format(name)) from None

        result = _unwrap(result)
        if as_bunch and isinstance(result, (dict, list)):
            result = bunchify(result)
        if serialize and not isinstance(result, (str, bytes)):
            result = json.dumps(result)
        return result

    def invoke_async(self, name, payload='', channel=CHANNEL.INVOKE_ASYNC, data_format=DATA_FORMAT.DICT,
            transport=None, expiration=15, to_json_string=False, cid='', callback=None, zato_ctx=None, environ=None):
        """Schedules a service to run in the background; returns its new CID."""
        from zato import _runtime
        _, name = _runtime._resolve(name)
        return native().invoke_async(name, to_plain(payload), self.cid, channel, data_format)

    # ############################################################################################################################

    def sleep(self, seconds=1):
        # time.sleep releases the GIL, so other requests keep running.
        time.sleep(seconds)

    def __repr__(self):
        return '<{} name:{!r} cid:{!r}>'.format(type(self).__name__, getattr(self, 'name', None),
            getattr(self, 'cid', None))
