# -*- coding: utf-8 -*-
# Deployed by bench/async.sh: one asynchronous (stored) or synchronous invocation of a no-op
# service per request, or a parallel execution of eight no-op targets (stored in one round trip).
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


class BenchParallel(Service):
    name = 'bench.parallel-eight'

    def handle(self):
        targets = {'bench.noop-%d' % n: {'n': n} for n in range(8)}
        self.response.payload = {'cid': self.patterns.parallel.invoke(targets, [])}


class BenchNoop0(Service):
    name = 'bench.noop-0'

    def handle(self):
        pass


class BenchNoop1(Service):
    name = 'bench.noop-1'

    def handle(self):
        pass


class BenchNoop2(Service):
    name = 'bench.noop-2'

    def handle(self):
        pass


class BenchNoop3(Service):
    name = 'bench.noop-3'

    def handle(self):
        pass


class BenchNoop4(Service):
    name = 'bench.noop-4'

    def handle(self):
        pass


class BenchNoop5(Service):
    name = 'bench.noop-5'

    def handle(self):
        pass


class BenchNoop6(Service):
    name = 'bench.noop-6'

    def handle(self):
        pass


class BenchNoop7(Service):
    name = 'bench.noop-7'

    def handle(self):
        pass
