# -*- coding: utf-8 -*-
"""Exceptions services raise, with upstream Zato 3.2's names, class hierarchy, constructor arguments and statuses.

Everything derived from Reportable (BadRequest, NotFound, ServiceUnavailable, ...) carries an HTTP `status`;
the runtime turns it into ServiceError(status, msg) at the top-level boundary so that the host answers with
that status. Upstream requires `cid` and `msg` for most of them; we accept the same positional order but
let later arguments default (to the HTTP reason phrase), so that `NotFound(self.cid)` works too.
"""

from http import HTTPStatus

# http.client has the same constants but is slower to import.
BAD_REQUEST = 400
UNAUTHORIZED = 401
FORBIDDEN = 403
NOT_FOUND = 404
METHOD_NOT_ALLOWED = 405
CONFLICT = 409
INTERNAL_SERVER_ERROR = 500
SERVICE_UNAVAILABLE = 503

# RFC 6585
TOO_MANY_REQUESTS = 429


def _reason(status):
    """The HTTP reason phrase of a status, '' for a status HTTP does not define."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ''


class ZatoException(Exception):
    """Base class of Zato's own exceptions."""

    def __init__(self, cid=None, msg=None):
        super().__init__(msg)
        self.cid = cid
        self.msg = msg

    def __str__(self):
        # Upstream prints its repr here; the message alone reads better in logs and responses.
        return '' if self.msg is None else str(self.msg)

    def __repr__(self):
        return '<{} at {} cid:`{}`, msg:`{}`>'.format(type(self).__name__, hex(id(self)), self.cid, self.msg)


class ServiceMissingException(ZatoException):
    """A service invoked by name does not exist (deliberately not a LookupError, see _runtime.invoke)."""


class RuntimeInvocationError(ZatoException):
    pass


class ClientSecurityException(ZatoException):
    """A security problem on the client's side, e.g. invalid credentials."""


class ConnectionException(ZatoException):
    """A problem with an external connection."""


class TimeoutException(ConnectionException):
    pass


class StatusAwareException(ZatoException):
    """An error that maps to an HTTP status; `reason` is that status's phrase."""

    def __init__(self, cid=None, msg=None, status=INTERNAL_SERVER_ERROR, needs_msg=False):
        super().__init__(cid, msg)
        self.status = int(status)
        self.reason = _reason(self.status)
        self.needs_msg = needs_msg

    def __repr__(self):
        return '<{} at {} cid:`{}`, status:`{}`, msg:`{}`>'.format(type(self).__name__, hex(id(self)), self.cid,
            self.status, self.msg)


class HTTPException(StatusAwareException):
    pass


class ParsingException(ZatoException):
    """A document, e.g. an input message, could not be parsed."""


class NoDistributionFound(ZatoException):
    def __init__(self, path):
        super().__init__(None, 'No Disutils distribution in path:[{}]'.format(path))


class Inactive(ZatoException):
    """A resource (a connection, a channel) is not active."""

    def __init__(self, name):
        super().__init__(None, '`{}` is inactive'.format(name))

# ################################################################################################################################
# Errors reported to the calling client with their status

class Reportable(HTTPException):
    """An error whose message and status are shown to the calling client."""

    # What the subclasses answer with; Reportable itself may be given any status.
    status = INTERNAL_SERVER_ERROR

    def __init__(self, cid=None, msg=None, status=None, needs_msg=False, *ignored_args, **ignored_kwargs):
        status = type(self).status if status is None else status
        super().__init__(cid, _reason(int(status)) if msg is None else msg, status, needs_msg)
        # Extra response headers for the host, e.g. WWW-Authenticate (not upstream's; see Unauthorized).
        self.headers = {}


# Upstream's name before 3.0
ClientHTTPError = Reportable


class BadRequest(Reportable):
    status = BAD_REQUEST

    def __init__(self, cid=None, msg='Bad request', needs_msg=False, *ignored_args, **ignored_kwargs):
        super().__init__(cid, msg, BAD_REQUEST, needs_msg)


class Conflict(Reportable):
    status = CONFLICT

    def __init__(self, cid=None, msg=None, *ignored_args, **ignored_kwargs):
        super().__init__(cid, msg, CONFLICT)


class Forbidden(Reportable):
    status = FORBIDDEN

    def __init__(self, cid=None, msg='You are not allowed to access this resource', *ignored_args, **ignored_kwargs):
        super().__init__(cid, msg, FORBIDDEN)


class MethodNotAllowed(Reportable):
    status = METHOD_NOT_ALLOWED

    def __init__(self, cid=None, msg=None, *ignored_args, **ignored_kwargs):
        super().__init__(cid, msg, METHOD_NOT_ALLOWED)


class NotFound(Reportable):
    status = NOT_FOUND

    def __init__(self, cid=None, msg=None, *ignored_args, **ignored_kwargs):
        super().__init__(cid, msg, NOT_FOUND)


class Unauthorized(Reportable):
    status = UNAUTHORIZED

    def __init__(self, cid=None, msg=None, challenge='', *ignored_args, **ignored_kwargs):
        super().__init__(cid, msg, UNAUTHORIZED)
        self.challenge = challenge
        if challenge:
            self.headers['WWW-Authenticate'] = challenge


class TooManyRequests(Reportable):
    status = TOO_MANY_REQUESTS

    def __init__(self, cid=None, msg=None, *ignored_args, **ignored_kwargs):
        super().__init__(cid, msg, TOO_MANY_REQUESTS)


class InternalServerError(Reportable):
    status = INTERNAL_SERVER_ERROR

    def __init__(self, cid=None, msg='Internal server error', *ignored_args, **ignored_kwargs):
        super().__init__(cid, msg, INTERNAL_SERVER_ERROR)


class ServiceUnavailable(Reportable):
    status = SERVICE_UNAVAILABLE

    def __init__(self, cid=None, msg=None, *ignored_args, **ignored_kwargs):
        super().__init__(cid, msg, SERVICE_UNAVAILABLE)


class PubSubSubscriptionExists(BadRequest):
    pass

# ################################################################################################################################
# Not Zato exceptions in upstream either

class ConnectorClosedException(Exception):
    def __init__(self, exc, message):
        self.inner_exc = exc
        super().__init__(message)


class IBMMQException(Exception):
    pass

# ################################################################################################################################
# Ours

class OutgoingConnectionError(ConnectionException, ConnectionError):
    """An outgoing connection failed (refused, timed out, TLS, a database or Redis error).

    `name` is the connection's name and `cause` what went wrong. It is upstream's ConnectionException
    and also a ConnectionError, so `except ConnectionError` catches it.
    """

    def __init__(self, name, cause, cid=None):
        super().__init__(cid, 'Outgoing connection `{}`: {}'.format(name, cause))
        self.name = name
        self.cause = cause
