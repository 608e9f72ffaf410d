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

from zato.common.convert import _plain_scalars, to_plain
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
        self._plans = None

    def names(self, elems, required):
        return [elem.name for elem in elems if elem.is_required == required]

    def plans(self):
        """(_InputPlan, _OutputPlan), built from the definition on first use (get_sio_def builds them at deploy time)."""
        plans = self._plans
        if plans is None:
            plans = self._plans = (_InputPlan(self), _OutputPlan(self))
        return plans


def _converter(elem, method_name):
    """elem.<method_name>, or None when it is the identity of Elem (values pass through unchanged)."""
    if method_name not in vars(elem) and getattr(type(elem), method_name) is getattr(Elem, method_name):
        return None
    return getattr(elem, method_name)


def _bunch_item(name):
    def get(self):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None
    get.__name__ = name
    return get


def _reduce_to_bunch(self):
    # Pickles and copies as a plain Bunch: the per-definition class is not importable.
    return Bunch, (dict(self),)


def _input_class(names):
    """Bunch, or a subclass of it in which each declared input element is a property.

    Reading `input.name` from a Bunch goes through a failed normal lookup and then Bunch.__getattr__;
    a property is found at once. Values, errors (AttributeError for a deleted element), setting,
    deleting, methods and repr are all as in Bunch.
    """
    attrs = {name: property(_bunch_item(name)) for name in names
        if name.isidentifier() and not name.startswith('__') and not hasattr(Bunch, name)}
    if not attrs:
        return Bunch
    attrs.update({'__slots__': (), '__module__': Bunch.__module__, '__qualname__': Bunch.__qualname__,
        '__reduce__': _reduce_to_bunch})
    return type('Bunch', (Bunch,), attrs)


class _InputPlan:
    """What parsing input needs, computed once per definition:
    elems is ((name, is_required, converter or None, empty_is_missing, default, type_name), ...)."""

    __slots__ = ('elems', 'bunch_class', 'plain_elems')

    def __init__(self, sio_def):
        self.elems = tuple((elem.name, elem.is_required, _converter(elem, 'from_input'), elem.empty_is_missing,
            _default(elem, sio_def.default_input_value), elem.type_name) for elem in sio_def.input_elems)
        self.bunch_class = _input_class([elem.name for elem in sio_def.input_elems])
        # ((name, is_required, default), ...) when no element converts values or treats '' as missing.
        self.plain_elems = None if any(conv is not None or empty_is_missing
            for _, _, conv, empty_is_missing, _, _ in self.elems) else tuple(
            (name, is_required, default) for name, is_required, _, _, default, _ in self.elems)


class _OutputPlan:
    """What serializing output needs, computed once per definition:
    elems is ((name, converter or None, default, type_name), ...)."""

    __slots__ = ('elems', 'required', 'skip_empty_keys', 'force_empty_keys', 'unwrap', 'passes_through', 'plain_elems')

    def __init__(self, sio_def):
        elems = sio_def.output_elems
        self.elems = tuple((elem.name, _converter(elem, 'to_output'), _default(elem, sio_def.default_output_value),
            elem.type_name) for elem in elems)
        self.required = tuple(elem.name for elem in elems if elem.is_required)
        self.skip_empty_keys = sio_def.skip_empty_keys
        self.force_empty_keys = sio_def.force_empty_keys
        # Classic services may still wrap their output in response_elem themselves; upstream REST strips it.
        names = {elem.name for elem in elems}
        response_elem = sio_def.response_elem
        self.unwrap = response_elem if sio_def.is_classic and response_elem and response_elem not in names else None
        # No elements to shape the output with: it is only made plain.
        self.passes_through = sio_def.output_model is not None or not elems
        # ((name, default), ...) when no element converts values and empty keys are kept.
        self.plain_elems = None if self.skip_empty_keys or any(conv is not None for _, conv, _, _ in self.elems) \
            else tuple((name, default) for name, _, default, _ in self.elems)

# ################################################################################################################################

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

    # Compiled at deploy time rather than by the first call.
    sio_def.plans()
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
    # SOAP callers' payload is the Body's content; the whole Envelope is accepted too.
    if is_soap and _local(root.tag) == 'Envelope':
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

    sources = [source for source in sources if source]
    if len(sources) == 1 and type(sources[0]) is dict:
        return read_input(sio_def.plans()[0], sources[0].get, None)
    return read_input(sio_def.plans()[0], None, sources)


