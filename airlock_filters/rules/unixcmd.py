"""Unix shell command injection deny rules (rule key UNIXCMD).

An injected command has to reach a shell in command position: at the start of the value, or
after a separator (`;`, `|`, `&`, a line break), inside a substitution (`$(...)`, backticks,
`<(...)`) or behind an absolute path such as `/bin/`. The rules look for a command word in such a
position, spelled the way a shell would still execute it: with quotes, backslashes, empty
substitutions or `$@` inside the word (`c'a't`, `w\\hoami`, `pi$()ng`), followed by what a real
command line has (an option, a path, an address, a redirection) or by the end of the command.
Everyday words that are also commands (cat, more, find, date, time, who, ping, kill, sort, ...)
only count with such shell-like arguments, so "cat food grain free" or "a hero; more than" pass.

Besides chained commands, the rules cover shell-only syntax that needs no command word: `$IFS`,
parameter expansion operators, arithmetic expansion, brace expansion with an empty element,
here-strings, reverse-shell redirections to `/dev/tcp`, piping into a shell, Shellshock
function definitions, fork bombs, `alias` redefinitions and globbed system paths
(`/???/c?t`, `/e[t]c/pa*wd`).
"""

from __future__ import annotations

import re

from airlock_filters.request import HEADER, JSON, PARAM
from airlock_filters.rules._rule import DECODED_MARKUP, Rule

_K = "UNIXCMD"

# --- Word obfuscation -----------------------------------------------------------------------
# Quotes and backslashes inside a word are removed by the shell (`c'a't`, `w\hoami`): the
# command lists below accept them between any two letters.
_Q = "['\"\\\\]*"
# Other pieces a shell drops from a word: empty command substitutions, empty or unset
# parameters and special parameters. Inside a word in command position they are a disguise
# in themselves, whatever the word.
_JUNK = (
    r"(?:''|\"\"|``|\$\(\s*\)|\$\{\s*\}|\$[@*!?_$-]|[<>]\(\)|\$\{[a-z_][a-z0-9_]{0,15}\}"
    r"|\\\r?\n|\$[a-z_][a-z0-9_]*)"
)
# An unset variable right after a word disappears too: `cat$u /etc$u/passwd`.
_TAILVAR = r"(?:\$\{?[a-z_][a-z0-9_]*\}?)?"
# Between a command and its arguments: blanks, or `+` where a URL stands for a space.
_GAP = r"[\s+]+"


def _obf(word: str) -> str:
    """A command name as the shell still runs it with quotes or backslashes inside."""
    return _Q.join(re.escape(ch) for ch in word)


def _words(names: str) -> str:
    """Alternation of quote-tolerant spellings, longest first so prefixes do not win."""
    items = sorted(set(names.split()), key=lambda w: (-len(w), w))
    return "(?:" + "|".join(_obf(w) for w in items) + ")"


