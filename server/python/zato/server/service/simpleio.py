# -*- coding: utf-8 -*-
"""SimpleIO: reading a service's I/O definition, parsing input, serializing output (types are in zato.simpleio).

Two definition styles are supported, as in upstream Zato 3.2:
  * short form on the service class: `input = 'a', '-b'`, `output = Int('c')`, or a Model dataclass;
  * classic `class SimpleIO:` with input_required/input_optional/output_required/output_optional etc.
A definition is read once, at deploy time (get_sio_def), and reused for every call.
"""

import copy
import dataclasses
from xml.etree import ElementTree

from zato.common import convert
from zato.common.api import SIMPLE_IO_DEFAULTS
from zato.common.ext.bunch import Bunch
from zato.common.marshal_.api import ModelError, build_model, is_model_class
from zato.simpleio import Bool, Elem, Int, NotGiven, SIODefinitionError, Text, _Plain, _conversion_errors
from zato._errors import ServiceError

# ################################################################################################################################
# Reading a definition

class SIODef:
    """Everything the pipeline needs to know about one service's SimpleIO."""

    def __init__(self):
        self.is_classic = False
        self.input_elems = []        # Elem instances with is_required set, in declaration order
        self.output_elems = []
        self.input_model = None      # a dataclass, when `input = MyModel`
        self.output_model = None
        self.has_output = False
        self.response_elem = 'response'
        self.output_repeated = False
        self.default_input_value = NotGiven
        self.default_output_value = NotGiven
        self.skip_empty_keys = False
        self.force_empty_keys = ()

    def names(self, elems, required):
        return [elem.name for elem in elems if elem.is_required == required]


def _implicit_elem(name, config):
    """Implicit typing by name, e.g. is_active -> Bool, user_id -> Int."""
    bare = name[1:] if name.startswith('-') else name
    if any(bare.startswith(prefix) for prefix in config['bool_prefixes']):
        return Bool(name)
    if bare in config['int_exact'] or any(bare.endswith(suffix) for suffix in config['int_suffixes']):
        return Int(name)
    if bare in config['secret_exact']:
        return Text(name)
    return _Plain(name)


def _to_elem(item, required, config, use_dash):
    """Turns one definition item into a fresh Elem. `required` None means "decide by the - prefix"."""
    if isinstance(item, str):
        # In the classic *_required/*_optional lists the list decides, so a stray `-` is just dropped.
        name = item if use_dash or not item.startswith('-') else item[1:]
        elem = _implicit_elem(name, config)
    elif isinstance(item, Elem):
        elem = copy.copy(item)
    else:
        raise SIODefinitionError('Invalid SimpleIO element {!r} (expected a string or a SimpleIO type)'.format(item))
    if required is None:
        elem.is_required = not elem.is_marked_optional
    else:
        elem.is_required = required and not elem.is_marked_optional
    if not elem.name:
        raise SIODefinitionError('Empty SimpleIO element name')
    return elem


def _as_items(value, attr_name):
    if value is None:
        return []
    if isinstance(value, (str, Elem)):
        return [value]
    if isinstance(value, (list, tuple)):
        return list(value)
    raise SIODefinitionError('Invalid SimpleIO `{}`: {!r} (expected a string, a tuple or a list)'.format(attr_name, value))


def _read_direction(direction, short_value, sio_class, config, sio_def):
    """Fills the `direction` ('input' or 'output') side of sio_def; returns True if anything was declared."""
    elems = []
    declared = False

    if sio_class is not None:
        for suffix, required in (('_required', True), ('_optional', False)):
            value = getattr(sio_class, direction + suffix, None)
            if value is not None:
                declared = True
                elems.extend(_to_elem(item, required, config, use_dash=False)
                    for item in _as_items(value, direction + suffix))
        inner = getattr(sio_class, direction, None)
        if inner is not None:
            short_value = short_value if short_value is not None else inner

    if short_value is not None:
        declared = True
        if is_model_class(short_value):
            setattr(sio_def, direction + '_model', short_value)
            return True
        if isinstance(short_value, type):
            raise SIODefinitionError('`{}` = {} must be a dataclass (decorate the Model with @dataclass)'.format(
                direction, short_value.__name__))
        elems.extend(_to_elem(item, None, config, use_dash=True) for item in _as_items(short_value, direction))

    seen = set()
    for elem in elems:
        if elem.name in seen:
            raise SIODefinitionError('Duplicate SimpleIO {} element `{}`'.format(direction, elem.name))
        seen.add(elem.name)

    setattr(sio_def, direction + '_elems', elems)
    return declared


