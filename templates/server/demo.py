# -*- coding: utf-8 -*-

# Zato
from zato.server.service import Service

class MyService(Service):
    """ A demo service: POST {"name": "..."} and get a salutation back.
    """
    input = '-name'
    output = 'salutation'

    def handle(self):
        self.response.payload.salutation = 'Howdy {}!'.format(self.request.input.name)
