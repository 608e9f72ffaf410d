# -*- coding: utf-8 -*-
"""Type aliases upstream services import from zato.common.typing_ (annotations only)."""

from typing import Any, Callable, Optional, Union, cast

any_ = Any
anydict = dict
anylist = list
anytuple = tuple
anyset = set
boolnone = Optional[bool]
callable_ = Callable
callnone = Optional[Callable]
cast_ = cast
dict_ = dict
dictlist = list
dictnone = Optional[dict]
intnone = Optional[int]
intlist = list
list_ = list
listnone = Optional[list]
optional = Optional
strdict = dict
stranydict = dict
strlist = list
strnone = Optional[str]
strset = set
strtuple = tuple
tuple_ = tuple
union_ = Union