# Commands that are not everyday words: in command position they are enough on their own.
_STRONG_NAMES = """
    whoami ifconfig netstat nslookup useradd adduser usermod userdel groupadd chpasswd
    chmod chown chgrp chattr visudo mkfifo mknod lsof ltrace strace tcpdump iptables
    nmap socat ncat netcat busybox xxd hexdump printenv getent sysctl systemctl journalctl dmesg
    lsb_release lscpu lsblk fdisk killall pkill pgrep nohup gawk nawk xargs gcc gdb irb zstdcat
    zcat bzcat xzcat gunzip bunzip2 unxz bsdtar rmt rmt-tar rmt-dump htop aptitude apt-get
    dpkg ansible ansible-config ansible-galaxy ansible-console ansible-doc ansible-inventory
    ansible-pull ansible-vault ansible-playbook chef-vault chef-shell chef-run chef-client
    chef-solo cscli kubectl ssh-keygen ssh-copy-id smbclient sqlite3 redis-cli msfvenom
    msfconsole sqlmap cpulimit uconv sshpass unlzma uudecode uuencode ifdown ifup modprobe
    insmod setcap getcap aa-disable aa-enforce aa-complain apparmor_parser
"""
# Commands that are also words, names or abbreviations: they need shell-like arguments.
_WORDY_NAMES = """
    cat tac ls ll dir ping kill more less head tail sort cut find date time who top id ps env
    echo printf sleep file type set export alias unset source eval exec trap test touch which
    whereis locate last split join paste look watch wait man host hostname dig ip ss tr nl od ed
    ex vi vim nano rev rm mv cp dd ln su tee column fold comm grep egrep fgrep diff mount
    umount route finger curl wget nc sh bash zsh ksh csh tcsh dash python python2 python3 perl
    php ruby lua node mail chef tar zip unzip shred stat strings cd mkdir rmdir chroot rc
    history whois arp awk sed bridge flock perf shutdown reboot halt poweroff service ftp tftp
    ssh scp sftp telnet rsync wall gzip bzip2 xz readlink realpath basename dirname seq nice
    timeout command builtin exit pip pip3 pipx gem npm yum dnf rpm apt openssl uptime sudo
    iconv sendmail cmd uname passwd pwd base64 base32 lastlog lastlogin traceroute xterm c89
    c99 crontab ipconfig
"""
# Everyday-word commands still worth flagging right after a separator with nothing after them
# (`;id`, `|ps`, `&env`): the short technical ones. `;more`, `&top` or `dog|cat|bird` are prose
# or lists.
_BARE_WORDY_NAMES = """
    ls ll id ps env set who pwd uname passwd base64 base32 lastlog lastlogin printenv uptime
    hostname netstat ipconfig crontab reboot shutdown poweroff sh bash zsh ksh csh dash history
"""
_STRONG = _words(_STRONG_NAMES)
_WORDY = _words(_WORDY_NAMES)
_ANY_CMD = _words(_STRONG_NAMES + _WORDY_NAMES)
_BARE_CMD = _words(_STRONG_NAMES + _BARE_WORDY_NAMES)
# The same, minus the ones that end ordinary phrases after a blank (`Passport; ID`).
_BARE_SPACED = _words(
    _STRONG_NAMES + " ".join(w for w in _BARE_WORDY_NAMES.split() if w not in {"id", "set", "who"})
)
# A version suffix some binaries carry (python3.10, gcc7.4).
_VERSION = r"(?:[0-9]+(?:\.[0-9]+){0,2})?"

# Commands that run another one: what follows them is in command position again.
_PREFIX = _words("time nohup strace ltrace sudo env nice exec xargs busybox command builtin stdbuf")
_PREFIXES = rf"(?:{_Q}{_PREFIX}{_Q}{_GAP}(?:-[a-z]+{_GAP}|[0-9]+{_GAP})*)*"

# Where a command word may start: after a chaining operator, a line break, a command or
# process substitution, or a subshell / group opening.
_SEP = r"(?:[;|`\n\r]|&|\$\(|[<>]\(|\(|\{)"
# Chaining operators and substitutions proper; line breaks, backticks and parentheses also
# start a command, but they are everyday punctuation of prose and Markdown (`ls -la`).
_STRONG_SEP = r"(?:[;|&]|\$\(|[<>]\()"
_WEAK_SEP = r"(?:[`\n\r({])"
_SEP_TIGHT = r"(?:[;|&]|[<>]\()"
# Where a value starts: the field itself, an XML attribute value, a query parameter inside a
# URL-valued field (Referer, redirect targets).
_VSTART = r"(?:\A|=[\"']|[?&][a-z0-9_.\[\]-]{1,30}=)"
# An optional directory in front of the command (`/bin/`, `/usr/local/bin/`, `./`).
_DIR = r"(?:(?:\.{1,2}|~)?/(?:[a-z0-9_.?*\[\]-]+/)*)?"
# The end of a command word.
_END = rf"(?:{_Q}{_JUNK})*{_Q}{_TAILVAR}(?:[\s+]|\z|[;|&<>`)'\"#])"
_END_MORE = rf"(?:{_Q}{_JUNK})*{_Q}{_TAILVAR}(?:[\s+]+\S|[;|&<>`)'\"#])"
# (An escaped line break, `\n` as two characters, also ends a command: payload lists use it for
# applications that unescape their input.)
_END_TIGHT = rf"(?:{_Q}{_JUNK})*(?:\s*(?:\z|[;|`)])|[&<>'\"]|\\[nr])"

