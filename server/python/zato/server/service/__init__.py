# -*- coding: utf-8 -*-
"""`Service`, the base class of every user service, and the other public names of upstream's zato.server.service:
SimpleIO types (with their pre-3.0 aliases), Model, hook and adapter base classes, and the constants and exceptions
upstream's module imports from zato.common.api and zato.common.exception.

Names that stand for server features this server does not have (publish/subscribe, WebSockets, the invoke_retry,
fan-out and parallel patterns) are classes that raise NotImplementedError saying so.
"""

import datetime as dt
import json
import logging
import threading
import time
import typing
from dataclasses import dataclass
from traceback import format_exc

# Some of these are unused here: upstream's module has them, so user code may import them from it.
from zato.common.api import BROKER, CHANNEL, DATA_FORMAT, HL7, KVDB, NO_DEFAULT_VALUE, NotGiven, PARAMS_PRIORITY, PUBSUB, \
     WEB_SOCKET, zato_no_op_marker  # noqa: F401
from zato.common.convert import to_plain
from zato.common.exception import Inactive, Reportable, ServiceMissingException, ZatoException  # noqa: F401
from zato.common.ext.bunch import Bunch, bunchify
from zato.common.marshal_.api import Model
from zato.common.util.api import get_impl_name, get_service_name
from zato.common.util.lazy import lazy_attr
from zato.simpleio import AsIs, Bool, CSV, Date, DateTime, Decimal, Dict, DictList, Elem as SIOElem, Float, Int, \
     List, Opaque, Text, UTC, UUID
from zato.server.service.support import ChannelInfo, ServiceLogger, native, wsgi_environ

__all__ = ['Service', 'Model', 'ModelCtx', 'Bunch', 'dataclass', 'AsIs', 'Bool', 'CSV', 'Date', 'DateTime', 'Decimal',
    'Dict', 'DictList', 'Float', 'Int', 'List', 'Opaque', 'Text', 'UTC', 'UUID', 'SIOElem', 'Boolean', 'Integer',
    'ForceType', 'ListOfDicts', 'Nested', 'Unicode', 'DATA_FORMAT', 'PubSubHook', 'WSXHook', 'WSXAdapter', 'RESTAdapter']

_connections_module = None


def _connections():
    """`zato.server.connection`, imported at first use (it imports this module) and then kept:
    an import statement costs a lookup on every request."""
    global _connections_module
    if _connections_module is None:
        from zato.server import connection
        _connections_module = connection
    return _connections_module


logger = logging.getLogger(__name__)

NOT_GIVEN = 'ZATO_NOT_GIVEN'

# Names of SimpleIO types before Zato 3.0
Boolean = Bool
Integer = Int
ForceType = SIOElem
ListOfDicts = DictList
Nested = Opaque
Unicode = Text

# Hooks a service may implement, by when they run.
before_job_hooks = ('before_job', 'before_one_time_job', 'before_interval_based_job', 'before_cron_style_job')
after_job_hooks = ('after_job', 'after_one_time_job', 'after_interval_based_job', 'after_cron_style_job')
before_handle_hooks = ('before_handle',)
after_handle_hooks = ('after_handle', 'finalize_handle')

# Keyword arguments of an internal invocation that are not passed on to the service.
internal_invoke_keys = {'target', 'set_response_func', 'cid'}


def call_hook_no_service(hook):
    """Runs a bound hook; an error is logged, not raised."""
    try:
        hook()
    except Exception:
        logger.error('Can\'t run hook `%s`, e:`%s`', hook, format_exc())


def call_hook_with_service(hook, service):
    """Runs hook(service); an error is logged, not raised."""
    try:
        hook(service)
    except Exception:
        logger.error('Can\'t run hook `%s`, e:`%s`', hook, format_exc())


class ModuleCtx:
    HTTP_Channels = {CHANNEL.HTTP_SOAP, CHANNEL.INVOKE}
    Channel_Scheduler = CHANNEL.SCHEDULER
    Channel_Service = CHANNEL.SERVICE
    Pattern_Call_Channels = {CHANNEL.FANOUT_CALL, CHANNEL.PARALLEL_EXEC_CALL}


