# -*- coding: utf-8 -*-
"""One service call from start to end: a new instance, its attributes, hooks, SimpleIO, the response tuple.

Used both for requests from the host (zato._runtime.invoke) and for self.invoke between Python services.

Everything that depends only on the class is worked out once per deployed class (CallPlan): which hooks
the class overrides (the others are no-ops of Service and are not called), its per-verb handlers, and
whether its instances can be set up directly. Per-call attributes that most calls never read are built on
first access (see Service, Request and Response); the values are the same as if they were built eagerly.

Classes that customise instance creation or attribute access (__init__, __new__, __setattr__,
__getattribute__, a metaclass __call__, a class attribute named like a lazily built attribute, or a
property/slot named like any per-call attribute) take the generic path: the class is called, every
attribute is set eagerly with setattr and every hook is looked up on the instance, as services may set
hooks or handlers in __init__.

A plan reflects the class as it was after after_add_to_store; hooks added to a class later
(monkey-patching a deployed class) are not seen until the file is deployed again.
"""

import json
from time import time as _now

from zato.common.api import CHANNEL, HTTP_METHOD
from zato.common.convert import _plain_scalars, to_plain
from zato.common.ext.bunch import Bunch
from zato.common.util.api import new_cid, utcnow
from zato.server.service import Service
from zato.server.service.reqresp import Request, Response, SimpleIOPayload, SimpleIOResponse, new_request, \
     new_sio_payload, payload_value
from zato.server.service.simpleio import parse_input, read_input, serialize_output, write_output, xml_to_dict
from zato.server.service.support import ChannelInfo, ServiceLogger, TimeUtil, current_cid, wsgi_environ
from zato._errors import ServiceError

_time_util = TimeUtil()
_new = object.__new__
_getvalue = payload_value
_scheduler = CHANNEL.SCHEDULER
_empty = {}
_cid_set = current_cid.set
_cid_reset = current_cid.reset

# Kept under its old name for anything that imported it.
_wsgi_environ = wsgi_environ

# Per-call hooks of Service that are no-ops by default; a class that does not override one never has it called.
_hook_names = ('accept', 'validate_input', 'before_handle', 'after_handle', 'validate_output', 'finalize_handle')

# Service attributes built on first access by the lazy_attr descriptors of Service.
_lazy_names = ('logger', 'channel', 'chan', 'environ', 'wsgi_environ', 'invocation_time')

# Service attributes the runtime stores in the instance's __dict__ for each call.
_stored_names = ('name', 'impl_name', 'cid', 'data_format', 'transport', 'time', 'config', 'user_config', 'server',
    'request', 'response')

# ################################################################################################################################
# Per-class plan

class CallPlan:
    """What a call of one deployed class needs to know about that class, computed once."""

    __slots__ = ('is_simple', 'parses_input', 'sio_input', 'sio_output', 'verbs', 'has_handle', 'allow',
        'template') + _hook_names

    def __init__(self, entry):
        cls = entry.cls
        sio_def = entry.sio
        self.is_simple = _is_simple(cls)
        self.parses_input = sio_def is not None and bool(sio_def.input_elems or sio_def.input_model is not None)
        self.sio_input, self.sio_output = sio_def.plans() if sio_def is not None else (None, None)
        if sio_def is not None and sio_def.input_model is not None:
            self.sio_input = None  # parse_input builds the model
        for name in _hook_names:
            setattr(self, name, getattr(cls, name) is not getattr(Service, name))

        # handle_<VERB> methods by <VERB>, exactly as getattr(service, 'handle_' + method) would find them.
        self.verbs = {attr_name[7:]: attr_name for attr_name in dir(cls)
            if attr_name.startswith('handle_') and callable(getattr(cls, attr_name, None))}
        self.has_handle = cls.handle is not Service.handle
        self.allow = ', '.join(verb for verb in HTTP_METHOD.values() if callable(getattr(cls, 'handle_' + verb, None)))

        # (state, the attributes every call of this class starts with), rebuilt when init() replaces the state.
        self.template = (None, None)


def _mro_value(cls, name):
    for klass in cls.__mro__:
        if name in vars(klass):
            return vars(klass)[name]
    return None


def _is_data_descriptor(value):
    return hasattr(type(value), '__set__') or hasattr(type(value), '__delete__')


