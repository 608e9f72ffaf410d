# -*- coding: utf-8 -*-
"""Upstream Zato 3.2's zato.common.api: the constants and small value classes services import.

Every public name and value is upstream's (branch support/3.2). Constant classes are written out
sorted by name, plain values first, then aliases, nested classes and methods. The hand-written part
below holds what has behaviour: NameId, Attrs, the iteration helpers and the classes with methods.
HTTP_METHOD and SIMPLE_IO_DEFAULTS at the end are ours, used by the runtime.
"""

from collections import OrderedDict
from dataclasses import dataclass
from numbers import Number
from sys import maxsize

from zato.common.ext.bunch import Bunch

# ################################################################################################################################
# Helpers and base classes the constants below use


def _iterates(*paths):
    """Builds an __iter__ (or a method like it) that yields the named attributes in this order;
    'X.id' follows a dotted path. Upstream's enumerations iterate over instances: `list(TLS.VERSION())`."""
    split_paths = [path.split('.') for path in paths]

    def iterate(self):
        values = []
        for parts in split_paths:
            value = self
            for part in parts:
                value = getattr(value, part)
            values.append(value)
        return iter(values)

    return iterate


def _has_id(self, value):
    """`is_valid` of the NameId enumerations: is value the id of one of the items?"""
    return any(item.id == value for item in self)


class NameId:
    """A human-readable name and the id kept in configuration; the id defaults to the name."""

    def __init__(self, name, id=''):
        self.name = name
        self.id = id or name

    def __repr__(self):
        return '<{} at {}; name={}; id={}>'.format(type(self).__name__, hex(id(self)), self.name, self.id)


class NotGiven:
    """A marker class (used as is, never instantiated) for values that were not given at all."""


class Attrs(type):
    """Base of the enumerations that can be asked `DATA_FORMAT.has('json')`: is the value one of
    the class's attributes whose names are all upper-case? Upstream subclasses `type` here, so do we."""

    attrs = NotGiven

    @classmethod
    def has(cls, attr):
        if cls.attrs is NotGiven:
            # Worked out on first use and kept on the class asked.
            cls.attrs = [getattr(cls, name) for name in dir(cls) if name == name.upper()]
        return attr in cls.attrs


# ################################################################################################################################
# Module-level constants

All_Sec_Def_Types = [
    'apikey',
    'aws',
    'basic_auth',
    'jwt',
    'ntlm',
    'oauth',
    'tls_channel_sec',
    'tls_key_cert',
    'vault_conn_sec',
    'wss',
]
CLI_ARG_SEP = 'Zato_Zato_Zato'
DEFAULT_HTTP_PING_METHOD = 'HEAD'
DEFAULT_HTTP_POOL_SIZE = 20
default_internal_modules = dict.fromkeys((
    'zato.server.service.internal',
    'zato.server.service.internal.apispec',
    'zato.server.service.internal.audit_log',
    'zato.server.service.internal.cache.builtin',
    'zato.server.service.internal.cache.builtin.entry',
    'zato.server.service.internal.cache.builtin.pubapi',
    'zato.server.service.internal.cache.memcached',
    'zato.server.service.internal.channel.amqp_',
    'zato.server.service.internal.channel.file_transfer',
    'zato.server.service.internal.channel.jms_wmq',
    'zato.server.service.internal.channel.json_rpc',
    'zato.server.service.internal.channel.web_socket',
    'zato.server.service.internal.channel.web_socket.cleanup',
    'zato.server.service.internal.channel.web_socket.client',
    'zato.server.service.internal.channel.web_socket.subscription',
    'zato.server.service.internal.channel.zmq',
    'zato.server.service.internal.cloud.aws.s3',
    'zato.server.service.internal.common',
    'zato.server.service.internal.common.create',
    'zato.server.service.internal.common.delete',
    'zato.server.service.internal.common.import_',
    'zato.server.service.internal.common.sync',
    'zato.server.service.internal.connector.amqp_',
    'zato.server.service.internal.crypto',
    'zato.server.service.internal.definition.amqp_',
    'zato.server.service.internal.definition.cassandra',
    'zato.server.service.internal.definition.jms_wmq',
    'zato.server.service.internal.email.imap',
    'zato.server.service.internal.email.smtp',
    'zato.server.service.internal.generic.connection',
    'zato.server.service.internal.generic.rest_wrapper',
    'zato.server.service.internal.groups',
    'zato.server.service.internal.helpers',
    'zato.server.service.internal.hot_deploy',
    'zato.server.service.internal.http_soap',
    'zato.server.service.internal.ide_deploy',
    'zato.server.service.internal.info',
    'zato.server.service.internal.kv_data',
    'zato.server.service.internal.kvdb',
    'zato.server.service.internal.kvdb.data_dict.dictionary',
    'zato.server.service.internal.kvdb.data_dict.impexp',
    'zato.server.service.internal.kvdb.data_dict.translation',
    'zato.server.service.internal.message.json_pointer',
    'zato.server.service.internal.message.namespace',
    'zato.server.service.internal.message.xpath',
    'zato.server.service.internal.notif',
    'zato.server.service.internal.notif.sql',
    'zato.server.service.internal.outgoing.amqp_',
    'zato.server.service.internal.outgoing.ftp',
    'zato.server.service.internal.outgoing.jms_wmq',
    'zato.server.service.internal.outgoing.odoo',
    'zato.server.service.internal.outgoing.redis',
    'zato.server.service.internal.outgoing.sap',
    'zato.server.service.internal.outgoing.sftp',
    'zato.server.service.internal.outgoing.sql',
    'zato.server.service.internal.outgoing.zmq',
    'zato.server.service.internal.pattern',
    'zato.server.service.internal.pattern.invoke_retry',
    'zato.server.service.internal.pickup',
    'zato.server.service.internal.pubsub',
    'zato.server.service.internal.pubsub.delivery',
    'zato.server.service.internal.pubsub.endpoint',
    'zato.server.service.internal.pubsub.hook',
    'zato.server.service.internal.pubsub.message',
    'zato.server.service.internal.pubsub.migrate',
    'zato.server.service.internal.pubsub.pubapi',
    'zato.server.service.internal.pubsub.publish',
    'zato.server.service.internal.pubsub.queue',
    'zato.server.service.internal.pubsub.subscription',
    'zato.server.service.internal.pubsub.task',
    'zato.server.service.internal.pubsub.task.delivery',
    'zato.server.service.internal.pubsub.task.delivery.message',
    'zato.server.service.internal.pubsub.task.delivery.server',
    'zato.server.service.internal.pubsub.task.sync',
    'zato.server.service.internal.pubsub.topic',
    'zato.server.service.internal.query.cassandra',
    'zato.server.service.internal.scheduler',
    'zato.server.service.internal.search.es',
    'zato.server.service.internal.search.solr',
    'zato.server.service.internal.security',
    'zato.server.service.internal.security.apikey',
    'zato.server.service.internal.security.aws',
    'zato.server.service.internal.security.basic_auth',
    'zato.server.service.internal.security.jwt',
    'zato.server.service.internal.security.ntlm',
    'zato.server.service.internal.security.oauth',
    'zato.server.service.internal.security.rbac',
    'zato.server.service.internal.security.rbac.client_role',
    'zato.server.service.internal.security.rbac.permission',
    'zato.server.service.internal.security.rbac.role',
    'zato.server.service.internal.security.rbac.role_permission',
    'zato.server.service.internal.security.tls.ca_cert',
    'zato.server.service.internal.security.tls.channel',
    'zato.server.service.internal.security.tls.key_cert',
    'zato.server.service.internal.security.vault.connection',
    'zato.server.service.internal.security.vault.policy',
    'zato.server.service.internal.security.wss',
    'zato.server.service.internal.security.xpath',
    'zato.server.service.internal.server',
    'zato.server.service.internal.service',
    'zato.server.service.internal.service.ide',
    'zato.server.service.internal.sms',
    'zato.server.service.internal.sms.twilio',
    'zato.server.service.internal.sso',
    'zato.server.service.internal.sso.cleanup',
    'zato.server.service.internal.sso.password_reset',
    'zato.server.service.internal.sso.session',
    'zato.server.service.internal.sso.session_attr',
    'zato.server.service.internal.sso.signup',
    'zato.server.service.internal.sso.user',
    'zato.server.service.internal.sso.user_attr',
    'zato.server.service.internal.stats',
    'zato.server.service.internal.stats.summary',
    'zato.server.service.internal.stats.trends',
    'zato.server.service.internal.updates',
), True)
Default_Service_File_Data = '''# -*- coding: utf-8 -*-

# File path: {full_path}

# Zato
from zato.server.service import Service

class MyService(Service):

    # I/O definition
    input = '-name'
    output = 'salutation'

    def handle(self):

        # Local variables
        name = self.request.input.name or 'partner'

        # Our response to produce
        message = f'Howdy {{name}}!'

        # Reply to our caller
        self.response.payload.salutation = message
'''
DEFAULT_STATS_SETTINGS = {
    'scheduler_per_minute_aggr_interval': 60,
    'scheduler_raw_times_interval': 90,
    'scheduler_raw_times_batch': 99999,
    'atttention_slow_threshold': 2000,
    'atttention_top_threshold': 10,
}
DELEGATED_TO_RBAC = 'Delegated to RBAC'
DONT_DEPLOY_ATTR_NAME = 'zato_dont_import'
engine_def = '{engine}://{username}:{password}@{host}:{port}/{db_name}'
engine_def_sqlite = 'sqlite:///{sqlite_path}'
engine_display_name = {
    'db2': 'DB2',
    'mssql': 'MS SQL',
    'zato+mssql1': 'MS SQL (Direct)',
    'mysql+pymysql': 'MySQL',
    'oracle': 'Oracle',
    'postgresql': 'PostgreSQL',
    'postgresql+pg8000': 'PostgreSQL',
    'sqlite': 'SQLite',
}
FALSE_TRUE = 'false_true'
generic_attrs = (
    'is_rate_limit_active',
    'rate_limit_type',
    'rate_limit_def',
    'rate_limit_check_parent_def',
    'is_audit_log_sent_active',
    'is_audit_log_received_active',
    'max_len_messages_sent',
    'max_len_messages_received',
    'max_bytes_per_message_sent',
    'max_bytes_per_message_received',
    'hl7_version',
    'json_path',
    'data_encoding',
    'max_msg_size',
    'read_buffer_size',
    'recv_timeout',
    'logging_level',
    'should_log_messages',
    'start_seq',
    'end_seq',
    'max_wait_time',
    'oauth_def',
    'ping_interval',
    'pings_missed_threshold',
    'socket_read_timeout',
    'socket_write_timeout',
    'security_group_count',
    'security_group_member_count',
)
megabyte = 1000000
NO_DEFAULT_VALUE = 'NO_DEFAULT_VALUE'
NO_REMOTE_ADDRESS = '(None)'
ping_queries = {
    'db2': 'SELECT current_date FROM sysibm.sysdummy1',
    'mssql': 'SELECT 1',
    'mysql+pymysql': 'SELECT 1+1',
    'oracle': 'SELECT 1 FROM dual',
    'postgresql': 'SELECT 1',
    'postgresql+pg8000': 'SELECT 1',
    'sqlite': 'SELECT 1',
}
PLACEHOLDER = 'zato_placeholder'
scheduler_date_time_format = '%Y-%m-%d %H:%M:%S'
SEC_DEF_TYPE_NAME = {
    'apikey': 'API key',
    'aws': 'AWS',
    'basic_auth': 'Basic Auth',
    'jwt': 'JWT',
    'ntlm': 'NTLM',
    'oauth': 'Bearer token',
    'tls_channel_sec': 'TLS channel',
    'tls_key_cert': 'TLS key/cert',
    'vault_conn_sec': 'Vault',
    'wss': 'WS-Security',
}
SECONDS_IN_DAY = 86400
SECRET_SHADOW = '******'
skip_endpoint_types = ('internal',)
SOAP_CHANNEL_VERSIONS = ('1.1',)
SOAP_VERSIONS = ('1.1', '1.2')
TRACE1 = 6
TRUE_FALSE = 'true_false'
Wrapper_Name_Prefix_List = {'KeysightHawkeye.', 'KeysightVision.'}
ZATO_CRYPTO_WELL_KNOWN_DATA = 'ZATO'
ZATO_DEFAULT = 'ZATO_DEFAULT'
ZATO_ERROR = 'ZATO_ERROR'
ZATO_FIELD_OPERATORS = {'is-equal-to': '==', 'is-not-equal-to': '!='}
ZATO_INFO_FILE = '.zato-info'
zato_no_op_marker = 'zato_no_op_marker'
Zato_No_Security = 'zato-no-security'
ZATO_NONE = 'ZATO_NONE'
ZATO_NOT_GIVEN = b'ZATO_NOT_GIVEN'
ZATO_ODB_POOL_NAME = 'ZATO_ODB'
ZATO_OK = 'ZATO_OK'
ZATO_SEC_USE_RBAC = 'ZATO_SEC_USE_RBAC'
ZATO_WARNING = 'ZATO_WARNING'
ZatoNotGiven = b'ZatoNotGiven'
ZMQ_OUTGOING_TYPES = ('PUSH', 'PUB')

