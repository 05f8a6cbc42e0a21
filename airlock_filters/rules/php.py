"""PHP code injection deny rules (rule key PHP).

Injected PHP has to look like PHP to the interpreter that ends up evaluating it: an opening tag
(`<?php`, `<?=`), a call of one of the functions that execute commands, evaluate code, decode
payloads or touch files (`system(`, `base64_decode(`, `file_put_contents(`), a superglobal
(`$_GET[...]`), a variable or string used as a function name (`$f(...)`, `("sys"."tem")(...)`),
a serialized object for an unserialize() gadget chain, a stream wrapper (`php://`, `phar://`,
`expect://`, `zip://`) handed to an include, a php.ini directive, or an uploaded `.php` file.
Functions whose names are everyday words (`file`, `system`, `date`, `copy`) only count when
what follows looks like code: an argument that is a variable, a string literal or another call.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator

from airlock_filters.parsers import ParsedRequest
from airlock_filters.request import HEADER, PARAM, Request
from airlock_filters.rules._check import Check, Finding
from airlock_filters.rules._rule import DECODED_MARKUP, Rule

_K = "PHP"

# What PHP skips between a function name and its parenthesis: blanks, comments (also spanning
# lines) and shell-style or C++-style line comments.
_COMMENT = r"(?:/\*[^*]*\*+(?:[^/*][^*]*\*+)*/|(?:#|//)[^\n]*\n)"
_GAP = rf"(?:\s|{_COMMENT})*"
# A gap without an ordinary space: comments, tabs and line breaks only.
_ODD_GAP = rf"(?: *(?:[\t\r\n\x0b\f]|{_COMMENT}) *)+"
# What a call's first argument looks like in code: a variable, a string literal, another call,
# an error-suppressed expression, a number, or nothing.
_CODE_ARG = r"(?:\$|['\"]|\)|@|[a-z_][a-z0-9_]{2,}\s*[(),.]|[0-9]+\s*[),])"

# Functions that execute commands, evaluate code, decode payloads, reach the network or the
# file system, or reveal the environment, with names that are not everyday words.
_DANGEROUS_FUNCS = r"""
    shell_exec passthru proc_open popen pcntl_exec pcntl_fork assert_options create_function
    call_user_func call_user_func_array call_user_method forward_static_call
    forward_static_call_array register_shutdown_function register_tick_function
    preg_replace_callback preg_replace array_map array_filter array_walk array_reduce usort
    uasort uksort iterator_apply func_get_args ob_start base64_decode str_rot13 gzinflate
    gzuncompress gzdecode gzdeflate gzcompress gzencode gzopen bzdecompress bzopen zlib_decode
    zlib_encode convert_uudecode hex2bin strrev str_replace strip_tags stripslashes
    html_entity_decode htmlspecialchars_decode rawurldecode unserialize var_dump var_export
    print_r debug_zval_dump highlight_file highlight_string show_source php_strip_whitespace
    file_get_contents file_put_contents fopen fwrite fputs fread fgets fgetc fgetcsv fputcsv
    fpassthru fsockopen pfsockopen readfile file_exists is_file is_dir is_readable is_writable
    is_writeable is_executable is_link is_array filegroup fileowner fileperms filesize
    filemtime fileatime filectime fileinode filetype scandir opendir readdir tempnam tmpfile
    lchown symlink move_uploaded_file parse_ini_file parse_ini_string disk_free_space
    include_once require_once stream_socket_client stream_socket_server stream_get_contents
    socket_create socket_connect curl_init curl_exec curl_setopt curl_multi_exec phpinfo
    phpversion php_uname php_sapi_name getenv putenv getcwd get_current_user getmyuid getmypid
    getmygid getmyinode getlastmod get_defined_vars get_defined_functions get_defined_constants
    get_loaded_extensions ini_get ini_set ini_get_all ini_restore ini_alter set_include_path
    get_include_path sys_get_temp_dir apache_setenv apache_child_terminate mb_send_mail
    error_log set_time_limit ignore_user_abort gethostbyname gethostbynamel dns_get_record
    escapeshellarg escapeshellcmd proc_get_status proc_terminate proc_nice posix_kill
    posix_mkfifo posix_setuid posix_getuid posix_geteuid posix_getgid posix_getegid
    posix_getpwuid posix_getpwnam posix_getgrgid posix_uname posix_getlogin ftp_connect
    ftp_login ftp_get ftp_put mysql_query mysqli_query parse_str intval printf