class ModelCtx:
    """What a model's hooks are given: the service, the data and the model class."""

    service: 'Service'
    data: 'typing.Any'
    DataClass: 'typing.Any'


@dataclass(init=False)
class AsyncCtx:
    """The context of an invoke_async call, as upstream passes it around."""

    calling_service: str
    service_name: str
    cid: str
    data: str
    data_format: str
    zato_ctx: typing.Any
    environ: dict
    callback: typing.Optional[list] = None


class ChannelSecurityInfo:
    """The security definition of a channel (upstream's type of self.channel.security)."""

    __slots__ = ('id', 'name', 'type', 'username', 'impl')

    def __init__(self, id, name, type, username, impl):
        self.id = id
        self.name = name
        self.type = type
        self.username = username
        self.impl = impl

    def to_dict(self, needs_impl=False):
        out = {'id': self.id, 'name': self.name, 'type': self.type, 'username': self.username}
        if needs_impl:
            out['impl'] = self.impl
        return out


def _not_available(what, feature):
    return NotImplementedError('{} is not available in this server: it has no {}'.format(what, feature))


class PubSub:
    """Upstream's publish/subscribe API (self.pubsub)."""

    def __init__(self, *args, **kwargs):
        raise _not_available('PubSub', 'publish/subscribe (topics, subscriptions, delivery tasks)')


class WSXFacade:
    """Upstream's self.wsx (WebSocket channels and outgoing connections)."""

    def __init__(self, *args, **kwargs):
        raise _not_available('WSXFacade', 'WebSocket channels or outgoing WebSocket connections')


class PatternsFacade:
    """Upstream's self.patterns (invoke_retry, fanout, parallel)."""

    def __init__(self, *args, **kwargs):
        raise _not_available('PatternsFacade', 'invoke_retry, fan-out or parallel-execution patterns')


