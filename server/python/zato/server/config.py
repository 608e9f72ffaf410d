# -*- coding: utf-8 -*-
"""User config: every *.conf INI file of a directory, as self.config.user.<file stem>.<section>.<key>."""

import configparser
import logging
import os

from zato.common.ext.bunch import Bunch

# Keys above the first section header are allowed (upstream reads these files with ConfigObj, which permits them).
_root_section = '__zato_root__'


def parse_user_config_text(text):
    parser = configparser.ConfigParser(interpolation=None, default_section='__zato_no_default__', strict=False)
    parser.optionxform = str  # keep key case, ConfigObj does
    parser.read_string('[{}]\n{}'.format(_root_section, text))
    out = Bunch()
    for section in parser.sections():
        values = Bunch(parser.items(section))
        if section == _root_section:
            out.update(values)
        else:
            out[section] = values
    return out


def load_user_config(directory, log):
    """Returns Bunch(stem -> section -> key -> value). A file that cannot be read is logged and skipped."""
    out = Bunch()
    if not directory or not os.path.isdir(directory):
        return out
    for file_name in sorted(os.listdir(directory)):
        if not file_name.endswith('.conf'):
            continue
        path = os.path.join(directory, file_name)
        try:
            with open(path, encoding='utf8') as f:
                out[file_name[:-len('.conf')]] = parse_user_config_text(f.read())
        except (OSError, UnicodeDecodeError, configparser.Error) as e:
            log(logging.ERROR, 'Could not load user config file `{}`: {}'.format(path, e))
    return out