def _short_form(cls, attr_name):
    value = getattr(cls, attr_name, None)
    # A method called input/output is not a SimpleIO definition.
    if callable(value) and not isinstance(value, type):
        return None
    return value


def get_sio_def(cls, config=None):
    """Reads the SimpleIO definition of a service class; None if it has none. Raises SIODefinitionError."""
    config = config or SIMPLE_IO_DEFAULTS
    sio_class = getattr(cls, 'SimpleIO', None)
    if sio_class is not None and not isinstance(sio_class, type):
        raise SIODefinitionError('SimpleIO must be a class')
    short_input, short_output = _short_form(cls, 'input'), _short_form(cls, 'output')
    if sio_class is None and short_input is None and short_output is None:
        return None

    sio_def = SIODef()
    sio_def.is_classic = sio_class is not None

    _read_direction('input', short_input, sio_class, config, sio_def)
    sio_def.has_output = _read_direction('output', short_output, sio_class, config, sio_def)

    if sio_class is not None:
        response_elem = getattr(sio_class, 'response_elem', 'response')
        if response_elem is not None and not isinstance(response_elem, str):
            raise SIODefinitionError('SimpleIO.response_elem must be a string or None')
        sio_def.response_elem = response_elem
        sio_def.output_repeated = bool(getattr(sio_class, 'output_repeated', False))
        default_value = getattr(sio_class, 'default_value', NotGiven)
        sio_def.default_input_value = getattr(sio_class, 'default_input_value', default_value)
        sio_def.default_output_value = getattr(sio_class, 'default_output_value', default_value)
        sio_def.skip_empty_keys = bool(getattr(sio_class, 'skip_empty_keys', False))
        force = getattr(sio_class, 'force_empty_keys', ())
        sio_def.force_empty_keys = force if force is True else tuple(_as_items(force, 'force_empty_keys'))
    else:
        sio_def.response_elem = None

    return sio_def


def describe_sio(sio_def):
    out = {'input_required': [], 'input_optional': [], 'output_required': [], 'output_optional': []}
    if sio_def is None:
        return out
    from zato.common.marshal_.api import optional_fields, required_fields
    for direction in ('input', 'output'):
        model = getattr(sio_def, direction + '_model')
        if model is not None:
            out[direction + '_required'] = required_fields(model)
            out[direction + '_optional'] = optional_fields(model)
        else:
            elems = getattr(sio_def, direction + '_elems')
            out[direction + '_required'] = sio_def.names(elems, True)
            out[direction + '_optional'] = sio_def.names(elems, False)
    return out

# ################################################################################################################################
# Input

def _local(tag):
    return tag.rsplit('}', 1)[-1] if isinstance(tag, str) else ''


def xml_to_dict(text, is_soap, wanted):
    """Reads SimpleIO input from an XML (or SOAP) document: the child elements of the request element.

    If none of the wanted names is a direct child but there is a single wrapper element, its children are used.
    """
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as e:
        raise ServiceError(400, 'Invalid XML: {}'.format(e)) from None

    elem = root
    if is_soap:
        body = next((child for child in root if _local(child.tag) == 'Body'), None)
        children = list(body) if body is not None else []
        elem = children[0] if children else None
    if elem is None:
        return {}

    def children_of(node):
        return {_local(child.tag): (child.text or '') if len(child) == 0 else child for child in node}

    out = children_of(elem)
    if not (set(out) & set(wanted)) and len(elem) == 1 and len(elem[0]):
        out = children_of(elem[0])
    return {key: value for key, value in out.items() if isinstance(value, str)}


