"""SQL injection deny rules (rule key SQL).

The patterns look for what an injected fragment needs in order to change a query: breaking out
of a string literal and continuing in SQL, joining a second result set, stacking a second
statement, calling functions that only make sense inside a database (delays, error oracles,
file access, catalog lookups), and the comment and whitespace tricks used to disguise these.
Single SQL words are never enough on their own: "select", "union", "drop", "order by" and
apostrophes are everyday language, so every pattern also asks for SQL syntax around them.

Rules match the decoded value and its markup-decoded form (`&quot;`, `\\x27`), since both are
what an application may end up pasting into a query.
"""

from airlock_filters.rules._rule import DECODED_MARKUP, rule_maker

_K = "SQL"


_rule = rule_maker(_K, variants=DECODED_MARKUP)

# --- Fragments ------------------------------------------------------------------------------
# Vertical tab is whitespace to MySQL but not to RE2's \s, so it is spelled out. `+` counts too:
# in paths and in bodies parsed as text it stands for the space it encodes in a query string.
_WS = r"[\s\x0b+]"
# Real whitespace only, where `+` would make base64 tokens ("..+OR+..==") look like SQL.
_SP = r"[\s\x0b]"
# What a parser skips between two tokens: whitespace and inline comments.
_SEP = rf"(?:{_WS}|/\*[^*]*\*/)"
_GAP = rf"{_SEP}*"
_GAP1 = rf"{_SEP}+"
# The same, where an opening parenthesis may stand in for the space: `union(select`.
_PGAP = rf"(?:{_SEP}|\()*"
_PGAP1 = rf"(?:{_SEP}|\()+"
# Between the keywords of UNION SELECT and SELECT ... FROM, filter evasion also uses MySQL
# versioned comments (their body is executed), dangling comment ends and line comments (up to
# a newline). Kept out of the other rules: each alternative multiplies pattern size.
_XSEP = rf"(?:{_WS}|/\*[^*]*\*/|/\*![0-9]*|\*/|(?:--|#)[^\n]*\n)"
_XGAP = rf"{_XSEP}*"
_XGAP1 = rf"{_XSEP}+"
_XPGAP1 = rf"(?:{_XSEP}|\()+"
# Start of a function name or keyword: not inside a word, not after a method-call dot, and not
# after a UTF-8 letter (\b would take "elt" in German "Haßfelt (1599)" for ELT()).
_FSTART = r"(?:\A|[^\w.$\x80-\xff])"
# Start of UNION, which digits may touch: `1union select`.
_USTART = r"(?:\A|[^a-z_\x80-\xff])"
# End of a keyword. Unlike \b it does not stop before a UTF-8 letter, so French "d'Or" + "é"
# is not read as the keyword OR.
_KEND = r"(?:[^\w\x80-\xff]|\z)"
# String delimiters, with the typographic quotes that some collations fold to an apostrophe
# (multi-byte, so alternatives rather than class members).
_Q = "(?:['\"`]|\u2019|\u2018|\u00b4)"
# The same without the double quote, which people also use to search for a phrase.
_SQ = "(?:['`]|\u2019|\u2018|\u00b4)"
# A quote that can close a literal: right after a word, a bracket or a backslash, or at the
# start. A quote after a space opens a quotation in prose ("the 'or' operator").
_CLOSE = rf"(?:[\w)\]]|\A{_GAP}|\\){_Q}"
# Only the quote glued to a word: at the start of a value a quote may just open a quotation.
_WCLOSE = rf"(?:[\w)\]]|\\){_Q}"
# A small SQL operand: a quoted literal, a number, an identifier or @@variable.
_OPERAND = (
    rf"(?:{_Q}[^'\"`]{{0,40}}{_Q}?|[-+]?[0-9][0-9.e]{{0,20}}|@{{0,2}}[a-z_][\w.$]{{0,40}}"
    rf"(?:{_GAP}\([^()]{{0,40}}\))?)"
)
# Comparisons of a boolean condition. The English ones (like, in, is, between) need an SQL
# right-hand side, so "d'Or winners like Messi" stays text.
_CMP = (
    rf"(?:[<>!]?={_GAP}(?:[^=]|\z)|<>|<=>|[<>]{_GAP}(?:[-\w'\"(@]|\z)"
    rf"|\b(?:rlike|regexp|glob|notnull|isnull|collate)\b|\bsounds{_GAP1}like\b"
    rf"|\bsimilar{_GAP1}to\b|\bi?like{_GAP1}(?:{_Q}|[0-9@]|\w+{_GAP}(?:--|#|;|escape\b))"
    rf"|\bis{_GAP1}(?:not{_GAP1})?(?:null|true|false|[0-9]+){_KEND}|\bbetween{_GAP1}(?:{_Q}|[0-9])"
    rf"|\b(?:not{_GAP1})?in{_GAP}\({_GAP}(?:{_Q}|[0-9]|select\b)"
    rf"|\bnot{_GAP1}(?:r?like|regexp|glob|between|similar|in)\b)"
)
# Boolean connectors.
_BOOL = r"(?:\b(?:or|and|xor|not|div|mod)\b|\|\||&&)"
# Statements that may follow a semicolon to form a second, stacked query.
_STACKED = (
    rf"(?:(?:drop|truncate|alter|create|rename){_GAP1}(?:table|database|schema|view|index"
    rf"|procedure|function|trigger|user|login|column|temporary)\b"
    rf"|insert{_GAP1}(?:into\b|[a-z_]\w*{_GAP}\()|replace{_GAP1}into\b|delete{_GAP1}from\b"
    rf"|update{_GAP1}[\w`\"\[\].]+{_GAP1}set\b"
    rf"|(?:exec|execute){_PGAP1}(?:master\b|xp_|sp_|@|immediate\b)"
    rf"|declare{_GAP1}@|set{_GAP1}@|shutdown\b|waitfor{_GAP1}(?:delay|time)\b"
    rf"|select{_PGAP1}(?:[@*0-9]|null\b|[\w`]+{_PGAP1}from\b|(?:sleep|pg_sleep|benchmark"
    rf"|load_file|user|version|database|current_user|char|concat)\b))"
)
# Functions that exist only in database engines (no everyday or general-purpose meaning).
_DB_FUNCS = (
    r"(?:benchmark|pg_sleep|extractvalue|updatexml|xmltype|load_file|group_concat|concat_ws"
    r"|make_set|name_const|unhex|ifnull|nullif|coalesce|sysdate|current_user|session_user"
    r"|system_user|schema_name|db_name|user_name|suser_s?name|is_srvrolemember|has_dbaccess"
    r"|find_in_set|strcmp|json_\w+|jsonb_\w+|starts_with|lo_\w+|unistr|string_agg|array_agg"
    r"|to_char|char_length|octet_length|bit_length|last_insert_id|found_rows|connection_id"
    r"|uncompress|aes_decrypt|aes_encrypt|des_decrypt|des_encrypt|substring_index|substr"
    r"|substring|sqlite_\w+|randomblob|zeroblob|current_setting|pg_\w+|utl_\w+|dbms_\w+"
    r"|soundex|lpad|rpad|iif|elt|isnull|datalength|db_id|object_id|col_name|has_perms_by_name"
    r"|is_member|row_count|sys_context|xmlelement|xmlagg|inet_server_addr)"
)
# Function names that are also words or common in programming languages; only matched where
# the value as a whole reads as an SQL expression.
_WORD_FUNCS = (
    r"(?:mid|ord|char|chr|nchar|hex|md5|sha1|sha2|crc32|user|database|version|schema|concat"
    r"|reverse|quote|ascii|locate|instr|overlay|compress|decode|encode|trim|rtrim|ltrim|rand"
    r"|floor|ceil|ceiling|count|length|len|cast|convert|replace|lower|upper|lcase|ucase|left"
    r"|right|abs|round|format|date|time|now|curdate|curtime|day|month|year|hour|minute"
    r"|quarter|week|max|min|avg|sum|pow|power|sqrt|exp|log|ln|pi|sin|cos|tan|sign|div|mod"
    r"|default|local|password|values|if|in|exists|position|field|repeat|space|uuid|newid"
    r"|getdate|datediff|dateadd|unicode|bin|oct|conv|sleep|execute|exec|insert|isnull|nvl"
    r"|greatest|least|strftime|julianday|typeof|glob|likelihood|likely|unlikely|printf)"
)
# Functions whose nesting inside another call is typical of extraction payloads.
_EXTRACT_FUNCS = (
    r"(?:ascii|ord|char|chr|substr|substring|mid|hex|unhex|user|database|version|concat"
    r"|concat_ws|group_concat|length|count|sleep|benchmark|if)"
)
# What follows the parenthesis of an injected call: SQL arguments, or nothing at all.
_ARGS = rf"(?:\z|select\b|{_Q}|[0-9@)*]|null\b|0x|[\w.$]+{_GAP}(?:,|\)|\(|::))"
# Stricter arguments where the function name may be a word: "Power (W)" is not a call.
_SQL_ARGS = (
    rf"(?:select\b|{_Q}|@|0x|null\b|[-0-9.]+{_GAP}(?:,|[-+*/%^])|[\w.$]+{_GAP}(?:,|\()"
    rf"|\){_GAP}(?:=|::|,|\)))"
)

