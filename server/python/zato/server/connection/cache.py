# -*- coding: utf-8 -*-
"""`self.cache`: the cluster's built-in caches, as upstream's API (`self.cache.default`,
`self.cache.get_cache('builtin', name)`). Entries live in the ODB, so a value set on one server
is read on every other and survives restarts; values are anything JSON can hold; `expiry` is in
seconds (or a fraction of), 0 meaning for ever."""

from zato.server.service.support import native

# What get() returns for a key that is not there, unless given a default (upstream's value).
_not_given = object()


class CacheEntry:
    """What get(..., details=True) returns: the value with its key's metadata."""

    __slots__ = ('key', 'value', 'expiry', 'expires_at', 'last_modified')

    def __init__(self, details):
        for name in self.__slots__:
            setattr(self, name, details.get(name))

    def __repr__(self):
        return '<CacheEntry key:{!r} value:{!r} expires_at:{}>'.format(self.key, self.value, self.expires_at)


class Cache:
    """One built-in cache."""

    def __init__(self, name):
        self.name = name

    def _call(self, op, **args):
        return native().cache_call(op, self.name, args)

    def get(self, key, default=None, details=False):
        """The value stored under `key` (with its metadata if `details`), or `default`."""
        out = self._call('get', key=key)
        if not out['found']:
            return default
        return CacheEntry(out['details']) if details else out['value']

    def has_key(self, key, default=None, details=False):
        return self._call('get', key=key)['found']

    def set(self, key, value, expiry=0.0, details=False):
        """Sets `key` to `value` for `expiry` seconds (0: for ever); returns the previous value."""
        return self._call('set', key=key, value=value, expiry=float(expiry or 0))['value']

    def delete(self, key, raise_key_error=True):
        """Deletes `key` and returns its value; KeyError if there was none (unless told not to)."""
        out = self._call('delete', key=key)
        if not out['found']:
            if raise_key_error:
                raise KeyError(key)
            return None
        return out['value']

    def expire(self, key, expiry=0.0):
        """`key` lives `expiry` more seconds; returns whether it was found."""
        return self._call('expire', key=key, expiry=float(expiry or 0))['found']

    def _entries(self, prefix=''):
        return self._call('list', prefix=prefix)['entries']

    def get_by_prefix(self, key, details=False, limit=0):
        """Entries whose keys start with `key`, as a dict of key to value (or CacheEntry)."""
        entries = self._entries(key)
        if limit:
            entries = entries[:limit]
        return {e['key']: (CacheEntry(e) if details else e['value']) for e in entries}

    def delete_by_prefix(self, key, return_found=False, limit=0):
        found = self.get_by_prefix(key, limit=limit)
        for name in found:
            self.delete(name, raise_key_error=False)
        return found if return_found else None

    def keys(self):
        return [e['key'] for e in self._entries()]

    def values(self):
        return [e['value'] for e in self._entries()]

    def items(self):
        return [(e['key'], e['value']) for e in self._entries()]

    iterkeys, itervalues, iteritems = keys, values, items

    def clear(self):
        """Deletes every entry; returns how many there were."""
        return self._call('clear')['count']

    def __getitem__(self, key):
        out = self._call('get', key=key)
        if not out['found']:
            raise KeyError(key)
        return out['value']

    def __setitem__(self, key, value):
        self.set(key, value)

    def __delitem__(self, key):
        self.delete(key)

    def __contains__(self, key):
        return self.has_key(key)

    def __len__(self):
        return len(self._entries())

    def __repr__(self):
        return '<Cache builtin:{}>'.format(self.name)


class CacheAPI:
    """`self.cache`: `default` and any other built-in cache by name."""

    def __init__(self):
        self.default = Cache('default')

    def get_cache(self, cache_type, name):
        if cache_type != 'builtin':
            raise ValueError('Only built-in caches are available, not `{}`'.format(cache_type))
        return Cache(name)

    def get_builtin_cache(self, name):
        return Cache(name)
