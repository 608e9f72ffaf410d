# -*- coding: utf-8 -*-
# Deployed by bench/async.sh: one asynchronous (stored) or synchronous invocation of a no-op
# service per request.
from zato.server.service import Service


class BenchNoop(Service):
    name = 'bench.noop'

    def handle(self):
        pass


class BenchAsyncOne(Service):
    name = 'bench.async-one'

    def handle(self):
        self.response.payload = {'cid': self.invoke_async('bench.noop', {'n': 1})}


class BenchSyncOne(Service):
    name = 'bench.sync-one'

    def handle(self):
        self.invoke('bench.noop', {'n': 1})
        self.response.payload = {'cid': self.cid}
