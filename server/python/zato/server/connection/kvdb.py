# -*- coding: utf-8 -*-
"""`self.kvdb.conn`: Redis commands on the server's `[kvdb]` connection, redis-py style.

Replies are decoded as with redis-py's `decode_responses=True` (text as str; bytes that are not
UTF-8 stay bytes); any command without a method here goes through `execute_command(*args)` or
`conn.<command>(*args)`.
"""

from zato.common.exception import OutgoingConnectionError
from zato.server.service.support import native

_NAME = 'kvdb'


def _arg(value):
    if isinstance(value, bytes):
        return value
    if isinstance(value, bool):
        return b'1' if value else b'0'
    return str(value).encode('utf-8')


def _decode(value):
    if isinstance(value, bytes):
        try:
            return value.decode('utf-8')
        except UnicodeDecodeError:
            return value
    if isinstance(value, list):
        return [_decode(item) for item in value]
    return value


class RedisConnection:

    __slots__ = ()

    def execute_command(self, *args):
        try:
            reply = native().redis_command([_arg(a) for a in args])
        except LookupError as e:
            raise OutgoingConnectionError(_NAME, str(e)) from None
        except ConnectionError as e:
            raise OutgoingConnectionError(_NAME, str(e)) from None
        if reply == 'OK':
            return True
        return _decode(reply)

    def ping(self):
        return self.execute_command('PING') == 'PONG'

    def get(self, name):
        return self.execute_command('GET', name)

    def set(self, name, value, ex=None, px=None, nx=False, xx=False):
        args = ['SET', name, value]
        if ex is not None:
            args += ['EX', int(ex)]
        if px is not None:
            args += ['PX', int(px)]
        if nx:
            args.append('NX')
        if xx:
            args.append('XX')
        return self.execute_command(*args)

    def setex(self, name, time, value):
        return self.execute_command('SETEX', name, int(time), value)

    def delete(self, *names):
        return self.execute_command('DEL', *names)

    def exists(self, *names):
        return self.execute_command('EXISTS', *names)

    def incr(self, name, amount=1):
        return self.execute_command('INCRBY', name, amount)

    def decr(self, name, amount=1):
        return self.execute_command('DECRBY', name, amount)

    def expire(self, name, time):
        return bool(self.execute_command('EXPIRE', name, int(time)))

    def ttl(self, name):
        return self.execute_command('TTL', name)

    def keys(self, pattern='*'):
        return self.execute_command('KEYS', pattern)

    def hget(self, name, key):
        return self.execute_command('HGET', name, key)

    def hset(self, name, key=None, value=None, mapping=None):
        args = ['HSET', name]
        if key is not None:
            args += [key, value]
        for k, v in (mapping or {}).items():
            args += [k, v]
        return self.execute_command(*args)

    def hgetall(self, name):
        flat = self.execute_command('HGETALL', name) or []
        return dict(zip(flat[::2], flat[1::2]))

    def hdel(self, name, *keys):
        return self.execute_command('HDEL', name, *keys)

    def lpush(self, name, *values):
        return self.execute_command('LPUSH', name, *values)

    def rpush(self, name, *values):
        return self.execute_command('RPUSH', name, *values)

    def lpop(self, name):
        return self.execute_command('LPOP', name)

    def rpop(self, name):
        return self.execute_command('RPOP', name)

    def lrange(self, name, start, end):
        return self.execute_command('LRANGE', name, start, end)

    def llen(self, name):
        return self.execute_command('LLEN', name)

    def sadd(self, name, *values):
        return self.execute_command('SADD', name, *values)

    def srem(self, name, *values):
        return self.execute_command('SREM', name, *values)

    def smembers(self, name):
        return set(self.execute_command('SMEMBERS', name) or [])

    def sismember(self, name, value):
        return bool(self.execute_command('SISMEMBER', name, value))

    def publish(self, channel, message):
        return self.execute_command('PUBLISH', channel, message)

    def __getattr__(self, command):
        if command.startswith('_'):
            raise AttributeError(command)
        return lambda *args: self.execute_command(command.upper(), *args)


class KVDB:
    """`self.kvdb`; `.conn` is the Redis connection (upstream's attribute name)."""

    __slots__ = ('conn',)

    def __init__(self):
        self.conn = RedisConnection()
