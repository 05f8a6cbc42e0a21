"""The per-field hot loops: compiled and pure twins give the same fields and scan input.

The compiled twin is imported directly: it must be built (`make test` builds it), so a failed
build fails these tests instead of silently testing only the pure twin.
"""

from __future__ import annotations

import json
import sys
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airlock_filters import _prepare_c, _prepare_py, prepare
from airlock_filters.errors import LimitExceeded
from airlock_filters.parsers import parse_request
from airlock_filters.policy import default_policy
from airlock_filters.request import HEADER, JSON, MARKUP, META, NORM, PARAM, RAW, Field, Request
from airlock_filters.request import slot as slot_of

TWINS = [_prepare_py, _prepare_c]
MARKUP_ALL = 0b111111
UNLIMITED = sys.maxsize


@pytest.fixture(params=TWINS, ids=["python", "compiled"])
def twin(request: pytest.FixtureRequest) -> ModuleType:
    module: ModuleType = request.param
    return module


def _bit(kind: int, variant: int) -> int:
    return 1 << slot_of(kind, variant)


def test_selector_takes_the_compiled_twin() -> None:
    # AIRLOCK_FILTERS_NO_EXTENSIONS is not set in the test run: the compiled loops are used.
    assert prepare.IMPLEMENTATION == "compiled"
    assert prepare.scan_input is _prepare_c.scan_input
    assert prepare.json_document_fields is _prepare_c.json_document_fields


@pytest.mark.parametrize(
    ("value", "plain"),
    [
        ("shoes", True),
        ("tab\tnew\nline\rend", True),
        ("é ü 漢字 😀", True),
        ("100%", False),
        ("a&b", False),
        ("C:\\Windows", False),
        ("nul\x00", False),
        ("vertical\x0btab", False),
        ("del\x7f", False),
        ("esc\x1b", False),
    ],
)
def test_plain_values_are_scanned_once_in_all_forms(
    twin: ModuleType, value: str, plain: bool
) -> None:
    fld = Field(PARAM, "q", value, value, "Query")
    values, bits, owners = twin.scan_input([fld], MARKUP_ALL)
    all_forms = _bit(PARAM, RAW) | _bit(PARAM, NORM) | _bit(PARAM, MARKUP)
    if plain:
        assert (values, bits, owners) == ([value.encode()], [all_forms], [[(0, all_forms)]])
    else:
        # Decoded first: the same forms as the pure twin finds, whatever they are.
        assert (values, bits, owners) == _prepare_py.scan_input([fld], MARKUP_ALL)


def test_forms_of_an_encoded_value(twin: ModuleType) -> None:
    fld = Field(PARAM, "q", "<b>&lt;x</b>", "%3Cb%3E%26lt%3Bx%3C%2Fb%3E", "Query")
    values, bits, owners = twin.scan_input([fld], MARKUP_ALL)
    assert values == [b"%3Cb%3E%26lt%3Bx%3C%2Fb%3E", b"<b><x</b>", b"<b>&lt;x</b>"]
    assert bits == [_bit(PARAM, RAW), _bit(PARAM, MARKUP), _bit(PARAM, NORM)]
    assert owners == [[(0, b)] for b in bits]


def test_repeated_values_are_scanned_once(twin: ModuleType) -> None:
    fields = [
        Field(JSON, "$.a", "true", "true", "JSON", False, False),
        Field(HEADER, "X-Flag", "true", "true", "Header", encoded=False),
        Field(META, "Accept", "true", "true", "Header", encoded=False),
        Field(JSON, "$.b", "true", "true", "JSON", False, False),
    ]
    values, bits, owners = twin.scan_input(fields, 0)
    json_bits = _bit(JSON, NORM) | _bit(JSON, MARKUP)
    header_bits = _bit(HEADER, NORM) | _bit(HEADER, MARKUP)
    meta_bits = _bit(META, NORM) | _bit(META, MARKUP)
    assert values == [b"true"]
    assert bits == [json_bits | header_bits | meta_bits]
    assert owners == [[(0, json_bits), (1, header_bits), (2, meta_bits), (3, json_bits)]]


def test_text_is_encoded_as_the_engine_reads_it(twin: ModuleType) -> None:
    # A lone surrogate (from a body decoded with surrogateescape) keeps its bytes.
    fields = [Field(JSON, "$", v, v, "JSON", False, False) for v in ("abc", "é", "\udc80", "")]
    values, _, _ = twin.scan_input(fields, 0)
    assert values == [b"abc", "é".encode(), b"\xed\xb2\x80", b""]


REQUESTS = [
    Request("GET", "/a/b%2e%2e/c?q=%3Cscript%3E&x=1&x=1&y=a+b", [("Cookie", "s=%27; t=1")]),
    Request(
        "POST",
        "/api",
        [("Content-Type", "application/json"), ("User-Agent", "curl/8 &amp;")],
        json.dumps(
            {"a": [1, 2.5, None, True, {"b": "&#x3c;svg&#x3e;"}], "c\u00e9": "\\u003c"}
        ).encode(),
    ),
    Request(
        "POST",
        "/form",
        [("Content-Type", "application/x-www-form-urlencoded")],
        b"name=%C0%AE%C0%AE&v=%u003c&e=%",
    ),
]


@pytest.mark.parametrize("request_", REQUESTS, ids=["get", "json", "form"])
def test_twins_agree_on_requests(request_: Request) -> None:
    fields = parse_request(request_, default_policy()).fields
    assert _prepare_c.scan_input(fields, MARKUP_ALL) == _prepare_py.scan_input(fields, MARKUP_ALL)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([PARAM, JSON, HEADER, META]),
            st.text(alphabet=st.sampled_from("ab%3C&lt;\\x00\x00\x0b\t é<>")),
            st.booleans(),
        ),
        max_size=12,
    ),
    st.integers(0, MARKUP_ALL),
)
def test_twins_agree_on_any_fields(items: list[tuple[int, str, bool]], markup: int) -> None:
    fields = [
        Field(kind, "n", v.replace("%", ""), v, "Query", False, enc) for kind, v, enc in items
    ]
    assert _prepare_c.scan_input(fields, markup) == _prepare_py.scan_input(fields, markup)


