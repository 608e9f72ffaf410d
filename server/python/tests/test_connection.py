# -*- coding: utf-8 -*-
"""The outgoing-connection wrappers (self.outgoing, self.kvdb) against a fake native module."""

import unittest

from support import native  # installs the fake _zato_native

from zato.common.exception import OutgoingConnectionError
from zato.server.connection import kvdb, outgoing


class HTTPTestCase(unittest.TestCase):

    def setUp(self):
        self.calls = []

        def out_http(transport, name, method, cid, data, params, headers):
            self.calls.append((transport, name, method, cid, data, params, headers))
            if name == 'down':
                raise ConnectionError('http://x/: connection refused')
            if name == 'soap':
                body = (b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
                        b'<r><price>1.5</price></r></s:Body></s:Envelope>')
                return 200, [('Content-Type', 'text/xml')], body
            return 201, [('Content-Type', 'application/json'), ('Set-Cookie', 'a'), ('set-cookie', 'b')], b'{"ok": true}'

        native.out_http = out_http
        native.has_outgoing = lambda kind, name: name != 'missing'

    def test_verbs_params_and_response(self):
        conn = outgoing.plain_http['crm'].conn
        resp = conn.post('cid1', {'a': 1}, params={'id': 7, 'tags': ['x', 'y']}, headers={'X-A': 'b'})
        self.assertEqual(self.calls[-1], ('plain_http', 'crm', 'POST', 'cid1', b'{"a": 1}',
            [('id', '7'), ('tags', 'x'), ('tags', 'y')], [('X-A', 'b')]))
        self.assertEqual((resp.status_code, resp.ok, resp.data, resp.json()), (201, True, {'ok': True}, {'ok': True}))
        self.assertEqual(resp.headers['content-type'], 'application/json')
        self.assertEqual(resp.headers['SET-COOKIE'], 'a, b')
        conn.get('cid2', {'q': 'x'})
        self.assertEqual(self.calls[-1][2:6], ('GET', 'cid2', None, [('q', 'x')]))
        outgoing.rest['crm'].conn.send('cid3')
        self.assertEqual(self.calls[-1][2:5], (None, 'cid3', None))
        self.assertIs(outgoing.rest, outgoing.plain_http)

    def test_missing_and_failing_connections(self):
        with self.assertRaises(KeyError):
            outgoing.plain_http['missing']
        self.assertIsNone(outgoing.plain_http.get('missing'))
        self.assertNotIn('missing', outgoing.plain_http)
        with self.assertRaises(ConnectionError) as ctx:
            outgoing.plain_http['down'].conn.get('cid')
        e = ctx.exception
        self.assertIsInstance(e, OutgoingConnectionError)
        self.assertEqual((e.name, e.cause, e.cid), ('down', 'http://x/: connection refused', 'cid'))

    def test_soap_data_is_the_body_element(self):
        resp = outgoing.soap['soap'].conn.send('cid', '<getQuote/>')
        self.assertEqual(self.calls[-1][4], b'<getQuote/>')
        self.assertEqual(resp.data.tag, 'r')
        self.assertEqual(resp.data.findtext('price'), '1.5')