def read_input(plan, get, sources):
    """Input elements from `get` (the .get of the only dict to read from) or else from `sources`
    (non-empty dicts, highest priority first). Raises ServiceError(400) listing every problem."""
    out = plan.bunch_class()
    plain_elems = plan.plain_elems
    if plain_elems is not None and get is not None:
        # Values are taken as they are; anything missing and required is reported by the full loop below.
        for name, is_required, default in plain_elems:
            value = get(name, NotGiven)
            if value is NotGiven:
                if is_required:
                    break
                value = default
            out[name] = value
        else:
            return out
        out = plan.bunch_class()

    missing = invalid = None
    for name, is_required, conv, empty_is_missing, default, type_name in plan.elems:
        value = get(name, NotGiven) if get is not None else _lookup(sources, name)
        if value is NotGiven or (empty_is_missing and not is_required and isinstance(value, str) and not value.strip()):
            if is_required:
                if missing is None:
                    missing = []
                missing.append(name)
            else:
                out[name] = default
            continue
        if value is None or conv is None:
            out[name] = value
            continue
        try:
            out[name] = conv(value)
        except _conversion_errors:
            if invalid is None:
                invalid = []
            invalid.append('Invalid value for {} ({}): {!r}'.format(name, type_name, value))

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
    if isinstance(item, tuple) and hasattr(item, '_asdict'):
        return item._asdict()
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        return {field.name: getattr(item, field.name) for field in dataclasses.fields(item)}
    # Any other object (e.g. an ORM row): read the declared output elements as attributes.
    return {elem.name: getattr(item, elem.name) for elem in sio_def.output_elems if hasattr(item, elem.name)}


def _serialize_item(item, sio_def, plan):
    mapping = item if isinstance(item, dict) else _as_mapping(item, sio_def)
    for name in plan.required:
        if name not in mapping:
            # A plain Exception on purpose: this is a bug in the service, the host answers 500.
            raise Exception('Missing output: ' + ', '.join(name for name in plan.required if name not in mapping))

    skip_empty_keys = plan.skip_empty_keys
    force = plan.force_empty_keys
    scalars = _plain_scalars
    out = {}
    for name, conv, default, type_name in plan.elems:
        value = mapping[name] if name in mapping else default
        if skip_empty_keys and (value is None or value == '') and not (force is True or name in force):
            continue
        if value is not None and conv is not None:
            try:
                value = conv(value)
            except _conversion_errors:
                raise Exception('Invalid output value for {} ({}): {!r}'.format(name, type_name, value)) from None
        out[name] = value if type(value) in scalars else to_plain(value)
    return out


def serialize_output(sio_def, payload):
    """Turns a SimpleIO service's response payload (already unpacked to dict/list/other) into plain values."""
    if payload is None or isinstance(payload, (str, bytes)):
        return payload
    return write_output(sio_def, sio_def.plans()[1], payload)


def write_output(sio_def, plan, payload):
    """serialize_output for a payload that is not None, str or bytes; the result is always plain."""
    unwrap = plan.unwrap
    if unwrap is not None and isinstance(payload, dict) and len(payload) == 1 and unwrap in payload:
        payload = payload[unwrap]

    if plan.passes_through:
        return to_plain(payload)

    plain_elems = plan.plain_elems
    if plain_elems is not None and type(payload) is dict:
        # _serialize_item for the usual case, inlined.
        for name in plan.required:
            if name not in payload:
                raise Exception('Missing output: ' + ', '.join(name for name in plan.required if name not in payload))
        scalars = _plain_scalars
        get = payload.get
        out = {}
        for name, default in plain_elems:
            value = get(name, default)
            out[name] = value if type(value) in scalars else to_plain(value)
        return out

    # A SQL row or a named tuple is one item, not a list of them.
    if isinstance(payload, (list, tuple)) and not hasattr(payload, '_asdict'):
        return [_serialize_item(item, sio_def, plan) for item in payload]
    return _serialize_item(payload, sio_def, plan)

# ################################################################################################################################
# Output as XML

def _xml_value(parent, name, value):
    elem = ElementTree.SubElement(parent, name)
    if isinstance(value, dict):
        for key, item in value.items():
            _xml_value(elem, str(key), item)
    elif isinstance(value, list):
        for item in value:
            _xml_value(elem, 'item', item)
    elif value is None:
        pass
    elif isinstance(value, bool):
        elem.text = 'true' if value else 'false'
    else:
        elem.text = str(value)


def sio_to_xml(response_elem, payload):
    """SimpleIO output for XML and SOAP callers: the elements under response_elem, a list as <item> elements."""
    root = ElementTree.Element(response_elem)
    if isinstance(payload, dict):
        for key, value in payload.items():
            _xml_value(root, str(key), value)
    else:
        for item in payload:
            _xml_value(root, 'item', item)
    return ElementTree.tostring(root, encoding='unicode')
