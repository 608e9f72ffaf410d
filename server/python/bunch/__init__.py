# -*- coding: utf-8 -*-
"""`from bunch import Bunch` as upstream Zato's services write it (PyPI's bunch 1.0.1 no longer
installs on Python 3): the server's own Bunch."""

from zato.common.ext.bunch import Bunch, bunchify, unbunchify

__all__ = ['Bunch', 'bunchify', 'unbunchify']