def _lookup(sources, name):
    for source in sources:
        if source and name in source:
            return source[name]
    return NotGiven


def parse_input(sio_def, sources):
    """Builds request.input from `sources` (dicts, highest priority first). Raises ServiceError(400)."""
    if sio_def.input_model is not None:
        model = sio_def.input_model
        data = {}
        for field in dataclasses.fields(model):
            value = _lookup(sources, field.name)
            if value is not NotGiven:
                data[field.name] = value
        try:
            return build_model(model, data)
        except ModelError as e:
            raise ServiceError(400, str(e)) from None

    out = Bunch()
    missing, invalid = [], []
    for elem in sio_def.input_elems:
        value = _lookup(sources, elem.name)
        if value is not NotGiven and elem.empty_is_missing and isinstance(value, str) and not value.strip() \
                and not elem.is_required:
            value = NotGiven
        if value is NotGiven:
            if elem.is_required:
                missing.append(elem.name)
                continue
            value = _default(elem, sio_def.default_input_value)
            out[elem.name] = value
            continue
        if value is None:
            out[elem.name] = None
            continue
        try:
            out[elem.name] = elem.from_input(value)
        except _conversion_errors:
            invalid.append('Invalid value for {} ({}): {!r}'.format(elem.name, elem.type_name, value))

    if missing:
        raise ServiceError(400, 'Missing input: ' + ', '.join(missing))
    if invalid:
        raise ServiceError(400, '; '.join(invalid))
    return out


def _default(elem, sio_default):
    if elem.default is not NotGiven:
        return elem.default
    if sio_default is not NotGiven:
        return sio_default
    return None

# ################################################################################################################################
# Output

def _as_mapping(item, sio_def):
    if isinstance(item, dict):
        return item
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        return {field.name: getattr(item, field.name) for field in dataclasses.fields(item)}
    # Any other object (e.g. an ORM row): read the declared output elements as attributes.
    return {elem.name: getattr(item, elem.name) for elem in sio_def.output_elems if hasattr(item, elem.name)}


def _serialize_item(item, sio_def):
    mapping = _as_mapping(item, sio_def)
    missing = [elem.name for elem in sio_def.output_elems if elem.is_required and elem.name not in mapping]
    if missing:
        # A plain Exception on purpose: this is a bug in the service, the host answers 500.
        raise Exception('Missing output: ' + ', '.join(missing))

    force = sio_def.force_empty_keys
    out = {}
    for elem in sio_def.output_elems:
        if elem.name in mapping:
            value = mapping[elem.name]
        else:
            value = _default(elem, sio_def.default_output_value)
        if sio_def.skip_empty_keys and (value is None or value == '') and not (force is True or elem.name in force):
            continue
        if value is not None:
            try:
                value = elem.to_output(value)
            except _conversion_errors:
                raise Exception('Invalid output value for {} ({}): {!r}'.format(elem.name, elem.type_name, value)) from None
        out[elem.name] = convert.to_plain(value)
    return out


def serialize_output(sio_def, payload):
    """Turns a SimpleIO service's response payload (already unpacked to dict/list/other) into plain values."""
    if payload is None or isinstance(payload, (str, bytes)):
        return payload

    # Classic services may still wrap their output in response_elem themselves; upstream REST strips it.
    if sio_def.is_classic and sio_def.response_elem and isinstance(payload, dict) and len(payload) == 1 \
            and sio_def.response_elem in payload \
            and sio_def.response_elem not in {elem.name for elem in sio_def.output_elems}:
        payload = payload[sio_def.response_elem]

    if sio_def.output_model is not None or not sio_def.output_elems:
        return convert.to_plain(payload)

    if isinstance(payload, (list, tuple)):
        return [_serialize_item(item, sio_def) for item in payload]
    return _serialize_item(payload, sio_def)
