# -*- coding: utf-8 -*-
"""Small per-call helpers a service sees: logger, time utilities, channel and server info.

Logging goes to the host through `_zato_native.log`, imported lazily because the host
registers that module only after the interpreter starts.
"""

import contextvars
import datetime as dt
import logging
import sys
import traceback
import urllib.parse
from collections.abc import Mapping

from zato.common.ext.bunch import Bunch
from zato.common.util.api import utcnow

# The CID of the service call running in this thread, so that plain `logging` calls can be tagged with it.
current_cid = contextvars.ContextVar('zato_current_cid', default='')


_native = None


def native():
    # Imported at first use (it exists only inside the server), then kept: an import statement
    # costs a lookup on every call.
    global _native
    if _native is None:
        import _zato_native
        _native = _zato_native
    return _native


def emit(level, cid, logger_name, text):
    try:
        native().log(level, cid, logger_name, text)
    except ImportError:
        # Only outside the server (e.g. a developer importing service code in a REPL).
        sys.stderr.write('{} {} {} {}\n'.format(logging.getLevelName(level), cid, logger_name, text))


def _format(msg, args):
    if not args:
        return str(msg)
    # Like logging.LogRecord: a single non-empty mapping feeds %(name)s placeholders.
    if len(args) == 1 and isinstance(args[0], Mapping) and args[0]:
        args = args[0]
    try:
        return str(msg) % args
    except (TypeError, ValueError, KeyError):
        # Never lose a log line because of a bad format string.
        return '{} {}'.format(msg, args)


class ServiceLogger:
    """self.logger: the logging.Logger subset services use, %-formatting included."""

    def __init__(self, cid, name):
        self.cid = cid
        self.name = name

    def log(self, level, msg, *args, exc_info=False, **ignored_kwargs):
        text = _format(msg, args)
        if exc_info:
            tb = traceback.format_exc() if exc_info is True else ''.join(
                traceback.format_exception(*(exc_info if isinstance(exc_info, tuple) else
                    (type(exc_info), exc_info, exc_info.__traceback__))))
            if tb and not tb.startswith('NoneType: None'):
                text = '{}\n{}'.format(text, tb.rstrip())
        emit(level, self.cid, self.name, text)

    def debug(self, msg, *args, **kwargs):
        self.log(logging.DEBUG, msg, *args, **kwargs)

    def info(self, msg, *args, **kwargs):
        self.log(logging.INFO, msg, *args, **kwargs)

    def warning(self, msg, *args, **kwargs):
        self.log(logging.WARNING, msg, *args, **kwargs)

    warn = warning

    def error(self, msg, *args, **kwargs):
        self.log(logging.ERROR, msg, *args, **kwargs)

    def exception(self, msg, *args, exc_info=True, **kwargs):
        self.log(logging.ERROR, msg, *args, exc_info=exc_info, **kwargs)

    def critical(self, msg, *args, **kwargs):
        self.log(logging.CRITICAL, msg, *args, **kwargs)

    fatal = critical

    def isEnabledFor(self, level):
        return True

    def setLevel(self, level):
        # The host decides what gets written; accepted for compatibility only.
        pass


class NativeLogHandler(logging.Handler):
    """Forwards records of the stdlib `logging` module (e.g. logging.getLogger(__name__)) to the host."""

    def __init__(self):
        super().__init__()
        self.setFormatter(logging.Formatter('%(message)s'))

    def emit(self, record):
        try:
            emit(record.levelno, current_cid.get(), record.name, self.format(record))
        except Exception:
            self.handleError(record)


def install_logging_bridge():
    root = logging.getLogger()
    if not any(isinstance(handler, NativeLogHandler) for handler in root.handlers):
        root.addHandler(NativeLogHandler())
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)


class TimeUtil:
    """self.time"""

    def utcnow(self, format='%Y-%m-%dT%H:%M:%S.%f', needs_format=True, *ignored_args, **ignored_kwargs):
        now = utcnow()
        return now.strftime(format) if needs_format and format else now

    def now(self, format='%Y-%m-%dT%H:%M:%S.%f', tz=None, needs_format=True, *ignored_args, **ignored_kwargs):
        now = dt.datetime.now(tz) if tz else dt.datetime.now()
        return now.strftime(format) if needs_format and format else now

    def today(self, format='%Y-%m-%d', tz=None, needs_format=True, *ignored_args, **ignored_kwargs):
        today = dt.datetime.now(tz).date() if tz else utcnow().date()
        return today.strftime(format) if needs_format and format else today


def wsgi_environ(http, channel):
    """self.wsgi_environ: a WSGI-like view of the HTTP request (built only when a service reads it)."""
    environ = {
        'REQUEST_METHOD': http.get('method') or '',
        'PATH_INFO': http.get('path') or '',
        'QUERY_STRING': urllib.parse.urlencode(http.get('GET') or {}, doseq=True),
        'HTTP_USER_AGENT': http.get('user_agent') or '',
        'zato.http.GET': dict(http.get('GET') or {}),
        'zato.http.POST': dict(http.get('POST') or {}),
        'zato.http.path_params': dict(http.get('params') or {}),
        'zato.channel_item': dict(channel),
    }
    for name, value in (http.get('headers') or {}).items():
        environ['HTTP_' + name.upper().replace('-', '_')] = value
    return environ


class ChannelInfo:
    """self.channel / self.chan"""

    def __init__(self, channel):
        channel = channel or {}
        self.id = channel.get('id')
        self.name = channel.get('name')
        self.type = channel.get('type')
        self.data_format = channel.get('data_format')
        self.is_internal = bool(channel.get('is_internal', False))
        self.match_target = channel.get('url_path')
        self.url_path = self.match_target
        self.merge_url_params_req = bool(channel.get('merge_url_params_req', False))
        self.impl = None
        security = channel.get('security')
        self.security = Bunch(security) if security else None

    def __repr__(self):
        return '<ChannelInfo id:{!r} name:{!r} type:{!r}>'.format(self.id, self.name, self.type)


class ServerInfo:
    """self.server: only what the host shares with Python."""

    def __init__(self, name, cluster_name):
        self.name = name
        self.cluster_name = cluster_name

    def __repr__(self):
        return '<ServerInfo name:{!r} cluster_name:{!r}>'.format(self.name, self.cluster_name)