# ################################################################################################################################
# Classes of constants


class ADAPTER_PARAMS:
    APPLY_AFTER_REQUEST = 'apply-after-request'
    APPLY_BEFORE_REQUEST = 'apply-before-request'


class AMQP:
    class ACK_MODE:
        ACK = NameId('Ack', 'ack')
        REJECT = NameId('Reject', 'reject')

        __iter__ = _iterates('ACK', 'REJECT')

    class DEFAULT:
        POOL_SIZE = 10
        PREFETCH_COUNT = 0
        PRIORITY = 5


class API_Key:
    Default_Header = 'X-API-Key'
    Env_Key = 'Zato_API_Key_Name'


class APISPEC:
    DEFAULT_TAG = 'public'
    GENERIC_INVOKE_PATH = '/zato/api/invoke/{service_name}'
    NAMESPACE_NULL = ''
    OPEN_API_V3 = 'openapi_v3'


class Atlassian:
    class Default:
        Address = 'https://example.atlassian.net'
        API_Version = '3'


class AuditLog:
    class Default:
        max_data_stored_per_message = 500
        max_len_messages = 50

    class Direction:
        received = 'received'
        sent = 'sent'


class AUTH_RESULT:
    class BASIC_AUTH:
        INVALID_PREFIX = 'invalid-prefix'
        NO_AUTH = 'no-auth'


class BATCH_DEFAULTS:
    MAX_SIZE = 1000
    PAGE_NO = 1
    SIZE = 25


class BROKER:
    DEFAULT_EXPIRATION = 15


class CACHE:
    API_USERNAME = 'pub.zato.cache'

    class BUILTIN_KV_DATA_TYPE:
        INT = NameId('Integer', 'int')
        STR = NameId('String', 'str')

        __iter__ = _iterates('STR', 'INT')

    class DEFAULT:
        MAX_ITEM_SIZE = 10000
        MAX_SIZE = 10000

    class Default_Name:
        Bearer_Token = 'zato.bearer.token'
        Main = 'default'

    class PERSISTENT_STORAGE:
        NO_PERSISTENT_STORAGE = NameId('No persistent storage', 'no-persistent-storage')
        SQL = NameId('SQL', 'sql')

        __iter__ = _iterates('NO_PERSISTENT_STORAGE', 'SQL')

    class STATE_CHANGED:
        CLEAR = 'CLEAR'
        DELETE = 'DELETE'
        DELETE_BY_PREFIX = 'DELETE_BY_PREFIX'
        DELETE_BY_REGEX = 'DELETE_BY_REGEX'
        DELETE_BY_SUFFIX = 'DELETE_BY_SUFFIX'
        DELETE_CONTAINS = 'DELETE_CONTAINS'
        DELETE_CONTAINS_ALL = 'DELETE_CONTAINS_ALL'
        DELETE_CONTAINS_ANY = 'DELETE_CONTAINS_ANY'
        DELETE_NOT_CONTAINS = 'DELETE_NOT_CONTAINS'
        EXPIRE = 'EXPIRE'
        EXPIRE_BY_PREFIX = 'EXPIRE_BY_PREFIX'
        EXPIRE_BY_REGEX = 'EXPIRE_BY_REGEX'
        EXPIRE_BY_SUFFIX = 'EXPIRE_BY_SUFFIX'
        EXPIRE_CONTAINS = 'EXPIRE_CONTAINS'
        EXPIRE_CONTAINS_ALL = 'EXPIRE_CONTAINS_ALL'
        EXPIRE_CONTAINS_ANY = 'EXPIRE_CONTAINS_ANY'
        EXPIRE_NOT_CONTAINS = 'EXPIRE_NOT_CONTAINS'
        GET = 'GET'
        SET = 'SET'
        SET_BY_PREFIX = 'SET_BY_PREFIX'
        SET_BY_REGEX = 'SET_BY_REGEX'
        SET_BY_SUFFIX = 'SET_BY_SUFFIX'
        SET_CONTAINS = 'SET_CONTAINS'
        SET_CONTAINS_ALL = 'SET_CONTAINS_ALL'
        SET_CONTAINS_ANY = 'SET_CONTAINS_ANY'
        SET_NOT_CONTAINS = 'SET_NOT_CONTAINS'

    class SYNC_METHOD:
        IN_BACKGROUND = NameId('In background', 'in-background')
        NO_SYNC = NameId('No synchronization', 'no-sync')

        __iter__ = _iterates('NO_SYNC', 'IN_BACKGROUND')

    class TYPE:
        BUILTIN = 'builtin'
        MEMCACHED = 'memcached'


