# -*- coding: utf-8 -*-
"""Outgoing SQL connections: `self.outgoing.sql.get('name')`, with upstream's (SQLAlchemy's) API.

    conn = self.outgoing.sql.get('crm')
    with closing(conn.session()) as session:                       # upstream's idiom
        for id_, name in session.execute('SELECT id, name FROM customer WHERE id > :id', {'id': 1}):
            ...
    with conn.session() as session:                                # one transaction
        session.execute(text('UPDATE ...'), {...})
        customer = session.query(Customer).filter_by(id=1).one()   # ORM, when SQLAlchemy is installed

Rows are SQLAlchemy's: they unpack and index like tuples (`id_, name = row`, `row[0]`), map like
dicts (`row['name']`, `dict(row)`, `row._asdict()`, `row._mapping`) and have attributes
(`row.name`). Results fetch like SQLAlchemy's (`fetchone()`, `fetchall()`, `first()`, `one()`,
`scalar()`, `scalars()`, `mappings()`, `all()`), each call consuming rows as a cursor does.

Parameters are named (`:name`, with a dict) or positional (`?`, with a list). Statements may also
be SQLAlchemy Core objects (`text()`, `select()`, ...) when SQLAlchemy is installed in the
cluster's virtualenv (`zato python install PATH SQLAlchemy`). A session commits when its `with`
block ends normally and rolls back when it raises; `commit()`/`rollback()` end the current
transaction and the next statement starts a new one. `session.query(...)` runs in the same
transaction as `session.execute(...)`: the ORM talks to the database through this session.
"""

from collections.abc import Mapping

from zato.common.exception import OutgoingConnectionError
from zato.common.ext.bunch import Bunch
from zato.server.connection.base import Connections
from zato.server.service.support import native


class NoResultFound(Exception):
    """`one()` or `scalar_one()` found no row (SQLAlchemy's exception when it is installed)."""


class MultipleResultsFound(Exception):
    """`one()` or `one_or_none()` found more than one row."""


def _sa_exception(name, fallback):
    try:
        from sqlalchemy import exc
    except ImportError:
        return fallback
    return getattr(exc, name, fallback)


class Row(tuple):
    """One row: a tuple with its columns' names (SQLAlchemy's Row and upstream's RowProxy)."""

    __slots__ = ()
    _fields = ()
    _keymap = {}

    def __getitem__(self, key):
        if type(key) is str:
            try:
                key = self._keymap[key]
            except KeyError:
                raise KeyError('No column `{}`; the columns are: {}'.format(key, ', '.join(self._fields))) from None
        return tuple.__getitem__(self, key)

    def __getattr__(self, name):
        try:
            return tuple.__getitem__(self, self._keymap[name])
        except KeyError:
            raise AttributeError('No column `{}`; the columns are: {}'.format(name, ', '.join(self._fields))) from None

    def __contains__(self, key):
        # Upstream's (SQLAlchemy 1.3) rows answer `'name' in row` by column names.
        return key in self._keymap

    def __eq__(self, other):
        if isinstance(other, Mapping):
            return self._asdict() == dict(other)
        return tuple.__eq__(self, other)

    def __ne__(self, other):
        return not self == other

    __hash__ = tuple.__hash__

    def keys(self):
        return list(self._fields)

    def values(self):
        return list(self)

    def items(self):
        return list(zip(self._fields, self))

    def get(self, key, default=None):
        index = self._keymap.get(key)
        return default if index is None else tuple.__getitem__(self, index)

    def _asdict(self):
        return dict(zip(self._fields, self))

    @property
    def _mapping(self):
        return self._asdict()

    # A row in a response payload is an object, not a list.
    __zato_plain__ = _asdict


_row_classes = {}


def _row_class(columns):
    key = tuple(columns)
    cls = _row_classes.get(key)
    if cls is None:
        if len(_row_classes) > 512:
            _row_classes.clear()
        keymap = {}
        for index, name in enumerate(key):
            keymap.setdefault(name, index)
        cls = _row_classes[key] = type('Row', (Row,), {'__slots__': (), '_fields': key, '_keymap': keymap})
    return cls


