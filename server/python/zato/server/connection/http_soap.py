# -*- coding: utf-8 -*-
"""Outgoing REST and SOAP connections: `self.outgoing.plain_http['name'].conn.get(self.cid, ...)`."""

import json
from xml.etree import ElementTree

from zato.common.exception import OutgoingConnectionError
from zato.server.connection.base import Connections
from zato.server.service.support import native

_KIND = {'plain_http': 'REST', 'soap': 'SOAP'}


class Headers(dict):
    """Response headers; lookups ignore case, as in requests."""

    def __init__(self, pairs):
        super().__init__()
        for key, value in pairs:
            key = key.lower()
            self[key] = '{}, {}'.format(self[key], value) if key in self else value

    def __getitem__(self, key):
        return super().__getitem__(key.lower())

    def __contains__(self, key):
        return super().__contains__(key.lower())

    def get(self, key, default=None):
        return super().get(key.lower(), default)


class Response:
    """What a call returns: `.status_code`, `.text`, `.content`, `.data`, `.headers`, `.ok`, `.json()`."""

    def __init__(self, status_code, headers, content, transport):
        self.status_code = status_code
        self.headers = Headers(headers)
        self.content = content
        self._transport = transport
        self._data = self
        self._text = None

    @property
    def text(self):
        if self._text is None:
            self._text = self.content.decode('utf-8', 'replace')
        return self._text

    @property
    def ok(self):
        return self.status_code < 400

    def json(self):
        return json.loads(self.content)

    @property
    def data(self):
        """JSON responses parsed; XML ones as an ElementTree element (SOAP: the Body's first child)."""
        if self._data is self:
            self._data = self._parse()
        return self._data

    def _parse(self):
        body = self.content.strip()
        if not body:
            return None
        content_type = self.headers.get('content-type', '')
        if self._transport == 'soap' or 'xml' in content_type or body[:1] == b'<':
            try:
                root = ElementTree.fromstring(body)
            except ElementTree.ParseError:
                return None
            if self._transport == 'soap':
                for child in root:
                    if child.tag.endswith('}Body') or child.tag == 'Body':
                        return next(iter(child), None)
            return root
        try:
            return json.loads(body)
        except ValueError:
            return None

    def raise_for_status(self):
        if not self.ok:
            raise OutgoingConnectionError(None, 'HTTP {}: {}'.format(self.status_code, self.text[:200]))

    def __repr__(self):
        return '<Response [{}]>'.format(self.status_code)


def _encode(data):
    if data is None:
        return None
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        return data.encode('utf-8')
    if isinstance(data, (dict, list, tuple)):
        return json.dumps(data).encode('utf-8')
    to_dict = getattr(data, 'to_dict', None)
    if to_dict is not None:
        return json.dumps(to_dict()).encode('utf-8')
    return str(data).encode('utf-8')


def _pairs(mapping):
    if not mapping:
        return []
    items = mapping.items() if hasattr(mapping, 'items') else mapping
    out = []
    for key, value in items:
        values = value if isinstance(value, (list, tuple)) else [value]
        out.extend((str(key), '' if v is None else str(v)) for v in values)
    return out


class HTTPClient:
    """The `.conn` of a connection: one method per HTTP verb, plus `send`."""

    __slots__ = ('transport', 'name')

    def __init__(self, transport, name):
        self.transport = transport
        self.name = name

    def _call(self, method, cid, data, params, headers):
        try:
            status, reply_headers, content = native().out_http(
                self.transport, self.name, method, cid or '', _encode(data), _pairs(params), _pairs(headers))
        except LookupError as e:
            raise KeyError(str(e)) from None
        except ConnectionError as e:
            raise OutgoingConnectionError(self.name, str(e), cid) from None
        return Response(status, reply_headers, content, self.transport)

    def send(self, cid, data='', params=None, headers=None, method=None, *ignored_args, **ignored_kwargs):
        """Uses the connection's method (GET for REST, POST for SOAP when it has none)."""
        return self._call(method, cid, data if data != '' else None, params, headers)

    def get(self, cid, params=None, headers=None, *ignored_args, **ignored_kwargs):
        return self._call('GET', cid, None, params, headers)

    def delete(self, cid, params=None, headers=None, *ignored_args, **ignored_kwargs):
        return self._call('DELETE', cid, None, params, headers)

    def options(self, cid, params=None, headers=None, *ignored_args, **ignored_kwargs):
        return self._call('OPTIONS', cid, None, params, headers)

    def head(self, cid, params=None, headers=None, *ignored_args, **ignored_kwargs):
        return self._call('HEAD', cid, None, params, headers)

    def post(self, cid, data='', params=None, headers=None, *ignored_args, **ignored_kwargs):
        return self._call('POST', cid, data, params, headers)

    def put(self, cid, data='', params=None, headers=None, *ignored_args, **ignored_kwargs):
        return self._call('PUT', cid, data, params, headers)

    def patch(self, cid, data='', params=None, headers=None, *ignored_args, **ignored_kwargs):
        return self._call('PATCH', cid, data, params, headers)

    def __repr__(self):
        return '<{} connection {!r}>'.format(_KIND[self.transport], self.name)


class HTTPConnection:
    """One named connection; upstream's wrapper has the client under `.conn`."""

    __slots__ = ('name', 'conn')

    def __init__(self, transport, name):
        self.name = name
        self.conn = HTTPClient(transport, name)


class HTTPConnections(Connections):
    """`self.outgoing.plain_http` / `.soap`: connections by name, like a dict."""

    __slots__ = ('transport',)

    def __init__(self, transport):
        self.transport = transport

    def _kind(self):
        return self.transport

    def _label(self):
        return _KIND[self.transport]

    def _new(self, name):
        return HTTPConnection(self.transport, name)