class CASSANDRA:
    class COMPRESSION:
        DISABLED = 'disabled'
        ENABLED_LZ4 = 'enabled-lz4'
        ENABLED_NEGOTIATED = 'enabled-negotiated'
        ENABLED_SNAPPY = 'enabled-snappy'

    class DEFAULT:
        CONTACT_POINTS = '127.0.0.1\n'
        EXEC_SIZE = 2
        KEYSPACE = 'not-set'
        PORT = 9042
        PROTOCOL_VERSION = 4


class CHANNEL(Attrs):
    AMQP = 'amqp'
    DELIVERY = 'delivery'
    FANOUT_CALL = 'fanout-call'
    FANOUT_ON_FINAL = 'fanout-on-final'
    FANOUT_ON_TARGET = 'fanout-on-target'
    HTTP_SOAP = 'http-soap'
    IBM_MQ = 'websphere-mq'
    INTERNAL_CHECK = 'internal-check'
    INVOKE = 'invoke'
    INVOKE_ASYNC = 'invoke-async'
    INVOKE_ASYNC_CALLBACK = 'invoke-async-callback'
    IPC = 'ipc'
    JSON_RPC = 'json-rpc'
    NEW_INSTANCE = 'new-instance'
    NOTIFIER_RUN = 'notifier-run'
    NOTIFIER_TARGET = 'notifier-target'
    PARALLEL_EXEC_CALL = 'parallel-exec-call'
    PARALLEL_EXEC_ON_TARGET = 'parallel-exec-on-target'
    PUBLISH = 'publish'
    SCHEDULER = 'scheduler'
    SCHEDULER_AFTER_ONE_TIME = 'scheduler-after-one-time'
    SERVICE = 'service'
    SSO_USER = 'sso-user'
    STARTUP_SERVICE = 'startup-service'
    URL_DATA = 'url-data'
    WEB_SOCKET = 'web-socket'
    WORKER = 'worker'
    ZMQ = 'zmq'


class CLOUD:
    class AWS:
        class S3:
            class DEFAULTS:
                ADDRESS = 'https://s3.amazonaws.com/'
                CONTENT_TYPE = 'application/octet-stream'
                DEBUG_LEVEL = 0
                POOL_SIZE = 5
                PROVIDER = 'aws'

            class STORAGE_CLASS:
                DEFAULT = 'STANDARD'
                GLACIER = 'GLACIER'
                REDUCED_REDUNDANCY = 'REDUCED_REDUNDANCY'
                STANDARD = 'STANDARD'

                __iter__ = _iterates('STANDARD', 'REDUCED_REDUNDANCY', 'GLACIER')


class CommonObject:
    Invalid = 'invalid-invalid'
    Prefix_Invalid = 'prefix-invalid'
    PubSub_Endpoint = 'pubsub-endpoint'
    PubSub_Publish = 'pubsub-publish'
    PubSub_Subscription = 'pubsub-subscription'
    PubSub_Topic = 'pubsub-topic'
    Security_Basic_Auth = 'security-basic-auth'


class CONFIG_FILE:
    USER_DEFINED = 'user-defined'


class CONNECTION:
    CHANNEL = 'channel'
    OUTGOING = 'outgoing'


class ContentType:
    FormURLEncoded = 'application/x-www-form-urlencoded'


class DATA_FORMAT(Attrs):
    CSV = 'csv'
    DICT = 'dict'
    FORM_DATA = 'form'
    HL7 = 'hl7'
    JSON = 'json'
    POST = 'post'

    __iter__ = _iterates('JSON', 'CSV', 'POST', 'HL7')


class DELIVERY_CALLBACK_INVOKER(Attrs):
    SOURCE = 'source'
    TARGET = 'target'


class DELIVERY_STATE(Attrs):
    CONFIRMED = 'confirmed'
    FAILED = 'failed'
    IN_DOUBT = 'in-doubt'
    IN_PROGRESS_ANY = 'in-progress-any'
    IN_PROGRESS_RESUBMITTED = 'in-progress-resubmitted'
    IN_PROGRESS_RESUBMITTED_AUTO = 'in-progress-resubmitted-auto'
    IN_PROGRESS_STARTED = 'in-progress'
    IN_PROGRESS_TARGET_FAILURE = 'in-progress-target-failure'
    IN_PROGRESS_TARGET_OK = 'in-progress-target-ok'
    UNKNOWN = 'unknown'


class DEPLOYMENT_STATUS(Attrs):
    AWAITING_DEPLOYMENT = 'awaiting-deployment'
    DEPLOYED = 'deployed'
    IGNORED = 'ignored'


class DROPBOX:
    class DEFAULT:
        MAX_RETRIES_ON_ERROR = 5
        MAX_RETRIES_ON_RATE_LIMIT = None
        OAUTH2_ACCESS_TOKEN_EXPIRATION = None
        POOL_SIZE = 10
        TIMEOUT = 60
        USER_AGENT = None


class EMAIL:
    class DEFAULT:
        FILTER_CRITERIA = 'isRead ne true'
        GET_CRITERIA = 'UNSEEN'
        IMAP_DEBUG_LEVEL = 0
        PING_ADDRESS = 'invalid@invalid'
        TIMEOUT = 10

    class IMAP:
        ServerTypeHuman = {'generic-imap': 'Generic IMAP', 'microsoft-365': 'Microsoft 365'}

        class MODE:
            PLAIN = 'plain'
            SSL = 'ssl'

            __iter__ = _iterates('SSL', 'PLAIN')

        class ServerType:
            Generic = 'generic-imap'
            Microsoft365 = 'microsoft-365'

    class SMTP:
        class MODE:
            PLAIN = 'plain'
            SSL = 'ssl'
            STARTTLS = 'starttls'

            __iter__ = _iterates('PLAIN', 'SSL', 'STARTTLS')


class EnvFile:
    Default = 'env.ini'


class EnvVariable:
    Key_Missing_Suffix = '_Missing'
    Key_Prefix = 'Zato_Config'
    Log_Env_Details = 'Zato_Log_Env_Details'


class FILE_TRANSFER:
    SCHEDULER_SERVICE = 'pub.zato.channel.file-transfer.handler'

    class DEFAULT:
        ENCODING = 'utf-8'
        FILE_PATTERNS = '*'
        RelativeDir = '<no-relative-dir>'

    class SOURCE_TYPE:
        FTP = NameId('FTP', 'ftp')
        LOCAL = NameId('Local', 'local')
        SFTP = NameId('SFTP', 'sftp')

        __iter__ = _iterates('LOCAL', 'FTP', 'SFTP')

    class SOURCE_TYPE_IMPL:
        LOCAL_INOTIFY = 'local-inotify'
        LOCAL_SNAPSHOT = 'local-snapshot'


class GENERIC:
    ATTR_NAME = 'opaque1'
    DeleteReason = 'DeleteGenericConnection'
    DeleteReasonBytes = b'DeleteGenericConnection'
    InitialReason = 'ReasonInitial'

    class CONNECTION:
        class TYPE:
            CHANNEL_FILE_TRANSFER = 'channel-file-transfer'
            CHANNEL_HL7_MLLP = 'channel-hl7-mllp'
            CLOUD_CONFLUENCE = 'cloud-confluence'
            CLOUD_DROPBOX = 'cloud-dropbox'
            CLOUD_JIRA = 'cloud-jira'
            CLOUD_MICROSOFT_365 = 'cloud-microsoft-365'
            CLOUD_SALESFORCE = 'cloud-salesforce'
            DEF_KAFKA = 'def-kafka'
            OUTCONN_HL7_FHIR = 'outconn-hl7-fhir'
            OUTCONN_HL7_MLLP = 'outconn-hl7-mllp'
            OUTCONN_IM_SLACK = 'outconn-im-slack'
            OUTCONN_IM_TELEGRAM = 'outconn-im-telegram'
            OUTCONN_LDAP = 'outconn-ldap'
            OUTCONN_MONGODB = 'outconn-mongodb'
            OUTCONN_SFTP = 'outconn-sftp'
            OUTCONN_WSX = 'outconn-wsx'

    class ConnName:
        OutconnWSX = 'outgoing WebSocket'


class Groups:
    class Membership_Action:
        Add = 'add'
        Remove = 'remove'

    class Type:
        API_Clients = 'zato-api-creds'
        Group_Member = 'zato-group-member'
        Group_Parent = 'zato-group'
        Organizations = 'zato-org'


class HAProxy:
    Default_Memory_Limit = '1024'