def _is_simple(cls):
    """True if instances may be created without calling the class and set up by filling their __dict__."""
    if type(cls).__call__ is not type.__call__ or cls.__new__ is not object.__new__:
        return False
    if cls.__init__ is not Service.__init__:
        return False
    if cls.__setattr__ is not object.__setattr__ or cls.__getattribute__ is not object.__getattribute__:
        return False
    for name in _lazy_names:
        if _mro_value(cls, name) is not vars(Service)[name]:
            return False
    for name in _stored_names:
        # A plain class attribute (e.g. `name = 'my.service'`) is shadowed by the instance's value anyway.
        if _is_data_descriptor(_mro_value(cls, name)):
            return False
    return True


def build_plan(entry):
    return CallPlan(entry)


def _template(entry, state):
    return {
        'name': entry.name,
        'impl_name': entry.impl_name,
        'transport': None,
        'time': _time_util,
        'config': state.config,
        'user_config': state.config.user,
        'server': state.server,
        '_zato_entry': entry,
        # Set by run() for each call; present here so that the copy never has to grow.
        'cid': None,
        'data_format': None,
        'request': None,
        'response': None,
        '_zato_req': None,
        '_zato_cid': None,
        '_zato_started': None,
    }

# ################################################################################################################################
# Input

def _input_sources(req, sio_def, channel):
    """The dicts SimpleIO input is read from, highest priority first."""
    http = req.get('http') or {}
    payload = req.get('payload')
    data_format = req.get('data_format')

    if isinstance(payload, dict):
        message = payload
    elif data_format in ('xml', 'soap') and isinstance(payload, str) and payload.strip():
        wanted = [elem.name for elem in sio_def.input_elems]
        # SOAP: the whole envelope, where the namespace prefixes of the Body's content are declared.
        raw = req.get('raw_request')
        text = raw if data_format == 'soap' and isinstance(raw, str) and raw.strip() else payload
        message = xml_to_dict(text, data_format == 'soap', wanted)
    else:
        message = None

    params, query = http.get('params') or {}, http.get('GET') or {}
    if channel.get('merge_url_params_req'):
        # Upstream's defaults: the query string over path params, both over the message.
        url = [params, query] if channel.get('url_params_pri') == 'path-over-qs' else [query, params]
        if channel.get('params_pri') == 'msg-over-channel-params':
            return [message] + url
        return url + [message]
    return [message, params, query]

def _parse_input(req, sio_def, channel):
    """parse_input, saying what was wrong with a request that is not a JSON object."""
    try:
        return parse_input(sio_def, _input_sources(req, sio_def, channel))
    except ServiceError as e:
        payload = req.get('payload')
        if e.status != 400 or not str(e.message).startswith('Missing input') or isinstance(payload, dict) \
                or payload is None or payload == '' or req.get('data_format') in ('xml', 'soap'):
            raise
        if isinstance(payload, str):
            # The body as it came (a JSON string there is `"text"`); else the payload text itself.
            raw = req.get('raw_request')
            try:
                payload = json.loads(raw if isinstance(raw, str) and raw.strip() else payload)
            except ValueError as parse_error:
                payload = None
                what = 'not valid JSON ({})'.format(parse_error)
        if isinstance(payload, dict):
            raise  # An object after all: what is missing is the message.
        if isinstance(payload, str):
            what = 'the text {!r}'.format(payload if len(payload) <= 40 else payload[:40] + '...')
        elif payload is not None:
            what = 'a JSON {}'.format({list: 'array', bool: 'boolean'}.get(type(payload), 'number'))
        raise ServiceError(400, 'Invalid input: a JSON object is expected and the request is {}; {}'.format(
            what, e.message)) from None

# ################################################################################################################################
# Hooks and handlers

def _call_logged(service, hook_name):
    """Hooks whose errors must not fail the call: log with traceback and carry on."""
    try:
        getattr(service, hook_name)()
    except Exception:
        service.logger.exception('Exception in %s.%s', service.name, hook_name)


def _job_hooks(service, stage):
    job_type = (service.environ.get('job_type') or '').replace('-', '_')
    hooks = ['{}_job'.format(stage)]
    if job_type in ('one_time', 'interval_based', 'cron_style'):
        hooks.append('{}_{}_job'.format(stage, job_type))
    return hooks


def _method_not_allowed(method, allow):
    return ServiceError(405, 'Method not allowed: {}'.format(method or '(none)'), {'Allow': allow})