class SQLTestCase(unittest.TestCase):

    def setUp(self):
        self.log = []
        native.has_outgoing = lambda kind, name: True

        def sql_execute(conn, handle, query, params=None):
            self.log.append(('execute', conn, handle, query, params))
            if query.startswith('SELECT'):
                return ['id', 'name'], [(1, 'a'), (2, 'b')], 0, None
            return [], [], 3, None

        native.sql_execute = sql_execute
        native.sql_begin = lambda conn: self.log.append(('begin', conn)) or 42
        native.sql_end = lambda handle, commit: self.log.append(('end', handle, commit))

    def test_rows_are_sqlalchemy_like(self):
        rows = outgoing.sql.get('db').execute('SELECT id, name FROM t WHERE id > :id', {'id': 0})
        self.assertEqual(rows, [{'id': 1, 'name': 'a'}, {'id': 2, 'name': 'b'}])
        self.assertEqual(rows, [(1, 'a'), (2, 'b')])
        self.assertEqual((rows[1].name, rows[1]['name'], rows[1][1], rows[1][-1], len(rows)), ('b', 'b', 'b', 'b', 2))
        first = rows[0]
        id_, name = first
        self.assertEqual((id_, name, first._fields, first._asdict(), dict(first), first._mapping['name']),
            (1, 'a', ('id', 'name'), {'id': 1, 'name': 'a'}, {'id': 1, 'name': 'a'}, 'a'))
        self.assertEqual((first.keys(), first.items(), first.get('nope', 'x'), 'id' in first, tuple(first)),
            (['id', 'name'], [('id', 1), ('name', 'a')], 'x', True, (1, 'a')))
        with self.assertRaisesRegex(KeyError, 'the columns are: id, name'):
            first['nope']
        with self.assertRaisesRegex(AttributeError, 'No column `nope`'):
            first.nope
        self.assertEqual([(i, n) for i, n in rows], [(1, 'a'), (2, 'b')])
        self.assertEqual(outgoing.sql.get('db').execute('DELETE FROM t').rowcount, 3)

    def test_results_fetch_like_a_cursor(self):
        conn = outgoing.sql.get('db')
        rows = conn.execute('SELECT id, name FROM t')
        self.assertEqual((rows.fetchone().id, rows.fetchone().id, rows.fetchone()), (1, 2, None))
        self.assertEqual(len(rows), 2, 'len and indexing still see every row')
        self.assertEqual(conn.execute('SELECT 1').scalar(), 1)
        self.assertEqual(conn.execute('SELECT 1').fetchmany(5), [(1, 'a'), (2, 'b')])
        self.assertEqual(conn.execute('SELECT 1').mappings().all(), [{'id': 1, 'name': 'a'}, {'id': 2, 'name': 'b'}])
        self.assertEqual(conn.execute('SELECT 1').scalars().all(), [1, 2])
        self.assertEqual(conn.execute('SELECT 1').first(), (1, 'a'))
        self.assertEqual(conn.execute('SELECT 1').keys(), ['id', 'name'])
        with self.assertRaisesRegex(Exception, 'Multiple rows'):
            conn.execute('SELECT 1').one()
        result = conn.execute('SELECT 1')
        result.fetchone()
        self.assertEqual(result.one().name, 'b')
        with self.assertRaisesRegex(Exception, 'No row'):
            result.one()
        self.assertIsNone(result.one_or_none())
        from zato.common.convert import to_plain
        self.assertEqual(to_plain({'rows': conn.execute('SELECT 1'), 'row': conn.execute('SELECT 1').first()}),
            {'rows': [{'id': 1, 'name': 'a'}, {'id': 2, 'name': 'b'}], 'row': {'id': 1, 'name': 'a'}})

    def test_sessions_commit_roll_back_and_start_lazily(self):
        conn = outgoing.sql.get('db')
        with conn.session() as s:
            s.execute('UPDATE t SET a = 1')
        self.assertEqual(self.log, [('begin', 'db'), ('execute', 'db', 42, 'UPDATE t SET a = 1', None), ('end', 42, True)])
        self.log.clear()
        with self.assertRaises(ValueError):
            with conn.session() as s:
                s.execute('UPDATE t SET a = 2')
                raise ValueError()
        self.assertEqual(self.log[-1], ('end', 42, False))
        self.log.clear()
        with conn.session():
            pass
        self.assertEqual(self.log, [], 'a session that ran nothing opens no transaction')


class KVDBTestCase(unittest.TestCase):

    def setUp(self):
        self.sent = []

        def redis_command(args):
            self.sent.append(args)
            name = args[0]
            return {b'SET': 'OK', b'GET': b'v', b'HGETALL': [b'a', b'1'], b'PING': 'PONG',
                    b'SMEMBERS': [b'x'], b'STRLEN': 1}.get(name, b'\xff')

        native.redis_command = redis_command

    def test_commands_and_replies(self):
        conn = kvdb.conn
        self.assertTrue(conn.set('k', 'v', ex=5, nx=True))
        self.assertEqual(self.sent[-1], [b'SET', b'k', b'v', b'EX', b'5', b'NX'])
        self.assertEqual(conn.get('k'), 'v')
        self.assertEqual(conn.hgetall('h'), {'a': '1'})
        self.assertTrue(conn.ping())
        self.assertEqual(conn.smembers('s'), {'x'})
        self.assertEqual(conn.strlen('k'), 1)
        self.assertEqual(self.sent[-1], [b'STRLEN', b'k'])
        self.assertEqual(conn.execute_command('DUMP', 'k'), b'\xff', 'bytes that are not UTF-8 stay bytes')
        self.assertIs(outgoing.redis, conn)


if __name__ == '__main__':
    unittest.main()
