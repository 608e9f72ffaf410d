# -*- coding: utf-8 -*-
"""Upstream's zato.common.simpleio_: simple-io.conf defaults and turning that file into an SIOServerConfig.

Our runtime reads the same naming rules from zato.common.api.SIMPLE_IO_DEFAULTS (and from init());
this module exists for code written against upstream that imports these helpers.
"""

from zato.common.api import SIMPLE_IO_DEFAULTS
from zato.simpleio import BoolConfig, Elem, IntConfig, SecretConfig, SIOServerConfig


def get_bytes_to_str_encoding():
    return 'utf8'


# Upstream's defaults of the [default] section. Note that the three *_value ones are the option names
# themselves, not empty strings: that is what upstream's server uses when the section is missing.
default_input_required_name = 'input_required'
default_input_optional_name = 'input_optional'
default_output_required_name = 'output_required'
default_output_optional_name = 'output_optional'
default_value = 'default_value'
default_input_value = 'default_input_value'
default_output_value = 'default_output_value'
default_response_elem = 'response'
default_skip_empty_keys = False
default_skip_empty_request_keys = False
default_skip_empty_response_keys = False

# Reserved upstream for one-letter type prefixes of element names; not used for typing.
default_prefix_as_is = 'a'
default_prefix_bool = 'b'
default_prefix_csv = 'c'
default_prefix_date = 'date'
default_prefix_date_time = 'dt'
default_prefix_dict = 'd'
default_prefix_dict_list = 'dl'
default_prefix_float = 'f'
default_prefix_int = 'i'
default_prefix_list = 'l'
default_prefix_text = 't'
default_prefix_uuid = 'u'

_prefix_names = ('as_is', 'bool', 'csv', 'date', 'date_time', 'dict', 'dict_list', 'float', 'int', 'list', 'text', 'uuid')


def _simple_io_conf():
    """The simple-io.conf a new server gets; `{bytes_to_str_encoding}` is left for the caller to fill in."""

    def listed(key):
        return ', '.join(SIMPLE_IO_DEFAULTS[key])

    lines = [
        '[bool]', 'exact=', 'prefix=' + listed('bool_prefixes'), 'suffix=', '',
        '[int]', 'exact=' + listed('int_exact'), 'prefix=', 'suffix=' + listed('int_suffixes'), '',
        '[secret]', 'exact=' + listed('secret_exact'), 'prefix=', 'suffix=', '',
        '[bytes_to_str]', 'encoding={bytes_to_str_encoding}', '',
        '[default]', 'default_value=', 'default_input_value=', 'default_output_value=', 'response_elem=response', '',
        'skip_empty_keys = False', 'skip_empty_request_keys = False', 'skip_empty_response_keys = False', '',
        '# Configuration below is reserved for future use', '',
    ]
    for direction in ('input', 'output'):
        for kind in ('required', 'optional'):
            key = '{}_{}_name'.format(direction, kind)
            lines.append('{} = "{}_{}"'.format(key.ljust(20), direction, kind))
    lines.append('')
    for name in _prefix_names:
        lines.append('{} = {}'.format(('prefix_' + name).ljust(16), globals()['default_prefix_' + name]))
    return '\n'.join(lines) + '\n'


simple_io_conf_contents = _simple_io_conf()


def _as_set(value):
    if not value:
        return set()
    return set(value) if isinstance(value, list) else {value}


def c18n_sio_fs_config(sio_fs_config):
    """Normalizes a parsed simple-io.conf (a Bunch of Bunches) in place: the [bool], [int] and [secret]
    exact/prefix/suffix options become sets, bytes in [default] become text."""
    for name in ('bool', 'int', 'secret'):
        section = sio_fs_config[name]
        section.exact = _as_set(section.get('exact'))
        section.prefix = _as_set(section.get('prefix'))
        section.suffix = _as_set(section.get('suffix'))

    default = sio_fs_config.get('default') or {}
    for key, value in list(default.items()):
        if isinstance(value, bytes):
            default[key] = value.decode('utf8')


def _config_item(cls, section):
    item = cls()
    item.exact = section.exact
    item.prefixes = section.prefix
    item.suffixes = section.suffix
    return item


def get_sio_server_config(sio_fs_config):
    """An SIOServerConfig from a parsed simple-io.conf (normalized in place first)."""
    c18n_sio_fs_config(sio_fs_config)

    config = SIOServerConfig()
    config.bool_config = _config_item(BoolConfig, sio_fs_config.bool)
    config.int_config = _config_item(IntConfig, sio_fs_config.int)
    config.secret_config = _config_item(SecretConfig, sio_fs_config.secret)

    default = sio_fs_config.get('default')
    names = ['input_required_name', 'input_optional_name', 'output_required_name', 'output_optional_name',
        'default_value', 'default_input_value', 'default_output_value', 'response_elem',
        'skip_empty_keys', 'skip_empty_request_keys', 'skip_empty_response_keys']

    for name in names:
        # Upstream names these defaults default_<name>, except the *_value ones, which keep their own names.
        fallback = globals()[name if name.endswith('_value') else 'default_' + name]
        setattr(config, name, default.get(name, fallback) if default else fallback)

    # The one-letter prefixes are only read from a [default] section that exists.
    if default:
        for name in _prefix_names:
            setattr(config, 'prefix_' + name, default.get('prefix_' + name, globals()['default_prefix_' + name]))

    encoding = sio_fs_config.bytes_to_str.encoding
    if isinstance(encoding, bytes):
        encoding = encoding.decode('utf8')
    config.bytes_to_str_encoding = encoding
    config.json_encoder.bytes_to_str_encoding = encoding
    return config


def drop_sio_elems(elems, *to_drop):
    """The elements (Elem objects or names) without the named ones, duplicates removed; the order is not kept."""
    return [elem for elem in set(elems) if (elem.name if isinstance(elem, Elem) else elem) not in to_drop]
