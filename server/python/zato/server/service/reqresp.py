# -*- coding: utf-8 -*-
"""self.request and self.response of a service."""

import json
from copy import deepcopy
from functools import partial
from operator import attrgetter
from types import MethodType

from zato.common.api import ZATO_OK
from zato.common.ext.bunch import Bunch, bunchify
from zato.common.util.lazy import lazy_attr


class HTTPRequestData:
    """self.request.http: what the HTTP channel knew about the request (empty for other channels)."""

    def __init__(self, http=None):
        http = http or {}
        self.method = http.get('method') or None
        self.path = http.get('path') or None
        self.params = Bunch(http.get('params') or {})
        self.GET = Bunch(http.get('GET') or {})
        self.POST = Bunch(http.get('POST') or {})
        self.headers = Bunch(http.get('headers') or {})
        self.user_agent = http.get('user_agent') or ''

    def get_form_data(self):
        return self.POST

    def to_dict(self):
        return {'method': self.method, 'path': self.path, 'params': dict(self.params), 'GET': dict(self.GET),
            'POST': dict(self.POST), 'headers': dict(self.headers), 'user_agent': self.user_agent}

    def __repr__(self):
        return '<HTTPRequestData {}>'.format(self.to_dict())


class MessageData:
    """self.request.amqp (and later other brokers'): the message's `headers`, `properties` and
    `delivery_info` as `msg`, and ack() / reject() to settle it before the service returns;
    otherwise the channel's ack_mode decides once handle() is done."""

    def __init__(self, message):
        self._message = message

    @lazy_attr
    def msg(self):
        # The server sends the details as JSON text, parsed only if a service looks at them.
        meta = self._message.get('meta')
        if isinstance(meta, str):
            meta = json.loads(meta)
        return bunchify(meta or {})

    def ack(self):
        self._settle('ack')

    def reject(self):
        self._settle('reject')

    def _settle(self, how):
        done = self._message.get('disposition')
        if done:
            raise RuntimeError('The message was already settled ({})'.format(done))
        self._message['disposition'] = how

    def __repr__(self):
        return '<MessageData {}>'.format(dict(self.msg))


class Request:
    """self.request. `http`, `input` (for services without SimpleIO input) and `channel_params`
    are built on first access from what the host sent."""

    transport = None
    merge_channel_params = True

    def __init__(self, cid, payload, raw_request, data_format, http):
        self.cid = cid
        self.payload = payload
        self.text = raw_request
        self.data_format = data_format
        self._zato_http = http
        self.input = Bunch()

    @lazy_attr
    def http(self):
        return HTTPRequestData(self.__dict__.get('_zato_http'))

    @lazy_attr
    def amqp(self):
        """None unless an AMQP channel started the call."""
        message = self.__dict__.get('_zato_message')
        return MessageData(message) if message and message.get('transport') == 'amqp' else None

    @lazy_attr
    def scheduler(self):
        """None unless the scheduler started the call: the run as a Bunch of `job_id`, `job_name`,
        `job_type`, `planned` (the run's planned time, UTC) and `fired_at`."""
        message = self.__dict__.get('_zato_message')
        return Bunch(message.get('meta') or {}) if message and message.get('transport') == 'scheduler' else None

    @lazy_attr
    def input(self):
        # Upstream merges URL path and query parameters into input even without SimpleIO.
        http = self.__dict__.get('_zato_http') or {}
        out = Bunch(http.get('GET') or {})
        params = http.get('params')
        if params:
            out.update(params)
        return out

    @lazy_attr
    def channel_params(self):
        return {}

    @property
    def raw_request(self):
        return self.text

    @raw_request.setter
    def raw_request(self, value):
        self.text = value

    def to_bunch(self):
        """A deep-copied Bunch of the payload (or of the raw request parsed as JSON)."""
        if isinstance(self.payload, (dict, list)):
            return bunchify(deepcopy(self.payload))
        if isinstance(self.raw_request, (dict, list)):
            return bunchify(deepcopy(self.raw_request))
        return bunchify(json.loads(self.raw_request))

    bunchified = to_bunch


def new_request(cid, payload, raw_request, data_format, http, message=None, _new=object.__new__):
    """What the pipeline uses instead of Request(...): the same object, without the eager input Bunch."""
    request = _new(Request)
    request.cid = cid
    request.payload = payload
    request.text = raw_request
    request.data_format = data_format
    request._zato_http = http
    request._zato_message = message
    return request


