"""Server-side request forgery and remote file inclusion deny rules (rule key SSRF).

Both make the server fetch a URL the client chose: cloud metadata endpoints, loopback and
cluster-internal hosts, IP addresses in disguise (decimal, octal, hex, IPv6-mapped, Unicode
digits), schemes that speak to other services (gopher://, dict://, file://, ldap://, jar:), and
the shapes of remote file inclusion (a URL where a path is expected, a trailing `?` cutting off
the suffix the application appends, a host that only resembles the site's own).

The URL rules skip headers: a Referer legitimately names internal hosts and IP addresses on
intranet sites. Cookies and custom headers get the same URL rules through a check that leaves
the Referer and the proxy headers alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from airlock_filters._scanner_py import CASELESS, compile_pattern
from airlock_filters.normalize import normalize
from airlock_filters.request import HEADER, JSON, PARAM, PATH, SEGMENT
from airlock_filters.rules._check import Check, Finding
from airlock_filters.rules._rule import DATA, ENCODED, rule_maker
from airlock_filters.scanner import widen_whitespace

if TYPE_CHECKING:
    from airlock_filters.parsers import ParsedRequest
    from airlock_filters.request import Field, Request

_K = "SSRF"
_VALUES = frozenset({SEGMENT, PARAM, JSON})

# Where a host begins: after `scheme://` (or `scheme:\\`), past any user information.
_URL_START = r"\b[a-zA-Z][a-zA-Z0-9+.-]{0,19}:[/\\]{1,4}(?:[^\s/?#@\\]{0,64}@)?"
# Lenient URL parsers also take `http:host` and `http:/host`.
_URL_START_LAX = r"(?:" + _URL_START + r"|\b(?:[hH][tT][tT][pP][sS]?|[fF][tT][pP][sS]?):/?)"
# Where a host ends.
_END = r"(?:[:/?#\\\]\s'\"<>,;&|)]|\z)"

_METADATA = (
    r"\b169\.254\.169\.254\b|\b169\.254\.170\.2\b|\b100\.100\.100\.200\b|\bfd00:ec2::254\b"
    r"|\bmetadata\.google\.internal\b|\bmetadata\.(?:packet\.net|platformequinix\.com"
    r"|tencentyun\.com|azure\.com)\b|\binstance-data\.ec2\.internal\b"
)
_METADATA_PATHS = (
    r"/latest/(?:meta-data|user-data|dynamic|api/token)\b|/computemetadata/v1\b"
    r"|/metadata/(?:instance|identity)\b|/metadata/v1(?:\.json\b|/(?:id|hostname|user-data"
    r"|vendor-data|public-keys|region|interfaces|dns|tags)\b)|/openstack/latest\b"
)
_IPV4 = _URL_START_LAX + r"\d{1,3}(?:\.\d{1,3}){3}" + _END
# Numeric hosts no one types: one big decimal number, hex or octal parts, or fewer than four
# parts (`127.1`, `169.254.43518`); all resolve to an IPv4 address.
_IP_DISGUISED = (
    _URL_START_LAX + r"(?:0x[0-9a-f]{1,16}(?:\.(?:0x[0-9a-f]{1,8}|\d{1,10})){0,3}"
    r"|0\d{0,11}(?:\.\d{1,11}){0,3}|\d{7,12})"
    + _END
    + "|"
    + _URL_START
    + r"\d{1,3}(?:\.\d{1,10}){1,2}"
    + _END
)
_IPV6 = (
    _URL_START_LAX + r"(?:\[[0-9a-f]{0,4}:|[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?:[/?#\]\s]|\z))"
)
_LOCAL_NAMES = (
    r"(?:(?:ipv?6-)?(?:localhost|loopback)[\w-]{0,12}(?:\.localdomain\d?)?"
    r"|[\w.-]{0,64}\.(?:internal|localdomain|svc(?:\.cluster\.local)?|cluster\.local)"
    r"|localtest\.me|lvh\.me|vcap\.me|lacolhost\.com|[\w.-]{1,200}\.(?:nip|xip|sslip)\.io)"
)
_LOCAL_URL = _URL_START + _LOCAL_NAMES + _END
_LOCAL_BARE = r"(?:\A|[\"'>=])\s*" + _LOCAL_NAMES + r"(?::\d{1,5})?[/\\]"
# Unicode that IDNA folds into ASCII digits and dots: circled digits, fullwidth forms, the
# ideographic full stop. Only an obfuscated address uses them in a URL.
_UNICODE_HOST = (
    _URL_START + r"[^\s/?#]{0,64}(?:\xe2(?:\x91[\xa0-\xbf]|\x92[\x80-\xbf]|\x93[\x80-\xbf])"
    r"|\xef\xbc[\x90-\x99\xa1-\xba]|\xef\xbd[\x81-\x9a\xa1]|\xe3\x80\x82)"
    r"|\d(?:\xe3\x80\x82|\xef\xbc\x8e|\xef\xbd\xa1)\d"
)
# Authorities that parsers split differently: a backslash, or `#`/space/`&` before the `@`.
_CONFUSED = r"\b[a-z][a-z0-9+.-]{0,19}://[^/\s?#]{0,64}\\|://[^/\s@]{1,64}[\s#&]{1,3}@"
_CONFUSED_ENCODED = r"://[^/@\s]{0,64}%(?:25)?(?:2f|5c)[^/\s]{0,64}@"
_SCHEMES_BASIC = (
    r"\b(?:gopher|dict|tftp|netdoc)://|\bnetdoc:|\bjar:(?:file|https?|ftp):|\blocal_file:"
)
_SCHEMES = r"\bfile:/|\bldaps?://|\bs?ftps?://|\bsmb://|\A\s*\\\\[\w.$-]{1,64}\\"
# Remote file inclusion: `?` (or a lone scheme) ends the value so that whatever the application
# appends to it becomes a query string.
_RFI_QUESTION = r"\A\s*(?:https?|ftps?|file)(?::/{0,3}[^\s?#]{0,300})?\?+\s*\z"
_URL_IN_PATH = r"/(?:https?|ftps?|file|gopher|dict)\s*:\s*/"


_rule = rule_maker(_K, kinds=_VALUES)

# fmt: off
RULES = [
    _rule("SSRF-B01", "Basic", _METADATA, "Cloud metadata endpoint (169.254.169.254, ...)",
          kinds=DATA),
    _rule("SSRF-B02", "Basic", _SCHEMES_BASIC,
          "URL scheme used for SSRF (gopher://, dict://, jar:, netdoc:)", kinds=DATA),
    _rule("SSRF-S01", "Standard", _IPV4, "URL with an IPv4 address as host"),
    _rule("SSRF-S02", "Standard", _IP_DISGUISED,
          "URL with an IP address in disguise (decimal, hex, octal, short form)"),
    _rule("SSRF-S03", "Standard", _IPV6, "URL with an IPv6 address as host"),
    _rule("SSRF-S04", "Standard", _LOCAL_URL,
          "URL to a loopback or cluster-internal host (localhost, *.internal, *.svc)"),
    _rule("SSRF-S05", "Standard", _LOCAL_BARE,
          "Loopback or cluster-internal host where a URL is expected (localhost/...)"),
    _rule("SSRF-S06", "Standard", _UNICODE_HOST,
          "URL host spelled with Unicode digits or dots (circled, fullwidth)", caseless=False),
    _rule("SSRF-S07", "Standard", _CONFUSED, "URL authority that parsers split differently"),
    _rule("SSRF-S08", "Standard", _CONFUSED_ENCODED,
          "URL with an encoded slash before the user-information @", variants=ENCODED),
    _rule("SSRF-S09", "Standard", _SCHEMES,
          "URL scheme reaching files or other services (file:, ldap://, ftp://, UNC)"),
    _rule("SSRF-S10", "Standard", _METADATA_PATHS,
          "Cloud metadata API path (/latest/meta-data, /computeMetadata/v1)", kinds=DATA),
    _rule("SSRF-S11", "Standard", _RFI_QUESTION,
          "Remote file inclusion: URL ending in ? to cut off the appended suffix"),
    _rule("SSRF-S12", "Standard", _URL_IN_PATH, "Absolute URL inside the request path",
          kinds=frozenset({PATH})),
]
# fmt: on

# --- checks: what patterns cannot see (field names, the request's own host) -----------------

_HEADER_PATTERNS = (
    compile_pattern(
        widen_whitespace(
            "|".join(
                f"(?:{p})"
                for p in (_IPV4, _IP_DISGUISED, _IPV6, _LOCAL_URL, _LOCAL_BARE, _CONFUSED, _SCHEMES)
            )
        ).encode(),
        CASELESS,
    ),
    compile_pattern(widen_whitespace(_UNICODE_HOST).encode(), 0),
)
# Headers that name hosts by design.
_HOST_HEADERS = re.compile(
    r"referr?er|x-forwarded-[\w-]+|forwarded|x-real-ip|x-client-ip|true-client-ip"
    r"|cf-connecting-ip|x-cluster-client-ip|x-envoy-[\w-]+|x-original-forwarded-for",
    re.IGNORECASE,
)


def _header_urls(request: Request, parsed: ParsedRequest) -> Iterator[Finding]:
    for fld in parsed.of_kind(HEADER):
        if fld.source != "Cookie" and _HOST_HEADERS.fullmatch(fld.name):
            continue
        value = normalize(fld.value)
        if value.isascii() and not any(c in value for c in ":/\\"):
            continue  # every pattern needs a scheme, a slash or a Unicode look-alike
        data = value.encode("utf-8", "surrogatepass")
        for pattern in _HEADER_PATTERNS:
            found = pattern.search(data)
            if found is not None:
                yield fld, found.group().decode("utf-8", "replace")
                break


_URL_RE = re.compile(r"\b[a-z][a-z0-9+.-]{0,19}://[^\s\"'<>]{1,2000}", re.IGNORECASE)
_URL_VALUE_RE = re.compile(r"\s*(?:[a-z][a-z0-9+.-]{0,19}:)?//", re.IGNORECASE)
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21}


def _request_host(request: Request) -> tuple[str, int | None]:
    host = (request.header("host") or "").strip().lower()
    try:
        parts = urlsplit("//" + host)
        return parts.hostname or "", parts.port
    except ValueError:
        return "", None


def _url_parts(url: str) -> tuple[str, str, int | None] | None:
    try:
        parts = urlsplit(url)
        return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port
    except ValueError:
        return None


def _values(parsed: ParsedRequest, kind: int) -> Iterator[tuple[Field, str]]:
    """Normalized values that may hold a URL: every check here needs a `//` in it, and only a
    value with a slash or a percent escape can have one once normalized."""
    for fld in parsed.values_of(kind):
        value = fld.value
        if "/" in value or "%" in value:
            yield fld, normalize(value)


def _lookalike_hosts(request: Request, parsed: ParsedRequest, kind: int) -> Iterator[Finding]:
    """URLs to a host made to pass for the site's own (`example.com.evil.net`,
    `evilexample.com`), or to the site's own host on another port (internal port probing)."""
    own, own_port = _request_host(request)
    if not own or own.replace(".", "").isdigit():
        return
    for fld, value in _values(parsed, kind):
        if "//" not in value:
            continue
        for match in _URL_RE.finditer(value[:4000]):
            parts = _url_parts(match.group())
            if parts is None or not parts[1]:
                continue
            scheme, host, port = parts
            if host == own:
                default = own_port or _DEFAULT_PORTS.get(scheme)
                if port is not None and port != default and port not in (80, 443):
                    yield fld, match.group()[:100]
                    break
            elif host.startswith(own + ".") or (
                host.endswith(own) and not host.endswith("." + own)
            ):
                yield fld, match.group()[:100]
                break