RULES = [
    # --- Basic: constructs that have no place outside an injection -------------------------
    _rule(
        "SQL-B01",
        "Basic",
        rf"{_USTART}union{_XPGAP1}(?:(?:all|distinct|distinctrow){_XPGAP1})?select"
        rf"(?:{_PGAP1}|[@*'\"`])(?:[0-9@*'\"`(-]|null\b|[\w`.]+{_GAP}(?:,|\(|{_GAP1}from\b))",
        "UNION-based injection: UNION [ALL] SELECT followed by a column list",
    ),
    _rule(
        "SQL-B02",
        "Basic",
        rf"\b(?:pg_sleep{_GAP}\(|waitfor{_GAP1}(?:delay|time){_GAP}(?:{_Q}|[0-9@])"
        rf"|benchmark{_GAP}\({_GAP}[0-9]|dbms_lock{_GAP}\.{_GAP}sleep"
        rf"|dbms_pipe{_GAP}\.{_GAP}receive_message)",
        "Time-based blind injection: database delay functions",
    ),
    _rule(
        "SQL-B03",
        "Basic",
        rf"\b(?:extractvalue|updatexml|xmltype|name_const|geometrycollection|multipoint"
        rf"|polygon|linestring|multilinestring|multipolygon){_GAP}\({_GAP}(?:{_Q}|[0-9(@]|"
        rf"select\b|concat|\w+{_GAP}\()|\bexp{_GAP}\({_GAP}~",
        "Error-based injection: XML and geometry functions used as error oracles",
    ),
    _rule(
        "SQL-B04",
        "Basic",
        r"\b(?:information_schema|sysobjects|syscolumns|sysdatabases|sysusers|sysprocesses"
        r"|syslogins|sysxlogins|sqlite_master|sqlite_temp_master|sqlite_schema|msysobjects"
        r"|msysaccessobjects|msysqueries|msysrelationships|msysaces|pg_catalog|pg_shadow"
        r"|pg_authid|pg_namespace|pg_stat_activity|all_tab_columns|user_tab_columns"
        r"|mysql\.(?:user|db|proc|tables_priv|columns_priv)"
        r"|sys\.(?:objects|tables|columns|databases|sql_logins|server_principals|syslogins"
        r"|sysobjects|all_columns|schemas|user_summary)|master\.\.\w"
        r"|master\.dbo\.|v\$(?:version|instance|database))\b",
        "Database catalog and system tables queried to map or dump the schema",
    ),
    _rule(
        "SQL-B05",
        "Basic",
        r"\b(?:xp_(?:cmdshell|dirtree|fileexist|regread|regwrite|regdeletekey|regdeletevalue"
        r"|regenumvalues|regenumkeys|servicecontrol|subdirs|availablemedia|enumdsn|loginconfig"
        r"|makecab|ntsec_enumdomains|terminate_process|enumgroups|getnetname|msver|sendmail"
        r"|readmail|startmail)|sp_(?:executesql|oacreate|oamethod|oagetproperty"
        r"|oasetproperty|makewebtask|addextendedproc|dropextendedproc|configure|addsrvrolemember"
        r"|addlogin|adduser|password|execute_external_script|send_dbmail|linkedservers"
        r"|addlinkedserver|replwritetovarbin|start_job)|openrowset"
        r"|opendatasource|openquery|utl_(?:http|inaddr|file|smtp|tcp|mail|dbws)"
        r"|dbms_[a-z_]{2,30}|msdasql|sqloledb)\b",
        "Database procedures that run commands, reach the network or read the registry",
    ),
    _rule(
        "SQL-B06",
        "Basic",
        rf"\b(?:load_file{_GAP}\(|into{_GAP1}(?:out|dump)file\b|lo_(?:import|export|get|put"
        rf"|from_bytea|unlink){_GAP}\(|pg_(?:read_file|read_binary_file|ls_dir|stat_file)"
        rf"{_GAP}\(|copy{_GAP1}[\w\".]+{_GAP}(?:\([^)]*\){_GAP})?(?:from|to){_GAP1}program"
        rf"{_GAP}{_Q})",
        "Database file access: LOAD_FILE, INTO OUTFILE, large objects, COPY ... PROGRAM",
    ),
    _rule(
        "SQL-B07",
        "Basic",
        r"/\*![0-9]{4,6}[\s\x0b]*[a-z(@*0-9]|/\*![\s\x0b]*(?:select|union|and|or|from"
        r"|where|having|order|group|concat|sleep|xor|not|[0-9]+[\s\x0b]*[,=<>])\b",
        "MySQL versioned comment hiding SQL keywords from filters",
    ),
    _rule(
        "SQL-B08",
        "Basic",
        rf";{_XGAP}{_STACKED}",
        "Stacked query: a second statement after a semicolon",
    ),
    _rule(
        "SQL-B09",
        "Basic",
        rf"{_Q}{_GAP}\)*{_GAP}(?:or|xor|\|\|){_PGAP}(?:{_Q}[\w ]{{0,20}}{_Q}|[0-9]+)"
        rf"{_GAP}(?:[<>!]?=|<>|<=>|[<>]|\blike\b){_GAP}(?:{_Q}|[0-9(])",
        "Tautology after a broken string literal: ' OR '1'='1",
    ),
    # --- Standard: injections with some SQL structure around the keywords ------------------
    _rule(
        "SQL-S01",
        "Standard",
        rf"{_USTART}union{_XPGAP1}(?:(?:all|distinct|distinctrow){_XPGAP1})?select\b"
        rf"|(?:[0-9)]|{_Q}){_XGAP}union{_XPGAP1}(?:all|distinct)\b",
        "UNION-based injection: UNION [ALL] SELECT",
    ),
    _rule(
        "SQL-S02",
        "Standard",
        rf"{_CLOSE}{_GAP}[)\]]*{_GAP}(?:;{_GAP})?(?:{_BOOL}|[&|^+*/%-])?{_PGAP}(?:"
        rf"union{_PGAP1}(?:all|select|distinct)\b|select{_PGAP1}(?:[*@0-9'\"`(]|null\b"
        rf"|[\w`.]+{_GAP}(?:,|\(|{_GAP1}from\b))|insert{_GAP1}into\b|delete{_GAP1}from\b"
        rf"|update{_GAP1}[\w`.]+{_GAP1}set\b|(?:drop|alter|create|truncate){_GAP1}(?:table"
        rf"|database|schema|user|view|function|procedure)\b|exec(?:ute)?{_PGAP1}(?:@|master"
        rf"|xp_|sp_|immediate)|declare{_GAP1}@|waitfor{_GAP1}(?:delay|time)\b)"
        rf"|{_CLOSE}{_GAP};{_GAP}select\b",
        "String literal broken out of and continued with an SQL statement",
    ),
    _rule(
        "SQL-S03",
        "Standard",
        rf"{_CLOSE}{_GAP}[)\]]*{_GAP}(?:{_BOOL}{_PGAP})?(?:having{_PGAP1}(?:[0-9]+{_GAP}"
        rf"(?:[<>=!]|--|#)|count{_GAP}\(|\()|(?:group|order){_GAP1}by{_PGAP1}(?:[0-9]|if\b|\("
        rf"|[\w`.]+{_GAP}(?:--|#|;))|procedure{_GAP1}analyse|collate{_GAP1}[\w`'\"\\]"
        rf"|(?:r|i)?like{_GAP1}(?:{_Q}|[\w.]+{_GAP}(?:--|#|;|escape\b))|regexp\b|rlike\b"
        rf"|glob\b|sounds{_GAP1}like|notnull\b|isnull\b|is{_GAP1}(?:not{_GAP1})?"
        rf"(?:null|true|false)\b|between{_GAP1}\S{{1,40}}{_GAP1}and\b|escape{_GAP1}{_Q}"
        rf"|limit{_GAP1}[0-9])",
        "String literal broken out of and continued with an SQL clause or operator",
    ),
    _rule(
        "SQL-S04",
        "Standard",
        rf"{_CLOSE}{_GAP}[)\]]*{_GAP}(?:{_BOOL}|[&|^+*/%-]){_PGAP}(?:(?:sleep|benchmark|if"
        rf"|iif|char|chr|ascii|ord|substr|substring|mid|length|concat|likely|unlikely|likelihood"
        rf"|glob|json\w*|printf|instr|typeof|hex|quote|unicode|zeroblob){_GAP}\(|case{_GAP1}"
        rf"when\b|(?:true|false){_GAP}(?:;|--|#|\z)|\w+\({_GAP}[\w@.'\"]*{_GAP}[,)])"
        rf"|{_CLOSE}[)\]]*(?:sleep|benchmark|if|iif|char|chr|ascii|substr|substring|concat)\(",
        "String literal broken out of and continued with an SQL function call",
    ),
    _rule(
        "SQL-S05",
        "Standard",
        rf"{_Q}{_GAP}[)\]]*{_GAP}{_BOOL}{_PGAP}!?{_GAP}{_OPERAND}{_GAP}{_CMP}"
        rf"|(?:[0-9]|\b(?:null|true|false)){_GAP}[)\]]*{_GAP}{_BOOL}{_PGAP}!?{_GAP}"
        rf"(?:{_Q}[^'\"`]*{_Q}?|[-+]?[0-9][0-9.e]*|@@?[\w.$]+|\w+{_GAP}\([^()]*\)){_GAP}{_CMP}",
        "Boolean condition after a literal: ' OR x=y, 1 AND ascii(...)>64",
    ),
    _rule(
        "SQL-S06",
        "Standard",
        rf"{_CLOSE}{_GAP}[);\]]*{_GAP}(?:{_BOOL}{_GAP})?(?:--[\s\x0b-]*\z|#(?:[^\w]|\z)|/\*"
        rf"|;{_GAP}\z)|{_WCLOSE}[);\]]*(?:--|#)"
        rf"|{_CLOSE}{_GAP}(?:[|^&<>=/%+*-]|is{_GAP1}not|not{_GAP1}(?:r?like|glob|regexp)|mod\b"
        rf"|div\b|sounds{_GAP1}like){_GAP}[-\w.?]*{_GAP}(?:--|#)"
        rf"|{_CLOSE}{_SP}*{_BOOL}[^'\"`\n]{{0,60}}?(?:--|#)[\s-]*\z",
        "String literal closed and the rest of the query commented out",
    ),
    _rule(
        "SQL-S07",
        "Standard",
        rf"{_FSTART}{_DB_FUNCS}{_GAP}\({_GAP}{_ARGS}",
        "Call of a function that only exists in databases",
    ),
    _rule(
        "SQL-S08",
        "Standard",
        rf"\A{_GAP}[(]*{_GAP}(?:{_WORD_FUNCS}(?:/\*[^*]*\*+/)*|{_DB_FUNCS}{_GAP})\({_GAP}"
        rf"{_SQL_ARGS}",
        "SQL function call making up the whole value",
    ),
    _rule(
        "SQL-S09",
        "Standard",
        rf"{_FSTART}(?:{_WORD_FUNCS}|{_DB_FUNCS})[^\w(]{{0,6}}{_GAP}\({_GAP}\z",
        "SQL function name and a dangling parenthesis ending the value",
    ),
    _rule(
        "SQL-S10",
        "Standard",
        rf"{_FSTART}{_WORD_FUNCS}(?:/\*[^*]*\*+/)*\({_GAP}(?:select\b|@@|0x"
        rf"|{_EXTRACT_FUNCS}{_GAP}\()",
        "SQL function calls nested the way extraction payloads nest them",
    ),
    _rule(
        "SQL-S11",
        "Standard",
        rf"\b(?:sleep|benchmark){_GAP}\({_GAP}(?:[-+]?[0-9.]+{_GAP}(?:[-+*/%^),]|div\b|mod\b"
        rf"|\.to_i)|{_Q}|\(|[a-z_]+{_GAP}\(|@)|\bselect{_PGAP1}(?:sleep|benchmark|pg_sleep)\b",
        "Time-based blind injection: SLEEP / BENCHMARK calls",
    ),
    _rule(
        "SQL-S12",
        "Standard",
        rf"(?:[,(=]|\b(?:select|values|and|or|like|regexp|concat|where|set|then|else|in|by"
        rf"|having|when)\b){_GAP}0x[0-9a-f]{{2,}}\b|(?:\A|[\s=(,]){_GAP}[xb]'[0-9a-f]{{8,}}'"
        rf"|\b(?:n?char|chr){_GAP}\({_GAP}[0-9]{{1,3}}{_GAP}\){_GAP}(?:\+|\|\||,|\)|&)"
        rf"|(?:\+|\|\||,|\()(?:{_GAP})(?:n?char|chr){_GAP}\({_GAP}[0-9]{{1,3}}{_GAP}[,)]",
        "Hex literals and CHAR() chains that build strings without quotes",
    ),
    _rule(
        "SQL-S13",
        "Standard",
        rf"\bselect{_XPGAP1}(?:\*|[\w`.@]+{_XGAP}\([^()]{{0,40}}\)|@@[\w.]+|(?:[\w`.@'\"]+{_XGAP}"
        rf",{_XGAP})+[\w`.@'\"()]+){_XPGAP1}from\b"
        rf"|\bselect{_XPGAP1}[\w`.]+{_XPGAP1}from{_XPGAP1}[\w`.\"\[\]]+{_XGAP}(?:where{_XGAP1}"
        rf"[\w`.]+{_GAP}(?:[<>!]?=|<>|[<>]|like{_GAP1}{_Q}|in{_GAP}\(|is{_GAP1}(?:not{_GAP1})?"
        rf"null)|limit{_GAP1}[0-9]|;|--|#|\))"
        rf"|\({_GAP}select{_PGAP1}(?:[*@0-9(]|null\b|[\w`.]+{_GAP}(?:,|\(|{_GAP1}from\b))"
        rf"|\({_GAP}select{_GAP}\z|\b(?:in|all|any|some|exists|except|intersect){_GAP}\({_GAP}"
        rf"select\b|\bexcept{_GAP}(?:select{_GAP}[.(0-9*@]|values\()"
        rf"|\bselect{_PGAP1}(?:if|iif|case){_GAP}\(|\bselect{_GAP}\({_GAP}case\b",
        "SELECT ... FROM statement or sub-select",
    ),
    _rule(
        "SQL-S14",
        "Standard",
        rf"\b(?:tempdb|msdb|pg_sleep|pg_read_file|sqlite_version|@@(?:version|datadir"
        rf"|hostname|basedir|servername|identity|tmpdir|global)|current_database{_GAP}\()"
        rf"|\bfrom{_XGAP1}(?:all_\w+|dba_\w+|user_\w+|pg_\w+|sys\.\w+|v\$\w+|dual\b)",
        "Database identity probing: @@version, system databases and dictionary views",
    ),
    _rule(
        "SQL-S15",
        "Standard",
        rf"{_BOOL}{_PGAP1}[0-9]+(?:{_PGAP}(?:[<>!]?=|<>|<=>|[<>]){_PGAP}[0-9]|{_GAP1}like"
        rf"{_GAP1}[0-9]|(?:--|#))"
        rf"|(?:\A|[\s,(\"'])[0-9]{{1,10}}(?:!?=|<>|<=>|{_GAP1}(?:like|is{_GAP1}not|<=>){_GAP1})"
        rf"[0-9]{{1,10}}(?:\z|[\s,);\"'])|\blike{_GAP1}null\b"
        rf"|[0-9]{_GAP1}(?:or|and){_GAP}(?:true|false)\b",
        "Numeric tautology or contradiction: OR 1=1, AND 526=527, 42<=>42",
    ),
    _rule(
        "SQL-S16",
        "Standard",
        rf"\bdeclare{_GAP1}@\w|(?:\A|[;)]){_GAP}exec(?:ute)?{_PGAP1}(?:master\.|xp_|sp_|@)"
        rf"|\bexecute{_GAP1}immediate\b|\bset{_GAP1}@@?[\w.]+{_GAP}(?::?=|\z|,)"
        rf"|\bshutdown{_GAP}(?:with{_GAP1}nowait|;|--|#|\z)",
        "Procedural SQL: DECLARE @var, EXEC @var, EXECUTE IMMEDIATE, SET @var",
    ),
    _rule(
        "SQL-S17",
        "Standard",
        rf"[\w)'\"`]{_GAP}::{_GAP}(?:int|integer|bigint|smallint|text|bool|boolean|numeric"
        rf"|jsonb?|varchar|char|date|double{_GAP1}precision|real|regclass|oid|bytea|xml)\b",
        "PostgreSQL cast used in error-based injection: value::int",
    ),
    _rule(
        "SQL-S18",
        "Standard",
        rf"{_Q}{_GAP}(?:<@|@>|\?\||\?&|#>>?|#-|->>?|@\?|@@){_GAP}(?:{_Q}|array\b|[0-9])"
        rf"|[}}\]]{_Q}{_GAP}(?:[<>?-]|\|\|){_GAP}(?:{_Q}|[0-9])"
        rf"|\b(?:or|and){_GAP1}{_Q}[{{\[]",
        "PostgreSQL JSON operators between literals",
    ),
    _rule(
        "SQL-S19",
        "Standard",
        rf"\bcase{_GAP1}when{_GAP1}[^.!?]+{_GAP1}then{_GAP1}(?:[0-9'\"(@]|null\b"
        rf"|\w*[0-9]\w*{_GAP}(?:\z|else\b|end\b)|\w+{_GAP1}(?:else|end)\b)"
        rf"|\){_GAP}when{_GAP1}[0-9]+{_GAP1}then\b"
        rf"|\b(?:if|iif){_GAP}\({_GAP}(?:[\w.@'\"]+{_GAP}(?:=(?:[^=]|\z)|!=|<>)"
        rf"|(?:select|ascii|substr|substring|length|mid|ord|now)\b|[0-9]+{_GAP}[,=])"
        rf"|\bhaving{_PGAP1}(?:[0-9]+|(?:count|sum|min|max|avg){_GAP}\([^)]{{0,40}}\)){_GAP}"
        rf"(?:[<>!]?=|<>|[<>])|\){_GAP}(?:r?like|regexp|sounds{_GAP1}like){_GAP}\(",
        "Conditional expressions used for boolean-blind extraction: IF(), CASE WHEN, HAVING",
    ),
    _rule(
        "SQL-S20",
        "Standard",
        rf"(?:\b|[0-9])(?:group|order){_GAP1}by{_GAP1}(?:[0-9]+{_GAP}(?:--|#|;|,{_GAP}[0-9]"
        rf"|{_Q}|\))|if{_GAP}\(|\({_GAP}select|[\w`.]+{_GAP}(?:having\b|limit{_GAP1}[0-9]"
        rf"|procedure\b|into\b|(?:asc|desc){_GAP1}limit\b|--|#))"
        rf"|[0-9]{_GAP1}order{_GAP1}by{_GAP1}[0-9]+{_GAP}(?:\z|--|#|,)",
        "ORDER BY / GROUP BY column probing and injection",
    ),
    _rule(
        "SQL-S21",
        "Standard",
        rf"(?:(?:\)|{_Q}|[!;]){_GAP}as{_GAP}(?:{_Q}?[\w$]+{_Q}?|{_Q}|not)"
        rf"|[0-9]{_GAP}as{_GAP}{_Q}[\w$]*{_Q}?){_GAP1}from{_GAP}(?:\z|\(|[\w`.\"]+{_GAP}"
        rf"(?:where\b|limit\b|join\b|group\b|order\b|union\b|;|--|#|\)|,))"
        rf"|(?:[)0-9]|{_Q}){_GAP}as{_GAP}{_Q}[\w$]+{_Q}{_GAP1}from\b",
        "Column alias followed by FROM: ) AS x FROM",
    ),
    _rule(
        "SQL-S22",
        "Standard",
        rf"\b(?:insert{_GAP1}into{_GAP1}[\w`\".\[\]]+{_GAP}(?:\([^)]*\){_GAP})?"
        rf"(?:values|select)\b|delete{_GAP1}from{_GAP1}[\w`\".\[\]]+{_GAP}(?:where\b|;|--|\z)"
        rf"|drop{_GAP1}(?:table|database|schema){_GAP1}|truncate{_GAP1}table\b"
        rf"|alter{_GAP1}table{_GAP1}[\w`\".]+{_GAP1}(?:add|drop|change|modify|alter|rename)\b"
        rf"|create{_GAP1}(?:table|database|function|procedure|trigger|user){_GAP1}[\w`\".]+"
        rf"{_GAP}(?:\(|as\b|returns\b|identified\b|;|\z)|procedure{_GAP1}analyse\b"
        rf"|update{_GAP1}[\w`\".]+{_GAP1}set{_GAP1}[\w`\".]+{_GAP}={_GAP}(?:{_Q}|[0-9]|null)"
        rf"|\bvalues{_GAP}\({_GAP}{_Q}[^'\"`]{{0,60}}{_Q}{_GAP},"
        rf"|(?:drop|delete|alter)\b[^;]{{0,40}};{_GAP}(?:--|#))",
        "Complete data-changing SQL statement",
    ),
    _rule(
        "SQL-S23",
        "Standard",
        rf"\bfrom{_GAP1}(?:[\w.]+|`[^`]+`(?:\.`[^`]+`)?){_GAP1}(?:where{_GAP1}"
        rf"[\w`.\"]+{_GAP}(?:[<>!]?=|<>|like{_GAP1}{_Q}|in{_GAP}\(|is{_GAP1}(?:not{_GAP1})?null)"
        rf"|limit{_GAP1}[0-9]|(?:order|group){_GAP1}by{_GAP1}[\w`.]+{_GAP}(?:asc\b|desc\b"
        rf"|limit\b|;|--|#|&))"
        rf"|\bfrom{_GAP1}`[^`]+`(?:\.`[^`]+`)?{_GAP1}(?:where|limit|order|group)\b",
        "FROM clause with WHERE / LIMIT / ORDER BY: the tail of an injected query",
    ),
    _rule(
        "SQL-S24",
        "Standard",
        rf"{_Q}[^'\"`\s]{{0,20}}{_Q}{_GAP}(?:=|<>|!=|<=>){_GAP}{_Q}"
        rf"|(?:\A|[^'\"`]){_Q}{{3}}(?:{_Q}{_Q})*(?:or|and|xor)(?:{_SEP}|{_Q}|\(|\z)"
        rf"|\\{_Q}{_Q}?\w*{_GAP1}(?:or|and|xor){_KEND}|\\{_Q}{_Q}(?:or|and|xor)"
        rf"|{_WCLOSE}(?:or|and|xor)(?:{_Q}|[=<>|&]|\?{_GAP}(?:--|#))"
        rf"|\\{_Q}{_GAP}(?:or|and|xor|\|\||&&){_KEND}"
        rf"|{_CLOSE}{_GAP}(?:{_BOOL}){_GAP}(?:true|false){_GAP}(?:;|--|#|\z|\))"
        rf"|{_Q}{_GAP}\|\|{_GAP}(?:true|false)\b"
        rf"|{_CLOSE}{_GAP1}(?:or|and|xor|\|\||&&){_GAP}[0-9]+{_GAP}(?:[<>=!]|--|#|;|\z)",
        "Quoted-literal comparison and quote-adjacent boolean operators: '1'='1, a'or'a",
    ),
    _rule(
        "SQL-S25",
        "Standard",
        rf"(?:\A|[\s\x0b(=])(?:(?:and|or|xor)(?:{_SP}+|{_SP}*\()|&&|\|\|)"
        rf"{_SP}*\(?{_SP}*[\w.]{{1,40}}{_SP}*(?:(?:[!=]==?|<>|<=>){_SP}*(?:{_Q}|\(|!?[0-9]"
        rf"{{1,10}}{_SP}*\)|null\b|true\b|false\b|\z)|={_SP}*(?:{_Q}|\(|!?[0-9]{{1,10}}{_SP}*\)"
        rf"|null\b|true\b|false\b))"
        rf"|\A{_SP}*(?:x?or|and|&&|\|\|){_SP}+(?:{_Q}\w*{_Q}|[0-9]+){_SP}*[-<>=!^|&%*/+]"
        rf"|(?:{_Q}{_SP}+|\A{_SP}*)x?or{_SP}+\w+{_SP}*[!<>=-]"
        rf"|\bxor{_SP}*(?:{_Q}|[0-9]+{_SP}*(?:[-<>=!^|&%*/+]|\z))"
        rf"|\A{_GAP}(?:not{_GAP1})?in{_GAP}\({_GAP}(?:select\b|[-0-9'\"][^),]*,)"
        rf"|\w{_GAP1}(?:r?like|regexp|glob){_GAP1}{_Q}{_GAP}(?:%|\z)|;{_GAP}truncate\b",
        "Bare boolean condition fragment: AND col = ', || x == ', XOR 1<, IN (1,2)",
    ),
    _rule(
        "SQL-S26",
        "Standard",
        r"/\*\+|\b[0-9]+\.e(?:\(|\)|,|\.[a-z_])|\b2\.225073858507201[0-9]*e-0*308\b"
        r"|\b(?:4294967296|18446744073709551616)\b",
        "Parser-confusion tricks: optimizer hints, 1.e(...) notation, numeric overflow probes",
    ),
    _rule(
        "SQL-S27",
        "Standard",
        r"\b(?:select|union|insert|update|delete|drop|alter|create|from|where|into|exec"
        r"|execute|table|having|order|group|declare|and|or)/\*[^*]*\*+/"
        r"|/\*[^*]*\*+/(?:select|union|insert|update|delete|drop|from|where|into|table"
        r"|having|and|or)\b",
        "Inline comment glued to an SQL keyword to split it from its neighbours",
    ),
    _rule(
        "SQL-S28",
        "Standard",
        rf"\A{_GAP}(?:&&|\|\||<=>|>>|<<|->|xor|rlike|regexp|like{_GAP1}null"
        rf"|(?:not{_GAP1})?in{_GAP}\({_GAP}(?:select\b|[-0-9'\"][^),]*,[^)]*\)?)){_GAP}\z"
        rf"|\A{_SP}*execute{_SP}+[\w.]+{_SP}*\z|(?:\A|=){_SP}*;{_SP}*(?:update|drop|delete|insert"
        rf"|select|alter|create|truncate|exec|declare|shutdown)",
        "A value that is nothing but an SQL operator, an EXECUTE of a procedure, or that opens"
        " with a semicolon and a statement",
    ),
    _rule(
        "SQL-S29",
        "Standard",
        rf"\A{_SP}*'{_SP}*(?:union(?:{_GAP1}(?:all|select|distinct)\b|/|\(|{_SP}*\z)"
        rf"|alter(?:{_GAP1}(?:table|database|user)\b|/|\(|{_SP}*\z))",
        "Apostrophe opening the value, then UNION or ALTER: an empty literal closed and SQL"
        " appended ('union station' stays text)",
    ),
    # --- Strict: SQL fragments that also occur in benign technical text -------------------
    _rule(
        "SQL-X01",
        "Strict",
        rf"\A{_GAP}(?:&&|\|\||<=>|<>|!=|[<>]=|>>|<<|==|->|xor|r?like|regexp|glob|is{_GAP1}"
        rf"(?:not{_GAP1})?null|not{_GAP1}between|(?:not{_GAP1})?in{_GAP}\("
        rf"[^)]*\)?){_GAP}\z",
        "A value that is nothing but an SQL operator",
    ),
    _rule(
        "SQL-X02",
        "Strict",
        rf"{_FSTART}{_WORD_FUNCS}[^\w(]{{0,6}}{_GAP}\({_GAP}{_ARGS}",
        "Generic SQL function name followed by SQL-like arguments",
    ),
    _rule(
        "SQL-X03",
        "Strict",
        rf"[\w)\]]{_Q}{_GAP}[)\]]*{_GAP}(?:;|--|#|\|\||&&)",
        "Quote directly after a word followed by a statement separator, comment or operator",
    ),
    _rule(
        "SQL-X04",
        "Strict",
        r"\b(?:schema_name|table_name|column_name|table_schema|varchar|nvarchar|sysdate"
        r"|nocase)\b",
        "Names of database objects and types",
    ),
    _rule(
        "SQL-X05",
        "Strict",
        rf"\A{_GAP}(?:{_SQ}{_GAP}[;)]*|\"{_GAP}[;)]+){_GAP}(?:alter|union"
        rf"|select|insert|update|delete|drop|print|glob|exec|execute|declare|waitfor|create"
        rf"|truncate)\b",
        "Quote opening the value, directly followed by an SQL keyword (double quotes are how"
        " people search for phrases, so those need a separator first)",
    ),
    _rule(
        "SQL-X06",
        "Strict",
        r"\A[^\w\s\x80-\xff]*[;'\"`#=@|&^~<>][^\w\s\x80-\xff]*\z|[~!@#$%^&*()=|;'\"`<>]{6,}",
        "Values made only of SQL metacharacters, and long runs of them",
    ),
    _rule(
        "SQL-X07",
        "Strict",
        rf"\A{_Q}{_SP}*[^\w\s]{{1,4}}{_SP}*[0-9]|\A{_Q}[0-9]+[^\w\s.,]+[0-9]"
        rf"|\A{_Q}{_Q}?{_SP}*,{_SP}*(?:[0-9]|{_Q})|\A{_Q}{_SP}*[*?=#^]|{_Q}{_SP}+{_Q}{_SP}*[0-9]"
        rf"|\A`\w+`\z|\\x(?:2[2-7]|3[bd]|5c|60)",
        "Quote probes: a quote followed by operators and numbers, quoted identifiers",
    ),
    _rule(
        "SQL-X08",
        "Strict",
        rf"{_SP}(?:and|or|xor|&&|\|\|){_SP}*(?:\({_SP}*)?\z|;{_GAP}(?:update|drop|delete|insert"
        rf"|select|alter|create|truncate)\w*|\A{_SP}*(?:order|group){_SP}+by{_SP}*\z"
        rf"|--{_GAP}(?:alter|drop|select|union|update|delete|insert)\b",
        "SQL fragments cut at a boolean operator or statement keyword",
    ),
]