class HL7:
    class Const:
        class FHIR_Auth_Type:
            Basic_Auth = NameId('Basic Auth', 'basic-auth')
            OAuth = NameId('OAuth', 'oauth')

            __iter__ = _iterates('Basic_Auth', 'OAuth')

        class ImplClass:
            hl7apy = 'hl7apy'
            zato = 'Zato'

        class LoggingLevel:
            Debug = NameId('DEBUG', 'DEBUG')
            Info = NameId('INFO', 'INFO')

            __iter__ = _iterates('Info', 'Debug')

        class Version:
            v2 = NameId('HL7 v2', 'hl7-v2')

            __iter__ = _iterates('v2')

    class Default:
        address_fhir = 'https://fhir.simplifier.net/zato'
        channel_host = '0.0.0.0'
        channel_port = 30901
        data_encoding = 'utf-8'
        end_seq = '1c 0d'
        logging_level = 'INFO'
        max_msg_size = '1_000_000'
        max_wait_time = 60
        pool_size = 10
        read_buffer_size = 2048
        recv_timeout = 250
        should_log_messages = False
        start_seq = '0b'


class HotDeploy:
    Default_Patterns = ['user-conf', 'enmasse']
    Enmasse_File_Pattern = 'enmasse'
    Source_Directory = 'src'
    User_Conf_Directory = 'user-conf'
    UserConfPrefix = 'user_conf'
    UserPrefix = 'hot-deploy.user'

    class Env:
        Pickup_Patterns = 'Zato_Hot_Deploy_Pickup_Patterns'


class HTTP_SOAP:
    UNUSED_MARKER = 'unused'

    class ACCEPT:
        ANY = '*/*'
        ANY_INTERNAL = 'haany'

    class METHOD:
        ANY_INTERNAL = 'hmany'


class HTTP_SOAP_SERIALIZATION_TYPE:
    STRING_VALUE = NameId('String', 'string')
    SUDS = NameId('Suds', 'suds')
    DEFAULT = STRING_VALUE

    __iter__ = _iterates('STRING_VALUE', 'SUDS')


class IDEDeploy:
    Username = 'ide_publisher'


class INFO_FORMAT:
    DICT = 'dict'
    JSON = 'json'
    TEXT = 'text'
    YAML = 'yaml'


class INVOCATION_TARGET(Attrs):
    CHANNEL_AMQP = 'channel-amqp'
    CHANNEL_WMQ = 'channel-wmq'
    CHANNEL_ZMQ = 'channel-zmq'
    OUTCONN_AMQP = 'outconn-amqp'
    OUTCONN_WMQ = 'outconn-wmq'
    OUTCONN_ZMQ = 'outconn-zmq'
    SERVICE = 'service'


class IPC:
    Status_OK = 'ok'

    class ACTION:
        INVOKE_SERVICE = 'invoke-service'
        INVOKE_WORKER_STORE = 'invoke-worker-store'

    class CONNECTOR:
        class USERNAME:
            FTP = 'zato.connector.ftp'
            IBM_MQ = 'zato.connector.wmq'
            SFTP = 'zato.connector.sftp'

    class Credentials:
        Password_Key = 'Zato_Server_IPC_Password'
        Username = 'zato.server.ipc'

    class Default:
        TCP_Port_Start = 17050
        Timeout = 90

    class STATUS:
        FAILURE = 'zf'
        LENGTH = 2
        SUCCESS = 'zs'


class JSON_RPC:
    class PREFIX:
        CHANNEL = 'json.rpc.channel'
        OUTGOING = 'json.rpc.outconn'


class Kafka:
    class Default:
        Broker_Version = '3.3'
        Server_List = '127.0.0.1:2181'
        Username = 'admin'

        class Timeout:
            Offsets = 10
            Socket = 1


class KVDB(Attrs):
    ASYNC_INVOKE_PROCESSED_FLAG = '1'
    ASYNC_INVOKE_PROCESSED_FLAG_PATTERN = 'zato:async-invoke-with-pattern:processed:{}:{}'
    DELIVERY_BY_TARGET_PREFIX = 'zato:delivery:by-target:'
    DELIVERY_PREFIX = 'zato:delivery:'
    DICTIONARY_ITEM = 'zato:kvdb:data-dict:item'
    DICTIONARY_ITEM_ID = 'zato:kvdb:data-dict:item:id'
    FANOUT_COUNTER_PATTERN = 'zato:fanout:counter:{}'
    FANOUT_DATA_PATTERN = 'zato:fanout:data:{}'
    LOCK_ASYNC_INVOKE_WITH_TARGET_PATTERN = 'zato:lock:async-invoke-with-pattern:{}:{}'
    LOCK_CONFIG_PREFIX = 'zato:lock:config:'
    LOCK_DELIVERY = 'zato:lock:delivery:'
    LOCK_DELIVERY_AUTO_RESUBMIT = 'zato:lock:delivery:auto-resubmit:'
    LOCK_FANOUT_PATTERN = 'zato:lock:fanout:{}'
    LOCK_PACKAGE_ALREADY_UPLOADED = 'zato:lock:package:already-uploaded:'
    LOCK_PACKAGE_PREFIX = 'zato:lock:package:'
    LOCK_PACKAGE_UPLOADING = 'zato:lock:package:uploading:'
    LOCK_PARALLEL_EXEC_PATTERN = 'zato:lock:parallel-exec:{}'
    LOCK_PREFIX = 'zato:lock:'
    LOCK_SERVER_ALREADY_DEPLOYED = 'zato:lock:server:already-deployed:'
    LOCK_SERVER_PREFIX = 'zato:lock:server:'
    LOCK_SERVER_STARTING = 'zato:lock:server:starting:'
    LOCK_SERVICE_PREFIX = 'zato:lock:service:'
    PARALLEL_EXEC_COUNTER_PATTERN = 'zato:parallel-exec:counter:{}'
    PARALLEL_EXEC_DATA_PATTERN = 'zato:parallel-exec:data:{}'
    REQ_RESP_SAMPLE = 'zato:req-resp:sample:'
    RESP_SLOW = 'zato:resp:slow:'
    SEPARATOR = ':::'
    SERVICE_SUMMARY_BY_DAY = 'zato:stats:service:summary:by-day:'
    SERVICE_SUMMARY_BY_MONTH = 'zato:stats:service:summary:by-month:'
    SERVICE_SUMMARY_BY_WEEK = 'zato:stats:service:summary:by-week:'
    SERVICE_SUMMARY_BY_YEAR = 'zato:stats:service:summary:by-year:'
    SERVICE_SUMMARY_PREFIX_PATTERN = 'zato:stats:service:summary:{}:'
    SERVICE_TIME_AGGREGATED_BY_DAY = 'zato:stats:service:time:aggr-by-day:'
    SERVICE_TIME_AGGREGATED_BY_HOUR = 'zato:stats:service:time:aggr-by-hour:'
    SERVICE_TIME_AGGREGATED_BY_MINUTE = 'zato:stats:service:time:aggr-by-minute:'
    SERVICE_TIME_AGGREGATED_BY_MONTH = 'zato:stats:service:time:aggr-by-month:'
    SERVICE_TIME_BASIC = 'zato:stats:service:time:basic:'
    SERVICE_TIME_RAW = 'zato:stats:service:time:raw:'
    SERVICE_TIME_RAW_BY_MINUTE = 'zato:stats:service:time:raw-by-minute:'
    SERVICE_TIME_SLOW = 'zato:stats:service:time:slow:'
    SERVICE_USAGE = 'zato:stats:service:usage:'
    TRANSLATION = 'zato:kvdb:data-dict:translation'
    TRANSLATION_ID = 'zato:kvdb:data-dict:translation:id'
    ZMQ_CONFIG_READY_PREFIX = 'zato:zmq.config.ready.{}'


