"""SQL injection deny rules (rule key SQL).

The patterns look for what an injected fragment needs in order to change a query: breaking out
of a string literal and continuing in SQL, joining a second result set, stacking a second
statement, calling functions that only make sense inside a database (delays, error oracles,
file access, catalog lookups), and the comment and whitespace tricks used to disguise these.
Single SQL words are not enough on their own: "select", "union", "drop", "order by" and
apostrophes are everyday language.
"""

from airlock_filters.rules._rule import Rule

_K = "SQL"

# --- Fragments ------------------------------------------------------------------------------
# Vertical tab is whitespace to MySQL; RE2's \s lacks it, so it is spelled out everywhere.
_WS = r"[\s\x0b]"
# What the parser skips between two tokens: whitespace, inline comments, the opening of a
# MySQL versioned comment (its body is executed), a comment end, and line comments.
_SEP = rf"(?:{_WS}|/\*[^*!]*\*+/|/\*![0-9]*|\*/|(?:--|#)[^\n]*\n)"
_GAP = rf"{_SEP}*"
_GAP1 = rf"{_SEP}+"
# Token separators that also include an opening parenthesis: `union(select`, `select(user)`.
_PGAP1 = rf"(?:{_SEP}|\()+"
# String delimiters, with the typographic quotes some collations fold to an apostrophe.
_Q = "(?:['\"`]|\u2019|\u2018|\u00b4)"
# A small SQL operand: a quoted literal, a number, an identifier or @@variable.
_OPERAND = rf"(?:{_Q}[^'\"`]{{0,40}}{_Q}?|[-+]?[0-9][0-9.e]{{0,20}}|@{{0,2}}[a-z_][\w.$]{{0,40}})"
# Comparison operators of a boolean condition.
_CMP = (
    (
        r"(?:[<>!]?=|<>|<=>|[<>]|\b(?:r?like|ilike|regexp|glob|similar{_GAP1}to|"
        r"sounds{_GAP1}like|between|is{_GAP1}(?:not{_GAP1})?(?:null|true|false)|not{_GAP1}in"
        r"|in{_GAP}\(|not{_GAP1}(?:r?like|regexp|glob|between)|notnull|isnull|collate)\b)"
    )
    .replace("{_GAP1}", _GAP1)
    .replace("{_GAP}", _GAP)
)
# Statement keywords that begin a stacked query.
_STACKED = (
    rf"(?:(?:drop|truncate|alter|create|rename){_GAP1}(?:table|database|schema|view|index"
    rf"|procedure|function|trigger|user|login|column|temporary)\b"
    rf"|insert{_GAP1}(?:into\b|[a-z_]\w*{_GAP}\()|replace{_GAP1}into\b|delete{_GAP1}from\b"
    rf"|update{_GAP1}[\w`\"\[\].]{{1,64}}{_GAP1}set\b"
    rf"|(?:exec|execute){_GAP1}(?:master\b|xp_|sp_|@|\(|immediate\b)"
    rf"|declare{_GAP1}@|set{_GAP1}@|shutdown\b|waitfor\b"
    rf"|select{_GAP1}(?:[@*]|[\w`]+{_PGAP1}from\b|(?:sleep|pg_sleep|benchmark|load_file|"
    rf"user|version|database|current_user|char|concat)\b))"
)
# Functions that only exist in database engines and have no everyday meaning.
_DB_FUNCS = (
    r"(?:benchmark|pg_sleep|extractvalue|updatexml|xmltype|load_file|group_concat|concat_ws"
    r"|make_set|name_const|unhex|ifnull|nullif|coalesce|sysdate|current_user|session_user"
    r"|system_user|schema_name|db_name|user_name|suser_s?name|is_srvrolemember|has_dbaccess"
    r"|find_in_set|strcmp|json_extract|json_search|json_keys|json_array|json_object"
    r"|jsonb_\w+|json_build_object|starts_with|lo_get|lo_import|lo_export|unistr"
    r"|string_agg|array_agg|to_char|to_number|utl_\w+|char_length|octet_length"
    r"|bit_length|row_count|last_insert_id|found_rows|connection_id|uncompress|compress"
    r"|aes_decrypt|aes_encrypt|des_decrypt|des_encrypt|sha1|sha2|md5|crc32|elt|iif"
    r"|substring_index|substr|substring|mid|ascii|ord|unicode|char|chr|nchar|hex|conv"
    r"|instr|locate|quote|soundex|reverse|lpad|rpad|isnull|sqlite_version"
    r"|sqlite_compileoption_\w+|randomblob|zeroblob|typeof|pg_\w+|current_setting"
    r"|version|database|schema|user|concat|overlay|json)"
)

