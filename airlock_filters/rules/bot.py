"""Bots and attack tools recognized by their User-Agent (rule key BOT).

Only the User-Agent header is looked at (through a check, since patterns cannot see names).
"""

from collections.abc import Iterator

import re2

from airlock_filters.parsers import ParsedRequest
from airlock_filters.request import HEADER, Field, Request
from airlock_filters.rules._check import Check

_K = "BOT"

# Tools that exist to attack or map web applications: no real user sends these.
_ATTACK_TOOLS = re2.compile(
    r"(?i)sqlmap|nikto|nmap|masscan|zgrab|nuclei|acunetix|netsparker|wpscan|dirbuster|gobuster"
    r"|\bffuf\b|wfuzz|burp|hydra|w3af|arachni|openvas|nessus|fimap|havij|jaeles|commix|xsstrike"
    r"|\bdirb\b|whatweb|zmeu|morfeus|appscan|webinspect|paros|skipfish|grabber|sqlninja|pangolin"
    r"|\bbsqlbf\b|metasploit|\bzap\b|owasp[ _-]?zap|qualys|brutus|\bcrowdstrike\b|interactsh"
)
# Command-line tools and scripting libraries: scrapers and scripts more often than people.
# Mobile-app stacks (okhttp, Alamofire, Dalvik) are real users and are not listed.
_AUTOMATION = re2.compile(
    r"(?i)^(?:curl|wget|python-requests|python-urllib|go-http-client|libwww-perl|lwp::"
    r"|scrapy|winhttp|powershell|httpie|java/[0-9])"
)


def _user_agent(request: Request) -> tuple[Field, str] | None:
    value = request.header("user-agent")
    if value is None:
        return None
    return Field(HEADER, "User-Agent", value, value, "Header"), value


def _attack_tool(request: Request, parsed: ParsedRequest) -> Iterator[tuple[Field, str]]:
    found = _user_agent(request)
    if found and _ATTACK_TOOLS.search(found[1]):
        yield found


def _automation(request: Request, parsed: ParsedRequest) -> Iterator[tuple[Field, str]]:
    found = _user_agent(request)
    if found and _AUTOMATION.search(found[1]):
        yield found


CHECKS = [
    Check("BOT-B01", _K, "Basic", HEADER, "User-Agent of a known attack tool", _attack_tool),
    Check("BOT-X01", _K, "Strict", HEADER, "User-Agent of a command-line tool or script",
          _automation),
]  # fmt: skip