class AMQPFacade:
    """Holds the send/invoke/invoke_async callables of upstream's self.amqp."""

    __slots__ = ('send', 'invoke', 'invoke_async')

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
        return _connections().outgoing

    out = outgoing

    @property
    def kvdb(self):
        return _connections().kvdb

    @property
    def schedule(self):
        """Upstream's `self.schedule.onetime(...)`: jobs created from a service."""
        from zato.server.connection.scheduler import Schedule
        return Schedule(self)

    @lazy_attr
    def invocation_time(self):
        # The wall clock was read when the call started; only the datetime is made here (naive, in UTC).
        started = _call_data(self, 'invocation_time', '_zato_started')
        return dt.datetime.fromtimestamp(started, dt.timezone.utc).replace(tzinfo=None)

    # Statistics (upstream's attributes): `usage` counts this call too; `processing_time` (ms) and
    # `processing_time_raw` (timedelta) are the time since the call started, so in after_handle they
    # are how long handle took; `slow_threshold` is the service's, in ms (99999: never).

    @lazy_attr
    def usage(self):
        return native().service_usage(_call_data(self, 'usage', '_zato_entry').name)[0] + 1

    @lazy_attr
    def slow_threshold(self):
        return native().service_usage(_call_data(self, 'slow_threshold', '_zato_entry').name)[1]

    @property
    def processing_time_raw(self):
        return dt.timedelta(seconds=time.time() - _call_data(self, 'processing_time_raw', '_zato_started'))

    @property
    def processing_time(self):
        return int(round(self.processing_time_raw.total_seconds() * 1000))

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
        """Stores an invocation of a service to run in the background on any server of the
        cluster, surviving a crash; returns its CID once stored. `callback` (a name, a list of
        them or a service; by default `<this service's name>-async-callback` if deployed) gets
        the response on channel `invoke-async-callback` with `self.in_reply_to` set to the CID.
        `expiration`: seconds within which it must start (0 or None: no limit)."""
        from zato import _runtime
        _, name = _runtime._resolve(name)
        if callback is None:
            default = '{}-async-callback'.format(self.name)
            callbacks = [default] if _runtime._resolve(default)[0] is not None else []
        else:
            callbacks = [_runtime._resolve(type(item) if isinstance(item, Service) else item)[1] for item in
                (callback if isinstance(callback, (list, tuple)) else [callback])]
        if to_json_string and not isinstance(payload, str):
            payload = json.dumps(payload)
        return native().invoke_async(name, to_plain(payload), channel or CHANNEL.INVOKE_ASYNC, callbacks,
            float(expiration or 0), cid or '')

    @property
    def in_reply_to(self):
        """The CID of the asynchronous invocation whose response a callback received, else None."""
        req = self.__dict__.get('_zato_req') or {}
        message = req.get('message') if isinstance(req, dict) else None
        if message and message.get('transport') == 'invoke-async':
            return (message.get('meta') or {}).get('in_reply_to')
        return None

    # ############################################################################################################################

    @property
    def patterns(self):
        """Parallel execution, fan-out/fan-in and invoke-retry, as upstream's `self.patterns`."""
        from zato.server.pattern.api import PatternsFacade
        return PatternsFacade(self)

    @property
    def crypto(self):
        """Encrypt and decrypt with the cluster's key, hash and verify secrets, as upstream."""
        from zato.common.crypto.api import crypto_manager
        return crypto_manager

    @property
    def cache(self):
        """The cluster's built-in caches, as upstream's `self.cache` (`default`, `get_cache`)."""
        from zato.server.connection.cache import CacheAPI
        return CacheAPI()

    def lock(self, name='', *args, **kwargs):
        """A lock held across the cluster (`with self.lock():`), named after this service unless
        `name` is given; `ttl` (or `expires`, default 20) is the longest it is held, `block` (or
        `timeout`, default 10) how long to wait for it before LockTimeout, as upstream."""
        from zato.distlock import Lock
        if args:
            ttl = args[0]
            block = args[1] if len(args) > 1 else 10
        else:
            ttl = kwargs.get('ttl') or kwargs.get('expires') or 20
            block = kwargs.get('block') or kwargs.get('timeout') or 10
        return Lock(name or self.name, kwargs.get('namespace', ''), ttl, block,
            raise_if_not_acquired=kwargs.get('raise_if_not_acquired', True))

    def invoke_by_impl_name(self, impl_name, *args, **kwargs):
        """As invoke, with the service named by its implementation name (full dotted name)."""
        return self.invoke(impl_name, *args, **kwargs)

    def invoke_by_id(self, service_id, *args, **kwargs):
        """As invoke, with the service given by its ID in the cluster."""
        found = self.invoke('zato.service.get-by-id', {'id': service_id})
        name = found.get('name') if isinstance(found, dict) else None
        if not name:
            raise ServiceMissingException(self.cid, 'No service with ID `{}`'.format(service_id))
        return self.invoke(name, *args, **kwargs)

    def new_instance(self, service_name, *args, **kwargs):
        """A new instance of another (Python) service, ready to use but not run: channel
        `new-instance`, this call's CID and request payload, as upstream."""
        from zato import _runtime
        from zato.server.service import pipeline
        entry, name = _runtime._resolve(service_name)
        if entry is None:
            raise ServiceMissingException(self.cid, 'Service `{}` does not exist'.format(service_name))
        channel = {'id': None, 'name': CHANNEL.NEW_INSTANCE, 'type': CHANNEL.NEW_INSTANCE, 'data_format': self.data_format,
            'is_internal': True}
        req = {'cid': self.cid, 'payload': self.request.payload, 'raw_request': getattr(self.request, 'text', None),
            'data_format': self.data_format, 'channel': channel}
        return pipeline._prepare(entry, req, _runtime._state)

    def run_in_thread(self, func, *args, **kwargs):
        """Runs func(*args, **kwargs) in a background thread (upstream: a greenlet); returns a
        handle with join(timeout), get(timeout), ready() and value."""
        handle = _Spawned(func, args, kwargs)
        handle.start()
        return handle

    spawn = run_in_thread

    def sleep(self, seconds=1):
        # time.sleep releases the GIL, so other requests keep running.
        time.sleep(seconds)

    def __repr__(self):
        return '<{} name:{!r} cid:{!r}>'.format(type(self).__name__, getattr(self, 'name', None),
            getattr(self, 'cid', None))

