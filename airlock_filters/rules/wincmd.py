"""Windows command injection deny rules (rule key WINCMD).

cmd.exe and PowerShell have their own grammar, and an injection has to use it: batch control
flow (`for /f ... %i in (...) do`, `if exist`, `if %a%==%b%`), `%VARIABLE%` expansion (also
with `:~` substrings used to spell commands letter by letter), `^` escapes inside words,
`cmd /c`, PowerShell cmdlets and download cradles, and the system utilities attackers live off
(certutil, mshta, regsvr32, wmic, ...) with their switches. Everyday words that are also
commands (`type`, `copy`, `start`, `net`, `find`) count only with Windows-style arguments such
as `/switches`, drive paths or `%variables%`.
"""

from __future__ import annotations

from airlock_filters.rules._rule import DECODED_MARKUP, Rule

_K = "WINCMD"

# Where a command starts: the value itself, after a cmd.exe chaining operator or a line break,
# an XML attribute value, a query parameter inside a URL-valued field.
_START = r"(?:\A|[;&|\n\r(]|=[\"']|[?&][a-z0-9_.\[\]-]+=)\s*@?"
# A caret escapes the next character in cmd.exe and disappears: `w^h^o^a^m^i`. Double quotes
# inside a word are removed as well.
_C = r"[\^\"]*"


def _obf(word: str) -> str:
    return _C.join(ch if ch.isalnum() else "\\" + ch for ch in word)


def _words(names: str) -> str:
    items = sorted(set(names.split()), key=lambda w: (-len(w), w))
    return "(?:" + "|".join(_obf(w) for w in items) + ")"


# System utilities that have no place in a parameter; in command position they are enough.
_STRONG = _words(
    """certutil bitsadmin mshta regsvr32 rundll32 wmic schtasks vssadmin bcdedit bcdboot
    wevtutil netsh cscript wscript msiexec installutil msbuild cmstp odbcconf forfiles findstr
    icacls cacls takeown diskpart regedit nbtstat net1 qwinsta quser nltest dsquery psexec
    mimikatz procdump xcopy robocopy esentutl ntdsutil vaultcmd fsutil mountvol tracert regini
    wusa pnputil sdbinst mavinject ieexec"""
)
# Commands that are also words: they need a switch, a drive path, a variable or a redirection.
_WORDY = _words(
    """cmd powershell pwsh type copy move del erase dir ren rename rd md mkdir rmdir
    attrib expand start call echo set ping route arp format shutdown hostname ipconfig whoami
    more find sort tree label title color print help path cd chdir pushd popd cls ver vol exit
    timeout choice runas tscon wmic curl tar taskkill tasklist systeminfo cmdkey dism"""
)
_ARG = (
    r"(?:\s+[/-][a-z?]"  # switch
    r"|\s+[\"']?[a-z]:[\\/]|\s+[\"']?\\\\[a-z0-9]"  # drive or UNC path
    r"|\s*[\"']?%[a-z_]|\s*[<>]"  # variable, redirection
    r"|\s+[\"']?[^\s\"']+\.(?:exe|bat|cmd|ps1|vbs|vbe|hta|dll|scr|msi)\b"  # program
    r")"
)
_END = r"[\^\"]*(?:\s|\z|[;&|<>)'\"/]|\.exe\b)"
# Batch operand: a quoted string, a bracketed or braced token, or a bare word.
_OPND = r"(?:\"[^\"\n]*\"|\[[^\]\n]*\]|\([^)\n]*\)|\{[^}\n]*\}|[^\s=()\"]+)"
_CMP_WORD = r"(?:equ|neq|lss|leq|gtr|geq)"
# What a batch statement continues with after its condition.
_BATCH_CMDS = (
    r"(?:echo|set|goto|call|exit|cmd|start|del|copy|type|dir|md|mkdir|rd|rmdir|ren|move|pause"
    r"|rem|cd|powershell|if|for|net|reg|ping|ver|cls|shift|title|color|erase)\b"
)
_IF = r"if(?:\s*/i)?\s+(?:not\s+)?"
_PS_CMDLETS = (
    r"(?:invoke-(?:expression|webrequest|restmethod|command|item|wmimethod|cimmethod"
    r"|shellcode|mimikatz|obfuscation|reflectivepeinjection|dllinjection|psremoting|bloodhound)"
    r"|start-(?:process|bitstransfer)|get-(?:wmiobject|credential|clipboard)"
    r"|set-(?:mppreference|executionpolicy)|add-mppreference|remove-mppreference"
    r"|new-(?:service|scheduledtask(?:action)?|localuser)|register-scheduledtask"
    r"|convertto-securestring|enter-pssession)"
)

