# -*- coding: utf-8 -*-
"""The only module the Rust host calls: init, deploy, remove, has_service, service_names, describe, invoke.

The host calls these from several OS threads while holding the GIL. Readers use the module-global
registry without locks: writers build a new dict and rebind the global in one assignment, so a reader
sees either the old or the new registry, never a half-updated one. Writers serialize on _write_lock.
"""

import linecache
import logging
import os
import re
import sys
import threading
import tomllib
import types

from zato.common.api import SIMPLE_IO_DEFAULTS
from zato.common.exception import Reportable
from zato.common.ext.bunch import Bunch, bunchify
from zato.common.util.api import get_impl_name, get_service_name
from zato.server.config import load_user_config
from zato.server.service import Service
from zato.server.service import pipeline
from zato.server.service.simpleio import SIODefinitionError, describe_sio, get_sio_def, sio_to_xml
from zato.server.service.support import ServerInfo, ServiceLogger, emit, install_logging_bridge
from zato._errors import DeployError, ServiceError
from zato import _pyenv

__all__ = ['init', 'deploy', 'remove', 'has_service', 'service_names', 'describe', 'invoke',
    'DeployError', 'ServiceError']

_logger_name = 'zato.server.runtime'


class _State:
    """Server-wide settings from init(); replaced as a whole, never mutated."""

    def __init__(self, config):
        self.server_name = config.get('server_name') or ''
        self.cluster_name = config.get('cluster_name') or ''
        self.return_tracebacks = bool(config.get('return_tracebacks', False))
        sio = dict(SIMPLE_IO_DEFAULTS)
        sio.update({key: list(value) for key, value in (config.get('simple_io') or {}).items() if value is not None})
        self.sio_config = sio
        user_config_dir = config.get('user_config_dir') or ''
        self.config = Bunch(user=load_user_config(user_config_dir, _log))
        server = self.server = ServerInfo(self.server_name, self.cluster_name)
        # Upstream's self.server has these as well; the ids are None if the host does not pass them.
        server.id = config.get('server_id')
        server.cluster_id = config.get('cluster_id')
        server.fs_server_config = _fs_server_config(user_config_dir)


class ServiceEntry:
    """One deployed service."""

    __slots__ = ('name', 'impl_name', 'class_name', 'file_name', 'cls', 'sio', 'plan')

    def __init__(self, name, cls, file_name, sio):
        self.name = name
        self.impl_name = get_impl_name(cls)
        self.class_name = cls.__name__
        self.file_name = file_name
        self.cls = cls
        self.sio = sio
        self.plan = None  # pipeline.CallPlan, built once the class is final (after after_add_to_store)

    def to_dict(self):
        return {'name': self.name, 'impl_name': self.impl_name, 'class_name': self.class_name,
            'file_name': self.file_name}


def _log(level, msg):
    emit(level, '', _logger_name, msg)


def _fs_server_config(user_config_dir):
    """self.server.fs_server_config: server.conf as a Bunch of sections (values as in the file, so secrets stay
    `zato+secret://` references), read from config/repo/server.conf, the directory user-conf is in."""
    if not user_config_dir:
        return Bunch()
    path = os.path.join(os.path.dirname(os.path.normpath(user_config_dir)), 'server.conf')
    try:
        with open(path, 'rb') as f:
            return bunchify(tomllib.load(f))
    except FileNotFoundError:
        return Bunch()
    except (OSError, tomllib.TOMLDecodeError) as e:
        _log(logging.WARNING, 'Could not read `{}` for self.server.fs_server_config: {}'.format(path, e))
        return Bunch()


_state = _State({})
_registry = {}  # service name -> ServiceEntry; rebound, never mutated in place
_write_lock = threading.RLock()

# ################################################################################################################################

def init(config):
    global _state
    config = dict(config or {})
    _state = _State(config)
    install_logging_bridge()
    _pyenv.setup(config.get('python_env'), config.get('server_dir'), _log)

