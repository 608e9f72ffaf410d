# -*- coding: utf-8 -*-
"""`lazy_attr`: an attribute computed on first access and then stored in the instance's __dict__.

It is a non-data descriptor, so once the value is stored (or the attribute is assigned by user code)
plain instance lookup wins and the descriptor is never consulted again. Used for per-call objects
(self.logger, self.request.http, ...) that most calls never look at.
"""


class lazy_attr:

    __slots__ = ('build', 'name')

    def __init__(self, build):
        self.build = build
        self.name = build.__name__

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        value = self.build(obj)
        obj.__dict__[self.name] = value
        return value