class _Spawned(threading.Thread):
    """What self.spawn returns: a thread that keeps its function's result or exception."""

    def __init__(self, func, args, kwargs):
        super().__init__(daemon=True, name='zato-spawn')
        self._call = (func, args, kwargs)
        self.value = None
        self.exception = None

    def run(self):
        func, args, kwargs = self._call
        try:
            self.value = func(*args, **kwargs)
        except Exception as e:
            self.exception = e

    def ready(self):
        return not self.is_alive()

    def get(self, block=True, timeout=None):
        """The function's result (its exception raised), once it ended."""
        if block:
            self.join(timeout)
        if self.is_alive():
            raise TimeoutError('The spawned function has not finished')
        if self.exception is not None:
            raise self.exception
        return self.value

# ################################################################################################################################
# Base classes of hooks and adapters


class _Hook(Service):
    """A service that runs one of its methods, chosen by the hook type in its `ctx` input."""

    _hook_func_name = {}

    class SimpleIO:
        input_required = (Opaque('ctx'),)
        output_optional = ('hook_action',)

    def handle(self):
        ctx = self.request.input.ctx
        hook_type = ctx['hook_type'] if isinstance(ctx, dict) else ctx.hook_type
        getattr(self, self._hook_func_name[hook_type])()


class PubSubHook(_Hook):
    """Subclasses act as publish/subscribe hooks. This server has no publish/subscribe, so it never calls them
    by itself; they still deploy and run when invoked with a `ctx`."""

    _hook_func_name = {
        PUBSUB.HOOK_TYPE.BEFORE_PUBLISH: 'before_publish',
        PUBSUB.HOOK_TYPE.BEFORE_DELIVERY: 'before_delivery',
        PUBSUB.HOOK_TYPE.ON_OUTGOING_SOAP_INVOKE: 'on_outgoing_soap_invoke',
        PUBSUB.HOOK_TYPE.ON_SUBSCRIBED: 'on_subscribed',
        PUBSUB.HOOK_TYPE.ON_UNSUBSCRIBED: 'on_unsubscribed',
    }

    # The marker default tells upstream's server that a hook was not overridden.

    def before_publish(self, _zato_no_op_marker=zato_no_op_marker):
        """Runs before a message is published to a topic."""

    def before_delivery(self, _zato_no_op_marker=zato_no_op_marker):
        """Runs before a message is delivered to an endpoint."""

    def on_outgoing_soap_invoke(self, _zato_no_op_marker=zato_no_op_marker):
        """Runs before a message is sent through an outgoing SOAP connection."""

    def on_subscribed(self, _zato_no_op_marker=zato_no_op_marker):
        """Runs for each new subscription."""

    def on_unsubscribed(self, _zato_no_op_marker=zato_no_op_marker):
        """Runs when a client unsubscribes."""


class WSXHook(_Hook):
    """Subclasses act as WebSocket channel hooks. This server has no WebSocket channels, so it never calls them
    by itself; they still deploy and run when invoked with a `ctx`."""

    _hook_func_name = {
        WEB_SOCKET.HOOK_TYPE.ON_CONNECTED: 'on_connected',
        WEB_SOCKET.HOOK_TYPE.ON_DISCONNECTED: 'on_disconnected',
        WEB_SOCKET.HOOK_TYPE.ON_PUBSUB_RESPONSE: 'on_pubsub_response',
        WEB_SOCKET.HOOK_TYPE.ON_VAULT_MOUNT_POINT_NEEDED: 'on_vault_mount_point_needed',
    }

    def on_connected(self, _zato_no_op_marker=zato_no_op_marker):
        """Runs when a WebSocket connection is established."""

    def on_disconnected(self, _zato_no_op_marker=zato_no_op_marker):
        """Runs when a WebSocket connection is dropped."""

    def on_pubsub_response(self, _zato_no_op_marker=zato_no_op_marker):
        """Runs when a response to a pub/sub message arrives."""

    def on_vault_mount_point_needed(self, _zato_no_op_marker=zato_no_op_marker):
        """Runs when the Vault mount point of a channel's credentials is needed."""


