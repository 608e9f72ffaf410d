# -*- coding: utf-8 -*-
"""A dict with attribute access, compatible with the `bunch` package upstream Zato vendors here."""


class Bunch(dict):

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key, value):
        self[key] = value

    def __delattr__(self, key):
        try:
            del self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __dir__(self):
        return list(self.keys())

    def __repr__(self):
        items = ', '.join('{}={!r}'.format(key, value) for key, value in self.items())
        return 'Bunch({})'.format(items)

    def copy(self):
        return Bunch(self)

    def toDict(self):
        return unbunchify(self)

    to_dict = toDict

    @staticmethod
    def fromDict(value):
        return bunchify(value)


def bunchify(value):
    """Recursively turns dicts into Bunches, descending into lists and tuples."""
    if isinstance(value, dict):
        return Bunch((key, bunchify(item)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(bunchify(item) for item in value)
    return value


def unbunchify(value):
    """The reverse of bunchify: plain dicts all the way down."""
    if isinstance(value, dict):
        return {key: unbunchify(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(unbunchify(item) for item in value)
    return value
