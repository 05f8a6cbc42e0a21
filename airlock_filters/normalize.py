"""Normalization of field values before matching.

Attackers hide payloads behind encodings the application will undo; we undo them first, with
bounds, so one pattern sees every disguise. The raw form is matched too, so nothing is lost.
"""

from __future__ import annotations

import html
import re

# Double encoding is common, triple rare; beyond that the value is an ENCODING anomaly anyway.
MAX_DECODE_ROUNDS = 4

_PERCENT_RE = re.compile(rb"%(?:[0-9A-Fa-f]{2}|[uU][0-9A-Fa-f]{4})")
_OVERLONG2_RE = re.compile(rb"[\xc0\xc1][\x80-\xbf]")
_OVERLONG3_RE = re.compile(rb"\xe0[\x80-\x9f][\x80-\xbf]")
_JS_ESCAPE_RE = re.compile(r"\\(?:x([0-9A-Fa-f]{2})|u([0-9A-Fa-f]{4})|u\{([0-9A-Fa-f]{1,6})\})")
_MULTI_SLASH_RE = re.compile(r"/{2,}")
_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _percent_byte(match: re.Match[bytes]) -> bytes:
    token = match.group()
    if token[1] in b"uU":
        return chr(int(token[2:], 16)).encode("utf-8", "surrogatepass")
    return bytes([int(token[1:], 16)])


def percent_decode(data: bytes, plus_as_space: bool = False) -> bytes:
    """One round of percent-decoding (with %uXXXX); invalid escapes stay as they are."""
    if plus_as_space:
        data = data.replace(b"+", b" ")
    if b"%" not in data:
        return data
    return _PERCENT_RE.sub(_percent_byte, data)


def _overlong(match: re.Match[bytes]) -> bytes:
    value = 0
    for i, byte in enumerate(match.group()):
        value = (value << 6) | (byte & (0x1F if i == 0 and len(match.group()) == 2 else 0x3F))
    if len(match.group()) == 3:
        value &= 0xFFFF
    return bytes([value]) if value < 0x80 else chr(value).encode()


def decode_utf8(data: bytes) -> str:
    """Decode UTF-8 the way lenient servers do: overlong forms map to their character."""
    if data.isascii():
        return data.decode("ascii")
    data = _OVERLONG2_RE.sub(_overlong, data)
    data = _OVERLONG3_RE.sub(_overlong, data)
    return data.decode("utf-8", "replace")


def url_decode(text: str, plus_as_space: bool = False) -> str:
    """Percent-decode until stable (bounded), then UTF-8 decode leniently."""
    data = text.encode("utf-8", "surrogatepass")
    for _ in range(MAX_DECODE_ROUNDS):
        decoded = percent_decode(data, plus_as_space)
        plus_as_space = False  # a `+` produced by decoding is a literal plus
        if decoded == data:
            break
        data = decoded
    return decode_utf8(data)


def normalize(text: str) -> str:
    """The normalized form matched besides the raw one: decoded and NUL-free.

    Backslashes stay: Windows paths and commands need them, and traversal patterns accept
    either separator.
    """
    if "%" in text:
        text = url_decode(text)
    if "\x00" in text:
        text = text.replace("\x00", "")
    return text


def html_decode(text: str) -> str:
    """Undo HTML entities and JavaScript escapes, the disguises of markup injection."""
    if "&" in text:
        # Two rounds: `&amp;lt;` is how double-escaped markup reaches a template.
        text = html.unescape(html.unescape(text))
    if "\\" in text:
        text = _JS_ESCAPE_RE.sub(_js_char, text)
    if text.isascii() and text.isprintable():
        return text  # the common case, without a regex pass
    return _CONTROL_RE.sub("", text)


def _js_char(match: re.Match[str]) -> str:
    code = int(match.group(1) or match.group(2) or match.group(3), 16)
    return chr(code) if code < 0x110000 else ""


def normalize_path(path: str) -> str:
    """Resolve `.`/`..` segments, repeated and backslash separators, for path conditions."""
    path = url_decode(path).replace("\\", "/").replace("\x00", "")
    if not path.startswith("/"):
        path = "/" + path
    trailing = path.endswith("/") or path.endswith("/.") or path.endswith("/..")
    out: list[str] = []
    for segment in _MULTI_SLASH_RE.sub("/", path).split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if out:
                out.pop()
            continue
        out.append(segment)
    result = "/" + "/".join(out)
    if trailing and result != "/":
        result += "/"
    return result