def _pick_handler(service, method):
    """The generic path: everything looked up on the instance, as services may set handlers in __init__."""
    cls = type(service)
    if method:
        handler = getattr(service, 'handle_' + method, None)
        if callable(handler):
            return handler
    if cls.handle is not Service.handle:
        return service.handle
    verbs = [verb for verb in HTTP_METHOD.values() if callable(getattr(cls, 'handle_' + verb, None))]
    if verbs:
        raise _method_not_allowed(method, ', '.join(verbs))
    return service.handle


def _request_method(service):
    request = service.request
    if type(request) is Request:
        data = request.__dict__
        if 'http' not in data:
            # self.request.http was not built (or replaced) by the service: read what the host sent.
            return ((data.get('_zato_http') or {}).get('method') or '').upper()
    return (request.http.method or '').upper()


def _verb_handler(service, plan):
    method = _request_method(service)
    if method:
        attr_name = plan.verbs.get(method)
        if attr_name is not None:
            return getattr(service, attr_name)
    if plan.has_handle or not plan.allow:
        return service.handle
    raise _method_not_allowed(method, plan.allow)

# ################################################################################################################################
# Output

def _final_payload(sio_def, payload):
    """The response payload as the host wants it: None, str, bytes, or a dict/list of plain values."""
    if payload is None or type(payload) is str:
        return payload
    if isinstance(payload, SimpleIOPayload):
        if not (payload._zato_touched or payload._zato_items is not None or payload.__dict__):
            return None
        payload = _getvalue(payload)
    if sio_def is not None:
        payload = serialize_output(sio_def, payload)
        # serialize_output returns the payload itself only for None, str and bytes; anything else is plain already.
        if payload is None or isinstance(payload, (str, bytes)):
            return payload
        plain = payload
    else:
        if isinstance(payload, (str, bytes)):
            return payload
        if isinstance(payload, (bytearray, memoryview)):
            return bytes(payload)
        plain = to_plain(payload)
    if plain is None or isinstance(plain, (dict, list, str)):
        return plain
    # A bare number or boolean: the host takes text for anything that is not an object or a list.
    return json.dumps(plain)


def _response_tuple(response, sio_def):
    payload = _final_payload(sio_def, response.payload)
    headers = response.headers
    headers = {str(key): str(value) for key, value in headers.items()} if headers else {}
    content_type = response.content_type
    if content_type is not None and type(content_type) is not str:
        content_type = str(content_type)
    status_code = response.status_code
    return (status_code if type(status_code) is int else int(status_code)), content_type, headers, payload

# ################################################################################################################################
# A call

def _new_response(sio_def):
    if sio_def is None:
        response = _new(Response)
    else:
        response = _new(SimpleIOResponse)
        response._payload = new_sio_payload()
    response.headers = {}
    return response


