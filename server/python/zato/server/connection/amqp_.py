# -*- coding: utf-8 -*-
"""`self.out.amqp`: publishing through outgoing AMQP connections, upstream's API.

    self.out.amqp.send(msg, 'My Connection', exchange='/', routing_key='my.queue')
    self.out.amqp.invoke(msg, 'My Connection', routing_key='my.queue')   # waits for the broker

`send` returns once the message is handed to the connection; `invoke` once the broker confirmed
it (a refused, returned or nacked message raises). Dicts and lists are sent as JSON (with
content type application/json unless one is given), text as UTF-8. Properties given here win
over the connection's own (`app_id content_encoding content_type delivery_mode expiration
priority user_id correlation_id reply_to message_id type timestamp`); upstream's default
exchange `'/'` is AMQP's default exchange.
"""

import json

from zato.common.exception import OutgoingConnectionError
from zato.server.service.support import native

_KIND = 'amqp'
_call = None


def _connector_call(*args):
    # Looked up once: a service publishing in a loop pays for the call only.
    global _call
    if _call is None:
        _call = native().connector_call
    return _call(*args)


def _body(msg, properties):
    if isinstance(msg, bytes):
        return msg
    if isinstance(msg, (dict, list)):
        properties.setdefault('content_type', 'application/json')
        return json.dumps(msg).encode('utf-8')
    if msg is None:
        return b''
    return str(msg).encode('utf-8')


class AMQPConnections:

    __slots__ = ()

    def _publish(self, msg, out_name, exchange, routing_key, properties, headers, confirm, kwargs):
        # Only what is given crosses into the server: a plain send is three keys.
        args = {'exchange': exchange or '/', 'routing_key': routing_key or '', 'confirm': confirm}
        if kwargs:
            args['mandatory'] = bool(kwargs.pop('mandatory', False))
            # Upstream passes other keyword arguments to kombu's publish as properties.
            properties = dict(properties or {}, **kwargs)
        if headers:
            args['headers'] = headers
        if type(msg) is bytes:
            data = msg
        else:
            properties = dict(properties or {})
            data = _body(msg, properties)
        if properties:
            args['properties'] = properties
        try:
            return _connector_call(_KIND, out_name, 'publish', args, data)
        except LookupError as e:
            raise OutgoingConnectionError(out_name, str(e)) from None
        except ConnectionError as e:
            raise OutgoingConnectionError(out_name, str(e)) from None

    def send(self, msg, out_name, exchange='/', routing_key=None, properties=None, headers=None, **kwargs):
        return self._publish(msg, out_name, exchange, routing_key, properties, headers, False, kwargs)

    def invoke(self, msg, out_name, exchange='/', routing_key=None, properties=None, headers=None, **kwargs):
        return self._publish(msg, out_name, exchange, routing_key, properties, headers, True, kwargs)

    invoke_async = send

    def __contains__(self, out_name):
        return bool(native().has_outgoing(_KIND, out_name))
