r"""Rewriting patterns so that Hyperscan can search many values in one call.

Hyperscan's cost per call is high next to the few bytes of a typical field value, so the
compiled scanner joins the values into one buffer, each framed by two bytes that never occur in
UTF-8 text: ``\xff value \xfe``. A pattern searched in that buffer must match exactly where the
original matches in one value. `seal` rewrites a pattern for that:

- `\A` becomes `\xff` and `\z` becomes `\xfe`: the frame bytes stand for the start and end of
  the value (they are non-word bytes, so `\b` and `\B` keep their meaning next to them);
- every other atom is kept from matching a frame byte: `\xfe\xff` join each negated class,
  ranges stop at `\xfd`, and `\S`, `\W`, `\D` become negated classes.

A match can then hold `\xff` only through a rewritten `\A` and `\xfe` only through a rewritten
`\z`. Where `\A` is the first item on every path through the pattern and `\z` the last, no
match can run from one value into the next (that would need `\xfe\xff` inside it), and the
value a match belongs to is the one framing its last byte. A pattern that does not have this
shape, or uses syntax this module does not read (`^`, `$`, `.`-less flags, verbs, ...), is not
sealed (`None`): the scanner then searches it one value at a time, as before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

VALUE_START = 0xFF  # frames a value on the left, stands for `\A`
VALUE_END = 0xFE  # frames a value on the right, stands for `\z`
_FRAME = rb"\xfe\xff"
_HIGHEST = 0xFD  # the highest byte an atom other than an anchor may match

_QUANTIFIER_RE = re.compile(rb"(?:[*+?]|\{(\d+)(?:(,)(\d*))?\})\??")
# Braces that some engine may read as a quantifier (`{,n}`, `{}`): too ambiguous to rewrite.
_QUANTIFIER_LIKE_RE = re.compile(rb"\{[\d,]*\}")
_HEX_RE = re.compile(rb"\\x(?:\{([0-9A-Fa-f]{1,6})\}|([0-9A-Fa-f]{1,2}))")
# Escapes whose class or character never takes a frame byte, outside and inside classes.
_KEEP_ESCAPES = frozenset(b"wdsbBntrf")
_NEGATED_ESCAPES = {ord("S"): rb"\s", ord("W"): rb"\w", ord("D"): rb"\d"}
_POSIX_RE = re.compile(rb"\[:([a-z]+):\]")


class _Unsealable(Exception):
    """The pattern uses something `seal` does not handle."""


@dataclass
class _Item:
    text: bytes
    anchor: str = ""  # "A" or "z" for the rewritten anchors
    group: list[list[_Item]] | None = None  # alternatives of a group, each a sequence
    repeats: bool = False  # quantified to more than one occurrence
    quantified: bool = False


@dataclass
class _Parser:
    pattern: bytes
    dotall: bool
    at: int = 0
    items: list[_Item] = field(default_factory=list)

    def alternatives(self, depth: int) -> list[list[_Item]]:
        alternatives: list[list[_Item]] = [[]]
        while self.at < len(self.pattern):
            char = self.pattern[self.at]
            if char == ord(")"):
                if depth == 0:
                    raise _Unsealable("unbalanced )")
                self.at += 1
                return alternatives
            if char == ord("|"):
                alternatives.append([])
                self.at += 1
                continue
            item = self.atom(depth)
            self.quantifier(item)
            alternatives[-1].append(item)
        if depth:
            raise _Unsealable("unbalanced (")
        return alternatives

    def atom(self, depth: int) -> _Item:
        pattern, at = self.pattern, self.at
        char = pattern[at]
        if char == ord("("):
            if pattern.startswith(b"(?:", at):
                self.at = at + 3
            elif pattern.startswith(b"(?", at) or pattern.startswith(b"(*", at):
                raise _Unsealable("group flags, names and verbs")
            else:
                self.at = at + 1
            return _Item(b"", group=self.alternatives(depth + 1))
        if char == ord("["):
            return _Item(self.char_class())
        if char == ord("\\"):
            return self.escape()
        if char == ord("."):
            self.at += 1
            return _Item(b"[^" + _FRAME + b"]" if self.dotall else b"[^\\n" + _FRAME + b"]")
        if char in b"^$":
            raise _Unsealable("^ and $")
        if char >= VALUE_END:
            raise _Unsealable("a frame byte")
        if char in b"*+?" or (char == ord("{") and _QUANTIFIER_LIKE_RE.match(pattern, at)):
            raise _Unsealable("quantifier without an atom")
        self.at += 1
        return _Item(bytes([char]))

    def escape(self) -> _Item:
        pattern, at = self.pattern, self.at
        if at + 1 >= len(pattern):
            raise _Unsealable("trailing backslash")
        letter = pattern[at + 1]
        if letter == ord("x"):
            found = _HEX_RE.match(pattern, at)
            if found is None or int(found.group(1) or found.group(2), 16) > _HIGHEST:
                raise _Unsealable("hex escape")
            self.at = found.end()
            return _Item(found.group())
        self.at = at + 2
        if letter == ord("A"):
            return _Item(rb"\xff", anchor="A")
        if letter == ord("z"):
            return _Item(rb"\xfe", anchor="z")
        if letter in _NEGATED_ESCAPES:
            return _Item(b"[^" + _NEGATED_ESCAPES[letter] + _FRAME + b"]")
        if letter in _KEEP_ESCAPES or (not chr(letter).isalnum() and letter < 0x80):
            return _Item(pattern[at : at + 2])
        raise _Unsealable("escape")

    def char_class(self) -> bytes:
        """A class, rewritten so that it takes no frame byte."""
        pattern = self.pattern
        at = self.at + 1
        negated = pattern[at : at + 1] == b"^"
        if negated:
            at += 1
        out = bytearray()
        first = True
        while True:
            if at >= len(pattern):
                raise _Unsealable("unterminated class")
            char = pattern[at]
            if char == ord("]") and not first:
                break
            first = False
            posix = _POSIX_RE.match(pattern, at)
            if char == ord("[") and posix is not None:
                # ASCII classes; the negated form `[:^name:]` does not match this expression.
                out += posix.group()
                at = posix.end()
                continue
            low, text, at = self.class_char(at)
            if text in (b"-", b"]"):
                # Escaped wherever it stands: frame bytes are appended after the last item.
                text = b"\\" + text
            if pattern[at : at + 1] == b"-" and pattern[at + 1 : at + 2] not in (b"]", b""):
                high, high_text, at = self.class_char(at + 1)
                if low is None or high is None:
                    raise _Unsealable("range of a class escape")
                if high > _HIGHEST and not negated:
                    if low > _HIGHEST:
                        raise _Unsealable("range of frame bytes")
                    high_text = rb"\xfd"
                out += text + b"-" + high_text
                continue
            if low is not None and low > _HIGHEST and not negated:
                raise _Unsealable("a frame byte")
            if low is None and text[1] in _NEGATED_ESCAPES:
                if negated:
                    raise _Unsealable("negated escape in a negated class")
                raise _Unsealable("negated escape in a class")
            out += text
        self.at = at + 1
        if negated:
            return b"[^" + bytes(out) + _FRAME + b"]"
        return b"[" + bytes(out) + b"]"

    def class_char(self, at: int) -> tuple[int | None, bytes, int]:
        """(byte or None for a class escape, its text, next position) inside a class."""
        pattern = self.pattern
        char = pattern[at]
        if char != ord("\\"):
            return char, bytes([char]), at + 1
        if at + 1 >= len(pattern):
            raise _Unsealable("trailing backslash")
        letter = pattern[at + 1]
        if letter == ord("x"):
            found = _HEX_RE.match(pattern, at)
            if found is None:
                raise _Unsealable("hex escape")
            return int(found.group(1) or found.group(2), 16), found.group(), found.end()
        simple = {ord("n"): 10, ord("t"): 9, ord("r"): 13, ord("f"): 12}
        if letter in simple:
            return simple[letter], pattern[at : at + 2], at + 2
        if letter in b"wds" or letter in _NEGATED_ESCAPES:
            return None, pattern[at : at + 2], at + 2
        if not chr(letter).isalnum() and letter < 0x80:
            return letter, pattern[at : at + 2], at + 2
        raise _Unsealable("escape in a class")

    def quantifier(self, item: _Item) -> None:
        found = _QUANTIFIER_RE.match(self.pattern, self.at)
        if found is None:
            if _QUANTIFIER_LIKE_RE.match(self.pattern, self.at):
                raise _Unsealable("ambiguous braces")
            return
        text = found.group()
        item.quantified = True
        if text[0] in b"*+":
            item.repeats = True
        elif text[0] == ord("{"):
            low, comma, high = found.groups()
            upper = int(high) if comma and high else None if comma else int(low)
            item.repeats = upper is None or upper > 1
        item.text += text
        self.at = found.end()


def _check_anchors(alternatives: list[list[_Item]], first: bool, last: bool) -> None:
    """`\\A` only as the first item of every path, `\\z` only as the last."""
    for sequence in alternatives:
        for index, item in enumerate(sequence):
            is_first = first and index == 0 and not item.repeats
            is_last = last and index == len(sequence) - 1 and not item.repeats
            if item.anchor == "A" and not (is_first and not item.quantified):
                raise _Unsealable("\\A not first")
            if item.anchor == "z" and not (is_last and not item.quantified):
                raise _Unsealable("\\z not last")
            if item.group is not None:
                _check_anchors(item.group, is_first, is_last)


def _render(alternatives: list[list[_Item]]) -> bytes:
    return b"|".join(
        b"".join(
            b"(?:" + _render(item.group) + b")" + item.text if item.group is not None else item.text
            for item in sequence
        )
        for sequence in alternatives
    )


def seal(expression: bytes, dotall: bool = False) -> bytes | None:
    """`expression` rewritten for values joined as ``\\xff value \\xfe``, or None if it cannot
    be (see the module's docstring)."""
    try:
        parser = _Parser(expression, dotall)
        alternatives = parser.alternatives(0)
        _check_anchors(alternatives, True, True)
    except _Unsealable:
        return None
    return _render(alternatives)
