# -*- coding: utf-8 -*-
# Deployed by bench/run.sh: a Python service that calls the baseline hello server through an
# outgoing REST connection and returns its JSON (GET /bench/outgoing).
from zato.server.service import Service

class BenchOutgoing(Service):
    name = 'bench.outgoing'

    def handle(self):
        self.response.payload = self.out.rest['bench-hello-out'].conn.get(self.cid).data
