# -*- coding: utf-8 -*-
"""self.request and self.response of a service."""

import json
from copy import deepcopy

from zato.common.api import ZATO_OK
from zato.common.ext.bunch import Bunch, bunchify


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


class Request:

    def __init__(self, cid, payload, raw_request, data_format, http):
        self.cid = cid
        self.payload = payload
        self.text = raw_request
        self.data_format = data_format
        self.transport = None
        self.http = HTTPRequestData(http)
        self.input = Bunch()
        self.channel_params = {}
        self.merge_channel_params = True

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


class SimpleIOPayload:
    """self.response.payload of a SimpleIO service: set elements as attributes or keys,
    or assign a list (payload[:] = rows, append) for repeated output.

    A dict or list assigned to response.payload is kept by reference, so later changes to it still count.
    """

    def __init__(self, attrs=None, items=None):
        object.__setattr__(self, '_zato_attrs', {} if attrs is None else attrs)
        object.__setattr__(self, '_zato_items', items)
        object.__setattr__(self, '_zato_touched', attrs is not None or items is not None)

    def _touch(self):
        object.__setattr__(self, '_zato_touched', True)

    def _ensure_items(self):
        if self._zato_items is None:
            object.__setattr__(self, '_zato_items', [])
        self._touch()
        return self._zato_items

    def __setattr__(self, name, value):
        self._zato_attrs[name] = value
        self._touch()

    def __getattr__(self, name):
        # Only called when normal lookup fails, i.e. for element names.
        try:
            return object.__getattribute__(self, '_zato_attrs')[name]
        except (KeyError, AttributeError):
            raise AttributeError(name) from None

    def __delattr__(self, name):
        try:
            del self._zato_attrs[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setitem__(self, key, value):
        if isinstance(key, (slice, int)):
            self._ensure_items()[key] = value
        else:
            self._zato_attrs[key] = value
            self._touch()

    def __getitem__(self, key):
        if isinstance(key, (slice, int)):
            return (self._zato_items or [])[key]
        return self._zato_attrs[key]

    def __contains__(self, key):
        return key in self._zato_attrs

    def __len__(self):
        return len(self._zato_items) if self._zato_items is not None else len(self._zato_attrs)

    def append(self, item):
        self._ensure_items().append(item)

    def extend(self, items):
        self._ensure_items().extend(items)

    def get(self, key, default=None):
        return self._zato_attrs.get(key, default)

    def update(self, *args, **kwargs):
        self._zato_attrs.update(*args, **kwargs)
        self._touch()

    def set_payload_attrs(self, value):
        self.update(value if isinstance(value, dict) else vars(value))

    @property
    def is_set(self):
        return self._zato_touched

    def getvalue(self):
        """A list for repeated output, else the dict of elements set."""
        if self._zato_items is not None:
            return self._zato_items
        return self._zato_attrs

    __zato_plain__ = getvalue

    def __repr__(self):
        return '<SimpleIOPayload {!r}>'.format(self.getvalue())


class Response:

    def __init__(self, payload=''):
        self._payload = payload
        self.status_code = 200
        self.content_type = None
        self.headers = {}
        self.result = ZATO_OK
        self.result_details = ''

    @property
    def payload(self):
        return self._payload

    @payload.setter
    def payload(self, value):
        # Keep SimpleIO services' payload attribute-settable after `payload = {...}` or `payload = [...]`.
        if isinstance(self._payload, SimpleIOPayload) and not isinstance(value, SimpleIOPayload):
            if type(value) is dict or isinstance(value, Bunch):
                value = SimpleIOPayload(attrs=value)
            elif type(value) is list:
                value = SimpleIOPayload(items=value)
            elif isinstance(value, tuple):
                value = SimpleIOPayload(items=list(value))
        self._payload = value