# A parameter named like a file system location that carries a URL is an inclusion attempt.
_PATH_NAME_WORD = re.compile(
    r"(?:include|root|abs|base)?path|dir(?:ectory|name)?|basedir|folder|root|include|inc|require"
)
# Names of parameters that carry URLs by design (links, redirects, images, web hooks).
_URL_NAMES = re.compile(
    r"ur[il]|link|href|src|site|web|home_?page|redirect|return|callback|next|continue|success"
    r"|cancel|back|target|dest|goto|referr?er|\bref\b|origin|image|img|avatar|logo|icon|photo"
    r"|picture|thumb|hook|endpoint|feed|rss|profile|blog|canonical|source|share|location",
    re.IGNORECASE,
)
_WEB_URL_RE = re.compile(r"\s*(?:https?|ftps?)://", re.IGNORECASE)


def _path_params(request: Request, parsed: ParsedRequest) -> Iterator[Finding]:
    for fld, value in _values(parsed, PARAM):
        if not _URL_VALUE_RE.match(value) or _URL_NAMES.search(fld.name):
            continue
        words = re.sub(r"([a-z])([A-Z])", r"\1_\2", fld.name).lower()
        tokens = [t for t in re.split(r"[^a-z0-9]+", words) if t]
        if tokens and _PATH_NAME_WORD.fullmatch(tokens[-1]):
            yield fld, value[:100]