RULES = [
    # --- Basic: constructs that have no place outside an injection -------------------------
    Rule(
        "SQL-B01",
        _K,
        "Basic",
        rf"(?:\b|[0-9])union{_PGAP1}(?:(?:all|distinct|distinctrow){_PGAP1})?select"
        rf"(?:{_PGAP1}|[@*'\"`])(?:[0-9@*'\"`(-]|null\b|[\w`.]+{_GAP}(?:,|\(|{_GAP1}from\b))",
        "UNION-based injection: UNION [ALL] SELECT followed by a column list",
    ),
    Rule(
        "SQL-B02",
        _K,
        "Basic",
        rf"\b(?:pg_sleep{_GAP}\(|waitfor{_GAP1}(?:delay|time){_GAP}(?:{_Q}|[0-9@])"
        rf"|benchmark{_GAP}\({_GAP}[0-9]|dbms_lock{_GAP}\.{_GAP}sleep"
        rf"|dbms_pipe{_GAP}\.{_GAP}receive_message)",
        "Time-based blind injection: database delay functions",
    ),
    Rule(
        "SQL-B03",
        _K,
        "Basic",
        rf"\b(?:extractvalue|updatexml|xmltype|name_const|geometrycollection|multipoint"
        rf"|polygon|linestring|multilinestring|multipolygon){_GAP}\({_GAP}(?:{_Q}|[0-9(@]|"
        rf"select\b|concat|\w+{_GAP}\()|\bexp{_GAP}\({_GAP}~",
        "Error-based injection: XML and geometry functions used as error oracles",
    ),
    Rule(
        "SQL-B04",
        _K,
        "Basic",
        r"\b(?:information_schema|sysobjects|syscolumns|sysdatabases|sysusers|sysprocesses"
        r"|syslogins|sysxlogins|sqlite_master|sqlite_temp_master|sqlite_schema|msysobjects"
        r"|msysaccessobjects|msysqueries|msysrelationships|msysaces|pg_catalog|pg_shadow"
        r"|pg_authid|pg_namespace|pg_stat_activity|pg_database|pg_user|pg_roles|pg_proc"
        r"|all_tab_columns|all_tables|all_users|dba_users|dba_tables|user_tab_columns"
        r"|mysql\.(?:user|db|proc|tables_priv|columns_priv)"
        r"|sys\.(?:objects|tables|columns|databases|sql_logins|server_principals|syslogins"
        r"|sysobjects|all_columns|schemas|user_summary|x\$\w+)|master\.\.\w"
        r"|master\.dbo\.|v\$(?:version|instance|database))\b",
        "Database catalog and system tables queried to map or dump the schema",
    ),
    Rule(
        "SQL-B05",
        _K,
        "Basic",
        r"\b(?:xp_(?:cmdshell|dirtree|fileexist|regread|regwrite|regdeletekey|regdeletevalue"
        r"|regenumvalues|regenumkeys|servicecontrol|subdirs|availablemedia|enumdsn|loginconfig"
        r"|makecab|ntsec_enumdomains|terminate_process|enumgroups|getnetname|msver|sendmail"
        r"|readmail|startmail|cmdshel)|sp_(?:executesql|oacreate|oamethod|oagetproperty"
        r"|oasetproperty|makewebtask|addextendedproc|dropextendedproc|configure|addsrvrolemember"
        r"|addlogin|adduser|password|execute_external_script|send_dbmail|linkedservers"
        r"|addlinkedserver|replwritetovarbin|prepare|execute|start_job)|openrowset"
        r"|opendatasource|openquery|utl_(?:http|inaddr|file|smtp|tcp|mail|dbws)"
        r"|dbms_[a-z_]{2,30}|sys\.dbms_\w+|msdasql|sqloledb)\b",
        "Database procedures that run commands, reach the network or read the registry",
    ),
    Rule(
        "SQL-B06",
        _K,
        "Basic",
        rf"\b(?:load_file{_GAP}\(|into{_GAP1}(?:out|dump)file\b|lo_(?:import|export|get|put"
        rf"|from_bytea|unlink){_GAP}\(|pg_(?:read_file|read_binary_file|ls_dir|stat_file)"
        rf"{_GAP}\(|copy\b[^;]{{0,80}}\b(?:from|to){_GAP1}program\b)",
        "Database file access: LOAD_FILE, INTO OUTFILE, large objects, COPY ... PROGRAM",
    ),
    Rule(
        "SQL-B07",
        _K,
        "Basic",
        r"/\*![0-9]{4,6}[\s\x0b]*[a-z(@*0-9]|/\*!(?:[\s\x0b]*)(?:select|union|and|or|from"
        r"|where|having|order|group|concat|sleep|xor|not)\b",
        "MySQL versioned comment hiding SQL keywords from filters",
    ),
    Rule(
        "SQL-B08",
        _K,
        "Basic",
        rf";{_GAP}{_STACKED}",
        "Stacked query: a second statement after a semicolon",
    ),
    Rule(
        "SQL-B09",
        _K,
        "Basic",
        rf"{_Q}{_GAP}\)*{_GAP}(?:or|xor|\|\|){_PGAP1}?{_GAP}(?:{_Q}[\w ]{{0,20}}{_Q}|[0-9]+)"
        rf"{_GAP}(?:[<>!]?=|<>|<=>|[<>]|\blike\b){_GAP}(?:{_Q}|[0-9(])",
        "Tautology after a broken string literal: ' OR '1'='1",
    ),
    # --- Standard: likely injection with some SQL structure around it ---------------------
    Rule(
        "SQL-S01",
        _K,
        "Standard",
        rf"(?:\b|[0-9])union{_PGAP1}(?:(?:all|distinct|distinctrow){_PGAP1})?select\b",
        "UNION-based injection: UNION [ALL] SELECT",
    ),
    Rule(
        "SQL-S02",
        _K,
        "Standard",
        rf"(?:[\w)\]]{_GAP}|\A{_GAP}|[-0-9]{_WS}+){_Q}{_GAP}[)\]]*{_GAP}(?:;{_GAP})?(?:or|and"
        rf"|xor|not|\|\||&&|div|mod|&|\||\^|-|\+|\*)?{_PGAP1}?{_GAP}(?:union{_PGAP1}(?:all|"
        rf"select|distinct)|select{_PGAP1}|insert{_GAP1}|update{_GAP1}|delete{_GAP1}|drop"
        rf"{_GAP1}|alter{_GAP1}|create{_GAP1}|truncate\b|exec(?:ute)?{_PGAP1}|declare\b"
        rf"|waitfor\b|having\b|group{_GAP1}by\b|order{_GAP1}by\b|procedure{_GAP1}analyse"
        rf"|collate\b|(?:r|i)?like{_GAP1}|regexp\b|glob\b|sounds{_GAP1}like|notnull\b"
        rf"|isnull\b|is{_GAP1}(?:not|null)\b|between\b|escape\b|limit{_GAP1}[0-9]"
        rf"|sleep{_GAP}\(|benchmark{_GAP}\(|if{_GAP}\(|case{_GAP1}when|print\b|char{_GAP}\("
        rf"|\w+{_GAP}\({_GAP}(?:select|[\w@.]+{_GAP}[,)]))",
        "String literal broken out of and continued with SQL keywords or operators",
    ),
    Rule(
        "SQL-S03",
        _K,
        "Standard",
        rf"(?:{_Q}|[0-9]|\b(?:null|true|false)){_GAP}[)\]]*{_GAP}(?:\b(?:or|and|xor|having"
        rf"|where|when|not)\b|\|\||&&){_PGAP1}?{_GAP}!?{_GAP}{_OPERAND}{_GAP}{_CMP}",
        "Boolean condition after a literal: ' OR x=y, 1 AND 2>1",
    ),
    Rule(
        "SQL-S04",
        _K,
        "Standard",
        rf"(?:[\w)\]]|\A){_Q}{_GAP}[);\]]*{_GAP}(?:--|#|/\*|;{_GAP}(?:--|#|\z)|%00)",
        "String literal closed and the rest of the query commented out",
    ),
    Rule(
        "SQL-S05",
        _K,
        "Standard",
        rf"(?:\b|[^\w.]){_DB_FUNCS}{_GAP}\({_GAP}(?:select\b|{_Q}|[0-9@]|null\b|\)"
        rf"|[\w.@$]+{_GAP}(?:,|\)|\(|::))",
        "Database function call with SQL-like arguments",
    ),
    Rule(
        "SQL-S06",
        _K,
        "Standard",
        rf"\b(?:sleep|benchmark){_GAP}\({_GAP}(?:[-+]?[0-9.]+{_GAP}(?:[-+*/%^)]|div\b|mod\b"
        rf"|\.to_i)|{_Q}|\(|[a-z_]+{_GAP}\(|@)|\bselect{_PGAP1}(?:sleep|benchmark)\b",
        "Time-based blind injection: SLEEP / BENCHMARK calls",
    ),
    Rule(
        "SQL-S07",
        _K,
        "Standard",
        rf"\b(?:select|values|into|from|where|and|or|by|set|having){_PGAP1}(?:[^\s(]"
        rf"{{0,64}}[\s(]){{0,4}}?(?:0x[0-9a-f]{{4,}}|(?:char|chr|nchar){_GAP}\({_GAP}[0-9]"
        rf"{{1,3}}{_GAP}[,)])",
        "Hex literal or CHAR() used to smuggle strings past quote filters",
    ),
    Rule(
        "SQL-S08",
        _K,
        "Standard",
        rf"\bselect{_PGAP1}(?:[\w`.*@\"'\[\]]+{_GAP},{_GAP})*[\w`.*@\"'\[\]()]+{_PGAP1}"
        rf"from{_PGAP1}[\w`.\"\[\]]+{_GAP}(?:where|limit|order|group|having|union|;|--|#"
        rf"|\)|\z)",
        "Complete SELECT ... FROM ... statement",
    ),
    Rule(
        "SQL-S09",
        _K,
        "Standard",
        rf"\b(?:tempdb|msdb|pg_sleep|pg_read_file|sqlite_version|@@(?:version|datadir"
        rf"|hostname|basedir|servername|identity|tmpdir|global)|current_database{_GAP}\("
        rf"|(?:user|database|version|schema){_GAP}\({_GAP}\))",
        "Database identity probing: @@version, user(), database(), system databases",
    ),
    Rule(
        "SQL-S10",
        _K,
        "Standard",
        rf"\b(?:or|and|xor|having|where|when|not)\b{_PGAP1}[0-9]+{_GAP}(?:[<>!]?=|<>|<=>|[<>]|"
        rf"\blike\b){_PGAP1}?{_GAP}[0-9]",
        "Numeric tautology or contradiction: OR 1=1, AND 526=527",
    ),
    Rule(
        "SQL-S11",
        _K,
        "Standard",
        rf"(?:\A|[;)]){_GAP}(?:declare{_GAP1}@\w+|exec(?:ute)?{_GAP1}(?:master\.|xp_|sp_|@|\()"
        rf"|execute{_GAP1}immediate\b|set{_GAP1}@\w+{_GAP}=|shutdown\b)",
        "Procedural SQL: DECLARE @var, EXEC @var, EXECUTE IMMEDIATE",
    ),
    Rule(
        "SQL-S12",
        _K,
        "Standard",
        rf"(?:{_Q}|[0-9]){_GAP}::{_GAP}(?:int|integer|bigint|text|bool|boolean|numeric|json|jsonb"
        rf"|varchar|char|date|double{_GAP1}precision|real|regclass|oid|bytea|xml)\b|\)::"
        rf"(?:int|integer|bigint|text|bool|boolean|numeric|json|jsonb|varchar|regclass|bytea"
        rf"|double|xml)\b",
        "PostgreSQL cast used in error-based injection: value::int",
    ),
    Rule(
        "SQL-S13",
        _K,
        "Standard",
        rf"{_Q}{_GAP}(?:::{_GAP}jsonb?{_GAP})?(?:<@|@>|\?\||\?&|#>>?|#-|->>?|@\?|@@|\?)"
        rf"{_GAP}(?:{_Q}|array\b)",
        "PostgreSQL JSON operators between literals",
    ),
    Rule(
        "SQL-S14",
        _K,
        "Standard",
        rf"\bcase{_GAP1}when\b.{{0,80}}\bthen\b|\)\s*when{_GAP1}[0-9]+{_GAP1}then\b"
        rf"|\b(?:if|iif){_GAP}\({_GAP}(?:[\w.@'\"]+{_GAP}(?:[<>!]?=|<>|[<>]|\blike\b)"
        rf"|(?:select|not|exists|ascii|substr|substring|length|mid|ord)\b|\d+{_GAP}[,=])",
        "Conditional expressions used for boolean-blind extraction: IF(...), CASE WHEN",
    ),
    Rule(
        "SQL-S15",
        _K,
        "Standard",
        rf"(?:\b|[0-9])(?:group{_GAP1}by|order{_GAP1}by){_GAP1}(?:[0-9]+{_GAP}(?:--|#|,|\z|"
        rf"{_Q}|\))|if{_GAP}\(|\({_GAP}select|[\w`.]+{_GAP}(?:having|limit|procedure|into|"
        rf"asc{_GAP1}limit|desc{_GAP1}limit|,{_GAP}[\w`.]+{_GAP}(?:having|limit)))",
        "ORDER BY / GROUP BY column probing and injection",
    ),
    Rule(
        "SQL-S16",
        _K,
        "Standard",
        rf"(?:\)|[`'\"]){_GAP}as{_GAP1}[\w`'\"]{{1,64}}{_GAP1}from\b",
        "Column alias followed by FROM: ) AS x FROM",
    ),
    Rule(
        "SQL-S17",
        _K,
        "Standard",
        rf"\b(?:insert{_GAP1}into{_GAP1}[\w`\".\[\]]+{_GAP}(?:\([^)]{{0,200}}\){_GAP})?"
        rf"(?:values|select)\b|delete{_GAP1}from{_GAP1}[\w`\".\[\]]+{_GAP}(?:where\b|;|--|\z)"
        rf"|drop{_GAP1}(?:table|database|schema){_GAP1}|truncate{_GAP1}table\b"
        rf"|alter{_GAP1}table{_GAP1}[\w`\".]+{_GAP1}(?:add|drop|change|modify|alter|rename)\b"
        rf"|create{_GAP1}(?:table|database|function|procedure|trigger|user){_GAP1}[\w`\".]+"
        rf"{_GAP}(?:\(|as\b|returns\b|identified\b|;|\z)"
        rf"|update{_GAP1}[\w`\".]+{_GAP1}set{_GAP1}[\w`\".]+{_GAP}={_GAP}(?:{_Q}|[0-9]|null))",
        "Complete data-changing SQL statement",
    ),
    # --- Strict: SQL fragments that also occur in benign technical text -------------------
    Rule(
        "SQL-X01",
        _K,
        "Strict",
        rf"\A{_GAP}(?:&&|\|\||<=>|<>|!=|[<>]=|>>|<<|==|->|xor|r?like|regexp|glob|is{_GAP1}"
        rf"(?:not{_GAP1})?null|like{_GAP1}null|not{_GAP1}between|(?:not{_GAP1})?in{_GAP}\("
        rf"[^)]{{0,200}}\)?){_GAP}\z",
        "A value that is nothing but an SQL operator",
    ),
    Rule(
        "SQL-X02",
        _K,
        "Strict",
        rf"(?:\A|[^\w.])(?:abs|cast|convert|count|date|day|default|floor|ceil|ceiling|format"
        rf"|if|in|length|len|ln|local|log|max|min|minute|month|now|password|pi|replace|round"
        rf"|time|upper|lower|user|values|version|year|quarter|left|right|trim|rtrim|ltrim|rand"
        rf"|pow|power|cos|sin|tan|exp|sqrt|decode|encode|insert|execute|exec|hour|second|week"
        rf"|avg|sum|stddev|sign|mod|div|field|position|repeat|space|uuid|newid|getdate"
        rf"|datediff|dateadd|current_date|current_time|localtime|timestamp)"
        rf"[^\w\s]{{0,6}}{_GAP}\(",
        "Generic SQL function name followed by an opening parenthesis",
    ),
    Rule(
        "SQL-X03",
        _K,
        "Strict",
        rf"(?:[\w)\]]|\A){_Q}{_GAP}[)\]]*{_GAP}(?:;|--|#|\|\||&&|\bor\b|\band\b|\bxor\b)",
        "Quote followed by a statement separator, comment or boolean operator",
    ),
    Rule(
        "SQL-X04",
        _K,
        "Strict",
        r"\b(?:northwind|schema_name|table_name|column_name|table_schema|varchar|nvarchar"
        r"|tempdb|msdb|sysdate|information_schema)\b",
        "Names of database objects and types",
    ),
    Rule(
        "SQL-X05",
        _K,
        "Strict",
        rf"\b(?:select|from|where|union|having|order{_GAP1}by|group{_GAP1}by|limit|execute"
        rf"|exec){_GAP1}.{{0,60}}\b(?:from|where|limit|by|select|having)\b",
        "Two SQL clause keywords in a row",
    ),
]
