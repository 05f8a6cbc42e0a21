"""`Field`, compiled and pure: the same constructor, attributes, type, equality and repr."""

from __future__ import annotations

import copy
import pickle
from types import ModuleType

import pytest

from airlock_filters import _field_c, _field_py, _prepare_c, _prepare_py, request
from airlock_filters.request import FIELD_TYPE, JSON, KINDS, PARAM

TWINS = [_field_py, _field_c]


@pytest.fixture(params=TWINS, ids=["python", "compiled"])
def twin(request: pytest.FixtureRequest) -> ModuleType:
    module: ModuleType = request.param
    return module


def test_the_request_module_selects_the_compiled_twin() -> None:
    assert request.Field is _field_c.Field


def test_constructor_and_attributes(twin: ModuleType) -> None:
    fld = twin.Field(PARAM, "q", "x y", "x+y", "Query")
    assert (fld.kind, fld.name, fld.value, fld.raw, fld.source) == (
        PARAM,
        "q",
        "x y",
        "x+y",
        "Query",
    )
    assert (fld.is_name, fld.encoded) == (False, True)
    named = twin.Field(
        kind=JSON, name="$.a", value="a", raw="a", source="Key", is_name=True, encoded=False
    )
    assert (named.is_name, named.encoded, named.type) == (True, False, "JSON")
    fld.value = "changed"  # mutable, like the dataclass
    assert fld.value == "changed"
    with pytest.raises(TypeError):
        twin.Field(PARAM, "q")


def test_type_of_every_kind(twin: ModuleType) -> None:
    assert [twin.Field(k, "", "", "").type for k in KINDS] == [FIELD_TYPE[k] for k in KINDS]


def test_equality_hash_and_repr(twin: ModuleType) -> None:
    a = twin.Field(PARAM, "q", "x", "x", "Query")
    assert a == twin.Field(PARAM, "q", "x", "x", "Query")
    assert a != twin.Field(PARAM, "q", "x", "x", "Post")
    assert a != (PARAM, "q", "x", "x", "Query", False, True)
    with pytest.raises(TypeError):
        hash(a)
    assert repr(a) == repr(_field_py.Field(PARAM, "q", "x", "x", "Query"))
    assert pickle.loads(pickle.dumps(a)) == a == copy.copy(a)


def test_compiled_loops_take_compiled_fields_only() -> None:
    pure = [_field_py.Field(PARAM, "q", "x", "x", "Query")]
    compiled = [_field_c.Field(PARAM, "q", "x", "x", "Query")]
    assert _prepare_py.scan_input(pure, 0) == _prepare_c.scan_input(compiled, 0)
    with pytest.raises(TypeError):
        _prepare_c.scan_input(pure, 0)


def test_no_extensions_selects_the_pure_twins() -> None:
    import os
    import subprocess
    import sys

    code = (
        "from airlock_filters import request, prepare, scanner, Engine, Request\n"
        "print(request.Field.__module__, prepare.IMPLEMENTATION, scanner.IMPLEMENTATION)\n"
        "d = Engine().inspect(Request('GET', '/?q=%27%20or%201=1--', [('Host', 'h')]))\n"
        "print(d.action)\n"
    )
    env = {**os.environ, "AIRLOCK_FILTERS_NO_EXTENSIONS": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
    assert out.stdout.decode().split() == ["airlock_filters._field_py", "python", "re2", "block"]