class LDAP:
    class AUTH_TYPE:
        NTLM = NameId('NTLM', 'NTLM')
        SIMPLE = NameId('Simple', 'SIMPLE')

        __iter__ = _iterates('SIMPLE', 'NTLM')

    class AUTO_BIND:
        DEFAULT = NameId('Default', 'DEFAULT')
        NO_TLS = NameId('No TLS', 'NO_TLS')
        NONE = NameId('None', 'NONE')
        TLS_AFTER_BIND = NameId('Bind -> TLS', 'TLS_AFTER_BIND')
        TLS_BEFORE_BIND = NameId('TLS -> Bind', 'TLS_BEFORE_BIND')

        __iter__ = _iterates('DEFAULT', 'NONE', 'NO_TLS', 'TLS_AFTER_BIND', 'TLS_BEFORE_BIND')

    class DEFAULT:
        CONNECT_TIMEOUT = 10
        POOL_EXHAUST_TIMEOUT = 5
        POOL_KEEP_ALIVE = 30
        POOL_LIFETIME = 3600
        POOL_MAX_CYCLES = 1
        POOL_SIZE = 1
        Server_List = 'localhost:1389'
        Username = 'cn=admin,dc=example,dc=org'

    class GET_INFO:
        ALL = NameId('All', 'ALL')
        DSA = NameId('DSA', 'DSA')
        NONE = NameId('None', 'NONE')
        OFFLINE_AD_2012_R2 = NameId('AD 2012.R2', 'OFFLINE_AD_2012_R2')
        OFFLINE_DS389_1_3_3 = NameId('DS 389.1.3.3', 'OFFLINE_DS389_1_3_3')
        OFFLINE_EDIR_8_8_8 = NameId('EDIR 8.8.8', 'OFFLINE_EDIR_8_8_8')
        OFFLINE_SLAPD_2_4 = NameId('SLAPD 2.4', 'OFFLINE_SLAPD_2_4')
        SCHEMA = NameId('Schema', 'SCHEMA')

        __iter__ = _iterates(
            'NONE',
            'ALL',
            'SCHEMA',
            'DSA',
            'OFFLINE_EDIR_8_8_8',
            'OFFLINE_AD_2012_R2',
            'OFFLINE_SLAPD_2_4',
            'OFFLINE_DS389_1_3_3',
        )

    class IP_MODE:
        IP_SYSTEM_DEFAULT = NameId('System default', 'IP_SYSTEM_DEFAULT')
        IP_V4_ONLY = NameId('Only IPv4', 'IP_V4_ONLY')
        IP_V4_PREFERRED = NameId('Prefer IPv4', 'IP_V4_PREFERRED')
        IP_V6_ONLY = NameId('Only IPv6', 'IP_V6_ONLY')
        IP_V6_PREFERRED = NameId('Prefer IPv6', 'IP_V6_PREFERRED')

        __iter__ = _iterates(
            'IP_V4_ONLY',
            'IP_V6_ONLY',
            'IP_V4_PREFERRED',
            'IP_V6_PREFERRED',
            'IP_SYSTEM_DEFAULT',
        )

    class POOL_HA_STRATEGY:
        FIRST = NameId('First', 'FIRST')
        RANDOM = NameId('Random', 'RANDOM')
        ROUND_ROBIN = NameId('Round robin', 'ROUND_ROBIN')

        __iter__ = _iterates('FIRST', 'RANDOM', 'ROUND_ROBIN')

    class SASL_MECHANISM:
        EXTERNAL = NameId('External', 'EXTERNAL')
        GSSAPI = NameId('GSS-API', 'GSSAPI')

        __iter__ = _iterates('EXTERNAL', 'GSSAPI')


class Microsoft365:
    class Default:
        Auth_Redirect_URL = 'https://zato.io/ext/redirect/oauth2'
        Scopes = ['https://graph.microsoft.com/.default']


class MISC:
    Default_Cluster_ID = 1
    DEFAULT_HTTP_TIMEOUT = 10
    DefaultAdminInvokeChannel = 'admin.invoke.json'
    OAUTH_SIG_METHODS = ['HMAC-SHA1', 'PLAINTEXT']
    PIDFILE = 'pidfile'
    SEPARATOR = ':::'


class MONGODB:
    class AUTH_MECHANISM:
        SCRAM_SHA_1 = NameId('SCRAM-SHA-1', 'SCRAM-SHA-1')
        SCRAM_SHA_256 = NameId('SCRAM-SHA-256', 'SCRAM-SHA-256')

        __iter__ = _iterates('SCRAM_SHA_1', 'SCRAM_SHA_256')

    class DEFAULT:
        AUTH_SOURCE = 'admin'
        HB_FREQUENCY = 10
        MAX_IDLE_TIME = 600
        MAX_STALENESS = -1
        POOL_SIZE_MAX = 5
        POOL_SIZE_MIN = 0
        SERVER_LIST = '127.0.0.1:27017'
        WRITE_TIMEOUT = 5
        WRITE_TO_REPLICA = ''
        ZLIB_LEVEL = -1

        class TIMEOUT:
            CONNECT = 10
            SERVER_SELECT = 5
            SOCKET = 30
            WAIT_QUEUE = 10

    class READ_PREF:
        NEAREST = NameId('Nearest', 'nearest')
        PRIMARY = NameId('Primary', 'primary')
        PRIMARY_PREFERRED = NameId('Primary pref.', 'primaryPreferred')
        SECONDARY = NameId('Secondary', 'secondary')
        SECONDARY_PREFERRED = NameId('Secondary pref.', 'secondaryPreferred')

        __iter__ = _iterates(
            'PRIMARY',
            'PRIMARY_PREFERRED',
            'SECONDARY',
            'SECONDARY_PREFERRED',
            'NEAREST',
        )


class MS_SQL:
    EXTRA_KWARGS = (
        'login_timeout',
        'appname',
        'blocksize',
        'use_mars',
        'readonly',
        'use_tz',
        'bytes_to_unicode',
        'cafile',
        'validate_host',
    )
    ZATO_DIRECT = 'zato+mssql1'


class MSG_MAPPER:
    DICT_TO_DICT = 'dict-to-dict'
    DICT_TO_XML = 'dict-to-xml'
    XML_TO_DICT = 'xml-to-dict'
    XML_TO_XML = 'xml-to-xml'


class MSG_SOURCE:
    DUPLEX = 'duplex'


class Name_Prefix:
    Keysight_Hawkeye = 'KeysightHawkeye.'
    Keysight_Vision = 'KeysightVision.'


class NOTIF:
    class DEFAULT:
        CHECK_INTERVAL = 5
        CHECK_INTERVAL_SQL = 600
        GET_DATA_PATTERN = '**'
        NAME_PATTERN = '**'

    class TYPE:
        SQL = 'sql'


class OAuth:
    class Default:
        Auth_Server_URL = 'https://example.com/oauth2/token'
        Client_ID_Field = 'client_id'
        Client_Secret_Field = 'client_secret'
        Grant_Type = 'client_credentials'
        Scopes = []


class ODOO:
    class CLIENT_TYPE:
        OPENERP_CLIENT_LIB = 'openerp-client-lib'

    class DEFAULT:
        POOL_SIZE = 3
        PORT = 8069

    class PROTOCOL:
        JSON_RPC = NameId('JSON-RPC', 'jsonrpc')
        JSON_RPCS = NameId('JSON-RPCS', 'jsonrpcs')
        XML_RPC = NameId('XML-RPC', 'xmlrpc')
        XML_RPCS = NameId('XML-RPCS', 'xmlrpcs')

        __iter__ = _iterates('XML_RPC', 'XML_RPCS', 'JSON_RPC', 'JSON_RPCS')


class OS_Env:
    Zato_Enable_Memory_Profiler = 'Zato_Enable_Memory_Profiler'


class PADDING:
    LEFT = 'left'
    RIGHT = 'right'


class PARAMS_PRIORITY:
    CHANNEL_PARAMS_OVER_MSG = 'channel-params-over-msg'
    DEFAULT = 'channel-params-over-msg'
    MSG_OVER_CHANNEL_PARAMS = 'msg-over-channel-params'

    __iter__ = _iterates('CHANNEL_PARAMS_OVER_MSG', 'MSG_OVER_CHANNEL_PARAMS', 'DEFAULT')


