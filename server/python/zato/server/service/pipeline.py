# -*- coding: utf-8 -*-
"""One service call from start to end: a new instance, its attributes, hooks, SimpleIO, the response tuple.

Used both for requests from the host (zato._runtime.invoke) and for self.invoke between Python services.
"""

import json
import urllib.parse

from zato.common.api import CHANNEL, HTTP_METHOD
from zato.common.convert import to_plain
from zato.common.ext.bunch import Bunch
from zato.common.util.api import new_cid, utcnow
from zato.server.service import Service
from zato.server.service.reqresp import Request, Response, SimpleIOPayload
from zato.server.service.simpleio import parse_input, serialize_output, xml_to_dict
from zato.server.service.support import ChannelInfo, ServiceLogger, TimeUtil, current_cid
from zato._errors import ServiceError

_time_util = TimeUtil()


def _wsgi_environ(http, channel):
    environ = {
        'REQUEST_METHOD': http.get('method') or '',
        'PATH_INFO': http.get('path') or '',
        'QUERY_STRING': urllib.parse.urlencode(http.get('GET') or {}, doseq=True),
        'HTTP_USER_AGENT': http.get('user_agent') or '',
        'zato.http.GET': dict(http.get('GET') or {}),
        'zato.http.POST': dict(http.get('POST') or {}),
        'zato.http.path_params': dict(http.get('params') or {}),
        'zato.channel_item': dict(channel),
    }
    for name, value in (http.get('headers') or {}).items():
        environ['HTTP_' + name.upper().replace('-', '_')] = value
    return environ


def _input_sources(req, sio_def, channel):
    """The dicts SimpleIO input is read from, highest priority first."""
    http = req.get('http') or {}
    payload = req.get('payload')
    data_format = req.get('data_format')

    if isinstance(payload, dict):
        message = payload
    elif data_format in ('xml', 'soap') and isinstance(payload, str) and payload.strip():
        wanted = [elem.name for elem in sio_def.input_elems]
        message = xml_to_dict(payload, data_format == 'soap', wanted)
    else:
        message = None

    params, query = http.get('params') or {}, http.get('GET') or {}
    if channel.get('merge_url_params_req'):
        return [params, message, query]
    return [message, params, query]


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


def _pick_handler(service, method):
    cls = type(service)
    if method:
        handler = getattr(service, 'handle_' + method, None)
        if callable(handler):
            return handler
    if cls.handle is not Service.handle:
        return service.handle
    verbs = [verb for verb in HTTP_METHOD.values() if callable(getattr(cls, 'handle_' + verb, None))]
    if verbs:
        raise ServiceError(405, 'Method not allowed: {}'.format(method or '(none)'), {'Allow': ', '.join(verbs)})
    return service.handle


def _final_payload(sio_def, payload):
    """The response payload as the host wants it: None, str, bytes, or a dict/list of plain values."""
    if isinstance(payload, SimpleIOPayload):
        if not payload.is_set:
            return None
        payload = payload.getvalue()
    if sio_def is not None:
        payload = serialize_output(sio_def, payload)
    if payload is None or isinstance(payload, (str, bytes)):
        return payload
    if isinstance(payload, (bytearray, memoryview)):
        return bytes(payload)
    plain = to_plain(payload)
    if isinstance(plain, (dict, list, str)) or plain is None:
        return plain
    # A bare number or boolean: the host takes text for anything that is not an object or a list.
    return json.dumps(plain)


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
    service.wsgi_environ = _wsgi_environ(http, channel)
    service.channel = service.chan = ChannelInfo(channel)
    service.environ = Bunch(req.get('environ') or {})
    service.logger = ServiceLogger(cid, entry.name)
    service.time = _time_util
    service.config = state.config
    service.user_config = state.config.user
    service.server = state.server

    service.request = Request(cid, req.get('payload'), req.get('raw_request'), data_format, http)
    service.response = Response(SimpleIOPayload() if sio_def is not None else '')
    return service


def run(entry, req, state):
    """Runs one call; returns (status_code, content_type, headers, payload). See zato._runtime.invoke."""
    service = _prepare(entry, req, state)
    sio_def = entry.sio
    channel = req.get('channel') or {}
    is_scheduler = channel.get('type') == CHANNEL.SCHEDULER
    token = current_cid.set(service.cid)
    try:
        if sio_def is not None and (sio_def.input_elems or sio_def.input_model is not None):
            service.request.input = parse_input(sio_def, _input_sources(req, sio_def, channel))
        else:
            # Upstream merges URL path and query parameters into input even without SimpleIO.
            service.request.input.update(service.request.http.GET)
            service.request.input.update(service.request.http.params)

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

        response = service.response
        payload = _final_payload(sio_def, response.payload)
        headers = {str(key): str(value) for key, value in (response.headers or {}).items()}
        content_type = None if response.content_type is None else str(response.content_type)
        return int(response.status_code), content_type, headers, payload
    finally:
        _call_logged(service, 'finalize_handle')
        current_cid.reset(token)