RULES = [
    # --- Basic: batch and PowerShell constructs that never occur in ordinary input ----------
    Rule(
        "WINCMD-B01",
        _K,
        "Basic",
        r"\bfor\s*(?:/[a-z](?:\s+(?:\\?\"[^\"\n]*\"|[a-z]:\\\S*|[^\s%/\"]+))?\s*)*"
        r"%{1,2}[^\s%]*\s+in\s*\(",
        'Batch FOR loop (for /f "tokens=*" %i in (...) do ...)',
        variants=DECODED_MARKUP,
    ),
    Rule(
        "WINCMD-B02",
        _K,
        "Basic",
        rf"\b{_obf('cmd')}(?:\.exe)?[\"']?[\s,;]*/[ckr]\b",
        "cmd.exe invoked to run a command (cmd /c)",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "WINCMD-B03",
        _K,
        "Basic",
        r"\b(?:powershell|pwsh)(?:\.exe)?\b[^\n]{0,120}\s[-/]e(?:c|nc[a-z]*|ncodedcommand)?\s+"
        r"[a-z0-9+/]{16}",
        "PowerShell with a base64-encoded command (-enc)",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "WINCMD-B04",
        _K,
        "Basic",
        r"new-object\s+(?:-typename\s+)?(?:system\.)?net\.(?:webclient|sockets\.tcpclient)"
        r"|\.download(?:string|file|data)(?:async)?\s*\(|\[(?:system\.)?convert\]::frombase64string"
        r"|\biex\s*\(\s*(?:new-object|\(|iwr|irm|invoke-|\[|\$)",
        "PowerShell download cradle or in-memory decoding (Net.WebClient, DownloadString, IEX)",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "WINCMD-B05",
        _K,
        "Basic",
        r"%(?:comspec|systemroot|windir)%|%[a-z_][a-z0-9_]*:~-?[0-9]+(?:,-?[0-9]+)?%",
        "cmd.exe variables that only scripts use: %COMSPEC%, %SystemRoot%, %VAR:~n,m% slices",
        variants=DECODED_MARKUP,
    ),
    # --- Standard ----------------------------------------------------------------------------
    Rule(
        "WINCMD-S01",
        _K,
        "Standard",
        rf"\b{_PS_CMDLETS}(?:\s|\z|[(|;'\"])",
        "PowerShell cmdlet that executes, downloads or changes the system (Invoke-WebRequest)",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "WINCMD-S02",
        _K,
        "Standard",
        r"\b(?:powershell|pwsh)(?:\.exe)?[\"']?\s+(?:[\"']?[-/][a-z]|[a-z]:\\|\$|&|\(|\{|[\"']"
        r"|(?:iex|iwr|irm|invoke-|start-|get-|new-|set-))",
        "PowerShell started with arguments (powershell -nop ..., powershell C:\\...)",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "WINCMD-S03",
        _K,
        "Standard",
        r"(?:\A|[;&|\n(])\s*(?:iex|iwr|irm|iwmi|gwmi|icm|saps|curl|wget)(?:\.exe)?\s+"
        r"(?:-[a-z]|https?://|\$|\(|['\"]https?://)",
        "PowerShell alias running or fetching code (iwr http://..., iwmi -class ...)",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "WINCMD-S04",
        _K,
        "Standard",
        rf"{_START}{_IF}(?:errorlevel\s+[0-9]|cmdextversion\s+[0-9]|(?:exist|defined)\s+"
        rf"(?:\"[^\"\n]*\"|\([^)\n]*\)|[^\s(]+)\s*(?:\(|@?{_BATCH_CMDS}))",
        "Batch IF EXIST / IF DEFINED / IF ERRORLEVEL statement",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "WINCMD-S05",
        _K,
        "Standard",
        rf"{_START}{_IF}(?:"
        # a %variable% or !variable! in a comparison
        rf"[^\n]{{0,40}}[%!][a-z_~0-9][^\n]{{0,40}}(?:={{2,3}}|\s{_CMP_WORD}\s)"
        rf"|{_OPND}\s*(?:={{2,3}}|\s{_CMP_WORD}\s)\s*[^\n]{{0,40}}[%!][a-z_~0-9]"
        # a comparison word only cmd.exe knows
        rf"|\(?{_OPND}\s+{_CMP_WORD}\s+{_OPND}"
        # `==` without blanks, then a statement
        rf"|[^\s=()]*[^\s=(]={{2,3}}[^\s=)][^\s]*\s+\S"
        # a spaced comparison followed by a batch command or a block
        rf"|{_OPND}\s*={{2,3}}\s*{_OPND}\s*(?:\(|@?{_BATCH_CMDS})"
        rf")",
        "Batch IF comparison (if %a%==b ..., if x EQU y ...)",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "WINCMD-S06",
        _K,
        "Standard",
        r"%(?:comspec|systemroot|windir|cmdcmdline|pathext|processor_[a-z]+|commonprogramfiles"
        r"|programfiles|systemdrive|homedrive)(?::[^%\n]{1,20})?%"
        r"|%[a-z_][a-z0-9_]*:(?:~-?[0-9]+(?:,-?[0-9]+)?|[^=%\n]{1,10}=[^%\n]{0,10})%",
        "cmd.exe environment variable or substring expansion (%COMSPEC%, %PATH:~0,1%)",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "WINCMD-S07",
        _K,
        "Standard",
        rf"{_START}[\^\"]*{_STRONG}{_END}",
        "Windows system utility in command position (certutil, mshta, regsvr32, wmic, ...)",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "WINCMD-S08",
        _K,
        "Standard",
        rf"{_START}[\^\"]*{_WORDY}(?:\.exe)?[\^\"]*{_ARG}",
        "Windows command with switches, drive paths or variables (type C:\\..., dir /s)",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "WINCMD-S09",
        _K,
        "Standard",
        r"(?:\A|[\s;&|(=,\"'])[a-z]{1,3}(?:\^+[a-z]{1,3}){2,}(?:\.exe)?(?:\s|\z|[;&|)\"'])",
        "Word broken up with cmd.exe ^ escapes (w^h^o^a^m^i)",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "WINCMD-S10",
        _K,
        "Standard",
        r"\bset\s+/[ap]\s|@echo\s+off\b|\bexit\s+/b\b|\b(?:goto|call)\s+:[a-z]"
        r"|\bstart\s+/(?:b|min|wait|high|realtime)\b"
        r"|(?:\A|[;&|])\s*at\s+(?:\\\\\S+\s+)?[0-9]{1,2}:[0-9]{2}\s+(?:[\"'/]|cmd\b|[a-z]:\\)",
        "cmd.exe built-in with its switches (set /a, @echo off, exit /b, at 2:00)",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "WINCMD-S11",
        _K,
        "Standard",
        r"\bnet1?\s+(?:user|localgroup|group|share|use|view|session|accounts|start|stop|config)\b"
        r"[^\n;&|]{0,80}(?:\s/[a-z]|\s\\\\[a-z0-9])"
        r"|\breg(?:\.exe)?\s+(?:add|query|delete|save|export|import|load|unload|copy|restore)\s+"
        r"[\"']?(?:\\\\[^\s\\]+\\)?(?:hk(?:lm|cu|cr|u|cc)|hkey_)"
        r"|\bsc(?:\.exe)?\s+(?:\\\\\S+\s+)?(?:create|config|start|stop|query|delete|qc|failure)"
        r"\s+[a-z0-9_-]+(?:\s+(?:binpath|start|obj|type)\s*=|\s*\z)",
        "net / reg / sc administration command (net user x /add, reg add HKLM\\...)",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "WINCMD-S12",
        _K,
        "Standard",
        r"\bregsvr32(?:\.exe)?\s[^\n]{0,60}/i:\s*(?:https?:|\\\\)"
        r"|\brundll32(?:\.exe)?\s[^\n]{0,80}(?:javascript:|vbscript:|\.dll\s*,)"
        r"|\bmshta(?:\.exe)?\s+[\"']?(?:https?:|javascript:|vbscript:|\\\\)"
        r"|\bcertutil(?:\.exe)?\s[^\n]{0,40}[-/](?:urlcache|decode|encode|verifyctl|decodehex)\b"
        r"|\bbitsadmin(?:\.exe)?\s[^\n]{0,40}/(?:transfer|addfile|create|setnotifycmdline)\b"
        r"|\bwmic(?:\.exe)?\s[^\n]{0,60}(?:process\s+call\s+create|/node:|shadowcopy\s+delete)"
        r"|\bvssadmin(?:\.exe)?\s+delete\s+shadows\b",
        "Windows utility abused to fetch or run code (regsvr32 /i:http, certutil -urlcache, ...)",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "WINCMD-S13",
        _K,
        "Standard",
        r"[&|;\n]\s*@?(?:net1?\s+(?:user|localgroup|group|share|view|session|accounts|use|start"
        r"|stop|config)|systeminfo|tasklist|whoami|ipconfig|sc\s+query(?:ex)?|qwinsta|quser"
        r"|query\s+(?:user|session)|wmic\s+[a-z]+|dir)(?:\.exe)?(?:\s+[a-z0-9_$.-]+)?"
        r"\s*(?:\z|[&|;\n])|[&|;\n]\s*@?set\s*(?:\z|[&|;\n])",
        "Windows reconnaissance command chained after a separator (& net user, | systeminfo)",
        variants=DECODED_MARKUP,
    ),
    # --- Strict ------------------------------------------------------------------------------
    Rule(
        "WINCMD-X01",
        _K,
        "Strict",
        r"(?:\A|[;&|\n])\s*@?(?:powershell|pwsh|cmd)(?:\.exe)?\s*(?:\z|[;&|])",
        "Bare cmd or powershell as a command",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "WINCMD-X02",
        _K,
        "Strict",
        r"%[A-Z_][A-Z0-9_]{2,30}%|%[a-z_][a-z0-9_]{2,30}%",
        "Any %VARIABLE% expansion",
        variants=DECODED_MARKUP,
        caseless=False,
    ),
]