class WSXAdapter(Service):
    """Base of services handling events of outgoing WebSocket connections (on_connected, on_message_received,
    on_closed); there are no such connections in this server."""

    on_connected: typing.Callable
    on_message_received: typing.Callable
    on_closed: typing.Callable


class RESTAdapter(Service):
    """A service that calls a REST endpoint through an outgoing connection and returns what it answered.

    Subclasses set `conn_name` (or `get_conn_name`), optionally `model` (a Model, or list[Model]) to map the
    response to, `map_response(data, **kwargs)` to transform it, and the get_* methods to build the call.
    """

    model = None
    conn_name = ''
    auth_scopes = ''
    sec_def_name = None
    log_response = False
    map_response = None
    get_conn_name = None
    get_auth = None
    get_auth_scopes = None
    get_path_params = None
    get_method = None
    get_request = None
    get_headers = None
    get_query_string = None
    get_auth_bearer = None
    get_sec_def_name = None

    has_query_string_id = False
    query_string_id_param = None

    has_json_id = False
    json_id_param = None

    method = 'GET'

    def rest_call(self, conn_name, *, data='', model=None, callback=None, params=None, headers=None, method='',
            sec_def_name=None, auth_scopes=None, log_response=True):
        """Calls the connection and returns the response's data, mapped to `model` and through `callback`.

        A response other than 2xx/3xx raises an Exception with its text. If the call itself fails (e.g. the
        remote end is down), the error is logged and None is returned, as upstream does.
        """
        if (sec_def_name is not None and sec_def_name is not NotGiven) or auth_scopes:
            raise NotImplementedError('RESTAdapter: per-call security definitions and auth scopes '
                '(sec_def_name, auth_scopes) are not supported here; set security on the outgoing connection')

        conn = self.out.rest[conn_name].conn
        try:
            response = conn.send(self.cid, data, params, headers, method=method or None)
        except Exception:
            self.logger.warning('Caught an exception -> %s', format_exc())
            return None

        if log_response:
            self.logger.info('REST call response received -> %s', response.text)
        if not response.ok:
            raise Exception(response.text)

        out = response.data
        if model:
            if typing.get_origin(model) is list:
                item_class = typing.get_args(model)[0]
                out = [item_class.from_dict(item) for item in out]
            else:
                out = model.from_dict(out)

        if callback:
            # `id` is the builtin, exactly what upstream passes.
            out = callback(out, cid=self.cid, id=id, model=model, callback=callback)
        return out

    def handle(self):
        params = {}
        request = ''
        headers = {}

        # Upstream reads get_conn_name without calling it; a method or a plain value both work here.
        get_conn_name = self.get_conn_name
        if get_conn_name:
            conn_name = get_conn_name() if callable(get_conn_name) else get_conn_name
        else:
            conn_name = self.conn_name

        if self.get_request:
            request = self.get_request()

        if self.has_query_string_id:
            param = self.query_string_id_param or 'id'
            params[param] = self.request.input[param]

        if self.get_query_string:
            params.update(self.get_query_string(params))

        if self.get_path_params:
            params.update(self.get_path_params(params))

        method = (self.get_method() if self.get_method else self.method).upper()

        if self.get_auth_bearer:
            headers['Authorization'] = 'Bearer {}'.format(self.get_auth_bearer())

        if self.get_sec_def_name:
            sec_def_name = self.get_sec_def_name()
        elif self.sec_def_name:
            sec_def_name = self.sec_def_name
        else:
            sec_def_name = NotGiven

        if self.get_auth_scopes:
            auth_scopes = self.get_auth_scopes()
        else:
            auth_scopes = self.auth_scopes or ''

        if self.get_headers:
            headers.update(self.get_headers())

        self.response.payload = self.rest_call(conn_name, data=request, model=self.model, callback=self.map_response,
            params=params, headers=headers, method=method, sec_def_name=sec_def_name, auth_scopes=auth_scopes,
            log_response=self.log_response)
