# -*- coding: utf-8 -*-
# Deployed by bench/run.sh: the Python hello-world behind the GET /bench/hello REST channel.
from zato.server.service import Service

class BenchHello(Service):
    name = 'bench.hello'

    def handle(self):
        self.response.payload = {'hello': 'world'}
