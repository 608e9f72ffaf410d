# -*- coding: utf-8 -*-
"""SQLAlchemy on the server's own SQL pools, for `session.query(...)`, Core statements and `.pool.engine`.

SQLAlchemy compiles statements with the database's own dialect; a small DB-API module hands them
to the server's pool, inside the transaction of the `SQLSession` that asked. Imported only when
SQLAlchemy is first needed, so services that do not use it never pay for importing it.
"""

import contextvars
import re
import threading
import types

try:
    import sqlalchemy
    from sqlalchemy import orm
    from sqlalchemy.pool import NullPool
except ImportError as e:
    raise ImportError('This needs SQLAlchemy in the cluster\'s virtualenv: install it with '
        '`zato python install PATH SQLAlchemy` (PATH: a server or the quickstart cluster\'s directory)') from e

from zato.common.exception import OutgoingConnectionError
from zato.server.service.support import native

# The SQLSession whose transaction the next DB-API connection runs in (set around engine.connect()).
_owner = contextvars.ContextVar('zato_sql_owner', default=None)

# ################################################################################################################################
# The DB-API module

dbapi = types.ModuleType('zato_sql_dbapi')
dbapi.apilevel = '2.0'
dbapi.threadsafety = 1
dbapi.paramstyle = 'named'
# SQLite's dialect reads these; the server's SQLite is recent enough for RETURNING.
dbapi.sqlite_version_info = (3, 45, 0)
dbapi.version_info = (2, 0, 0)
dbapi.__version__ = '2.0.0'


class Warning(Exception):  # noqa: A001 - a DB-API name
    pass


class Error(Exception):
    pass


class InterfaceError(Error):
    pass


class DatabaseError(Error):
    pass


class DataError(DatabaseError):
    pass


class OperationalError(DatabaseError):
    pass


class IntegrityError(DatabaseError):
    pass


class InternalError(DatabaseError):
    pass


class ProgrammingError(DatabaseError):
    pass


class NotSupportedError(DatabaseError):
    pass


for _cls in (Warning, Error, InterfaceError, DatabaseError, DataError, OperationalError, IntegrityError, InternalError,
        ProgrammingError, NotSupportedError):
    setattr(dbapi, _cls.__name__, _cls)


# A connector error's kind as the PEP 249 exception SQLAlchemy wraps (`sqlalchemy.exc.IntegrityError`...).
_ERRORS = {
    'integrity': IntegrityError,
    'refused': OperationalError,
    'timeout': OperationalError,
    'closed': OperationalError,
    'tls': OperationalError,
    'auth': OperationalError,
    'input': ProgrammingError,
    'protocol': ProgrammingError,
}


def _binary(value):
    return bytes(value)


dbapi.Binary = _binary
for _name in ('STRING', 'BINARY', 'NUMBER', 'DATETIME', 'ROWID'):
    setattr(dbapi, _name, _name)


class Cursor:

    arraysize = 1
    lastrowid = None

    def __init__(self, connection):
        self.connection = connection
        self.description = None
        self.rowcount = -1
        self._rows = []

    def execute(self, sql, params=None):
        owner = self.connection.owner
        try:
            columns, rows, rowcount, lastrowid = native().sql_execute(owner.name, owner._begin(), sql, params or None)
        except OutgoingConnectionError as e:
            raise OperationalError(str(e)) from None
        except ConnectionError as e:
            raise _ERRORS.get(getattr(e, 'kind', None), DatabaseError)(str(e)) from None
        except LookupError as e:
            raise InterfaceError(str(e)) from None
        self.description = [(name, None, None, None, None, None, None) for name in columns] if columns else None
        self._rows = list(rows)
        self.rowcount = len(rows) if columns else rowcount
        self.lastrowid = lastrowid
        return self

    def executemany(self, sql, seq):
        total = 0
        for params in seq:
            self.execute(sql, params)
            total += max(self.rowcount, 0)
        self.rowcount = total
        self.description = None

    def fetchone(self):
        return self._rows.pop(0) if self._rows else None

    def fetchmany(self, size=None):
        size = self.arraysize if size is None else size
        out, self._rows = self._rows[:size], self._rows[size:]
        return out

    def fetchall(self):
        out, self._rows = self._rows, []
        return out

    def close(self):
        self._rows = []

    def setinputsizes(self, *args):
        pass

    def setoutputsizes(self, *args):
        pass

    def __iter__(self):
        while self._rows:
            yield self._rows.pop(0)


