"""NoSQL injection deny rules (rule key NOSQL).

Document databases take their query operators from the data itself: a parameter named
`user[$ne]` or a JSON key `"$where"` turns a lookup into a condition the attacker chooses, and
`$where` / `mapReduce` run JavaScript inside the database. ORMs that build filters from
parameter names (`author__password__startswith`) have the same weakness.
"""

from airlock_filters.rules._rule import DECODED_MARKUP, rule_maker

_K = "NOSQL"


_rule = rule_maker(_K, variants=DECODED_MARKUP)

_WS = r"[\s\x0b]"
# MongoDB query and update operators an attacker can use to bend a condition or run code.
# Not $type, $ref, $id, $schema (JSON Schema, .NET type hints) nor the OData options ($filter,
# $select, $search, $top ...), which are ordinary in benign APIs.
_OPS = (
    r"(?:ne|eq|gt|gte|lt|lte|in|nin|regex|where|exists|not|nor|or|and|expr|elemMatch|all"
    r"|size|mod|text|jsonSchema|function|accumulator|lookup|graphLookup|unionWith|merge|out"
    r"|set|unset|rename|inc|push|pull|geoWithin|near|bitsAllSet|bitsAnySet)"
)
# Operators that have no use except to widen, probe or execute.
_DANGEROUS_OPS = r"(?:ne|nin|regex|where|exists|expr|function|accumulator|jsonSchema)"
# A model field name in a Django-style ORM filter, and the `__` that follows a relation.
_FIELD = r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*"
# Lookups that match a prefix, pattern or structure of a column: enough to leak it piecewise.
_PATTERN_LOOKUPS = (
    r"(?:i?startswith|i?endswith|i?contains|i?regex|has_keys?|has_any_keys|contained_by)"
)
# Lookups of Django-style ORMs that match a prefix, pattern or structure of a column.
_ORM_LOOKUPS = (
    r"(?:i?exact|i?contains|i?startswith|i?endswith|i?regex|in|gt|gte|lt|lte|range|isnull"
    r"|has_keys?|has_any_keys|contained_by|contains|overlap|search|trigram_similar"
    r"|unaccent|iso_year|week_day)"
)

RULES = [
    _rule(
        "NOSQL-B01",
        "Basic",
        rf"\[{_WS}*\${_WS}*{_DANGEROUS_OPS}{_WS}*\]",
        "MongoDB operator injected through a bracketed parameter name: user[$ne]=",
    ),
    _rule(
        "NOSQL-B02",
        "Basic",
        rf"[{{,]{_WS}*[\"']?\${_OPS}[\"']?{_WS}*:",
        'MongoDB operator object inside a value: {"$gt": ""}',
    ),
    _rule(
        "NOSQL-B03",
        "Basic",
        rf"\$where\b[\"']?{_WS}*[:=]|\A\$(?:where|function|accumulator)\z"
        rf"|\bdb{_WS}*\.{_WS}*(?:getCollection|getSiblingDB|eval|runCommand|dropDatabase"
        rf"|adminCommand)\b|\bdb\.\w+\.(?:find|findOne|insert|update|remove|drop|aggregate"
        rf"|mapReduce|deleteMany|updateMany){_WS}*\(",
        "Server-side JavaScript: $where clauses and mongo shell calls",
    ),
    _rule(
        "NOSQL-S01",
        "Standard",
        rf"\[{_WS}*\${_WS}*{_OPS}{_WS}*\]",
        "MongoDB query operator in a bracketed parameter name",
    ),
    _rule(
        "NOSQL-S02",
        "Standard",
        rf"\A\${_OPS}\z",
        "MongoDB query operator as a JSON key or parameter name",
    ),
    _rule(
        "NOSQL-S03",
        "Standard",
        rf"(?:['\"]|[0-9]){_WS}*(?:\|\||&&|;){_WS}*!?{_WS}*this{_WS}*\.{_WS}*\w+"
        rf"|\bthis\.\w+\.match{_WS}*\({_WS}*/|['\"]{_WS}*;{_WS}*(?:return|while|sleep)\b"
        rf"|(?:\|\||&&){_WS}*['\"][^'\"]{{0,20}}['\"]{_WS}*[!=]==?{_WS}*['\"]",
        "JavaScript condition injected into a $where clause: || this.x, '; return true",
    ),
    _rule(
        "NOSQL-S04",
        "Standard",
        rf"\A{_FIELD}(?:__{_FIELD}){{1,8}}__{_PATTERN_LOOKUPS}\z"
        rf"|[\"']{_FIELD}(?:__{_FIELD}){{1,8}}__{_PATTERN_LOOKUPS}[\"']{_WS}*:",
        "ORM filter that follows relations to pattern-match another model's field",
    ),
    _rule(
        "NOSQL-X01",
        "Strict",
        rf"\A{_FIELD}(?:__{_FIELD}){{0,8}}__{_ORM_LOOKUPS}\z"
        rf"|[\"']{_FIELD}(?:__{_FIELD}){{0,8}}__{_ORM_LOOKUPS}[\"']{_WS}*:",
        "ORM lookup operator in a parameter or key name",
    ),
    _rule(
        "NOSQL-X02",
        "Strict",
        r"\$(?:where|regex|ne|nin|expr|function|accumulator|jsonSchema|elemMatch|exists)\b",
        "MongoDB operator name anywhere in a value",
    ),
]
