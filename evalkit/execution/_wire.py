"""Plain data between the candidate's box and the test's box: prepended to _candidate.py and _tester.py.

Never imported: both run as `python -I -S -B -u -c <_prelude.py + _wire.py + script>` under whatever
interpreter the box holds (standard library only). A message is one JSON line. Values cross as tagged
JSON: None, bool, int, float (NaN and infinities included), str as themselves; lists, tuples, sets,
frozensets, dicts, bytes and complex numbers as one-key objects. Nothing else crosses: no live object,
no code. The decoder runs in the test's box and builds only those exact types, so whatever bytes the
candidate sends, the test only ever compares plain data.
"""
import json
import os
import sys

sys.set_int_max_str_digits(0)  # a long integer is plain data too
CONTAINERS = ((list, "l"), (tuple, "t"), (set, "s"), (frozenset, "f"))


def encode(value):
    """A value -> tagged JSON data; TypeError for anything that is not plain data."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    for kind in (bool, int, float, str):  # subclasses (IntEnum, numpy-like scalars) as their base value
        if isinstance(value, kind):
            return kind(value)
    for kind, tag in CONTAINERS:
        if isinstance(value, kind):
            return {tag: [encode(item) for item in value]}
    if isinstance(value, dict):
        return {"d": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, (bytes, bytearray)):
        return {"b": bytes(value).hex()}
    if isinstance(value, complex):
        return {"c": [value.real, value.imag]}
    raise TypeError(f"a {type(value).__name__} cannot cross as plain data")


def decode(data):
    """Tagged JSON data -> a value built only of plain types; ValueError for anything else."""
    if data is None or type(data) in (bool, int, float, str):
        return data
    if type(data) is dict and len(data) == 1:
        (tag, payload), = data.items()
        if type(payload) is list:
            if tag == "l":
                return [decode(item) for item in payload]
            if tag == "t":
                return tuple(decode(item) for item in payload)
            if tag == "s":
                return {decode(item) for item in payload}
            if tag == "f":
                return frozenset(decode(item) for item in payload)
            if tag == "d":
                return {decode(k): decode(v) for k, v in payload}
            if tag == "c" and len(payload) == 2 and all(type(x) in (int, float) for x in payload):
                return complex(*payload)
        if tag == "b" and type(payload) is str:
            return bytes.fromhex(payload)
    raise ValueError("the candidate sent something that is not plain data")


def send(fd, message):
    data = (json.dumps(message) + "\n").encode()
    while data:
        data = data[os.write(fd, data):]