class Connection:
    """A DB-API connection on an SQLSession: its commit and rollback end that session's transaction.

    SQLAlchemy rolls a connection back whenever it returns it to its pool (maybe from the garbage
    collector, later): once the session closes, the connection is detached and does nothing."""

    def __init__(self, owner, owns):
        self.owner = owner
        self._owns = owns  # made for this connection alone (e.g. pool.engine), closed with it

    def cursor(self):
        if self.owner is None:
            raise InterfaceError('This connection belonged to an SQL session that is closed')
        return Cursor(self)

    def commit(self):
        if self.owner is not None:
            self.owner._end(True)

    def rollback(self):
        if self.owner is not None:
            self.owner._end(False)

    def detach(self):
        self.owner = None

    def close(self):
        if self._owns and self.owner is not None:
            self.owner._end(False)
        self.owner = None


def _connect(name):
    from zato.server.connection.sql import SQLSession
    owner = _owner.get()
    return Connection(owner, False) if owner is not None else Connection(SQLSession(name), True)


dbapi.connect = _connect

# ################################################################################################################################
# Dialects: each database's own SQLAlchemy dialect, on the module above


def _import_dbapi(cls):
    return dbapi


def _mysql_charset(self, connection):
    return 'utf8mb4'


def _mysql_error_code(self, exception):
    match = re.search(r'\b(\d{4})\b', str(exception))
    return int(match.group(1)) if match else None


def _mysql_version(self, connection):
    return self._parse_server_version(connection.exec_driver_sql('SELECT VERSION()').scalar())


def _family(engine):
    name = (engine or '').split('+')[0]
    if name.startswith('postgres'):
        return 'postgresql'
    if name in ('mysql', 'mariadb'):
        return 'mysql'
    if name == 'sqlite':
        return 'sqlite'
    raise ValueError('SQLAlchemy cannot be used with engine `{}`'.format(engine))


_dialects = {}


def _mysql_initialize(base):
    """MariaDB's RETURNING is not used: a prepared INSERT ... RETURNING does not describe its
    rows there, so keys come from the cursor's `lastrowid`, as with MySQL."""
    def initialize(self, connection):
        base.initialize(self, connection)
        self.insert_returning = self.update_returning = self.delete_returning = False
    return initialize


def dialect_for(engine):
    """The SQLAlchemy dialect class for an outgoing connection's engine (`postgresql+pg8000`...)."""
    family = _family(engine)
    cls = _dialects.get(family)
    if cls is None:
        attrs = {'driver': 'zato', 'supports_statement_cache': True, 'default_paramstyle': 'named',
            'import_dbapi': classmethod(_import_dbapi), 'dbapi': classmethod(_import_dbapi)}
        if family == 'postgresql':
            from sqlalchemy.dialects.postgresql.base import PGDialect as base
        elif family == 'mysql':
            from sqlalchemy.dialects.mysql.base import MySQLDialect as base
            attrs.update(_detect_charset=_mysql_charset, _extract_error_code=_mysql_error_code,
                initialize=_mysql_initialize(base))
            if hasattr(base, '_parse_server_version'):
                attrs['_get_server_version_info'] = _mysql_version
        else:
            from sqlalchemy.dialects.sqlite.base import SQLiteDialect as base
        if sqlalchemy.__version__ >= '2':
            del attrs['dbapi']
        cls = _dialects[family] = type('Zato' + base.__name__, (base,), attrs)
    return cls


_engines = {}
_engines_lock = threading.Lock()


def engine_for(name, engine):
    """A SQLAlchemy Engine for one outgoing connection; with no session around, each of its
    connections is a transaction of its own."""
    family = _family(engine)
    key = (name, family)
    with _engines_lock:
        found = _engines.get(key)
        if found is None:
            from sqlalchemy.dialects import registry
            cls = dialect_for(engine)
            globals()[cls.__name__] = cls
            registry.register('{}.zato'.format(family), __name__, cls.__name__)
            found = sqlalchemy.create_engine('{}+zato://'.format(family), creator=lambda: _connect(name),
                poolclass=NullPool)
            # The first connection initializes the dialect (server version and the like) and
            # is rolled back after: never on a session's transaction.
            token = _owner.set(None)
            try:
                found.connect().close()
            finally:
                _owner.reset(token)
            _engines[key] = found
        return found


class ORMSession:
    """SQLAlchemy's Session on an SQLSession's transaction, and what it runs on."""

    __slots__ = ('session', '_connection', '_dbapi')

    def __init__(self, owner):
        from zato.server.connection.sql import _engine_of
        engine = engine_for(owner.name, _engine_of(owner.name))
        token = _owner.set(owner)
        try:
            self._connection = engine.connect()
        finally:
            _owner.reset(token)
        self._dbapi = self._connection.connection.dbapi_connection
        self.session = orm.Session(bind=self._connection)

    def close(self):
        self._dbapi.detach()
        try:
            self.session.close()
        finally:
            self._connection.close()
