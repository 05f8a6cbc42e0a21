"""Tests of the benign corpus generator (bench/make_benign_corpus.py) and its committed output.

They do not use the engine: they check that the corpus is deterministic, well-formed and varied
enough to be a fair false-positive benchmark.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import os
import re
import struct
import subprocess
import sys
import zipfile
import zlib
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

import pytest

pytest.importorskip("faker")

REPO_ROOT = Path(__file__).resolve().parent.parent
GENERATOR = REPO_ROOT / "bench" / "make_benign_corpus.py"
CORPUS = REPO_ROOT / "bench" / "corpus" / "benign.jsonl"

CATEGORIES = {
    "browsing",
    "search",
    "auth-forms",
    "checkout",
    "json-api",
    "file-upload",
    "rich-text",
    "headers",
}
KEYS = ["id", "category", "label", "method", "path", "headers", "body", "body_b64"]
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
# RFC 3986 characters allowed unencoded in a request target; everything else must be %XX.
TARGET_RE = re.compile(r"^/[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*$")
BAD_PERCENT_RE = re.compile(r"%(?![0-9A-Fa-f]{2})")
MAGIC = {
    ".png": b"\x89PNG\r\n\x1a\n",
    ".jpg": b"\xff\xd8\xff",
    ".jpeg": b"\xff\xd8\xff",
    ".pdf": b"%PDF-",
    ".docx": b"PK\x03\x04",
}


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_benign_corpus", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses look the module up in sys.modules while the class body runs.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    return load_generator()


@pytest.fixture(scope="module")
def generated_text(generator: ModuleType) -> str:
    text: str = generator.render(generator.generate())
    return text


@pytest.fixture(scope="module")
def corpus() -> list[dict[str, Any]]:
    with CORPUS.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def header(request: dict[str, Any], name: str) -> str | None:
    for key, value in request["headers"]:
        if key.lower() == name.lower():
            return str(value)
    return None


def body_bytes(request: dict[str, Any]) -> bytes:
    body = request["body"]
    if body is None:
        return b""
    return base64.b64decode(body, validate=True) if request["body_b64"] else body.encode("utf-8")


def decoded_text(request: dict[str, Any]) -> str:
    body = "" if request["body_b64"] else request["body"] or ""
    return unquote_plus(request["path"]) + "\n" + unquote_plus(body)


# --- generator --------------------------------------------------------------------------------


def test_generation_is_deterministic(generator: ModuleType, generated_text: str) -> None:
    assert generator.render(generator.generate()) == generated_text


@pytest.mark.parametrize("hash_seed", ["1", "2"])
def test_output_does_not_depend_on_the_process(
    generated_text: str, hash_seed: str, tmp_path: Path
) -> None:
    # A fresh interpreter with another string hash seed catches set-ordering leaks.
    out = tmp_path / "benign.jsonl"
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    subprocess.run(
        [sys.executable, str(GENERATOR), "--out", str(out)],
        check=True,
        env=env,
        capture_output=True,
    )
    assert out.read_text(encoding="utf-8") == generated_text


def test_committed_corpus_is_up_to_date(generator: ModuleType, generated_text: str) -> None:
    import faker

    if faker.VERSION != generator.FAKER_VERSION:
        pytest.skip(f"corpus was made with Faker {generator.FAKER_VERSION}, not {faker.VERSION}")
    assert CORPUS.read_text(encoding="utf-8") == generated_text, (
        "bench/corpus/benign.jsonl is stale: run python bench/make_benign_corpus.py"
    )


def test_counts_follow_the_configuration(generator: ModuleType) -> None:
    small = {category: 3 for category in generator.COUNTS}
    requests = generator.generate(small)
    assert Counter(r["category"] for r in requests) == small


# --- committed corpus -------------------------------------------------------------------------


def test_size(corpus: list[dict[str, Any]]) -> None:
    assert len(corpus) >= 2000
    assert CORPUS.stat().st_size <= 3 * 1024 * 1024


def test_every_category_present(corpus: list[dict[str, Any]]) -> None:
    counts = Counter(r["category"] for r in corpus)
    assert set(counts) == CATEGORIES
    assert min(counts.values()) >= 100


def test_record_format(corpus: list[dict[str, Any]]) -> None:
    ids = set()
    for request in corpus:
        assert list(request) == KEYS
        assert request["label"] == "benign"
        assert re.fullmatch(rf"benign/{re.escape(request['category'])}-[1-9][0-9]*", request["id"])
        ids.add(request["id"])
        assert request["method"] in METHODS
        assert isinstance(request["body_b64"], bool)
        assert request["body"] is None or isinstance(request["body"], str)
        assert not (request["body"] is None and request["body_b64"])
        for pair in request["headers"]:
            assert len(pair) == 2 and all(isinstance(part, str) for part in pair)
            assert re.fullmatch(r"[A-Za-z0-9-]+", pair[0]), pair[0]
            assert "\r" not in pair[1] and "\n" not in pair[1]
    assert len(ids) == len(corpus)


def test_paths_are_percent_encoded(corpus: list[dict[str, Any]]) -> None:
    for request in corpus:
        path = request["path"]
        assert TARGET_RE.match(path), path
        assert not BAD_PERCENT_RE.search(path), path
        assert "#" not in path


def test_required_headers(corpus: list[dict[str, Any]]) -> None:
    for request in corpus:
        for name in ("Host", "User-Agent", "Accept"):
            assert header(request, name), (request["id"], name)
        if request["body"]:
            assert header(request, "Content-Type"), request["id"]


def test_content_length_is_not_needed(corpus: list[dict[str, Any]]) -> None:
    # The body is given whole, so framing headers could only disagree with it.
    for request in corpus:
        assert header(request, "Content-Length") is None, request["id"]
        assert header(request, "Transfer-Encoding") is None, request["id"]


def test_no_automated_clients(corpus: list[dict[str, Any]]) -> None:
    agents = {header(r, "User-Agent") or "" for r in corpus}
    assert len(agents) >= 15
    for agent in agents:
        assert not re.search(r"curl|wget|bot\b|spider|crawler|python-requests", agent, re.I)


def test_json_bodies_are_valid_json(corpus: list[dict[str, Any]]) -> None:
    seen = 0
    for request in corpus:
        content_type = header(request, "Content-Type") or ""
        if content_type.startswith("application/json"):
            json.loads(request["body"])
            seen += 1
    assert seen >= 300


def test_form_bodies_parse(corpus: list[dict[str, Any]]) -> None:
    for request in corpus:
        if header(request, "Content-Type") == "application/x-www-form-urlencoded":
            assert parse_qsl(request["body"], keep_blank_values=True, strict_parsing=True)


def multipart_parts(body: bytes, boundary: str) -> list[tuple[dict[str, str], bytes]]:
    """Split a multipart body strictly, returning (Content-Disposition params, content)."""
    delimiter = b"--" + boundary.encode()
    assert body.startswith(delimiter + b"\r\n")
    assert body.endswith(delimiter + b"--\r\n")
    chunks = body.split(delimiter)
    assert chunks[0] == b"" and chunks[-1] == b"--\r\n"
    parts = []
    for chunk in chunks[1:-1]:
        assert chunk.startswith(b"\r\n") and chunk.endswith(b"\r\n")
        head, separator, content = chunk[2:-2].partition(b"\r\n\r\n")
        assert separator
        lines = head.decode("utf-8").split("\r\n")
        assert lines[0].startswith("Content-Disposition: form-data; ")
        params = dict(re.findall(r'(\w+)="([^"]*)"', lines[0]))
        assert "name" in params
        if "filename" in params:
            assert any(line.startswith("Content-Type: ") for line in lines[1:])
        parts.append((params, content))
    return parts


def check_png(data: bytes) -> None:
    width, height = struct.unpack(">II", data[16:24])
    idat_length = struct.unpack(">I", data[33:37])[0]
    assert data[37:41] == b"IDAT"
    pixels = zlib.decompress(data[41 : 41 + idat_length])
    assert len(pixels) == height * (1 + 3 * width)
    assert data.endswith(b"IEND\xaeB`\x82")


def test_multipart_bodies_are_well_formed(corpus: list[dict[str, Any]]) -> None:
    files: Counter[str] = Counter()
    for request in corpus:
        content_type = header(request, "Content-Type") or ""
        if not content_type.startswith("multipart/form-data"):
            continue
        boundary = content_type.split("boundary=", 1)[1]
        for params, content in multipart_parts(body_bytes(request), boundary):
            if "filename" not in params:
                continue
            extension = Path(params["filename"]).suffix.lower()
            files[extension] += 1
            if extension in MAGIC:
                assert content.startswith(MAGIC[extension]), (request["id"], params)
            if extension == ".png":
                check_png(content)
            if extension == ".docx":
                assert zipfile.ZipFile(io.BytesIO(content)).testzip() is None
            if extension in (".csv", ".txt"):
                content.decode("utf-8")
    assert set(files) >= {".png", ".jpg", ".pdf", ".docx", ".csv", ".txt"}
    assert any(request["body_b64"] for request in corpus)


def test_innocent_look_alikes_are_present(corpus: list[dict[str, Any]]) -> None:
    text = "\n".join(decoded_text(r) for r in corpus).lower()
    for needle in [
        "select",
        "union",
        "drop",
        "delete",
        "update",
        "insert",
        "script",
        "alert",
        "o'brien",
        "l'été",
        "it's",
        "<3",
        "; ",
        " & ",
        "%",
        "(",
    ]:
        assert needle in text, needle


def test_search_covers_several_scripts(corpus: list[dict[str, Any]]) -> None:
    text = "\n".join(decoded_text(r) for r in corpus if r["category"] == "search")
    for pattern in [r"[\u3040-\u30ff]", r"[\u4e00-\u9fff]", r"[\u0400-\u04ff]", r"[\u0600-\u06ff]"]:
        assert re.search(pattern, text), pattern
