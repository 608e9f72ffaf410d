# -*- coding: utf-8 -*-
# Deployed by bench/run.sh: a SimpleIO JSON echo behind the POST /bench/echo REST channel.
from zato.server.service import Service

class BenchEcho(Service):
    name = 'bench.echo'
    input = 'message', '-count'
    output = 'message', 'count'

    def handle(self):
        self.response.payload.message = self.request.input.message
        self.response.payload.count = self.request.input.count
