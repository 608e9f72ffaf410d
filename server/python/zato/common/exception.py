# -*- coding: utf-8 -*-
"""Exceptions services raise, with upstream Zato's names and constructor signatures.

The HTTP-ish ones carry `status`; the runtime turns them into ServiceError(status, msg)
at the top-level boundary so the host can answer with that status.
"""


class ZatoException(Exception):
    def __init__(self, cid=None, msg=None):
        super().__init__(msg)
        self.cid = cid
        self.msg = msg

    def __str__(self):
        # Upstream prints a repr-like text; the message alone reads better in logs and responses.
        return '' if self.msg is None else str(self.msg)

    def __repr__(self):
        return '<{} cid:`{}`, msg:`{}`>'.format(type(self).__name__, self.cid, self.msg)


class Reportable(ZatoException):
    """An error whose message and status may be shown to the calling client."""

    status = 500
    default_msg = 'Internal server error'

    def __init__(self, cid=None, msg=None, status=None, *ignored_args, **ignored_kwargs):
        super().__init__(cid, self.default_msg if msg is None else msg)
        if status is not None:
            self.status = int(status)
        self.headers = {}


class ClientHTTPError(Reportable):
    status = 400
    default_msg = 'Bad request'


class BadRequest(ClientHTTPError):
    status = 400
    default_msg = 'Bad request'

    def __init__(self, cid=None, msg=None, needs_msg=False, *ignored_args, **ignored_kwargs):
        super().__init__(cid, msg)
        self.needs_msg = needs_msg


class Unauthorized(ClientHTTPError):
    status = 401
    default_msg = 'Unauthorized'

    def __init__(self, cid=None, msg=None, challenge='', *ignored_args, **ignored_kwargs):
        super().__init__(cid, msg)
        self.challenge = challenge
        if challenge:
            self.headers['WWW-Authenticate'] = challenge


class Forbidden(ClientHTTPError):
    status = 403
    default_msg = 'You are not allowed to access this resource'


class NotFound(ClientHTTPError):
    status = 404
    default_msg = 'Not found'


class MethodNotAllowed(ClientHTTPError):
    status = 405
    default_msg = 'Method not allowed'


class Conflict(ClientHTTPError):
    status = 409
    default_msg = 'Conflict'


class TooManyRequests(ClientHTTPError):
    status = 429
    default_msg = 'Too many requests'


class ServiceMissingException(ZatoException):
    """A service invoked by name does not exist (deliberately not a LookupError, see _runtime.invoke)."""


class TimeoutException(ZatoException):
    pass


class Inactive(ZatoException):
    pass


class OutgoingConnectionError(ZatoException, ConnectionError):
    """An outgoing connection failed (refused, timed out, TLS, a database or Redis error).

    `name` is the connection's name and `cause` what went wrong; it is also a ConnectionError,
    so `except ConnectionError` catches it.
    """

    def __init__(self, name, cause, cid=None):
        super().__init__(cid, 'Outgoing connection `{}`: {}'.format(name, cause))
        self.name = name
        self.cause = cause
