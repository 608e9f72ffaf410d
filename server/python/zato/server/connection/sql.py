# -*- coding: utf-8 -*-
"""Outgoing SQL connections: `self.outgoing.sql.get('name')`.

    conn = self.outgoing.sql.get('crm')
    rows = conn.execute('SELECT id, name FROM customer WHERE id = :id', {'id': 1})   # rows as dicts
    with conn.session() as session:                                                    # one transaction
        session.execute('UPDATE ...', {...})

Parameters are named (`:name`, with a dict) or positional (`?`, with a list). A session commits
when its `with` block ends normally and rolls back when it raises; `commit()`/`rollback()` end
the current transaction and the next statement starts a new one.
"""

from zato.common.exception import OutgoingConnectionError
from zato.common.ext.bunch import Bunch
from zato.server.connection.base import Connections
from zato.server.service.support import native


class Result:
    """Rows of a statement (each a Bunch: `row['id']` or `row.id`) and `rowcount`."""

    __slots__ = ('columns', 'rows', 'rowcount')

    def __init__(self, columns, rows, rowcount):
        self.columns = columns
        self.rows = [Bunch(zip(columns, row)) for row in rows]
        self.rowcount = rowcount if not rows else len(rows)

    def fetchall(self):
        return self.rows

    def fetchone(self):
        return self.rows[0] if self.rows else None

    first = fetchone

    def scalar(self):
        return self.rows[0][self.columns[0]] if self.rows else None

    def keys(self):
        return list(self.columns)

    def __iter__(self):
        return iter(self.rows)

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, index):
        return self.rows[index]

    def __eq__(self, other):
        return self.rows == other

    def __repr__(self):
        return repr(self.rows)


def _run(name, handle, query, params, cid=None):
    try:
        columns, rows, rowcount = native().sql_execute(name, handle, str(query), params)
    except LookupError as e:
        raise KeyError(str(e)) from None
    except ConnectionError as e:
        raise OutgoingConnectionError(name, str(e), cid) from None
    return Result(columns, rows, rowcount)


class SQLSession:
    """One transaction at a time on one database connection."""

    __slots__ = ('name', '_handle', '__weakref__')

    def __init__(self, name):
        self.name = name
        self._handle = None

    def execute(self, query, params=None):
        if self._handle is None:
            try:
                self._handle = native().sql_begin(self.name)
            except LookupError as e:
                raise KeyError(str(e)) from None
            except ConnectionError as e:
                raise OutgoingConnectionError(self.name, str(e)) from None
        return _run(self.name, self._handle, query, params)

    def _end(self, commit):
        handle, self._handle = self._handle, None
        if handle is not None:
            try:
                native().sql_end(handle, commit)
            except ConnectionError as e:
                raise OutgoingConnectionError(self.name, str(e)) from None

    def commit(self):
        self._end(True)

    def rollback(self):
        self._end(False)

    def close(self):
        self._end(False)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.commit()
        else:
            self.rollback()
        return False

    def __del__(self):
        # A session nobody closed must not keep its transaction (and database connection).
        if self._handle is not None:
            try:
                self._end(False)
            except Exception:
                pass


class SQLConnection:

    __slots__ = ('name',)

    def __init__(self, name):
        self.name = name

    def execute(self, query, params=None):
        """Runs one statement in its own transaction (autocommit)."""
        return _run(self.name, None, query, params)

    def session(self):
        return SQLSession(self.name)

    def __repr__(self):
        return '<SQL connection {!r}>'.format(self.name)


class SQLConnections(Connections):
    """`self.outgoing.sql`: connections by name, like a dict."""

    __slots__ = ()

    def _kind(self):
        return 'sql'

    def _label(self):
        return 'SQL'

    def _new(self, name):
        return SQLConnection(name)