# ################################################################################################################################
# Deployment

def _module_name(file_name):
    base = os.path.basename(file_name)
    for ext in ('.py', '.pyw'):
        if base.endswith(ext):
            return base[:-len(ext)]
    return base


def _error_line(exc, file_name):
    if isinstance(exc, SyntaxError) and exc.filename == file_name and exc.lineno:
        return exc.lineno
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == file_name:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _error_message(exc):
    detail = exc.msg if isinstance(exc, SyntaxError) else str(exc)
    hint = _pyenv.install_hint(exc)
    if hint:
        detail = '{}; {}'.format(detail, hint)
    name = type(exc).__name__
    return '{}: {}'.format(name, detail) if detail else name


def _class_line(source, class_name):
    match = re.search(r'^[ \t]*class[ \t]+{}\b'.format(re.escape(class_name)), source, re.MULTILINE)
    return source.count('\n', 0, match.start()) + 1 if match else None


def _may_own_module_name(module_name):
    """Never shadow a module we did not deploy ourselves, e.g. a service file called json.py."""
    existing = sys.modules.get(module_name)
    return existing is None or getattr(existing, '__zato_deployed__', False)


def _execute(source, file_name, module_name):
    """Runs the file as a new module; sys.modules holds it during execution (dataclasses and
    typing look modules up there) and is restored by the caller if deployment fails."""
    code = compile(source, file_name, 'exec', dont_inherit=True)
    module = types.ModuleType(module_name)
    module.__file__ = file_name
    module.__zato_deployed__ = True
    if _may_own_module_name(module_name):
        sys.modules[module_name] = module
    else:
        emit(logging.WARNING, '', _logger_name, 'Module name `{}` of `{}` is taken by another module; '
            'the file is deployed but cannot be imported by other service files'.format(module_name, file_name))
    exec(code, module.__dict__)
    return module


def _collect(module, module_name, source, file_name, logger):
    entries = {}
    for value in list(vars(module).values()):
        if not (isinstance(value, type) and issubclass(value, Service) and value is not Service):
            continue
        if value.__module__ != module_name or getattr(value, 'zato_dont_import', False):
            continue
        try:
            sio = get_sio_def(value, _state.sio_config)
        except SIODefinitionError as e:
            raise DeployError(file_name, _class_line(source, value.__name__),
                'Invalid SimpleIO in {}: {}'.format(value.__name__, e)) from None
        if not value.before_add_to_store(logger):
            logger.info('Skipping %s: before_add_to_store returned a false value', value.__name__)
            continue
        name = get_service_name(value)
        if name in entries:
            logger.warning('Service name `%s` of %s already used by %s in `%s`, the later class wins',
                name, value.__name__, entries[name].class_name, file_name)
        entries[name] = ServiceEntry(name, value, file_name, sio)
    return entries


def deploy(source, file_name):
    """Deploys all services of one file; all or nothing. Returns [{name, impl_name, class_name, file_name}]."""
    result = stage(source, file_name)
    commit()
    return result


# What `stage` prepared and `commit` swaps in or `discard` undoes: (file_name, module_name,
# previous_module, previous_lines, entries). The server stages one file at a time.
_staged = None