class PUBSUB:
    FLOAT_STRING_CONVERT = '{:.7f}'
    SKIPPED_PATTERN_MATCHING = '<skipped>'

    class DATA_FORMAT:
        CSV = NameId('CSV', 'csv')
        DICT = NameId('Dict', 'dict')
        JSON = NameId('JSON', 'json')
        POST = NameId('POST', 'post')

        __iter__ = _iterates('CSV', 'DICT', 'JSON', 'POST')

    class DEFAULT:
        Dashboard_Message_Body = 'This is a sample message'
        DATA_FORMAT = 'text'
        DEFAULT_SECDEF_NAME = 'pub.zato.pubsub.default'
        DEFAULT_USERNAME = 'zato.pubsub'
        DELIVERY_BATCH_SIZE = 500
        Delivery_Err_Should_Block = True
        DELIVERY_MAX_RETRY = 123456789
        DELIVERY_MAX_SIZE = 500000
        DEPTH_CHECK_FREQ = 100
        EXPIRATION = 2147483647
        GET_BATCH_SIZE = 50
        Has_GD = False
        INTERNAL_ENDPOINT_NAME = 'zato.pubsub.internal.default'
        INTERNAL_SECDEF_NAME = 'zato.pubsub.internal.secdef'
        INTERNAL_USERNAME = 'zato.pubsub.internal'
        LimitMessageExpiry = 86400
        LimitSubInactivity = 86400
        LimitTopicRetention = 86400
        MIME_TYPE = 'application/json'
        ON_NO_SUBS_PUB = 'accept'
        PositionInGroup = 1
        PUB_BUFFER_SIZE_GD = 0
        PUBAPI_SECDEF_NAME = 'pubapi'
        PUBAPI_USERNAME = 'pubapi'
        SK_OPAQUE = ('deliver_to_sk', 'reply_to_sk')
        TASK_DELIVERY_INTERVAL = 2000
        TASK_SYNC_INTERVAL = 500
        TEST_SECDEF_NAME = 'zato.pubsub.test.secdef'
        TEST_USERNAME = 'zato.pubsub.test'
        TOPIC_MAX_DEPTH_GD = 10000
        TOPIC_MAX_DEPTH_NON_GD = 1000
        Topic_Patterns_All = 'pub=/*\nsub=/*'
        UnsubOnWSXClose = True
        WAIT_TIME_NON_SOCKET_ERROR = 3
        WAIT_TIME_SOCKET_ERROR = 10
        Wrap_One_Msg_In_List = True

    class DELIVER_BY:
        EXT_PUB_TIME = 'ext_pub_time'
        PRIORITY = 'priority'
        PUB_TIME = 'pub_time'

        __iter__ = _iterates('PRIORITY', 'EXT_PUB_TIME', 'PUB_TIME')

    class DELIVERY_METHOD:
        NOTIFY = NameId('Notify', 'notify')
        PULL = NameId('Pull', 'pull')
        WEB_SOCKET = NameId('WebSocket', 'web-socket')

        __iter__ = _iterates('NOTIFY', 'PULL')

    class DELIVERY_STATUS:
        DELIVERED = 1
        INITIALIZED = 2
        TO_DELETE = 3
        WAITING_FOR_CONFIRMATION = 4

    class ENDPOINT_TYPE:
        INTERNAL = NameId('Internal', 'internal')
        REST = NameId('REST', 'rest')
        SERVICE = NameId('Service', 'srv')
        WEB_SOCKETS = NameId('WebSockets', 'wsx')

        __iter__ = _iterates('INTERNAL.id', 'REST.id', 'WEB_SOCKETS.id', 'SERVICE.id')
        get_pub_types = _iterates('REST', 'WEB_SOCKETS', 'SERVICE')

        @staticmethod
        def get_name_by_type(endpoint_type):
            # KeyError for an unknown type, as upstream.
            return {'internal': 'Internal', 'rest': 'REST', 'srv': 'Service', 'wsx': 'WebSockets'}[endpoint_type]

    class Env:
        Log_Table = 'Zato_Pub_Sub_Log_Table'

    class GD_CHOICE:
        DEFAULT_PER_TOPIC = NameId('----------', 'default-per-topic')
        NO = NameId('No', 'false')
        YES = NameId('Yes', 'true')

        __iter__ = _iterates('DEFAULT_PER_TOPIC', 'YES', 'NO')

    class HOOK_ACTION:
        DELETE = 'delete'
        DELIVER = 'deliver'
        SKIP = 'skip'

        __iter__ = _iterates('SKIP', 'DELETE', 'DELIVER')

    class HOOK_TYPE:
        BEFORE_DELIVERY = 'pubsub_before_delivery'
        BEFORE_PUBLISH = 'pubsub_before_publish'
        ON_OUTGOING_SOAP_INVOKE = 'pubsub_on_topic_outgoing_soap_invoke'
        ON_SUBSCRIBED = 'pubsub_on_subscribed'
        ON_UNSUBSCRIBED = 'pubsub_on_unsubscribed'

    class MIMEType:
        Zato = 'application/vnd.zato.ps.msg'

    class ON_NO_SUBS_PUB:
        ACCEPT = NameId('Accept', 'accept')
        DROP = NameId('Drop', 'drop')

    class PRIORITY:
        DEFAULT = 5
        MAX = 9
        MIN = 1

    class QUEUE_ACTIVE_STATUS:
        DISABLED = NameId('Disabled', 'disabled')
        FULLY_ENABLED = NameId('Pub and sub', 'pub-sub')
        PUB_ONLY = NameId('Pub only', 'pub-only')
        SUB_ONLY = NameId('Sub only', 'sub-only')

        __iter__ = _iterates('FULLY_ENABLED', 'PUB_ONLY', 'SUB_ONLY', 'DISABLED')

    class QUEUE_TYPE:
        CURRENT = 'current'
        STAGING = 'staging'

        __iter__ = _iterates('STAGING', 'CURRENT')

    class REDIS:
        META_ENDPOINT_PUB_KEY = 'zato.ps.meta.endpoint.pub.%s.%s'
        META_ENDPOINT_SUB_KEY = 'zato.ps.meta.endpoint.sub.%s.%s'
        META_TOPIC_LAST_KEY = 'zato.ps.meta.topic.last.%s.%s'

    class ROLE:
        PUBLISHER = NameId('Publisher', 'pub-only')
        PUBLISHER_SUBSCRIBER = NameId('Publisher/subscriber', 'pub-sub')
        SUBSCRIBER = NameId('Subscriber', 'sub-only')

        __iter__ = _iterates('PUBLISHER', 'SUBSCRIBER', 'PUBLISHER_SUBSCRIBER')

    class RunDeliveryStatus:
        class ReasonCode:
            Error_IO = 1
            Error_Other = 2
            Error_Runtime_Invoke = 4
            No_Msg = 3

        class StatusCode:
            Error = 3
            OK = 1
            Warning = 2

    class SERVICE_SUBSCRIBER:
        NAME = 'zato.pubsub.service.subscriber'
        TOPICS_ALLOWED = 'sub=/zato/s/to/*'

    class TOPIC_PATTERN:
        TO_SERVICE = '/zato/s/to/{}'


class RATE_LIMIT:
    class OBJECT_TYPE:
        HTTP_SOAP = 'http_soap'
        SEC_DEF = 'sec_def'
        SERVICE = 'service'
        SSO_USER = 'sso_user'

    class TYPE:
        APPROXIMATE = NameId('Approximate', 'APPROXIMATE')
        EXACT = NameId('Exact', 'EXACT')

        __iter__ = _iterates('APPROXIMATE', 'EXACT')


class REDIS:
    class DEFAULT:
        DB = 0
        PORT = 6379


class SALESFORCE:
    class Default:
        Address = 'https://example.my.salesforce.com'
        API_Version = '54.0'


class SAP:
    class DEFAULT:
        INSTANCE = '00'
        POOL_SIZE = 1


class SCHEDULER:
    Default_API_Client_For_Server_Auth_Required = True
    Default_API_Client_For_Server_Username = 'server_api_client1'
    Default_Server_Host = '127.0.0.1'
    Default_Server_Port = 17010
    DefaultBindHost = '0.0.0.0'
    DefaultBindPort = 31530
    DefaultHost = '127.0.0.1'
    DefaultPort = 31530
    EmbeddedIndicator = 'zato_embedded'
    EmbeddedIndicatorBytes = b'zato_embedded'
    InitialSleepTime = 0.1
    JobsToIgnore = {'zato.wsx.cleanup', 'zato.wsx.cleanup.pub-sub'}
    PubSubCleanupJob = 'zato.pubsub.cleanup'
    TLS_CA_Certs_Key_Location = 'zato-scheduler-ca-certs.pem'
    TLS_Cert_Location = 'zato-scheduler-cert.pem'
    TLS_Ciphers_12 = (
        'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:'
        'ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:'
        'ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:'
        'DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305'
    )
    TLS_Ciphers_13 = 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256'
    TLS_Client_Certs = 'optional'
    TLS_Enabled = False
    TLS_Private_Key_Location = 'zato-scheduler-priv-key.pem'
    TLS_Public_Key_Location = 'zato-scheduler-pub-key.pem'
    TLS_Verify = True
    TLS_Version_Default_Linux = 'TLSv1_3'
    TLS_Version_Default_Windows = 'TLSv1_2'

    class ConfigCommand:
        Pause = 'pause'
        Resume = 'resume'
        SetServer = 'set_server'

    class Env:
        Bind_Host = 'Zato_Scheduler_scheduler_conf_bind_host'
        Bind_Port = 'Zato_Scheduler_Bind_Port'
        Host = 'Zato_Scheduler_Host'
        Path_Action_Prefix = 'Zato_Scheduler_Path_Action_'
        Port = 'Zato_Scheduler_Port'
        Server_Auth_Required = 'Zato_Scheduler_API_Client_For_Server_Auth_Required'
        Server_Password = 'Zato_Scheduler_API_Client_For_Server_Password'
        Server_Username = 'Zato_Scheduler_API_Client_For_Server_Username'
        Status = 'Zato_Scheduler_Status'
        TLS_CA_Certs_Key_Location = 'Zato_Scheduler_TLS_CA_Certs_Key_Location'
        TLS_Cert_Location = 'Zato_Scheduler_TLS_Cert_Location'
        TLS_Ciphers = 'Zato_Scheduler_TLS_Ciphers'
        TLS_Client_Certs = 'Zato_Scheduler_TLS_Client_Certs'
        TLS_Private_Key_Location = 'Zato_Scheduler_TLS_Private_Key_Location'
        TLS_Public_Key_Location = 'Zato_Scheduler_TLS_Public_Key_Location'
        TLS_Verify = 'Zato_Scheduler_TLS_Verify'
        TLS_Version = 'Zato_Scheduler_TLS_Version'
        Use_TLS = 'Zato_Scheduler_Use_TLS'

    class JOB_TYPE(Attrs):
        CRON_STYLE = 'cron_style'
        INTERVAL_BASED = 'interval_based'
        ONE_TIME = 'one_time'

    class ON_MAX_RUNS_REACHED:
        DELETE = 'delete'
        INACTIVATE = 'inactivate'

    class Status:
        Active = 'Active'
        Paused = 'Paused'