class _Rows:
    """What scalars() and mappings() return: the same fetching API over other values."""

    __slots__ = ('_items',)

    def __init__(self, items):
        self._items = iter(items)

    def __iter__(self):
        return self._items

    def __next__(self):
        return next(self._items)

    def all(self):
        return list(self._items)

    fetchall = all

    def fetchmany(self, size=1):
        return [item for _, item in zip(range(size), self._items)]

    def first(self):
        return next(self._items, None)

    def one_or_none(self):
        return _one(list(self._items), True)

    def one(self):
        return _one(list(self._items), False)


def _one(rows, none_ok):
    if len(rows) > 1:
        raise _sa_exception('MultipleResultsFound', MultipleResultsFound)('Multiple rows were found when one was required')
    if not rows:
        if none_ok:
            return None
        raise _sa_exception('NoResultFound', NoResultFound)('No row was found when one was required')
    return rows[0]


class Result:
    """The rows of a statement, fetched like SQLAlchemy's (each fetch consumes rows), and `rowcount`.

    Beyond SQLAlchemy: `len(result)`, `result[i]` and `result == [...]` see all rows whatever was fetched."""

    __slots__ = ('_columns', '_rows', '_pos', 'rowcount')

    def __init__(self, columns, rows, rowcount):
        self._columns = tuple(columns)
        cls = _row_class(self._columns)
        self._rows = [cls(row) for row in rows]
        self._pos = 0
        self.rowcount = rowcount if not rows else len(rows)

    @property
    def returns_rows(self):
        return bool(self._columns)

    def keys(self):
        return list(self._columns)

    def _take(self, size=None):
        start = self._pos
        end = len(self._rows) if size is None else min(len(self._rows), start + max(size, 0))
        self._pos = end
        return self._rows[start:end]

    def __iter__(self):
        while self._pos < len(self._rows):
            self._pos += 1
            yield self._rows[self._pos - 1]

    def fetchone(self):
        rows = self._take(1)
        return rows[0] if rows else None

    def fetchmany(self, size=1):
        return self._take(size)

    def fetchall(self):
        return self._take()

    all = fetchall

    def first(self):
        row = self.fetchone()
        self.close()
        return row

    def one_or_none(self):
        return _one(self._take(), True)

    def one(self):
        return _one(self._take(), False)

    def scalar(self):
        row = self.first()
        return None if row is None else row[0]

    def scalar_one(self):
        return self.one()[0]

    def scalar_one_or_none(self):
        row = self.one_or_none()
        return None if row is None else row[0]

    def scalars(self, index=0):
        return _Rows(row[index] for row in self._take())

    def mappings(self):
        return _Rows(row._asdict() for row in self._take())

    def close(self):
        self._pos = len(self._rows)

    def __len__(self):
        return len(self._rows)

    def __getitem__(self, index):
        return self._rows[index]

    def __eq__(self, other):
        return self._rows == other

    def __repr__(self):
        return repr(self._rows)

    def __zato_plain__(self):
        return [row._asdict() for row in self._rows]


def _statement(query, params, engine):
    """SQL text and parameters of a string or of a SQLAlchemy statement (`text()`, `select()`...)."""
    if isinstance(query, str):
        return query, params
    compile_ = getattr(query, 'compile', None)
    if compile_ is None:
        return str(query), params
    from zato.server.connection import sql_orm
    # Expanding parameters (`.in_([...])`) are rendered now: the text goes to the database as is.
    compiled = compile_(dialect=sql_orm.dialect_for(engine)(), compile_kwargs={'render_postcompile': True})
    if params is not None and not isinstance(params, Mapping):
        return str(compiled), params
    merged = dict(compiled.params)
    merged.update(params or {})
    return str(compiled), merged or None


def _is_orm(query):
    """A SQLAlchemy statement naming mapped classes (`select(Order)`), which only the ORM runs."""
    attrs = getattr(query, '_propagate_attrs', None)
    return bool(attrs) and attrs.get('compile_state_plugin') == 'orm'


def _engine_of(name):
    config = native().outgoing_config('sql', name)
    if config is None:
        raise KeyError('No active outgoing SQL connection named `{}`'.format(name))
    return config['engine']