def stage(source, file_name):
    """Imports one file and checks its services without putting them in the registry yet (the
    server stores the package first; `commit` or `discard` follows). Raises DeployError."""
    global _staged
    module_name = _module_name(file_name)
    logger = ServiceLogger('', 'zato.hot-deploy')

    with _write_lock:
        if _staged is not None:
            _discard_locked()
        previous_module = sys.modules.get(module_name)
        previous_lines = linecache.cache.get(file_name)
        # Tracebacks and inspect.getsource need the source even if the file is not on disk.
        linecache.cache[file_name] = (len(source), None, source.splitlines(True), file_name)
        _pyenv.refresh()
        try:
            module = _execute(source, file_name, module_name)
            entries = _collect(module, module_name, source, file_name, logger)
            for entry in entries.values():
                entry.cls.after_add_to_store(logger)
            for entry in entries.values():
                entry.plan = pipeline.build_plan(entry)
        except BaseException as e:
            _restore(module_name, previous_module, file_name, previous_lines)
            # SystemExit from a module calling sys.exit() is a deployment error; Ctrl+C and the like are not.
            if isinstance(e, DeployError) or not isinstance(e, (Exception, SystemExit)):
                raise
            raise DeployError(file_name, _error_line(e, file_name), _error_message(e)) from e
        _staged = (file_name, module_name, previous_module, previous_lines, entries)

    return sorted((entry.to_dict() for entry in entries.values()), key=lambda item: item['name'])


def commit():
    """Puts the staged file's services in the registry, replacing those the file had before."""
    global _registry, _staged
    with _write_lock:
        if _staged is None:
            return False
        file_name, _, _, _, entries = _staged
        registry = {name: entry for name, entry in _registry.items() if entry.file_name != file_name}
        registry.update(entries)
        _registry = registry
        _staged = None
        return True


def discard():
    """Undoes `stage`: the module and source lines the file had before are back."""
    with _write_lock:
        return _discard_locked()


def _discard_locked():
    global _staged
    if _staged is None:
        return False
    file_name, module_name, previous_module, previous_lines, _ = _staged
    _restore(module_name, previous_module, file_name, previous_lines)
    _staged = None
    return True


def _restore(module_name, previous_module, file_name, previous_lines):
    if _may_own_module_name(module_name):
        if previous_module is None:
            sys.modules.pop(module_name, None)
        else:
            sys.modules[module_name] = previous_module
    if previous_lines is None:
        linecache.cache.pop(file_name, None)
    else:
        linecache.cache[file_name] = previous_lines


def remove(name):
    global _registry
    with _write_lock:
        if name not in _registry:
            return False
        registry = dict(_registry)
        del registry[name]
        _registry = registry
        return True

# ################################################################################################################################
# Queries

def has_service(name):
    return name in _registry


def service_names():
    return sorted(_registry)


def describe(name):
    entry = _registry.get(name)
    if entry is None:
        return None
    out = {'name': entry.name, 'impl_name': entry.impl_name, 'file_name': entry.file_name}
    out.update(describe_sio(entry.sio))
    return out

# ################################################################################################################################
# Invocation

def _resolve(name_or_class):
    """(entry or None, name) for a service name, an impl_name or a Service subclass."""
    registry = _registry
    if isinstance(name_or_class, type):
        for entry in registry.values():
            if entry.cls is name_or_class:
                return entry, entry.name
        return None, get_service_name(name_or_class)
    entry = registry.get(name_or_class)
    if entry is None:
        entry = next((item for item in registry.values() if item.impl_name == name_or_class), None)
    return entry, (entry.name if entry is not None else name_or_class)


def _run(entry, req):
    return pipeline.run(entry, req, _state)


_run_pipeline = pipeline.run


_xml_formats = frozenset(('xml', 'soap'))


def invoke(req):
    """Runs one request; see pipeline.run for the returned (status, content_type, headers, payload)."""
    entry = _registry.get(req['name'])
    if entry is None:
        raise LookupError(req['name'])
    try:
        result = _run_pipeline(entry, req, _state)
    except Reportable as e:
        # BadRequest, NotFound, ... raised anywhere in the call tree become client errors here, only here,
        # so that a service can still catch them from self.invoke.
        raise ServiceError(e.status, e.msg, getattr(e, 'headers', None)) from e
    if req.get('data_format') in _xml_formats:
        # XML and SOAP callers get SimpleIO output under the service's response_elem.
        sio, payload = entry.sio, result[3]
        if sio is not None and sio.response_elem and isinstance(payload, (dict, list)):
            result = result[:3] + (sio_to_xml(sio.response_elem, payload),)
    return result
