"""LDAP injection deny rules (rule key LDAP).

An LDAP filter is a parenthesised prefix expression: `(&(uid=x)(pw=y))`. Input placed inside
one injects by closing the current assertion and opening another, `x)(|(uid=*`, or by turning
a value into a wildcard. Parentheses and asterisks are common in text, so the patterns require
the filter grammar: a closing parenthesis directly followed by a new assertion or operator.
"""

from airlock_filters.rules._rule import DECODED_MARKUP, rule_maker

_K = "LDAP"


# Markup-decoded too: filters travel in XML and HTML forms as `&amp;` and `&#40;`.
_rule = rule_maker(_K, variants=DECODED_MARKUP)

_WS = r"[\s\x0b]"
# An attribute description: name or OID, with options (`cn;lang-en`).
_ATTR = r"[a-z0-9][\w.;-]{0,60}"
# Assertion operators: equality, approximate, ordering, extensible matching.
_OP = r"(?:=|~=|>=|<=|:[\w.:]{0,60}:?=)"

RULES = [
    _rule(
        "LDAP-B01",
        "Basic",
        rf"\*{_WS}*\){_WS}*[!|&]?{_WS}*(?:\({_WS}*)+(?:[|&!]|{_ATTR}{_WS}*{_OP})",
        "Wildcard assertion closed and a new filter opened: *)(uid=*",
    ),
    _rule(
        "LDAP-S01",
        "Standard",
        rf"\){_WS}*\({_WS}*[|&!]{_WS}*(?:\(|\)|\z)|\){_WS}*[|&!]{_WS}*\({_WS}*{_ATTR}"
        rf"{_WS}*{_OP}",
        "Filter closed and a boolean operator opened: )(|(, )(&)",
    ),
    _rule(
        "LDAP-S02",
        "Standard",
        rf"\){_WS}*\({_WS}*{_ATTR}{_WS}*{_OP}",
        "Filter closed and a new attribute assertion opened: )(cn=",
    ),
    _rule(
        "LDAP-S03",
        "Standard",
        rf"(?:\A|[()*]){_WS}*\({_WS}*[&|]{_WS}*\)"
        rf"|\({_WS}*(?:objectclass|objectcategory|uid|cn|sn|mail|userpassword|samaccountname"
        rf"|memberof|givenname|gidnumber|uidnumber){_WS}*=\*{_WS}*\)",
        "Absolute true/false filter (&) or (|), and match-everything assertions (uid=*)",
    ),
    _rule(
        "LDAP-X01",
        "Strict",
        rf"\({_WS}*[&|!]{_WS}*\({_WS}*{_ATTR}{_WS}*{_OP}",
        "Complete LDAP filter expression in a value",
    ),
]