def _run(name, handle, query, params, cid=None):
    if not isinstance(query, str):
        query, params = _statement(query, params, _engine_of(name))
    try:
        columns, rows, rowcount, _ = native().sql_execute(name, handle, query, params)
    except LookupError as e:
        raise KeyError(str(e)) from None
    except ConnectionError as e:
        raise OutgoingConnectionError(name, str(e), cid) from None
    return Result(columns, rows, rowcount)


class SQLSession:
    """One transaction at a time on one database connection; `query()` is SQLAlchemy's ORM on it."""

    __slots__ = ('name', '_handle', '_orm', '__weakref__')

    def __init__(self, name):
        self.name = name
        self._handle = None
        self._orm = None

    def _begin(self):
        if self._handle is None:
            try:
                self._handle = native().sql_begin(self.name)
            except LookupError as e:
                raise KeyError(str(e)) from None
            except ConnectionError as e:
                raise OutgoingConnectionError(self.name, str(e)) from None
        return self._handle

    def execute(self, query, params=None):
        if _is_orm(query):
            # `select(Order)` yields Order objects, as a SQLAlchemy session's execute does.
            return self.orm().execute(query, params)
        if self._orm is not None:
            # Pending `add()`s go first, so that this statement sees them (SQLAlchemy's autoflush).
            self._orm.session.flush()
        return _run(self.name, self._begin(), query, params)

    def orm(self):
        """The SQLAlchemy ORM session on this session's transaction (needs SQLAlchemy installed)."""
        if self._orm is None:
            from zato.server.connection import sql_orm
            self._orm = sql_orm.ORMSession(self)
        return self._orm.session

    def query(self, *entities, **kwargs):
        return self.orm().query(*entities, **kwargs)

    def add(self, instance):
        self.orm().add(instance)

    def add_all(self, instances):
        self.orm().add_all(instances)

    def delete(self, instance):
        self.orm().delete(instance)

    def flush(self):
        if self._orm is not None:
            self._orm.session.flush()

    def _end(self, commit):
        handle, self._handle = self._handle, None
        if handle is not None:
            try:
                native().sql_end(handle, commit)
            except ConnectionError as e:
                raise OutgoingConnectionError(self.name, str(e)) from None

    def commit(self):
        # The ORM flushes its pending objects first; its DB-API connection ends this transaction.
        if self._orm is not None:
            self._orm.session.commit()
        self._end(True)

    def rollback(self):
        if self._orm is not None:
            self._orm.session.rollback()
        self._end(False)

    def close(self):
        orm, self._orm = self._orm, None
        if orm is not None:
            orm.close()
        self._end(False)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                self.commit()
        finally:
            self.close()
        return False

    def __del__(self):
        # A session nobody closed must not keep its transaction (and database connection).
        if self._handle is not None:
            try:
                self._end(False)
            except Exception:
                pass


class SQLPool:
    """Upstream's `.pool`: the connection's name and settings, `ping()` and SQLAlchemy's `engine`."""

    __slots__ = ('name',)

    def __init__(self, name):
        self.name = name

    @property
    def config(self):
        return SQLConnection(self.name).config

    @property
    def engine(self):
        """A SQLAlchemy Engine running on this connection's pool (needs SQLAlchemy installed)."""
        from zato.server.connection import sql_orm
        return sql_orm.engine_for(self.name, _engine_of(self.name))

    def ping(self):
        """Runs `SELECT 1`; returns the seconds it took."""
        import time
        start = time.perf_counter()
        _run(self.name, None, 'SELECT 1', None)
        return time.perf_counter() - start


class SQLConnection:

    __slots__ = ('name',)

    def __init__(self, name):
        self.name = name

    def execute(self, query, params=None):
        """Runs one statement in its own transaction (autocommit)."""
        return _run(self.name, None, query, params)

    def session(self):
        return SQLSession(self.name)

    @property
    def config(self):
        """The connection's settings (no password), as upstream's `.config`."""
        config = native().outgoing_config('sql', self.name)
        if config is None:
            raise KeyError('No active outgoing SQL connection named `{}`'.format(self.name))
        return Bunch(config)

    @property
    def pool(self):
        return SQLPool(self.name)

    @property
    def is_sqlite(self):
        return _engine_of(self.name).startswith('sqlite')

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
