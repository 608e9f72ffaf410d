# -*- coding: utf-8 -*-
"""The virtualenv services import third-party packages from (`[python] virtualenv` in server.conf,
made by `zato quickstart create` / `zato create server`, filled by `zato python install`).

Packages installed while the server runs are importable by the next deployment: each deployment
drops the import system's directory caches and re-reads the site dir's .pth files first.
"""

import importlib
import logging
import os
import site
import sys

# Import names whose PyPI distribution is named differently; the rest install under their own name.
_DISTRIBUTIONS = {
    'yaml': 'PyYAML', 'dateutil': 'python-dateutil', 'jwt': 'PyJWT', 'bs4': 'beautifulsoup4',
    'MySQLdb': 'mysqlclient', 'psycopg2': 'psycopg2-binary', 'pymysql': 'PyMySQL', 'sqlalchemy': 'SQLAlchemy',
    'Crypto': 'pycryptodome', 'OpenSSL': 'pyOpenSSL', 'zmq': 'pyzmq', 'dns': 'dnspython', 'PIL': 'Pillow',
    'google': 'google-api-python-client', 'attr': 'attrs', 'magic': 'python-magic', 'ldap': 'python-ldap',
    'cv2': 'opencv-python', 'sklearn': 'scikit-learn', 'git': 'GitPython', 'serial': 'pyserial',
}

_site_dir = None
_server_dir = ''


def site_dir_of(env_dir):
    return os.path.join(env_dir, 'lib', 'python{}.{}'.format(*sys.version_info[:2]), 'site-packages')


def setup(env_dir, server_dir, log):
    """Adds the virtualenv's site-packages to sys.path (after the stdlib, before the system's
    site-packages, as a virtualenv would)."""
    global _site_dir, _server_dir
    _server_dir = server_dir or ''
    if not env_dir:
        return
    path = _site_dir = site_dir_of(env_dir)
    if not os.path.isdir(path):
        found = [name for name in _listdir(os.path.join(env_dir, 'lib')) if name.startswith('python')]
        if found:
            why = 'it was made for {} and this server embeds Python {}.{}; remove it and run `zato python ' \
                'install {}` to make it again'.format(', '.join(found), *sys.version_info[:2], _server_dir)
        else:
            why = 'it is made by `zato python install {} PACKAGE...`'.format(_server_dir)
        log(logging.WARNING, 'The virtualenv `{}` has no `{}` yet, services cannot import its packages: {}'.format(
            env_dir, os.path.relpath(path, env_dir), why))
        return
    _add_site(path)


def _add_site(path):
    """`site.addsitedir`, with what it adds put ahead of the system's and the user's site-packages
    (behind the stdlib), as in a virtualenv: a package installed for the cluster wins over an
    older copy from the operating system."""
    before = set(sys.path)
    site.addsitedir(path)
    added = [entry for entry in sys.path if entry not in before]
    if not added:
        return
    for entry in added:
        sys.path.remove(entry)
    at = next((i for i, entry in enumerate(sys.path) if os.path.basename(entry) in ('site-packages', 'dist-packages')),
        len(sys.path))
    sys.path[at:at] = added


def _listdir(path):
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


def refresh():
    """Makes packages installed since the last deployment importable."""
    importlib.invalidate_caches()
    if _site_dir and os.path.isdir(_site_dir):
        _add_site(_site_dir)


def install_hint(exc):
    """For a module a deployment could not import: the command that installs it, or ''."""
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return ''
    top = exc.name.partition('.')[0]
    if top == 'zato' or top in sys.stdlib_module_names:
        return ''
    return 'install it with `zato python install {} {}`'.format(_server_dir or 'SERVER_DIR', _DISTRIBUTIONS.get(top, top))
