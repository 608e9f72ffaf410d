# -*- coding: utf-8 -*-
"""Cluster-wide locks, as upstream's zato-distlock: `with self.lock('name'):` in a service.

A lock is a lease in the ODB (`kv_data`, key `zato.lock.<name>`), so it is held across every
server of the cluster. It is taken for at most `ttl` seconds: released when the `with` block
ends, or by itself once `ttl` passes, also when its holder died. A lock not obtained within
`block` seconds raises LockTimeout (or, with raise_if_not_acquired=False, is returned as not
acquired)."""

import logging
import time
import uuid

from zato.server.service.support import native

logger = logging.getLogger(__name__)

# Upstream's limits on names.
MAX_LEN_NAME = 128


class LockTimeout(Exception):
    """Raised if a lock could not be obtained within the expected time."""


class LockInfo:
    """What `with self.lock(...) as info` gives, as upstream."""

    __slots__ = ('lock', 'namespace', 'name', 'ttl', 'acquired', 'block')

    def __init__(self, lock):
        self.lock = lock
        self.namespace = lock.namespace
        self.name = lock.name
        self.ttl = lock.ttl
        self.acquired = lock.acquired
        self.block = lock.block

    def release(self):
        self.lock.release()

    def __bool__(self):
        return self.acquired

    def __repr__(self):
        return '<LockInfo {}{} acquired:{}>'.format(self.namespace and self.namespace + ':', self.name, self.acquired)


class Lock:
    """One use of a cluster-wide lock: a context manager, also with acquire() and release()."""

    def __init__(self, name, namespace='', ttl=20, block=10, block_interval=None, raise_if_not_acquired=True):
        if not name:
            raise ValueError('A lock needs a name')
        if len(name) > MAX_LEN_NAME:
            raise ValueError('Lock name `{}` exceeds the limit of {} characters'.format(name, MAX_LEN_NAME))
        self.name = name
        self.namespace = namespace
        self.ttl = ttl
        self.block = block
        self.block_interval = block_interval
        self.raise_if_not_acquired = raise_if_not_acquired
        self.acquired = False
        self._key = '{}:{}'.format(namespace, name) if namespace else name
        # Each use is its own holder: two services of one process do not share a lock.
        self._holder = uuid.uuid4().hex

    def _take(self):
        # Whole seconds in the ODB; a fraction rounds up so a lock never ends early.
        return native().lock_take(self._key, self._holder, max(1, int(-(-float(self.ttl) // 1))))

    def acquire(self):
        deadline = time.monotonic() + float(self.block or 0)
        pause = 0.02
        self.acquired = self._take()
        while not self.acquired and time.monotonic() < deadline:
            # Quick first retries, then at most the given interval (upstream's default: 1 s).
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, self.block_interval or 0.25)
            self.acquired = self._take()
        if not self.acquired:
            msg = 'Could not obtain lock for `{}` `{}` within {}s'.format(self.namespace, self.name, self.block)
            logger.warning(msg)
            if self.raise_if_not_acquired:
                raise LockTimeout(msg)
        return LockInfo(self)

    def release(self, *ignored_args, **ignored_kwargs):
        if self.acquired:
            self.acquired = False
            native().lock_release(self._key, self._holder)

    __enter__ = acquire

    def __exit__(self, type_, value, traceback):
        self.release()