class SEARCH:
    class ES:
        class DEFAULTS:
            BODY_AS = 'POST'
            HOSTS = '127.0.0.1:9200\n'

    class SOLR:
        class DEFAULTS:
            ADDRESS = 'https://127.0.0.1:8983/solr'
            PING_PATH = '/solr/admin/ping'
            POOL_SIZE = '5'
            TIMEOUT = '10'

    class ZATO:
        class DEFAULTS:
            PAGE_SIZE = 50
            PAGINATE_THRESHOLD = 51


class SEC_DEF_TYPE:
    APIKEY = 'apikey'
    AWS = 'aws'
    BASIC_AUTH = 'basic_auth'
    JWT = 'jwt'
    NTLM = 'ntlm'
    OAUTH = 'oauth'
    TLS_CHANNEL_SEC = 'tls_channel_sec'
    TLS_KEY_CERT = 'tls_key_cert'
    VAULT = 'vault_conn_sec'
    WSS = 'wss'


class SERVER_JOIN_STATUS(Attrs):
    ACCEPTED = 'accepted'


class SERVER_STARTUP:
    class PHASE:
        AFTER_POST_FORK = 'after-post-fork'
        AFTER_STARTED = 'after-started'
        BEFORE_POST_FORK = 'before-post-fork'
        FS_CONFIG_ONLY = 'fs-config-only'
        IMPL_BEFORE_RUN = 'impl-before-run'
        IN_PROCESS_FIRST = 'in-process-first'
        IN_PROCESS_OTHER = 'in-process-other'
        ON_STARTING = 'on-starting'


class SERVER_UP_STATUS(Attrs):
    CLEAN_DOWN = 'clean-down'
    RUNNING = 'running'


class SFTP:
    class DEFAULT:
        BANDWIDTH_LIMIT = 10
        BUFFER_SIZE = 32768
        COMMAND_PING = 'ls .'
        COMMAND_SFTP = 'sftp'
        PORT = 22

    class IP_TYPE:
        IPV4 = NameId('IPv4', 'ipv4')
        IPV6 = NameId('IPv6', 'ipv6')

        __iter__ = _iterates('IPV4', 'IPV6')
        is_valid = _has_id

    class LOG_LEVEL:
        LEVEL0 = NameId('0', '0')
        LEVEL1 = NameId('1', '1')
        LEVEL2 = NameId('2', '2')
        LEVEL3 = NameId('3', '3')
        LEVEL4 = NameId('4', '4')

        __iter__ = _iterates('LEVEL0', 'LEVEL1', 'LEVEL2', 'LEVEL3', 'LEVEL4')
        is_valid = _has_id


class SIMPLE_IO:
    Bearer_Token_Format = [NameId('JSON', 'json'), NameId('Form data', 'form')]
    COMMON_FORMAT = OrderedDict([('json', 'JSON')])
    HTTP_SOAP_FORMAT = OrderedDict([('json', 'JSON'), ('hl7-v2', 'HL7 v2'), ('form', 'Form data')])

    class FORMAT(Attrs):
        FORM_DATA = 'form'
        JSON = 'json'


class SSO:
    class Default:
        RESTPrefix = '/zato/sso'

    class EmailTemplate:
        PasswordResetLink = 'password-reset-link.txt'
        SignupConfirm = 'signup-confirm.txt'
        SignupWelcome = 'signup-welcome.txt'


class Stats:
    DefaultAggrTimeFreq = '5min'
    MaxRetention = 63072000000
    TabulateAggr = 'object_id'


class StatsKey:
    CurrentValue = 'current_value'
    PerKeyLastDuration = 'last_duration'
    PerKeyLastTimestamp = 'last_timestamp'
    PerKeyMax = 'max'
    PerKeyMean = 'mean'
    PerKeyMin = 'min'
    PerKeyValue = 'value'


class STOMP:
    class DEFAULT:
        ACK_MODE = 'client-individual'
        ADDRESS = '127.0.0.1:61613'
        PROTOCOL = '1.0'
        TIMEOUT = 10
        USERNAME = 'guest'


class TELEGRAM:
    class DEFAULT:
        ADDRESS = 'https://api.telegram.org/bot{token}/{method}'

    class TIMEOUT:
        CONNECT = 5
        INVOKE = 10


class TLS:
    BEGIN_END = ('ANY ', 'RSA ', 'DSA ', 'EC ', 'ENCRYPTED ', '')
    DIR_CA_CERTS = 'ca-certs'
    DIR_KEYS_CERTS = 'keys-certs'

    class CERT_VALIDATE:
        CERT_NONE = NameId('Disabled', 'CERT_NONE')
        CERT_OPTIONAL = NameId('Optional', 'CERT_OPTIONAL')
        CERT_REQUIRED = NameId('Required', 'CERT_REQUIRED')

        __iter__ = _iterates('CERT_NONE', 'CERT_OPTIONAL', 'CERT_REQUIRED')

    class DEFAULT:
        CIPHERS = (
            'ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:'
            'ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:'
            'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:'
            'ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384:ECDHE-ECDSA-AES128-SHA256:'
            'ECDHE-RSA-AES128-SHA256'
        )
        VERSION = 'SSLv23'

    class VERSION:
        SSLv23 = NameId('SSLv23', 'SSLv23')
        TLSv1 = NameId('TLSv1', 'TLSv1')
        TLSv1_1 = NameId('TLSv1_1', 'TLSv1_1')
        TLSv1_2 = NameId('TLSv1_2', 'TLSv1_2')

        __iter__ = _iterates('SSLv23', 'TLSv1', 'TLSv1_1', 'TLSv1_2')


class TOTP:
    default_label = '<default-label>'


class UNITTEST:
    HTTP = 'zato+unittest'
    SQL_ENGINE = 'zato+unittest'
    VAULT_URL = 'https://zato+unittest'


class URL_PARAMS_PRIORITY:
    DEFAULT = 'qs-over-path'
    PATH_OVER_QS = 'path-over-qs'
    QS_OVER_PATH = 'qs-over-path'

    class __metaclass__(type):
        __iter__ = _iterates('PATH_OVER_QS', 'QS_OVER_PATH', 'DEFAULT')


class URL_TYPE:
    PLAIN_HTTP = 'plain_http'
    SOAP = 'soap'

    __iter__ = _iterates('PLAIN_HTTP')


class WEB_SOCKET:
    AUDIT_KEY = 'wsx-connection'
    GatewayResponseElem = 'zato_gateway_response'

    class ACTION:
        CLIENT_RESPONSE = 'client-response'
        CREATE_SESSION = 'create-session'
        INVOKE_SERVICE = 'invoke-service'

    class DEFAULT:
        FQDN_UNKNOWN = '(Unknown)'
        INTERACT_UPDATE_INTERVAL = 60
        NEW_TOKEN_TIMEOUT = 5
        PING_INTERVAL = 45
        PINGS_MISSED_THRESHOLD = 2
        PINGS_MISSED_THRESHOLD_OUTGOING = 1
        Socket_Read_Timeout = 60
        Socket_Write_Timeout = 60
        TOKEN_TTL = 3600

    class ExtraProperties:
        StoreCtx = 'StoreCtx'

    class HOOK_TYPE:
        ON_CONNECTED = 'wsx_on_connected'
        ON_DISCONNECTED = 'wsx_on_disconnected'
        ON_PUBSUB_RESPONSE = 'wsx_on_pubsub_response'
        ON_VAULT_MOUNT_POINT_NEEDED = 'wsx_on_vault_mount_point_needed'

    class OUT_MSG_TYPE:
        CLOSE = 'close'
        CONNECT = 'connect'
        MESSAGE = 'message'

    class PATTERN:
        BY_CHANNEL = 'zato.by-channel.{}'
        BY_EXT_ID = 'zato.by-ext-id.{}'
        MSG_BROWSER = 'zato.msg-browser.{}'
        MSG_BROWSER_PREFIX = 'zato.msg-browser.'


class Wrapper_Type:
    Keysight_Hawkeye = 'KeysightHawkeye'
    Keysight_Vision = 'KeysightVision'


