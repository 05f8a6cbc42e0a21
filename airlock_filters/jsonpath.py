"""JSONPath patterns (`$.a.b`, `$.items[*].name`, `$..comment`, `$['odd key']`) matched against
the canonical paths the JSON parser gives its fields (`$.a`, `$["odd key"]`, `$[0]`)."""

from __future__ import annotations

import json
import re
from functools import lru_cache

_STEP = r'(?:\.[A-Za-z_][A-Za-z0-9_]*|\[(?:[0-9]+|"(?:[^"\\]|\\.)*")\])'
_TOKEN_RE = re.compile(
    r"""(?P<recurse>\.\.)|\.(?P<name>[A-Za-z_][A-Za-z0-9_-]*|\*)|\[(?P<index>[0-9]+|\*)\]"""
    r"""|\[(?P<quoted>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\]"""
)
_SIMPLE_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def canonical_key(path: str, key: str) -> str:
    """Path of `key` under `path`, as the parser writes it."""
    return path + _key_suffix(key)


@lru_cache(maxsize=4096)
def _key_suffix(key: str) -> str:
    # Documents repeat the same keys in every record; the suffix is worked out once per key.
    return f".{key}" if _SIMPLE_KEY_RE.match(key) else f"[{json.dumps(key)}]"


def _key_step(key: str) -> str:
    return re.escape(canonical_key("", key))


@lru_cache(maxsize=1024)
def compile_jsonpath(pattern: str) -> re.Pattern[str]:
    """A regular expression that fully matches the canonical paths the pattern selects."""
    text = pattern.strip()
    if not text.startswith("$"):
        text = "$." + text.lstrip(".") if not text.startswith("[") else "$" + text
    out = [r"\$"]
    position = 1
    while position < len(text):
        match = _TOKEN_RE.match(text, position)
        if match is None:
            raise ValueError(f"unsupported JSONPath syntax at {text[position:]!r}")
        position = match.end()
        if match["recurse"]:
            out.append(f"{_STEP}*")
            # `..name`: the name follows without its own dot
            name = re.match(r"[A-Za-z_][A-Za-z0-9_-]*|\*", text[position:])
            if name:
                position += name.end()
                out.append(_STEP if name.group() == "*" else _key_step(name.group()))
            continue
        if match["name"] is not None:
            out.append(_STEP if match["name"] == "*" else _key_step(match["name"]))
        elif match["index"] is not None:
            out.append(r"\[[0-9]+\]" if match["index"] == "*" else re.escape(f"[{match['index']}]"))
        else:
            quoted = match["quoted"][1:-1]
            out.append(_key_step(quoted))
    return re.compile("".join(out))


def jsonpath_matches(pattern: str, path: str) -> bool:
    try:
        return compile_jsonpath(pattern).fullmatch(path) is not None
    except ValueError:
        return False