def _foreign_urls(request: Request, parsed: ParsedRequest, kind: int) -> Iterator[Finding]:
    """A web URL to another site in a value whose name does not announce a URL: strict mode's
    view of open fetches (applications that take URLs name the field so)."""
    own, _ = _request_host(request)
    for fld, value in _values(parsed, kind):
        if not _WEB_URL_RE.match(value) or _URL_NAMES.search(fld.name.rsplit(".", 1)[-1]):
            continue
        parts = _url_parts(value.strip())
        if parts is None or not parts[1]:
            continue
        host = parts[1]
        if not own or not (host == own or host.endswith("." + own) or own.endswith("." + host)):
            yield fld, value[:100]


# fmt: off
CHECKS = [
    Check("SSRF-S13", _K, "Standard", HEADER,
          "Internal, disguised or unusual URL in a cookie or custom header", _header_urls),
    Check("SSRF-S14", _K, "Standard", PARAM,
          "URL to a host posing as the site's own, or to the site on another port",
          partial(_lookalike_hosts, kind=PARAM)),
    Check("SSRF-S15", _K, "Standard", JSON,
          "URL to a host posing as the site's own, or to the site on another port",
          partial(_lookalike_hosts, kind=JSON)),
    Check("SSRF-S16", _K, "Standard", PARAM,
          "Remote file inclusion: URL in a parameter named like a file path", _path_params),
    Check("SSRF-X01", _K, "Strict", PARAM, "URL to another site in a parameter",
          partial(_foreign_urls, kind=PARAM)),
    Check("SSRF-X02", _K, "Strict", JSON, "URL to another site in a JSON value",
          partial(_foreign_urls, kind=JSON)),
]
# fmt: on

__all__ = ["CHECKS", "RULES"]