# What follows an everyday-word command on a real command line.
_IP = r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+"
_FILE_EXT = (
    r"(?:txt|log|sh|bash|php|py|pl|rb|gz|tgz|bz2|xz|zst|tar|zip|conf|cfg|ini|bak|sql|db|key|pem"
    r"|crt|xml|json|ya?ml|js|exe|bat|ps1|c|so|jpg|png)"
)
# (Unbounded repeats: Hyperscan refuses the pattern with bounded ones at this size.)
_ARG = (
    r"(?:['\"]?--?['\"]?[a-z0-9]"  # option
    r"|['\"]?[~.]*/(?:[a-z0-9_.*?\[~$-]|\s*(?:\z|[;|&>])|\s+-)"  # path
    r"|['\"]?\$[a-z_{(]|`"  # variable or substitution
    rf"|{_IP}|https?://|ftp://|localhost\b"  # address
    rf"|[a-z0-9_.-]+\.{_FILE_EXT}\b"  # file name
    r"|[a-z0-9-]+\.(?:com|net|org|io|ru|cn|info|biz|xyz|tk|top|sh)\b"  # host
    r"|['\"][^'\"\s]+\s+-"  # quoted command with an option
    r"|[<>;]|aux\b"  # redirection or another command; `ps aux`
    r")"
)
# Arguments that make even a command mentioned in prose an attack: system paths, home or parent
# directories, variables, network addresses, redirections.
_HOT_ARG = (
    r"(?:['\"]?(?:/(?:etc|bin|sbin|usr|dev|proc|tmp|var|home|root|opt|lib|boot|sys|srv|mnt)\b"
    r"|~/|\.\./|/\s*(?:\z|[;|&]))|['\"]?\$[a-z_{(]|`"
    rf"|{_IP}|[<>;|])"
)
_SHELLS = r"(?:/[a-z/]{0,20}/)?(?:ba|z|k|da|c|tc|fi|mk)?sh"
_INTERP = r"(?:python|perl|ruby|php|node|lua)"
_CMD_STRONG = rf"{_PREFIXES}{_DIR}{_Q}{_STRONG}{_VERSION}{_END}"
_CMD_WORDY = (
    rf"{_PREFIXES}{_DIR}{_Q}(?:{_WORDY}(?:{_Q}{_JUNK})*{_Q}{_TAILVAR}(?:{_GAP}{_ARG}|[<>]\s*[/~.$])"
    rf"|{_obf('python')}{_Q}[0-9]{_Q}\.{_Q}[0-9])"
)
# A word in command position with shell junk inside: whatever the word, the disguise says
# enough (`c$@at`, `pi``ng`, `who$()ami`, `ti''me`). The unset `$var` is left out of this junk:
# `word$word` is too common in random tokens and passwords.
_WORD_JUNK = (
    r"(?:''|\"\"|``|\$\(\s*\)|\$\{\s*\}|\$[@*!?_$-]|[<>]\(\)|\$\{[A-Za-z_][A-Za-z0-9_]{0,15}\}"
    r"|\\\r?\n)"
)
_JUNKED_WORD = (
    rf"{_Q}(?:[a-z]{{2,}}[a-z0-9]*(?:{_Q}{_WORD_JUNK})+(?:{_Q}[a-z][a-z0-9.-]*)+"
    rf"|[a-z][a-z0-9]*(?:{_Q}{_WORD_JUNK})+{_Q}[a-z]{{2,}}[a-z0-9.-]*(?:{_Q}[a-z][a-z0-9.-]*)*)"
)
# Where a disguised word ends: a blank, the end, or the next command.
_JUNKED_END = rf"{_Q}{_TAILVAR}(?:\s|\z|[;|&]|\+[/$-])"

