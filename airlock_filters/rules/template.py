"""Template injection deny rules (rule key TEMPLATE).

Server-side template injection puts template syntax into input that a template engine later
renders: the attacker first probes with arithmetic (`{{7*7}}`, `${7*7}`, `<%= 7*7 %>`,
`#{7*7}`) and then climbs from the template sandbox to the runtime: Python dunder chains
(`''.__class__.__mro__[1].__subclasses__()`, `lipsum.__globals__`), Twig `_self.env`,
FreeMarker `?new()` on utility classes, Velocity `#set`, Thymeleaf `__${...}__`
preprocessing, Smarty `{php}`, Handlebars/AngularJS `constructor` tricks, ERB/ASP/JSP
scriptlets, Razor `@(...)`. Client-side template injection (AngularJS, Vue) uses the same
delimiters and is covered here too.

Plain placeholders (`{{username}}`, `${price}`, `#{name}`, `<%= title %>`) and JSON braces are
not enough: a rule needs an expression (arithmetic on literals, a call, a statement keyword,
a sandbox-escape name) inside template delimiters, or a construct no text contains.

Not here: Log4Shell lookups `${jndi:...}` (EXPLOIT) and Java EL/OGNL `%{...}`,
`#_memberAccess` (OGNL).
"""

from airlock_filters.rules._rule import DECODED_MARKUP, Rule

_K = "TEMPLATE"
_DM = DECODED_MARKUP

# --- Fragments ------------------------------------------------------------------------------
# Vertical tab is whitespace to template lexers but not to RE2's \s, so it is spelled out.
_WS = r"[\s\x0b]"
# Python special attributes only ever used to walk the object graph to globals, builtins
# and subclasses ...
_WALK_DUNDER = (
    r"__(?:mro|subclasses|globals|builtins|bases?|import|getattribute|func_globals"
    r"|reduce(?:_ex)?|subclasshook)__"
)
# ... the same plus `__class__`, the usual first step (alone it is everyday Python:
# `self.__class__.__name__`) ...
_ESCAPE_DUNDER = rf"(?:__class__|{_WALK_DUNDER})"
# ... and those that start such a walk but also fill everyday Python (`__init__`, `__dict__`).
_DUNDER = rf"(?:{_ESCAPE_DUNDER}|__(?:init|dict|code|self|loader|spec)__)"
# A literal operand in a probe: a number or a short quoted string.
_LIT = r"(?:\d{1,10}|\"[^\"]{0,10}\"|'[^']{0,10}')"
# Arithmetic on literals: the classic `7*7`, `7*'7'`, `1+1` probes. No minus: `{1-5}`,
# `@(555-1234)` and dates are everyday text.
_ARITH = rf"\(?{_WS}*{_LIT}{_WS}*[*+/%]{_WS}*{_LIT}{_WS}*\)?"
# Opening and closing delimiters of expression syntaxes across template engines: Jinja2/Twig/
# Handlebars/Angular {{ }}, EL/FreeMarker/Mako/JS ${ }, Ruby/JSF/Pug #{ }, Thymeleaf *{ } ~{ },
# ERB/ASP/JSP <% %>, Tornado/Django {% %}, Thymeleaf inlining [[ ]], Razor @( ).
_EXPR_OPEN = r"(?:\{\{=?|[$#*@~]\{\{?|<%[=-]?|\{%=?|\[\[|@\()"
_EXPR_CLOSE = r"(?:\}\}?|%>|%\}|\]\]|\))"
# Statement keywords of Jinja2, Twig, Django, Liquid, Tornado, Nunjucks (not `raw` and the
# like, which only switch rendering off).
_STMT = (
    r"(?:if|elif|else|endif|for|endfor|set|import|from|include|extends|macro|call|block"
    r"|filter|with|print|do|load|debug|sandbox|embed|php|module|apply|use|while|try)"
)
# Objects of a Jinja2/Flask/Django context that give access to the application or runtime.
_CONTEXT_OBJS = (
    r"(?:config|self|lipsum|cycler|joiner|namespace|url_for|get_flashed_messages|settings"
    rf"|range{_WS}*\.{_WS}*__|request{_WS}*\.{_WS}*(?:application|environ|__))"
)
# Filters that take a callable's name: handing them `system` runs a command.
_NAMED_CALL_FILTERS = r"(?:attr|filter|map|reduce|sort|select|reject|first|join|format)"
_SHELL_FUNCS = r"(?:system|exec|passthru|shell_exec|popen|proc_open|__)"

