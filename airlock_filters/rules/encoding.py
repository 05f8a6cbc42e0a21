"""Encoding anomalies (rule key ENCODING).

Browsers percent-encode in one canonical way; double encoding, IIS-style `%u` escapes, overlong
UTF-8 and NUL bytes are how payloads slip past decoders that stop one step too early. These
rules look at the RAW form, before our own decoding hides the trick.
"""

from airlock_filters.request import HEADER, JSON, PARAM, PATH, SEGMENT
from airlock_filters.rules._rule import DECODED, ENCODED, Rule

_K = "ENCODING"
_URL_FIELDS = frozenset({PATH, SEGMENT, PARAM, HEADER})
_ALL_DATA = frozenset({PATH, SEGMENT, PARAM, JSON, HEADER})

RULES = [
    Rule(
        "ENCODING-B01", _K, "Basic",
        r"%(?:c0|c1)%[89ab][0-9a-f]|%e0%[89][0-9a-f]%[89ab][0-9a-f]|%f0%8[0-9a-f]%",
        "overlong UTF-8 encoding of an ASCII character",
        kinds=_URL_FIELDS, variants=ENCODED,
    ),
    Rule(
        "ENCODING-B02", _K, "Basic", r"%00|\x00",
        "NUL byte in a value: truncates strings in C-based back ends",
        kinds=_ALL_DATA, variants=ENCODED,
    ),
    Rule(
        "ENCODING-S01", _K, "Standard", r"%25(?:[0-9a-f]{2}|u[0-9a-f]{4})",
        "double percent-encoding in the path",
        kinds=frozenset({PATH, SEGMENT}), variants=ENCODED,
    ),
    Rule(
        "ENCODING-X03", _K, "Strict", r"%25(?:[0-9a-f]{2}|u[0-9a-f]{4})",
        # Only Strict here: a password or search that contains `%41` literally is sent as
        # `%2541` by every browser.
        "double percent-encoding in a parameter or cookie",
        kinds=frozenset({PARAM, HEADER}), variants=ENCODED,
    ),
    Rule(
        "ENCODING-S02", _K, "Standard", r"%u[0-9a-f]{4}",
        "non-standard %uXXXX encoding (IIS), never sent by browsers",
        kinds=_URL_FIELDS, variants=ENCODED,
    ),
    Rule(
        "ENCODING-S03", _K, "Standard", r"%(?:[^0-9a-fu%]|[0-9a-f](?:[^0-9a-f]|\z)|\z)",
        "invalid percent-encoding",
        kinds=frozenset({PATH, SEGMENT, PARAM}), variants=ENCODED,
    ),
    Rule(
        "ENCODING-S04", _K, "Standard", r"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]",
        "control character in a decoded value",
        kinds=_ALL_DATA, variants=DECODED,
    ),
    Rule(
        "ENCODING-X01", _K, "Strict", r"\xef\xbf\xbd",
        # Not cookies: session tokens are opaque bytes that need not be text.
        "invalid UTF-8 in a decoded path or parameter",
        kinds=frozenset({PATH, SEGMENT, PARAM}), variants=DECODED,
    ),
    Rule(
        "ENCODING-X02", _K, "Strict", r"\xef\xbc[\x80-\xbf]|\xef\xbd[\x80-\x9f]",
        "full-width ASCII look-alikes, used to dodge keyword filters",
        kinds=_ALL_DATA, variants=DECODED,
    ),
]  # fmt: skip