RULES = [
    # --- Basic: shell-only syntax, never seen in ordinary input ----------------------------------
    Rule(
        "UNIXCMD-B01",
        _K,
        "Basic",
        r"\$\{?IFS\b",
        "$IFS / ${IFS}: the field separator used to write a command without spaces",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "UNIXCMD-B02",
        _K,
        "Basic",
        r"/dev/(?:tcp|udp)/[a-z0-9.:\[\]$-]",
        "Redirection to /dev/tcp or /dev/udp: bash network socket of a reverse shell",
    ),
    Rule(
        "UNIXCMD-B03",
        _K,
        "Basic",
        r"\A\s*\(\s*\)\s*\{|\(\s*\)\s*\{\s*(?::|_)\s*;\s*\}",
        "Shellshock: a bash function definition `() {` where a variable value is expected",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "UNIXCMD-B04",
        _K,
        "Basic",
        rf"\b(?:n(?:et)?cat|nc)(?:\.[a-z]+)?\b[^\n|;&]{{0,80}}\s['\"]?-[a-z]{{0,4}}[ec]\s*['\"]?"
        rf"{_SHELLS}\b",
        "Netcat executing a shell for a remote peer (nc -e /bin/sh)",
    ),
    Rule(
        "UNIXCMD-B05",
        _K,
        "Basic",
        rf"\b{_SHELLS}\s+-i\s*[<>&0-9]|[0-9]?>&\s*/?dev/|\b0\s*>&\s*1\b|\b0\s*<&\s*[0-9]{{1,3}}\b",
        "Interactive shell wired to a socket (bash -i >& ..., 0>&1): reverse shell",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "UNIXCMD-B06",
        _K,
        "Basic",
        rf"\b(?:curl|wget|fetch|lwp-download)\b[^\n|;&]{{0,200}}\|\s*(?:sudo\s+)?{_SHELLS}\b",
        "Download piped into a shell (curl ... | sh)",
    ),
    Rule(
        "UNIXCMD-B07",
        _K,
        "Basic",
        r"<!--\s*#\s*exec\s+(?:cmd|cgi)\s*=|/inet/(?:tcp|udp)/|\bsocat\b[^\n]{0,80}\bexec:",
        "Server-side include exec, gawk /inet socket or socat exec: running a command",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "UNIXCMD-B08",
        _K,
        "Basic",
        r"(?:[;|&`]|\$\()\s*(?:/usr)?(?:/s?bin/)?(?:whoami|ifconfig|uname\s+-[a-z]*a"
        r"|cat\s+/etc/(?:passwd|shadow|group)\b)"
        r"|(?:[;|&]|\$\()(?:/usr)?(?:/s?bin/)?id\s*(?:\z|[;|&)])"
        r"|(?:\A|[\s;|&`'\"(=])/bin/(?:ba|z|k|da)?sh\s+-[ci]\b",
        "Reconnaissance command chained into a value (;whoami, |uname -a, $(id)), or /bin/sh -c",
        variants=DECODED_MARKUP,
        # Unix commands are lower case: `Photo&ID` is not one.
        caseless=False,
    ),
    # --- Standard: a command in command position -------------------------------------------
    Rule(
        "UNIXCMD-S01",
        _K,
        "Standard",
        rf"{_STRONG_SEP}[\s+]*{_CMD_STRONG}",
        "Distinctive command chained after a separator or in a substitution (;whoami, $(uname))",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "UNIXCMD-S02",
        _K,
        "Standard",
        rf"{_SEP_TIGHT}{_PREFIXES}{_DIR}{_Q}{_BARE_CMD}{_VERSION}{_END_TIGHT}",
        "Command word directly after a separator, ending the command (;id, |ps, &whoami)",
        variants=DECODED_MARKUP,
        # Unix command names are lower case; `;PS|` in a random token is not a command.
        caseless=False,
    ),
    Rule(
        "UNIXCMD-S03",
        _K,
        "Standard",
        rf"{_VSTART}\s*(?:['\"]\s+)?{_PREFIXES}{_DIR}{_Q}{_STRONG}{_VERSION}{_END_MORE}",
        "Value that starts with a distinctive command (ifconfig -a, nohup ..., visudo;)",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "UNIXCMD-S04",
        _K,
        "Standard",
        r"(?:\A|[\s;|&`'\"(=,{])/?(?:usr/(?:local/)?)?s?bin/[a-z?*\[\]'\"\\]",
        "Absolute path of a system binary (/bin/sh, /usr/bin/perl)",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "UNIXCMD-S05",
        _K,
        "Standard",
        # ${var:-x}, ${var#x}, ${var/a/b}, ${#var}, ${!var}, ${:..}, ${`..`}
        r"\$\{[!#]?[a-z_][a-z0-9_]{0,30}(?:\[[^\]]{0,10}\])?(?::[-=+?]|-|##?|%%?|//?|\^\^?|,,?"
        r"|:[0-9])[a-z0-9_./:'\"@{} $-]{0,30}\}|\$\{[#!][a-z_][a-z0-9_]*\}|\$\{\s*[:`$]"
        # $((...)), $[], $[1+1]
        r"|\$\(\([\s0-9a-z$+*/%()-]{0,40}\)\)|\$\[\s*\]"
        r"|\$\[[0-9$(][^\]'\"]{0,40}[-+*/%][^\]'\"]{0,40}\]",
        "Shell parameter expansion with an operator, or arithmetic expansion ($((...)), $[...])",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "UNIXCMD-S06",
        _K,
        "Standard",
        r"\{\s*,[a-z0-9_./?*$'\"\\#,-]{1,80}\}|\{[a-z0-9_./?*$'\"\\-]{1,40},\}"
        r"|\{[a-z0-9_./$'\"\\?*-]{1,40},[-/][^{}\s]{0,80}\}"
        r"|[a-z]\{[a-z]{1,10},[a-z]{1,10}\}[a-z]",
        "Brace expansion used to run a command without spaces ({cat,/etc/passwd}, {,id})",
        variants=DECODED_MARKUP,
        # Commands and paths are lower case in a shell; random tokens mix cases.
        caseless=False,
    ),
    Rule(
        "UNIXCMD-S07",
        _K,
        "Standard",
        r"<<<\s*['\"$(`]?[a-z/]",
        "Here-string feeding a command (cat<<<id)",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "UNIXCMD-S08",
        _K,
        "Standard",
        rf"\|\s*(?:sudo\s+)?{_SHELLS}(?:\s|\z|[;&|#)`'\"])|\(\s*{_SHELLS}\s*\)\s*[0-9]?[<>]",
        "Output piped into a shell interpreter (| sh), or a redirected subshell",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "UNIXCMD-S09",
        _K,
        "Standard",
        r"(?:;|&&|\|\||\n|\|)\s*\$\{?[a-z_][a-z0-9_]{0,15}\}?(?:\s+[^\s;|&]|\$\{?[a-z_])"
        r"|\A\s*\$\{?[a-z_][a-z0-9_]{0,15}\}?\s+['\"]?-[a-z]",
        "Command taken from a variable ($a /etc/passwd after a=cat)",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "UNIXCMD-S10",
        _K,
        "Standard",
        r"\balias\s+(?:[-+][a-z+]{0,6}\s+)*['\"]?[^\s='\"]{1,40}['\"]?=",
        "alias redefining a command name",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "UNIXCMD-S11",
        _K,
        "Standard",
        r"[\w.:]{1,20}\s*\(\s*\)\s*\{[\s\w.:()|&;]{0,60}[|&][\s\w.:()|&;]{0,60}\}\s*;?\s*[\w.:]",
        "Fork bomb: a function that calls itself in a pipe or in the background",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "UNIXCMD-S12",
        _K,
        "Standard",
        rf"\b(?:{_SHELLS}|{_INTERP}[0-9.]{{0,4}}|busybox|\$\{{?shell\}}?)"
        r"['\"]?(?:\s+-[a-z]+)*\s+['\"]?-[a-z]{0,3}[cer]\s*['\"]",
        "Interpreter given code on the command line (sh -c '...', php -r '...')",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "UNIXCMD-S13",
        _K,
        "Standard",
        r"(?:\A|[\s;|&`'\"(=])/(?:[a-z]{0,4}[?*][a-z?*]{0,4}|[a-z]{0,4}\[[^\]\s]{1,12}\][a-z]{0,8})"
        r"/(?:[a-z0-9?*._-]|\[[^\]\s]{1,12}\]){1,16}"
        r"|(?:\A|[\s;|&`'\"(=])/(?:etc|bin|usr|dev|proc|tmp|var|sbin|home|root|opt|lib)"
        r"(?:/[a-z0-9._-]{1,16}){0,3}/(?:[a-z0-9._-]{0,12}(?:[?*]|\[[^\]\s]{1,12}\]))"
        r"|/[a-z]{0,4}\[[^\]\s]{0,8}/[^\]\s]{0,8}\][a-z]",
        "Globbed system path standing for a command or file (/???/c?t, /e*/pa[s]swd)",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "UNIXCMD-S14",
        _K,
        "Standard",
        r"(?:\A|=[\"'])\s*(?:~(?:[+-][0-9]{0,3}|0)\s*(?:\z|[\"'])|![-]?[0-9]{1,3}(?:![-]?[0-9]{1,3})+)",
        "Tilde or history expansion as a whole value (~+, ~-, !-1!-2)",
    ),
    Rule(
        "UNIXCMD-S15",
        _K,
        "Standard",
        r"(?:[;\n]|\\n)\s*\.['\"\\]{0,3}(?:shell|system|sh|databases|tables|import|output|load)\b",
        "SQLite shell dot-command (.shell, .system) injected after a statement",
    ),
    Rule(
        "UNIXCMD-S16",
        _K,
        "Standard",
        r"\b(?:nc|ncat|netcat)\s+-[a-z]*[lv][a-z]*\s+(?:-p\s*)?[0-9]{2,5}\b|\bmkfifo\s+/"
        r"|\bdd\s+(?:if|of)=/|\bbase(?:64|32)\s+(?:-d|--decode)\b",
        "Listener, named pipe, raw copy or decoding step of a shell payload",
    ),
    Rule(
        "UNIXCMD-S17",
        _K,
        "Standard",
        r"(?:\A|[\s;|&(])[<>]\(\s*[a-z/][^()]{0,60}\)",
        "Process substitution <(...) / >(...)",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "UNIXCMD-S18",
        _K,
        "Standard",
        rf"(?:[;|&`\n]|\$\()\s*{_obf('sleep')}{_GAP}[0-9]+(?:\.[0-9]+)?[smhd]?\s*(?:\z|[;|&`)#])"
        rf"|(?:\\!|-c\s*:?\\?!|:!)\s*['\"]?{_ANY_CMD}{_END}",
        "Delay command (;sleep 5) or shell escape from an editor or debugger (vim -c :!id)",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "UNIXCMD-S19",
        _K,
        "Standard",
        rf"(?:\A|{_SEP})\s*\\{_ANY_CMD}{_END_TIGHT}",
        "Command word escaped with a backslash to bypass aliases (\\ls)",
    ),
    Rule(
        "UNIXCMD-S20",
        _K,
        "Standard",
        r"\A\s*(?:pip[0-9x]?|gem|apt(?:-get)?|yum|dnf|apk)\s+install\s+[a-z0-9]",
        "Package installation command as a whole value",
    ),
    Rule(
        "UNIXCMD-S21",
        _K,
        "Standard",
        rf"(?:[;|&`\n\r]|\$\(|[<>]\(|{_VSTART})[\s+]*{_PREFIXES}{_DIR}{_JUNKED_WORD}{_JUNKED_END}",
        "Word disguised with empty substitutions or quotes in command position (c$@at, pi``ng)",
        variants=DECODED_MARKUP,
        caseless=False,
    ),
    Rule(
        "UNIXCMD-S22",
        _K,
        "Standard",
        rf"{_STRONG_SEP}[\s+]*{_CMD_WORDY}",
        "Command line chained after a separator or in a substitution (; cat /etc/passwd)",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "UNIXCMD-S23",
        _K,
        "Standard",
        rf"{_VSTART}\s*{_CMD_WORDY}",
        "Value that is a command line (cat /etc/passwd, ls -la, ping 10.0.0.1)",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "UNIXCMD-S24",
        _K,
        "Standard",
        rf"\$\(\s*{_PREFIXES}{_DIR}{_Q}{_ANY_CMD}{_VERSION}{_END_TIGHT}|\$\(\s*`[^`\n]{{1,80}}`\s*\)",
        "Command substitution around a command word ($(id), $(whoami$()), $(`ls`))",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "UNIXCMD-S25",
        _K,
        "Standard",
        rf"{_VSTART}\s*(?:['\"]\s+)?{_PREFIXES}{_DIR}{_Q}{_STRONG}{_VERSION}{_Q}\s*(?:\z|[\"'])",
        "Value that is a distinctive command on its own (whoami, ifconfig)",
        kinds=frozenset({PARAM, JSON, HEADER}),
        variants=DECODED_MARKUP,
    ),
    Rule(
        "UNIXCMD-S26",
        _K,
        "Standard",
        rf"{_WEAK_SEP}\s*{_PREFIXES}{_DIR}{_Q}(?:{_STRONG}|{_WORDY}){_Q}{_TAILVAR}"
        rf"{_GAP}(?:-[a-z0-9]+{_GAP})*{_HOT_ARG}",
        "Command on a new line, in backticks or parentheses, reaching system files or addresses",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "UNIXCMD-S27",
        _K,
        "Standard",
        rf"(?:[\n\r]|\\[nr])\s*{_PREFIXES}{_DIR}{_Q}{_BARE_CMD}{_Q}(?:{_GAP}-[a-z0-9]+)*"
        r"\s*(?:\z|[;|&]|\\[nr])",
        "Command alone on the last line of a value (x%0aid, x%0auname -a)",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "UNIXCMD-S28",
        _K,
        "Standard",
        rf"[`({{]\s*{_PREFIXES}{_DIR}{_Q}{_STRONG}{_END_TIGHT}",
        "Distinctive command alone in backticks or parentheses (`whoami`)",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "UNIXCMD-S29",
        _K,
        "Standard",
        r"\$'[^'\n]{0,40}\\(?:x[0-9a-f]{2}|[0-7]{3}|u[0-9a-f]{4})"
        r"|\b(?:printf|echo\s+-e)\s+['\"]?(?:\\x[0-9a-f]{2}|\\[0-7]{3}){2}",
        "Command spelled with escape sequences ($'\\x63\\x61\\x74', printf '\\x69\\x64')",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "UNIXCMD-S30",
        _K,
        "Standard",
        rf"[a-z0-9_=]`{_Q}{_BARE_CMD}{_END_TIGHT}|`{_Q}{_BARE_CMD}(?:\s[^`\n]{{0,40}})?`\s*;",
        "Backtick substitution glued to a value or ending a statement (x`id`, `ls`;)",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "UNIXCMD-S31",
        _K,
        "Standard",
        rf"{_STRONG_SEP}\s+{_Q}{_BARE_SPACED}{_Q}\s*(?:\z|[;|&])",
        "Command alone after a separator and a blank (; env, | uname)",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "UNIXCMD-S32",
        _K,
        "Standard",
        rf"\A\s*`{_Q}{_ANY_CMD}(?:\s[^`\n]{{0,60}})?`\s*\z",
        "A value that is one backtick command substitution (`id`)",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "UNIXCMD-S33",
        _K,
        "Standard",
        rf"{_STRONG_SEP}\s*{_Q}{_ANY_CMD}{_Q}(?:\s+[a-z0-9_.,:=-]+){{1,2}}\s+{_HOT_ARG}",
        "Chained command reaching a system path after its first words (;grep root /etc/passwd)",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "UNIXCMD-S34",
        _K,
        "Standard",
        rf"{_STRONG_SEP}\s*{_Q}{_ANY_CMD}\s[^;|&\n]*\s[12]?>>?\s*[/~]",
        "Chained command writing to a system or home path (;echo x > /tmp/x)",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "UNIXCMD-S35",
        _K,
        "Standard",
        r"(?:\|\|?|;)\s+id\s*(?:\z|[;|&`)]|\\[nr])"
        r"|(?:\A|[;|&])\s*(?:which|whereis|command\s+-v)\s+(?:curl|wget|nc|ncat|netcat|gcc|cc|perl"
        r"|python[0-9.]*|ruby|php|bash|sh|socat|telnet|nmap|base64|xxd)\s*(?:\z|[;|&])",
        "`; id` with a blank, or probing for tools (which nc, which python)",
        variants=DECODED_MARKUP,
        # `Passport; ID` is prose, `; id` in lower case a command.
        caseless=False,
    ),
    # --- Strict: shorter or rarer forms, more likely to meet ordinary text ------------------
    Rule(
        "UNIXCMD-X01",
        _K,
        "Strict",
        rf"(?:{_VSTART}\s*|{_SEP}\s*){_Q}{_PREFIX}{_Q}{_GAP}{_ANY_CMD}{_END}",
        "Everyday-word command run through a wrapper (time who, nohup date)",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "UNIXCMD-X02",
        _K,
        "Strict",
        r"(?:\A|=[\"'])\s*['\"\\]{0,2}(?:!!|![0-9]{1,3}|~[0-9]{1,3}|~)\s*(?:\z|[\"'])",
        "Bare history or tilde expansion as a whole value (!!, !1, ~0)",
    ),
    Rule(
        "UNIXCMD-X03",
        _K,
        "Strict",
        rf"{_VSTART}\s*['\"]{_ANY_CMD}['\"]\s*(?:\z|[;|&])"
        r"|(?:\A|=[\"'])\s*(?:'[a-z]{1,6}'|\"[a-z]{1,6}\")[a-z][a-z0-9]*(?:\s|\z)",
        "Quoted command word as a whole value ('id'), or a word split by quotes ('wh'oami)",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "UNIXCMD-X04",
        _K,
        "Strict",
        rf"{_WEAK_SEP}\s*{_CMD_STRONG}|{_WEAK_SEP}\s*{_CMD_WORDY}",
        "Command line on a new line, in backticks or in parentheses (`ls -la`)",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "UNIXCMD-X05",
        _K,
        "Strict",
        rf"{_SEP_TIGHT}{_Q}{_WORDY}{_Q}(?:\s+\S|\s*\z)",
        "Everyday-word command right after a separator (;top, |more)",
        variants=DECODED_MARKUP,
    ),
]