class SimpleIOPayload:
    """self.response.payload of a SimpleIO service: set elements as attributes or keys,
    or assign a list (payload[:] = rows, append) for repeated output.

    A dict or list assigned to response.payload is kept by reference, so later changes to it still count.

    Elements live in the instance's own __dict__, so `payload.name = value` is a plain attribute store.
    The public methods below are data descriptors (see the end of the class): reading `payload.get`
    is always the method, while assigning `payload.get = value` sets an element called `get`.
    """

    __slots__ = ('_zato_items', '_zato_touched', '__dict__')

    def __init__(self, attrs=None, items=None):
        if attrs is not None:
            self.__dict__ = attrs
        self._zato_items = items
        # Elements set later show in __dict__; this covers what does not (a given empty dict, update(), del).
        self._zato_touched = attrs is not None or items is not None

    def _touch(self):
        self._zato_touched = True

    def _ensure_items(self):
        if self._zato_items is None:
            self._zato_items = []
        self._zato_touched = True
        return self._zato_items

    def __delattr__(self, name):
        try:
            del self.__dict__[name]
        except KeyError:
            raise AttributeError(name) from None
        self._zato_touched = True

    def __setitem__(self, key, value):
        if isinstance(key, (slice, int)):
            self._ensure_items()[key] = value
        else:
            self.__dict__[key] = value

    def __getitem__(self, key):
        if isinstance(key, (slice, int)):
            return (self._zato_items or [])[key]
        return self.__dict__[key]

    def __contains__(self, key):
        return key in self.__dict__

    def __len__(self):
        return len(self._zato_items) if self._zato_items is not None else len(self.__dict__)

    def append(self, item):
        self._ensure_items().append(item)

    def extend(self, items):
        self._ensure_items().extend(items)

    def get(self, key, default=None):
        return self.__dict__.get(key, default)

    def update(self, *args, **kwargs):
        self.__dict__.update(*args, **kwargs)
        self._zato_touched = True

    def set_payload_attrs(self, value):
        SimpleIOPayload.update(self, value if isinstance(value, dict) else vars(value))

    def getvalue(self):
        """A list for repeated output, else the dict of elements set."""
        return payload_value(self)

    def __zato_plain__(self):
        return payload_value(self)

    def __repr__(self):
        return '<SimpleIOPayload {!r}>'.format(payload_value(self))


def payload_value(payload):
    """SimpleIOPayload.getvalue."""
    items = payload._zato_items
    return items if items is not None else payload.__dict__


def payload_is_set(payload):
    """Whether anything was assigned to a SimpleIOPayload (an element, rows, or the payload as a whole)."""
    return payload._zato_touched or payload._zato_items is not None or bool(payload.__dict__)


def _element_setter(name):
    def set_element(payload, value):
        payload.__dict__[name] = value
    return set_element


def _as_data_descriptors():
    for name in ('append', 'extend', 'get', 'update', 'set_payload_attrs', 'getvalue'):
        method = vars(SimpleIOPayload)[name]
        # partial(MethodType, f)(obj) is the bound method, made without any Python-level call.
        setattr(SimpleIOPayload, name, property(partial(MethodType, method), _element_setter(name), doc=method.__doc__))
    SimpleIOPayload.is_set = property(payload_is_set, _element_setter('is_set'))


_as_data_descriptors()


def new_sio_payload(_new=object.__new__):
    payload = _new(SimpleIOPayload)
    payload._zato_items = None
    payload._zato_touched = False
    return payload


class Response:
    """self.response; `payload` is a plain attribute (see SimpleIOResponse for SimpleIO services)."""

    payload = ''
    status_code = 200
    content_type = None
    result = ZATO_OK
    result_details = ''

    def __init__(self, payload=''):
        if isinstance(payload, SimpleIOPayload):
            self.__class__ = SimpleIOResponse
            self._payload = payload
        else:
            self.payload = payload
        self.headers = {}


def _set_sio_payload(self, value):
    # Keep SimpleIO services' payload attribute-settable after `payload = {...}` or `payload = [...]`.
    if not isinstance(value, SimpleIOPayload) and isinstance(self._payload, SimpleIOPayload):
        if type(value) is dict or isinstance(value, Bunch):
            value = SimpleIOPayload(attrs=value)
        elif type(value) is list:
            value = SimpleIOPayload(items=value)
        elif isinstance(value, tuple):
            value = SimpleIOPayload(items=list(value))
    self._payload = value


class SimpleIOResponse(Response):
    """self.response of a SimpleIO service: a dict or list assigned to payload is wrapped in SimpleIOPayload."""

    payload = property(attrgetter('_payload'), _set_sio_payload)