RULES = [
    # --- Basic: sandbox escapes no text contains ------------------------------------------
    Rule(
        "TEMPLATE-B01", _K, "Basic",
        rf"{_DUNDER}{_WS}*[.\[(|][^\n]{{0,40}}{_ESCAPE_DUNDER}",
        "chained Python special attributes: ''.__class__.__mro__, x.__init__.__globals__",
        variants=_DM,
    ),
    Rule(
        "TEMPLATE-B02", _K, "Basic",
        r"freemarker\.template\.utility\.|\bSmarty_Internal_\w+::|\b_self\.env\."
        r"|registerUndefined(?:Filter|Function)Callback|\{/?php\}"
        rf"|__\$\{{[^}}]{{1,200}}\}}__|\{{{_WS}*\$smarty\.",
        "engine-specific escape: FreeMarker utilities, Twig _self.env, Smarty {php} and "
        "internals, Thymeleaf __${...}__ preprocessing",
        variants=_DM,
    ),
    # --- Standard -------------------------------------------------------------------------
    Rule(
        "TEMPLATE-S01", _K, "Standard",
        rf"{_EXPR_OPEN}{_WS}*{_ARITH}{_WS}*{_EXPR_CLOSE}",
        "template expression probe: arithmetic on literals inside {{ }}, ${ }, <%= %>, #{ }",
        variants=_DM,
    ),
    Rule(
        "TEMPLATE-S02", _K, "Standard",
        rf"\.{_WS}*{_WALK_DUNDER}|(?:\[{_WS}*[\"']|\battr{_WS}*\({_WS}*[\"']"
        rf"|\|{_WS}*attr\b[^)]{{0,8}}|(?:\{{\{{|[$#]\{{)[^}}]{{0,64}}){_ESCAPE_DUNDER}",
        "Python special attribute reached by item or |attr() access or inside a template "
        "expression, or one that walks to globals and subclasses",
        variants=_DM,
    ),
    Rule(
        "TEMPLATE-S03", _K, "Standard",
        rf"\{{%-?{_WS}*{_STMT}\b[^%]{{0,200}}%\}}|<%[=-]?{_WS}*(?:if|for|while|unless|each"
        rf"|end|import|require|include|page){_WS}[^%]{{0,200}}%>",
        "template statement tag: {% if %}, {% import %}, <% if %> ... %>",
        variants=_DM,
    ),
    Rule(
        "TEMPLATE-S04", _K, "Standard",
        # The expression must be closed: a lone `${` in a random password is not a template.
        rf"(?:\{{\{{|[$#*@]\{{)[^{{}}%]{{0,120}}?(?:\b[a-z_][\w.]{{1,60}}{_WS}*\(|`"
        rf"|\?{_WS}*(?:new|api)\b)[^}}]{{0,200}}\}}"
        rf"|<%[=-]?[^%]{{0,120}}?(?:\b[a-z_][\w.]{{1,60}}{_WS}*\(|`)[^%]{{0,200}}%>",
        "call inside a template expression: {{ x.y() }}, ${...(...)}, #{...}, <%= ...() %>",
        variants=_DM,
    ),
    Rule(
        "TEMPLATE-S05", _K, "Standard",
        rf"\{{\{{[^}}]{{0,120}}\b(?:constructor|prototype|__proto__|\$on|\$eval|\$parent"
        rf"|toString)\b|\bconstructor{_WS}*\.{_WS}*constructor\b",
        "prototype-chain access in a client-side template: {{constructor.constructor(...)}}",
        variants=_DM,
    ),
    Rule(
        "TEMPLATE-S06", _K, "Standard",
        rf"\{{\{{-?{_WS}*{_CONTEXT_OBJS}\b|\{{\{{[^}}]{{0,64}}\|{_WS}*{_NAMED_CALL_FILTERS}\b"
        rf"{_WS}*\({_WS}*[\"']{_SHELL_FUNCS}",
        "template context object or filter that reaches the runtime: {{ config }}, "
        "{{ lipsum... }}, |map('system')",
        variants=_DM,
    ),
    Rule(
        "TEMPLATE-S07", _K, "Standard",
        rf"<#{_WS}*(?:assign|global|local|include|import|list|if|macro|function|setting"
        rf"|attempt|visit|recurse|ftl)\b|\?{_WS}*new{_WS}*\(|#set{_WS}*\({_WS}*\$"
        rf"|#(?:foreach|evaluate|parse|include|define|macro){_WS}*\(|\$class\.inspect\b",
        "FreeMarker directive or ?new(), Velocity #set/#foreach/#evaluate",
        variants=_DM,
    ),
    Rule(
        "TEMPLATE-S08", _K, "Standard",
        rf"[$*#@]\{{{_WS}*T{_WS}*\({_WS}*[a-z_][\w.]{{2,}}{_WS}*\)"
        rf"|\{{\{{{_WS}*#{_WS}*(?:with|each){_WS}+[\"'(]|\bblockHelperMissing\b"
        rf"|@{_WS}*System\.(?:Diagnostics|IO|Reflection|Runtime)\b"
        rf"|\{{{_WS}*(?:system|exec|passthru|shell_exec|popen|phpinfo|eval|file_get_contents"
        rf"|readfile|include)\b{_WS}*\(",
        "Spring EL type reference, Handlebars helpers on literals, Razor System.*, Smarty calls",
        variants=_DM,
    ),
    # --- Strict ---------------------------------------------------------------------------
    Rule(
        "TEMPLATE-X01", _K, "Strict",
        rf"\{{{_WS}*\d{{1,10}}{_WS}*\*{_WS}*\d{{1,10}}{_WS}*\}}"
        rf"|{_EXPR_OPEN}{_WS}*[\w.]{{1,40}}{_WS}*(?:\||[*+/%]{_WS}*\d)[^}}]{{0,40}}{_EXPR_CLOSE}",
        "single-brace arithmetic, or a filtered or computed expression in template delimiters",
        variants=_DM,
    ),
    Rule(
        "TEMPLATE-X02", _K, "Strict",
        r"__(?:class|mro|subclasses|globals|builtins)__",
        "Python special attribute in input",
        variants=_DM,
    ),
]  # fmt: skip
