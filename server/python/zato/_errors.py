# -*- coding: utf-8 -*-
"""The two exception types the host understands; re-exported by zato._runtime.

They live in their own module so that the service pipeline can raise them without
importing zato._runtime (which imports the pipeline).
"""


class ServiceError(Exception):
    """A client error: the host answers with `status` and `message` (str(err) == message).

    `headers` is optional extra for the host, e.g. WWW-Authenticate from Unauthorized.
    """

    def __init__(self, status, message, headers=None):
        super().__init__(message)
        self.status = int(status)
        self.message = str(message)
        self.headers = dict(headers or {})

    def __str__(self):
        return self.message


class DeployError(Exception):
    """A service file could not be deployed; `line` is in that file, or None when unknown."""

    def __init__(self, file_name, line, message):
        self.file_name = file_name
        self.line = line
        self.message = message
        super().__init__(file_name, line, message)

    def __str__(self):
        if self.line is None:
            return '{}: {}'.format(self.file_name, self.message)
        return '{}:{}: {}'.format(self.file_name, self.line, self.message)
