# -*- coding: utf-8 -*-
"""dumps/loads under the upstream import path; stdlib json underneath."""

import json

from zato.common.convert import to_plain


def dumps(data, *args, **kwargs):
    # Decimals, datetimes, UUIDs, Bunches and dataclasses become plain values first, as in responses.
    return json.dumps(to_plain(data), *args, **kwargs)


def loads(data, *args, **kwargs):
    if isinstance(data, (bytes, bytearray)):
        data = data.decode('utf8')
    return json.loads(data, *args, **kwargs)