def run(entry, req, state):
    """Runs one call; returns (status_code, content_type, headers, payload). See zato._runtime.invoke."""
    plan = entry.plan
    if plan is None:
        plan = entry.plan = build_plan(entry)
    if not plan.is_simple:
        return _run_generic(entry, req, state, plan)

    template_state, template = plan.template
    if template_state is not state:
        template = _template(entry, state)
        plan.template = (state, template)

    try:
        cid, data_format, payload, raw_request, http, channel = \
            req['cid'], req['data_format'], req['payload'], req['raw_request'], req['http'], req['channel']
    except KeyError:
        get = req.get
        cid, data_format, payload, raw_request, http, channel = \
            get('cid'), get('data_format'), get('payload'), get('raw_request'), get('http'), get('channel')
    if not cid:
        cid = new_cid()
    sio_def = entry.sio

    # What reqresp.new_request does, inlined.
    request = _new(Request)
    request.cid = cid
    request.payload = payload
    request.text = raw_request
    request.data_format = data_format
    request._zato_http = http
    request._zato_message = req.get('message')

    if sio_def is None:
        response = _new(Response)
    else:
        response = _new(SimpleIOResponse)
        response._payload = sio_payload = _new(SimpleIOPayload)
        sio_payload._zato_items = None
        sio_payload._zato_touched = False
    response.headers = {}

    service = _new(entry.cls)
    data = template.copy()
    data['cid'] = cid
    data['data_format'] = data_format
    data['request'] = request
    data['response'] = response
    data['_zato_req'] = req
    data['_zato_cid'] = cid
    data['_zato_started'] = _now()
    service.__dict__ = data

    if not channel:
        channel = _empty
    is_scheduler = channel.get('type') == _scheduler
    token = _cid_set(cid)
    try:
        if plan.parses_input:
            # The usual case, a JSON object and no path or query parameters, is read directly.
            if type(payload) is dict and plan.sio_input is not None and not (http and (http.get('params') or http.get('GET'))):
                request.input = read_input(plan.sio_input, payload.get, None)
            else:
                request.input = _parse_input(req, sio_def, channel)
        # Otherwise request.input (path and query parameters) is built on first access.

        if plan.accept and not service.accept():
            raise ServiceError(400, 'Request not accepted')

        if is_scheduler:
            for hook in _job_hooks(service, 'before'):
                _call_logged(service, hook)

        if plan.validate_input:
            service.validate_input()
        if plan.before_handle:
            _call_logged(service, 'before_handle')

        if plan.verbs:
            _verb_handler(service, plan)()
        else:
            service.handle()

        if plan.after_handle:
            _call_logged(service, 'after_handle')

        if is_scheduler:
            for hook in _job_hooks(service, 'after'):
                _call_logged(service, hook)

        if plan.validate_output:
            service.validate_output()

        response = service.response
        response_type = type(response)
        if not response.headers and response.content_type is None and response.status_code.__class__ is int:
            # The common cases, answered without the general _response_tuple.
            if response_type is Response:
                payload = response.payload
                if type(payload) is dict:
                    # to_plain(payload), inlined for a dict of plain values.
                    for key, value in payload.items():
                        if type(key) is not str or type(value) not in _plain_scalars:
                            payload = to_plain(payload)
                            break
                    else:
                        payload = payload.copy()
                elif not (payload is None or type(payload) is str):
                    payload = _final_payload(None, payload)
                return response.status_code, None, {}, payload
            if response_type is SimpleIOResponse:
                payload = response._payload
                if type(payload) is SimpleIOPayload:
                    items = payload._zato_items
                    if items is not None:
                        payload = write_output(sio_def, plan.sio_output, items)
                    else:
                        attrs = payload.__dict__
                        payload = write_output(sio_def, plan.sio_output, attrs) \
                            if (attrs or payload._zato_touched) else None
                else:
                    payload = _final_payload(sio_def, payload)
                return response.status_code, None, {}, payload
        return _response_tuple(response, sio_def)
    finally:
        if plan.finalize_handle:
            _call_logged(service, 'finalize_handle')
        _cid_reset(token)

# ################################################################################################################################
# The generic path

def _prepare(entry, req, state):
    service = entry.cls()
    http = req.get('http') or {}
    channel = req.get('channel') or {}
    cid = req.get('cid') or new_cid()
    data_format = req.get('data_format')
    sio_def = entry.sio

    service.name = entry.name
    service.impl_name = entry.impl_name
    service.cid = cid
    service.data_format = data_format
    service.transport = None
    service.invocation_time = utcnow()
    service.wsgi_environ = wsgi_environ(http, channel)
    service.channel = service.chan = ChannelInfo(channel)
    service.environ = Bunch(req.get('environ') or {})
    service.logger = ServiceLogger(cid, entry.name)
    service.time = _time_util
    service.config = state.config
    service.user_config = state.config.user
    service.server = state.server

    service.request = new_request(cid, req.get('payload'), req.get('raw_request'), data_format, http,
        req.get('message'))
    service.response = _new_response(sio_def)
    return service


def _run_generic(entry, req, state, plan):
    service = _prepare(entry, req, state)
    sio_def = entry.sio
    channel = req.get('channel') or {}
    is_scheduler = channel.get('type') == _scheduler
    token = current_cid.set(service.cid)
    try:
        if plan.parses_input:
            service.request.input = _parse_input(req, sio_def, channel)
        # Otherwise request.input (path and query parameters) is built on first access.

        if not service.accept():
            raise ServiceError(400, 'Request not accepted')

        if is_scheduler:
            for hook in _job_hooks(service, 'before'):
                _call_logged(service, hook)

        service.validate_input()
        _call_logged(service, 'before_handle')
        _pick_handler(service, (service.request.http.method or '').upper())()
        _call_logged(service, 'after_handle')

        if is_scheduler:
            for hook in _job_hooks(service, 'after'):
                _call_logged(service, hook)

        service.validate_output()
        return _response_tuple(service.response, sio_def)
    finally:
        _call_logged(service, 'finalize_handle')
        current_cid.reset(token)
