# -*- coding: utf-8 -*-
"""Outgoing connections as services see them: `self.outgoing` (alias `self.out`) and `self.kvdb`.

The work is done by the server (Rust) with the interpreter released, so other requests keep
running while a service waits on a remote system.
"""

from zato.server.connection.amqp_ import AMQPConnections
from zato.server.connection.http_soap import HTTPConnections
from zato.server.connection.kvdb import KVDB
from zato.server.connection.sql import SQLConnections


class Outgoing:
    """`self.outgoing.plain_http` (also `.rest`), `.soap`, `.sql`, `.amqp` and `.redis` (= `self.kvdb.conn`)."""

    __slots__ = ('plain_http', 'soap', 'sql', 'amqp', '_kvdb')

    def __init__(self):
        self.amqp = AMQPConnections()
        self.plain_http = HTTPConnections('plain_http')
        self.soap = HTTPConnections('soap')
        self.sql = SQLConnections()
        self._kvdb = KVDB()

    @property
    def rest(self):
        return self.plain_http

    @property
    def redis(self):
        return self._kvdb.conn


# One set of connection wrappers serves every service: they hold names only, all state is in the server.
outgoing = Outgoing()
kvdb = outgoing._kvdb