class ZatoKVDB:
    CurrentUsageName = 'zato.service.current_usage'
    CurrentUsagePath = 'zato.service.current_usage.json'
    DefaultSyncInterval = 3
    DefaultSyncThreshold = 3000
    PubSubMetadataName = 'zato.pubsub.metadata'
    PubSubMetadataPath = 'zato.pubsub.metadata.json'
    SlowResponsesName = 'zato.service.slow_responses'
    SlowResponsesPath = 'zato.service.slow_responses.json'
    UsageSamplesName = 'zato.service.usage_samples'
    UsageSamplesPath = 'zato.service.usage_samples.json'


class ZMQ:
    CHANNEL = OrderedDict([('PULL', 'Pull'), ('SUB', 'Sub'), ('MDP01', 'Majordomo 0.1 (MDP)')])
    MDP = 'MDP'
    MDP01 = 'MDP01'
    MDP01_HUMAN = 'Majordomo 0.1 (MDP)'
    METHOD = {'bind': 'Bind', 'connect': 'Connect'}
    OUTGOING = OrderedDict([('PUSH', 'Push'), ('PUB', 'Pub')])
    POOL_STRATEGY = OrderedDict([('single', 'Single'), ('unlimited', 'Unlimited')])
    PUB = 'PUB'
    PULL = 'PULL'
    PUSH = 'PUSH'
    SERVICE_SOURCE = OrderedDict([('zato', 'Zato'), ('mdp01', 'Majordomo 0.1 (MDP)')])
    SUB = 'SUB'

    class METHOD_NAME:
        BIND = 'bind'
        CONNECT = 'connect'

    class POOL_STRATEGY_NAME:
        SINGLE = 'single'
        UNLIMITED = 'unlimited'

    class SERVICE_SOURCE_NAME:
        MDP01 = 'mdp01'
        ZATO = 'zato'


# ################################################################################################################################
# Values built from other values, and classes with behaviour

simple_types = (bytes, str, dict, list, tuple, bool, Number)

CONTENT_TYPE = Bunch(
    JSON='application/json',
    PLAIN_XML='application/xml',
    SOAP11='text/xml; charset=UTF-8',
    SOAP12='application/soap+xml; charset=utf-8',
)


class _PubSubSubscribeClass:
    """PUBSUB.SUBSCRIBE_CLASS: the service that subscribes each endpoint type."""

    classes = {
        PUBSUB.ENDPOINT_TYPE.REST.id: 'zato.pubsub.subscription.subscribe-rest',
        PUBSUB.ENDPOINT_TYPE.SERVICE.id: 'zato.pubsub.subscription.subscribe-service',
        PUBSUB.ENDPOINT_TYPE.WEB_SOCKETS.id: 'zato.pubsub.subscription.create-wsx-subscription',
    }

    @staticmethod
    def get(name):
        return _PubSubSubscribeClass.classes[name]


PUBSUB.SUBSCRIBE_CLASS = _PubSubSubscribeClass


@dataclass(init=False)
class EnvConfigCtx:
    component: str
    file_name: str
    missing_suffix: str = EnvVariable.Key_Missing_Suffix


@dataclass(init=False)
class URLInfo:
    address: str
    host: str
    port: int
    use_tls: bool


class SourceCodeInfo:
    """Where a service's source code comes from."""

    __slots__ = ('source', 'source_html', 'len_source', 'path', 'hash', 'hash_method', 'server_name', 'line_number')

    def __init__(self):
        self.source = b''
        self.source_html = ''
        self.len_source = 0
        self.path = None
        self.hash = None
        self.hash_method = None
        self.server_name = None
        self.line_number = 0


class StatsElem:
    """Statistics of one service over a period of time (usage, response times, shares of all services)."""

    def __init__(self, service_name=None, mean=None):
        self.service_name = service_name
        self.usage = 0
        self.mean = mean
        self.rate = 0.0
        self.time = 0
        self.usage_trend_int = []
        self.mean_trend_int = []
        # Any real response time is lower, so the first one merged in wins.
        self.min_resp_time = maxsize
        self.max_resp_time = 0
        self.all_services_usage = 0
        self.all_services_time = 0
        self.mean_all_services = 0
        self.usage_perc_all_services = 0
        self.time_perc_all_services = 0
        self.expected_time_elems = OrderedDict()
        self.temp_rate = 0
        self.temp_mean = 0
        self.temp_mean_count = 0

    def get_attrs(self, ignore=None):
        """Names of the data attributes, without dunder, temp_* and ignored ones."""
        ignore = ignore or []
        for name in dir(self):
            if name.startswith('__') or name.startswith('temp_') or name in ignore or callable(getattr(self, name)):
                continue
            yield name

    def to_dict(self, ignore=None):
        ignore = ignore or ['expected_time_elems', 'mean_trend_int', 'usage_trend_int']
        return {name: getattr(self, name) for name in self.get_attrs(ignore)}

    @staticmethod
    def from_json(item):
        elem = StatsElem()
        for key, value in item.items():
            setattr(elem, key, value)
        return elem

    @staticmethod
    def from_xml(item):
        # lxml.objectify children carry a typed .pyval; plain ElementTree ones only their text.
        elem = StatsElem()
        for child in item:
            name = child.tag.rsplit('}', 1)[-1]
            setattr(elem, name, getattr(child, 'pyval', child.text))
        return elem

    def __repr__(self):
        attrs = ', '.join('{}=[{}]'.format(name, getattr(self, name)) for name in self.get_attrs())
        return '<{} at {} {}>'.format(type(self).__name__, hex(id(self)), attrs)

    def __iadd__(self, other):
        self.max_resp_time = max(self.max_resp_time, other.max_resp_time)
        self.min_resp_time = min(self.min_resp_time, other.min_resp_time)
        self.usage += other.usage
        return self

    def __bool__(self):
        # An empty element has no service name.
        return bool(self.service_name)


class SMTPMessage:
    """An e-mail to send through an outgoing SMTP connection."""

    def __init__(self, from_=None, to=None, subject='', body='', attachments=None, cc=None, bcc=None, is_html=False,
            headers=None, charset='utf8', is_rfc2231=True):
        self.from_ = from_
        self.to = to
        self.subject = subject
        self.body = body
        self.attachments = attachments or []
        self.cc = cc
        self.bcc = bcc
        self.is_html = is_html
        self.headers = headers or {}
        self.charset = charset
        self.is_rfc2231 = is_rfc2231

    def attach(self, name, contents):
        self.attachments.append({'name': name, 'contents': contents})


class IMAPMessage:
    """A message read from an IMAP mailbox; the connection-specific subclass deletes it or marks it seen."""

    def __init__(self, uid, conn, data):
        self.uid = uid
        self.conn = conn
        self.data = data

    def __repr__(self):
        return '<{} at {}, uid:`{}`, conn.config:`{}`>'.format(type(self).__name__, hex(id(self)), self.uid,
            self.conn.config_no_sensitive)

    def delete(self):
        raise NotImplementedError('Must be implemented by subclasses')

    def mark_seen(self):
        raise NotImplementedError('Must be implemented by subclasses')


class IBMMQCallData:
    """The message and correlation ids IBM MQ returned for a message put on a queue."""

    __slots__ = ('msg_id', 'correlation_id')

    def __init__(self, msg_id, correlation_id):
        self.msg_id = msg_id
        self.correlation_id = correlation_id

# ################################################################################################################################
# Upstream's aliases

Data_Format = DATA_FORMAT
Sec_Def_Type = SEC_DEF_TYPE
Secret_Shadow = SECRET_SHADOW
WebSphereMQCallData = IBMMQCallData
Zato_None = ZATO_NONE

# ################################################################################################################################
# Ours, not upstream's


class HTTP_METHOD:
    """HTTP verbs, in the order an Allow header lists them."""

    GET = 'GET'
    POST = 'POST'
    PUT = 'PUT'
    PATCH = 'PATCH'
    DELETE = 'DELETE'
    HEAD = 'HEAD'
    OPTIONS = 'OPTIONS'
    TRACE = 'TRACE'
    CONNECT = 'CONNECT'

    @classmethod
    def values(cls):
        return [value for key, value in vars(cls).items() if key.isupper()]


# Default SimpleIO naming rules (upstream's simple-io.conf); init() may override any of them.
SIMPLE_IO_DEFAULTS = {
    'bool_prefixes': ['by_', 'has_', 'is_', 'may_', 'needs_', 'should_'],
    'int_exact': ['id'],
    'int_suffixes': ['_count', '_id', '_size', '_size_min', '_size_max', '_timeout'],
    'secret_exact': ['auth_data', 'auth_token', 'password', 'password1', 'password2', 'secret_key',
        'tls_pem_passphrase', 'token', 'api_key', 'apiKey', 'xApiKey'],
}