"""
# Functions whose names are also words: they need code-like arguments.
_WORDY_FUNCS = r"""
    system exec eval assert file chr include require unlink mkdir rmdir touch chmod chown
    chgrp link glob mail header pack unpack substr strlen dl virtual compact extract
"""


def _alternation(names: str) -> str:
    items = sorted(set(names.split()), key=lambda w: (-len(w), w))
    return "(?:" + "|".join(items) + ")"


_DANGER = _alternation(_DANGEROUS_FUNCS)
_WORDY = _alternation(_WORDY_FUNCS)
# Functions that run a command or code: named anywhere as a callee, they are the payload.
_EXEC = r"(?:system|exec|shell_exec|passthru|popen|proc_open|pcntl_exec|eval|assert|phpinfo)"
# A PHP variable that may hold a function name: `$a`, `$$b`, `${'a'}`, `${@$b}`, `$__`.
_VAR = r"\$+(?:[a-z_][a-z0-9_]*|\{[^}\n]{1,40}\})"
# Index, brace or member access after it: `$a[0]`, `$__[$_[1]]`, `$o{0}`, `$x->f`.
_INDEX = r"\[(?:[^\[\]\n]|\[[^\]\n]*\])*\]"
_ACCESS = rf"(?:{_GAP}(?:{_INDEX}|\{{[\w@$'\"]{{0,30}}\}}|->\$?[a-z_][a-z0-9_]*))*"
# Arguments of such a call: numbers, string literals, variables, names, up to a few of them.
_ARG1 = (
    r"(?:[0-9]+|'[^'\n]{0,40}'|\"[^\"\n]{0,40}\"|@?\$+[a-z_\[\]@!+$'\"0-9-]*|@?[a-z_][a-z0-9_]*)"
)
_CALL_ARGS = rf"(?:{_ARG1}(?:\s*[,.]\s*{_ARG1}){{0,3}})?"
_SUPERGLOBALS = r"(?:get|post|request|cookie|server|files|env|session)"
_INI = (
    r"(?:allow_url_include|allow_url_fopen|auto_prepend_file|auto_append_file|disable_functions"
    r"|disable_classes|open_basedir|safe_mode[a-z_]*|register_globals|magic_quotes_[a-z]+"
    r"|display_errors|display_startup_errors|log_errors|error_log|error_reporting|include_path"
    r"|extension_dir|extension|zend_extension|engine|short_open_tag|asp_tags|expose_php"
    r"|file_uploads|upload_tmp_dir|upload_max_filesize|post_max_size|memory_limit"
    r"|max_execution_time|max_input_time|max_input_vars|sendmail_path|sendmail_from|smtp"
    r"|smtp_port|precision|serialize_precision|unserialize_max_depth|output_buffering"
    r"|output_handler|variables_order|request_order|default_socket_timeout|enable_dl|doc_root"
    r"|user_dir|date\.timezone|default_charset"
    r"|(?:mail|session|opcache|mbstring|pcre|zend|assert|user_ini|cgi|phar|xdebug|suhosin|apc"
    r"|realpath_cache|highlight|arg_separator)\.[a-z_]+)"
)

RULES = [
    # --- Basic ------------------------------------------------------------------------------
    Rule(
        "PHP-B01",
        _K,
        "Basic",
        r"<\?(?:\s*php\b|=)|<script\s+language\s*=\s*[\"']?php\b",
        'PHP opening tag (<?php, <?=, <script language="php">)',
        variants=DECODED_MARKUP,
    ),
    Rule(
        "PHP-B02",
        _K,
        "Basic",
        r"\b(?:php|phar|expect)://",
        "PHP stream wrapper (php://input, php://filter, phar://, expect://)",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "PHP-B03",
        _K,
        "Basic",
        rf"\b{_EXEC}{_GAP}\({_GAP}(?:base64_decode|gzinflate|gzuncompress|gzdecode|str_rot13"
        rf"|strrev|stripslashes|rawurldecode|urldecode|hex2bin|convert_uudecode|chr{_GAP}\("
        rf"|\$_{_SUPERGLOBALS}\b|\$globals\b|\$[a-z_][a-z0-9_]*{_GAP}\[)",
        "Code execution of a decoded or request-supplied payload (eval(base64_decode(...)))",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "PHP-B04",
        _K,
        "Basic",
        # The soft hyphen of CVE-2024-4577 arrives as U+00AD, or as U+FFFD once decoded alone.
        rf"(?:\A|\s)(?:-|\xc2\xad|\xef\xbf\xbd)d{_GAP}(?:allow_url_include|auto_prepend_file"
        r"|auto_append_file"
        r"|safe_mode|open_basedir|disable_functions|cgi\.force_redirect)\s*=",
        "php-cgi argument injection (-d allow_url_include=1)",
    ),
    Rule(
        "PHP-B05",
        _K,
        "Basic",
        r"PD9waH|w/cGhw|8P3BocH|PD89|PD8g",
        "Base64-encoded PHP opening tag",
        caseless=False,
    ),
    # --- Standard -----------------------------------------------------------------------------
    Rule(
        "PHP-S01",
        _K,
        "Standard",
        r"<\?(?:\s|\z)|<\?xml(?:\s*[^\s\-a-z?]|\s+[^\sv?]|\s+v[^e])",
        "Short PHP opening tag, or <?xml not followed by an XML declaration",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "PHP-S02",
        _K,
        "Standard",
        r"[\[{][/\\]?php[\]}]",
        "PHP code block markup ([php]...[/php], {php}...{/php})",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "PHP-S03",
        _K,
        "Standard",
        r"\b(?:zip|glob|rar|ogg|compress\.(?:zlib|bzip2)|ssh2\.(?:shell|exec|tunnel|sftp|scp))://"
        r"|\bdata:(?://)?text/(?:plain|x-php)",
        "PHP stream wrapper used for file inclusion (zip://, compress.zlib://, data:text/plain)",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "PHP-S04",
        _K,
        "Standard",
        rf"\$_{_SUPERGLOBALS}\b|\$globals\b|\$http_(?:get|post|cookie|server|env|session"
        r"|post_files)_vars\b|\$http_raw_post_data\b",
        "PHP superglobal ($_GET[...], $_SERVER, $GLOBALS, $HTTP_*_VARS)",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "PHP-S05",
        _K,
        "Standard",
        rf"{_DANGER}{_GAP}=?{_GAP}\(",
        "Call of a PHP function that runs code, decodes data or touches files (base64_decode(...))",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "PHP-S06",
        _K,
        "Standard",
        rf"(?:\A|[^a-z0-9_$>:\\-])@?{_WORDY}(?:{_ODD_GAP}\(|\s*\(\s*(?:\$|['\"]|\)\s*(?:;|\z)))"
        rf"|(?:\A|[^a-z0-9_$>:\\-])@?{_WORDY}\({_CODE_ARG}",
        "Call of a PHP function with a common-word name and code-like arguments (system($x))",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "PHP-S07",
        _K,
        "Standard",
        rf"@?{_VAR}{_ACCESS}(?:{_ODD_GAP})?\(\s*{_CALL_ARGS}\s*\)"
        rf"|@?{_VAR}{_ACCESS}\s+\(\s*(?:[0-9]+\s*\)|\$|['\"]|\))"
        r"|(?:->|::)\$[a-z_][a-z0-9_]*\s*\(",
        "Variable used as a function name ($f(...), $$x(), ${'a'}(), $obj->$m())",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "PHP-S08",
        _K,
        "Standard",
        rf"[(\[\"'{{]{_GAP}(?:\[{_GAP})?['\"]?{_EXEC}{_GAP}['\"]?"
        rf"(?:{_GAP}(?:[)\]}}]|\[{_GAP}[0-9]+{_GAP}\]|\{{[^}}\n]{{0,30}}\}}))*{_GAP}\("
        rf"|['\"]\\x[0-9a-f]{{2}}[a-z0-9\\]*['\"]{_GAP}\(",
        "Function name in quotes, brackets or parentheses called directly ((system)('id'))",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "PHP-S09",
        _K,
        "Standard",
        rf"['\"][a-z_]{{1,12}}['\"]{_GAP}\.{_GAP}['\"][a-z_]{{1,12}}['\"][^\n]{{0,80}}"
        rf"\({_GAP}['\"@$a-z]"
        rf"|\({_GAP}[a-z_]+{_GAP}\.{_GAP}\(?[a-z_]+\)?{_GAP}\.{_GAP}[a-z_]+{_GAP}\){_GAP}\("
        rf"|\({_GAP}\$[a-z_][a-z0-9_]*{_GAP}\){_GAP}(?:\[[^\]\n]{{0,10}}\]{_GAP})*\("
        rf"|\({_GAP}[a-z_][a-z0-9_]*{_GAP}\)(?:{_GAP}(?:{_COMMENT}|\[{_GAP}[0-9]+{_GAP}\]))+{_GAP}\(",
        "Function name assembled from strings or constants, then called ('sys'.'tem')('id')",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "PHP-S10",
        _K,
        "Standard",
        r"\b[oc]:\+?[0-9]+:\"[a-z0-9_\\]+\":[0-9]+:\{",
        'Serialized PHP object (O:8:"stdClass":...) for an unserialize() gadget chain',
        variants=DECODED_MARKUP,
    ),
    Rule(
        "PHP-S11",
        _K,
        "Standard",
        rf"(?:\A|[\n;]|=[\"'])\s*{_INI}\s*=\s*(?:on|off|true|false|yes|no|none|[0-9]+[kmg]?\b"
        r"|[\"'/.\\]|[a-z]:\\|[a-z0-9.]+://|\z|[;\n])",
        "php.ini directive set in a value (allow_url_include=On, auto_prepend_file=...)",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "PHP-S12",
        _K,
        "Standard",
        r"\$\s*\{\s*(?:'[^'\n]{0,40}'|\"[^\"\n]{0,40}\"|@?\$+[a-z_][a-z0-9_]*|@[a-z_][a-z0-9_]*"
        r"|\([^()\n]{0,40}\))[^{}\n]{0,40}\}|\$\s+\{\s*[a-z_][a-z0-9_]*\s*\}"
        r"|\A\s*\$\{[a-z_][a-z0-9_]*\}\s*\z|\{\s*\$\{\s*@?[a-z_][a-z0-9_]*\s*\(",
        "PHP variable variable or complex interpolation (${'name'}, $ {$a}, {${phpinfo()}})",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "PHP-S13",
        _K,
        "Standard",
        r"\b(?:array|str|mb|preg|date|pg|ldap|odbc|sodium|tidy|zend|mysqli?|mysqlnd|curl|posix"
        r"|pcntl|gz|bz|zlib|stream|socket|ftp|ssh2|openssl|libxml|simplexml|imap|exif|finfo|gmp"
        r"|readline|shmop|sem|msg|snmp|xmlrpc|apcu?|opcache|iterator|spl|gethostby|iptc|ctype"
        r"|sqlite|oci|dba|msgpack|igbinary|lzf|rar|ob|ini|proc|highlight|mb_ereg|iconv|intl"
        r"|grapheme|idn|bcmath|bc|cal|jd|easter|xmlwriter|xmlreader|xsl|enchant|pspell)"
        r"_[a-z0-9_]{2,40}"
        rf"{_GAP}\({_GAP}(?:\)|\$|['\"]|[a-z_]{{2,}}{_GAP}[(),]|\z)",
        "Call of a function from a PHP extension (array_diff(), pg_connect(), ldap_search())",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "PHP-S14",
        _K,
        "Standard",
        r"\b(?:include|require)(?:_once)?\s*\(?\s*['\"]\s*(?:https?|ftps?|php|data|expect|zip|phar"
        r"|compress\.[a-z0-9]+|glob)://",
        "include / require of a remote file or a stream wrapper",
        variants=DECODED_MARKUP,
    ),
    # --- Strict -------------------------------------------------------------------------------
    Rule(
        "PHP-X01",
        _K,
        "Strict",
        r"\ba:[0-9]+:\{(?:[is]:[0-9]+[:;]|\})",
        "Serialized PHP array (a:2:{i:0;...})",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "PHP-X02",
        _K,
        "Strict",
        rf"\b[a-z_][a-z0-9_]{{1,40}}(?: *(?:{_COMMENT}|[\t\r\n\x0b\f]))+{_GAP}\(",
        "Any name followed by comments or line breaks before a parenthesis (evasive call)",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "PHP-X03",
        _K,
        "Strict",
        r"\$\{[a-z_][a-z0-9_]*\}|\$_\s*(?:s\s*e\s*r\s*v\s*e\s*r|g\s*e\s*t|p\s*o\s*s\s*t"
        r"|r\s*e\s*q\s*u\s*e\s*s\s*t|c\s*o\s*o\s*k\s*i\s*e|f\s*i\s*l\s*e\s*s|e\s*n\s*v)\b",
        "Braced variable ${name}, or a superglobal broken up with blanks",
        variants=DECODED_MARKUP,
    ),
    Rule(
        "PHP-X04",
        _K,
        "Strict",
        r"\b(?:checkdate|chroot|symlink|serialize|touch|range|crypt|pi|link|readlink|realpath"
        r"|basename|dirname|pathinfo|fnmatch|flock|fseek|ftell|rewind|ftruncate|umask|clearstatcache"
        r"|microtime|usleep|sleep|time|mktime|strtotime)(?:\(|\s+\(\s*(?:\$|['\"]|\)))",
        "Call of a PHP file-system or utility function",
        variants=DECODED_MARKUP,
    ),
]

# --- uploads and session files -----------------------------------------------------------------
# A file the server will run as PHP: a PHP extension (trailing dots and blanks are dropped by
# some file systems), or the files that switch PHP execution on for a directory.
_PHP_UPLOAD_RE = re.compile(
    r"\.\s*(?:php[0-9s]?|php[0-9]+|phtml|pht|phpt|phar|pgif|inc)[\s.]*\Z"
    r"|(?:\A|[/\\])(?:\.htaccess|\.user\.ini|php\.ini|wp-config\b[^/\\]*)\Z",
    re.IGNORECASE,
)
# The same extension hidden in front of an image extension (shell.php.jpg).
_PHP_DOUBLE_EXT_RE = re.compile(
    r"\.\s*(?:php[0-9s]?|php[0-9]+|phtml|pht|phpt|phar)\s*\.[^/\\]*\Z", re.IGNORECASE
)
# PHP session files: writing one plants a serialized session.
_SESSION_FILE_RE = re.compile(r"(?:\A|[/\\])sess_[a-z0-9,-]{20,}\Z", re.IGNORECASE)
_UPLOAD_HEADERS = frozenset({"xfilename", "xfile", "xuploadfilename", "filename", "xfilepath"})


@functools.lru_cache(maxsize=1024)
def _upload_header(name: str) -> bool:
    # Cached: every header of every request is asked, by several checks, and names repeat.
    return re.sub(r"[-_.]", "", name.lower()) in _UPLOAD_HEADERS


def _upload_names(
    kind: int, pattern: re.Pattern[str]
) -> Callable[[Request, ParsedRequest], Iterator[Finding]]:
    """File names of uploads (multipart file names, upload headers) matching `pattern`."""

    def run(request: Request, parsed: ParsedRequest) -> Iterator[Finding]:
        for fld in parsed.values_of(kind):
            if kind == PARAM and fld.source != "FileName":
                continue
            if kind == HEADER and not _upload_header(fld.name):
                continue
            if pattern.search(fld.value.strip()):
                yield fld, fld.value

    return run


CHECKS = [
    Check("PHP-S20", _K, "Standard", PARAM, "Upload of a PHP script or PHP configuration file",
          _upload_names(PARAM, _PHP_UPLOAD_RE)),
    Check("PHP-S21", _K, "Standard", HEADER, "PHP script named in an upload header",
          _upload_names(HEADER, _PHP_UPLOAD_RE)),
    Check("PHP-S22", _K, "Standard", PARAM, "Upload of a PHP session file (sess_...)",
          _upload_names(PARAM, _SESSION_FILE_RE)),
    Check("PHP-S23", _K, "Standard", HEADER, "PHP session file named in an upload header",
          _upload_names(HEADER, _SESSION_FILE_RE)),
    Check("PHP-X10", _K, "Strict", PARAM, "Upload with a PHP extension before another extension",
          _upload_names(PARAM, _PHP_DOUBLE_EXT_RE)),
    Check("PHP-X11", _K, "Strict", HEADER, "Upload header naming a double-extension PHP file",
          _upload_names(HEADER, _PHP_DOUBLE_EXT_RE)),
]  # fmt: skip