# --- JSON -------------------------------------------------------------------------------------


def _document(text: str) -> Any:
    return json.loads(text, object_pairs_hook=prepare.Pairs)


def _walk(twin: ModuleType, text: str, **limits: Any) -> list[Field]:
    settings = {"key_length": 8, "value_length": 8, "element_count": 20, "nesting_depth": 4}
    settings.update(limits)
    exempt = settings.pop("exempt", [])
    fields: list[Field] = twin.json_document_fields(
        _document(text), **settings, exempt_patterns=exempt
    )
    return fields


def test_json_fields(twin: ModuleType) -> None:
    fields = _walk(twin, '{"a": [1, 2.5, null, true, false, {"b c": "x"}], "a": [[1, 2]]}')
    assert [(f.name, f.value, f.source, f.is_name) for f in fields] == [
        ("$.a", "a", "Key", True),
        ("$.a[0]", "1", "JSON", False),
        ("$.a[1]", "2.5", "JSON", False),
        ("$.a[2]", "null", "JSON", False),
        ("$.a[3]", "true", "JSON", False),
        ("$.a[4]", "false", "JSON", False),
        ('$.a[5]["b c"]', "b c", "Key", True),
        ('$.a[5]["b c"]', "x", "JSON", False),
        ("$.a", "a", "Key", True),  # duplicate keys are all inspected
        ("$.a[0][0]", "1", "JSON", False),
        ("$.a[0][1]", "2", "JSON", False),
    ]
    assert all(f.kind == JSON and not f.encoded for f in fields)
    assert [f.value for f in _walk(twin, '"top"')] == ["top"]
    assert [f.value for f in _walk(twin, "[]")] == []


@pytest.mark.parametrize(
    ("text", "limit", "limits"),
    [
        ('{"keykeykey": 1}', "json.keyLength", {}),
        ('{"k": "valuevalue"}', "json.valueLength", {}),
        ('"valuevalue"', "json.valueLength", {}),
        ("[" + ",".join(["1"] * 21) + "]", "json.elementCount", {}),
        ("[[[[[1]]]]]", "json.nestingDepth", {}),
        ('{"a": {"b": {"c": {"d": {}}}}}', "json.nestingDepth", {}),
    ],
)
def test_json_limits(twin: ModuleType, text: str, limit: str, limits: dict[str, Any]) -> None:
    with pytest.raises(LimitExceeded) as raised:
        _walk(twin, text, **limits)
    with pytest.raises(LimitExceeded) as expected:
        _walk(_prepare_py, text, **limits)
    assert raised.value.limit == limit
    assert (raised.value.limit, raised.value.detail, raised.value.name) == (
        expected.value.limit,
        expected.value.detail,
        expected.value.name,
    )


def test_json_exempt_paths(twin: ModuleType) -> None:
    text = '{"keykeykey": "valuevalue", "k": "valuevalue"}'
    fields = _walk(twin, text, exempt=["$.keykeykey", "$.k"])
    assert [f.value for f in fields] == ["keykeykey", "valuevalue", "k", "valuevalue"]
    assert _walk(twin, text, key_length=UNLIMITED, value_length=UNLIMITED)


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda children: st.lists(children) | st.dictionaries(st.text(), children),
        max_leaves=20,
    )
)
def test_json_twins_agree(document: Any) -> None:
    text = json.dumps(document)
    limits = {"key_length": 5, "value_length": 6, "element_count": 15, "nesting_depth": 3}
    outcomes = []
    for twin in TWINS:
        try:
            outcomes.append(_walk(twin, text, **limits))
        except LimitExceeded as exc:
            outcomes.append((exc.limit, exc.detail, exc.name))
    assert outcomes[0] == outcomes[1]


def test_fields_by_kind(twin: ModuleType) -> None:
    fields = [
        Field(PARAM, "a", "1", "1"),
        Field(HEADER, "b", "2", "2"),
        Field(PARAM, "c", "3", "3"),
        Field(PARAM, "d", "4", "4"),
        Field(JSON, "$", "5", "5"),
    ]
    by_kind = twin.fields_by_kind(fields)
    assert by_kind == {
        PARAM: [fields[0], fields[2], fields[3]],
        HEADER: [fields[1]],
        JSON: [fields[4]],
    }
    assert list(by_kind) == [PARAM, HEADER, JSON]
    assert twin.fields_by_kind([]) == {}


def test_split_names(twin: ModuleType) -> None:
    fields = [
        Field(PARAM, "a", "a", "a", "Query", True),
        Field(PARAM, "a", "1", "1", "Query"),
        Field(PARAM, "b", "b", "b", "Query", True),
        Field(PARAM, "b", "2", "2", "Query"),
    ]
    assert twin.split_names(fields) == ([fields[0], fields[2]], [fields[1], fields[3]])
    assert twin.split_names([]) == ([], [])


@pytest.mark.parametrize("request_", REQUESTS, ids=["get", "json", "form"])
def test_without_owners_the_same_values(twin: ModuleType, request_: Request) -> None:
    fields = parse_request(request_, default_policy()).fields
    values, bits, owners = twin.scan_input(fields, MARKUP_ALL)
    assert twin.scan_input(fields, MARKUP_ALL, with_owners=False) == (values, bits, None)
    assert owners is not None and len(owners) == len(values)
