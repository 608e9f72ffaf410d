# -*- coding: utf-8 -*-
"""What every family of outgoing connections shares: a dict-like view by name."""

from zato.server.service.support import native


class Connections:
    """`conns['name']` (KeyError when there is no such active connection), `.get('name')`, `'name' in conns`."""

    __slots__ = ()

    def _kind(self):
        """The server's name of the family: plain_http, soap or sql."""
        raise NotImplementedError

    def _label(self):
        raise NotImplementedError

    def _new(self, name):
        raise NotImplementedError

    def __getitem__(self, name):
        if not native().has_outgoing(self._kind(), name):
            raise KeyError('No active outgoing {} connection named `{}`'.format(self._label(), name))
        return self._new(name)

    def get(self, name, default=None):
        try:
            return self[name]
        except KeyError:
            return default

    def __contains__(self, name):
        return native().has_outgoing(self._kind(), name)
