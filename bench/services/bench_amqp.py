from zato.server.service import Service

_BODY = 'x' * 100


class Sink(Service):
    """Consumes AMQP messages: the channel acks each once handle() returns."""
    name = 'bench.amqp-sink'

    def handle(self):
        pass


class Publish(Service):
    """Publishes `count` messages of 100 bytes to `queue` through the outgoing connection `bench-out`."""
    name = 'bench.amqp-publish'

    def handle(self):
        count, queue = self.request.payload['count'], self.request.payload['queue']
        send = self.out.amqp.send
        for _ in range(count):
            send(_BODY, 'bench-out', routing_key=queue)
        self.response.payload = {'sent': count}
