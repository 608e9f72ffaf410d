# -*- coding: utf-8 -*-
"""Constants shared by services and the runtime (a subset of upstream zato.common.api)."""

ZATO_OK = 'ZATO_OK'
ZATO_ERROR = 'ZATO_ERROR'
ZATO_WARNING = 'ZATO_WARNING'
ZATO_NONE = 'ZATO_NONE'
ZATO_NOT_GIVEN = 'ZATO_NOT_GIVEN'


class _Attrs:
    """Lets `for x in DATA_FORMAT` list the constants, as upstream's Attrs classes do."""

    @classmethod
    def values(cls):
        return [value for key, value in vars(cls).items() if key.isupper() and isinstance(value, str)]


class DATA_FORMAT(_Attrs):
    CSV = 'csv'
    DICT = 'dict'
    FORM_DATA = 'form'
    JSON = 'json'
    PLAIN = 'plain'
    SOAP = 'soap'
    XML = 'xml'


class CHANNEL(_Attrs):
    HTTP_SOAP = 'http-soap'
    INVOKE = 'invoke'
    INVOKE_ASYNC = 'invoke-async'
    SCHEDULER = 'scheduler'


class SCHEDULER:
    class JOB_TYPE(_Attrs):
        ONE_TIME = 'one_time'
        INTERVAL_BASED = 'interval_based'
        CRON_STYLE = 'cron_style'


class HTTP_METHOD(_Attrs):
    GET = 'GET'
    POST = 'POST'
    PUT = 'PUT'
    PATCH = 'PATCH'
    DELETE = 'DELETE'
    HEAD = 'HEAD'
    OPTIONS = 'OPTIONS'
    TRACE = 'TRACE'
    CONNECT = 'CONNECT'


# Default SimpleIO naming rules; init() may override any of them.
SIMPLE_IO_DEFAULTS = {
    'bool_prefixes': ['by_', 'has_', 'is_', 'may_', 'needs_', 'should_'],
    'int_exact': ['id'],
    'int_suffixes': ['_count', '_id', '_size', '_size_min', '_size_max', '_timeout'],
    'secret_exact': ['auth_data', 'auth_token', 'password', 'password1', 'password2', 'secret_key',
        'tls_pem_passphrase', 'token', 'api_key', 'apiKey', 'xApiKey'],
}
