"""Cross-site scripting deny rules (rule key XSS).

XSS covers injected input that makes a browser run code: `<script>` elements, event-handler
attributes on any tag, script-scheme URIs (`javascript:`, `vbscript:`, `data:` with an active
media type), active content elements (applet, object, embed, VML frames, HTC imports), script
reached through CSS (`expression()`, `behavior`, `-moz-binding`, `url(javascript:...)`),
JavaScript itself (DOM sinks, code-evaluating calls, obfuscations such as JSFuck or tagged
template calls) and encodings that smuggle markup past filters (UTF-7, high-bit-stripped
angle brackets, full-width brackets, letter-spaced tag names).

The sister key HTML covers markup that changes a page without running script (frames, forms,
meta/base/link/style elements, comments, XML declarations); TEMPLATE covers template
expressions, including client-side ones such as AngularJS `{{constructor.constructor(...)}}`.

Most rules also look at the MARKUP form (HTML entities and JavaScript escapes undone), because
`&#106;avascript:` or `\\x3cscript` run just the same once a page or a script decodes them, and
because an XML body is inspected as one field in which markup hides behind entities. Rich text
with ordinary formatting (`<p>`, `<b>`, `<a href="https://...">`, `<img src=... alt=...>`,
`style="color:red"`) has none of these constructs and passes.
"""

from airlock_filters.request import HEADER, JSON, MARKUP, PARAM
from airlock_filters.rules._rule import DECODED_MARKUP, Rule

_K = "XSS"
_DM = DECODED_MARKUP
_M = frozenset({MARKUP})
# DOM and JavaScript vocabulary is also the vocabulary of documentation URLs; path segments are
# left out for those rules (markup in a path is still caught by the tag rules).
_VALUES = frozenset({PARAM, JSON, HEADER})

# --- Fragments ------------------------------------------------------------------------------
# Vertical tab is whitespace to HTML parsers but not to RE2's \s, so it is spelled out.
_WS = r"[\s\x0b]"
# An opening angle bracket, also in its full-width form that some back ends fold to ASCII.
_LT = "(?:<|\uff1c)"
# Between `<` and a tag name browsers allow nothing, but filters are dodged with blanks.
_OPEN = rf"{_LT}{_WS}{{0,3}}"
# An optional XML namespace prefix, as in `<x:script xmlns:x="http://www.w3.org/1999/xhtml">`.
_NS = rf"(?:[a-z][\w.-]{{0,20}}:{_WS}{{0,3}})?"
# What URL parsers drop inside a scheme name: blanks, and entities for them (`&Tab;`,
# `&#10;`) that survive in the decoded form when they are misspelt or double-encoded.
_JUNK = rf"(?:{_WS}|&[#\w]{{1,10}};?)"
# Script-capable URI schemes, letters possibly split by junk, colon possibly an entity.
_JUNKS = _JUNK + "*"
_JS_SCHEME = (
    f"(?:{_JUNKS.join('java')}|{_JUNKS.join('vb')}|{_JUNKS.join('live')})"
    f"{_JUNKS}{_JUNKS.join('script')}{_JUNKS}(?::|&colon;?|&#0*58;?|&#x0*3a;?)"
)
# Attributes whose value is fetched or navigated to as a URL.
_URL_ATTRS = (
    r"(?:href|src|action|formaction|data|code|codebase|background|dynsrc|lowsrc|poster|to"
    r"|values|from|by|xlink:href|srcset|ping|location|url)"
)
# Attribute names that may precede an event handler: space, slash, or the quote of the
# previous value (`<a"onclick=...`, `<svg/onload=...`).
_ATTR_SEP = r"[\s\x0b/\"'`]"
# Event handlers abused most; listed so they are found even glued to other characters.
_HANDLERS = (
    r"(?:load|error|click|dblclick|mouse(?:over|out|down|up|move|enter|leave|wheel)|focus"
    r"|focusin|focusout|blur|change|input|submit|reset|select|abort|unload|beforeunload"
    r"|resize|scroll|scrollend|toggle|beforetoggle|key(?:down|up|press)|animation(?:start"
    r"|end|iteration)|transition(?:start|end|run|cancel)|pointer(?:over|enter|down|move|up"
    r"|cancel|out|leave|rawupdate)|touch(?:start|end|move|cancel)|drag(?:start|end|enter"
    r"|leave|over)?|drop|copy|cut|paste|contextmenu|wheel|hashchange|popstate|pageshow"
    r"|pagehide|message|readystatechange|play|playing|pause|ended|canplay|loadstart"
    r"|loadeddata|progress|timeupdate|begin|end|repeat|start|finish|bounce|show|search"
    r"|invalid|auxclick|beforeinput|afterprint|beforeprint|securitypolicyviolation"
    r"|selectionchange|selectstart|webkit\w{3,40}|zoom|filterchange|activate|propertychange)"
)
# What an injected handler attribute starts with: nothing yet (the probe), a quote, or code
# (a call, a tagged template, an index or an assignment), unlike `onboarding=complete`.
_HANDLER_CODE = rf"(?:\z|[\"'`({{\[]|[\w$.]{{1,64}}{_WS}*[(`\[=])"
# A well-known handler may also be handed a bare function: `onerror=alert;throw 1`.
_KNOWN_HANDLER_CODE = rf"(?:{_HANDLER_CODE}|[\w$.]{{1,64}}{_WS}*[,;])"
# JavaScript comments used to split tokens: `document/*x*/.cookie`.
_JS_GAP = rf"(?:{_WS}|/\*[^*]{{0,64}}\*/)*"
# Names of the window object in any script context ...
_WINDOW = r"(?:window|self|top|parent|frames|globalThis|opener)"
# ... and, for property lookups by string, every object that leads to it.
_GLOBALS = r"(?:window|document|self|top|parent|frames|globalThis|opener|this|content)"
# Arguments that prove XSS in a dialog call: alert(xss), confirm(origin).
_PROOF_ARGS = (
    r"(?:xss|document|window|self|top|this|origin|location|cookie|domain|navigator|name"
    r"|localStorage|sessionStorage|String|atob|eval)"
)
# Property names worth reaching through `obj["..."]`: code evaluators and DOM secrets.
_DANGEROUS_PROPS = (
    r"(?:alert|prompt|confirm|eval|execScript|setTimeout|setInterval|Function|constructor"
    r"|document|cookie|domain|location|localStorage|sessionStorage|atob|fetch|open|write"
    r"|import|\$|jQuery|globalEval|getScript|createElement|appendChild|innerHTML)"
)

RULES = [
    # --- Basic: markup and code that has no place in ordinary input ------------------------
    Rule(
        "XSS-B01", _K, "Basic",
        rf"{_OPEN}/?{_WS}{{0,3}}{_NS}script\b",
        "<script> element (opening or closing tag, optionally namespaced)",
    ),
    Rule(
        "XSS-B02", _K, "Basic",
        rf"{_OPEN}{_NS}[a-z][\w.-]{{0,30}}(?:{_ATTR_SEP}|{_ATTR_SEP}[^>]{{0,256}}{_ATTR_SEP})"
        rf"on[a-z]{{3,40}}{_WS}*=",
        "event-handler attribute (on...=) inside a tag",
        variants=_DM,
    ),
    Rule(
        "XSS-B03", _K, "Basic",
        rf"\b{_URL_ATTRS}{_WS}*={_WS}*[\"'`]?{_WS}*{_JS_SCHEME}",
        "script-scheme URI (javascript:, vbscript:) in a URL attribute",
        variants=_DM,
    ),
    Rule(
        "XSS-B04", _K, "Basic",
        rf"\burl{_WS}*\({_WS}*[\"'`]?{_WS}*(?:java|vb|live){_WS}*script\b"
        rf"|-moz-binding{_WS}*:|\bbehaviou?r{_WS}*:{_WS}*url{_WS}*\(",
        "script reached through CSS: url(javascript:...), -moz-binding, behavior:url()",
        variants=_DM,
    ),
    # --- Standard: the same techniques in looser contexts, plus JavaScript payloads --------
    Rule(
        "XSS-S01", _K, "Standard",
        rf"{_OPEN}/?{_WS}{{0,3}}{_NS}script\b",
        "<script> element hidden behind HTML entities or JavaScript escapes",
        variants=_M,
    ),
    Rule(
        "XSS-S02", _K, "Standard",
        rf"(?:\A|[\s\x0b\"'`;,(|]){_WS}*on[a-z]{{3,40}}{_WS}*={_WS}*{_HANDLER_CODE}",
        "event-handler attribute injected after an attribute break or as a bare value",
        variants=_DM,
    ),
    Rule(
        "XSS-S03", _K, "Standard",
        rf"(?:\A|[^a-z])on{_HANDLERS}{_WS}*={_WS}*{_KNOWN_HANDLER_CODE}",
        "well-known event-handler attribute glued to preceding text",
        variants=_DM,
    ),
    Rule(
        "XSS-S04", _K, "Standard",
        rf"{_JS_SCHEME}{_WS}*(?:[^\s\x0b\w]|\z|[\w$.]{{1,40}}[(`=\[])",
        "script-scheme URI followed by code",
        variants=_DM,
    ),
    Rule(
        "XSS-S05", _K, "Standard",
        rf"\bdata{_WS}*:{_WS}*(?:text/(?:html|xml|javascript|ecmascript|vbscript|x-scriptlet)"
        r"|application/(?:x-)?(?:javascript|ecmascript|xhtml\+xml|shockwave-flash|x-shockwave"
        rf"-flash)|[,;])|\b{_URL_ATTRS}{_WS}*={_WS}*[\"'`]?{_WS}*data{_WS}*:{_WS}*[,;]"
        rf"|{_OPEN}use\b[^>]{{0,128}}\bhref{_WS}*={_WS}*[\"'`]?{_WS}*data{_WS}*:",
        "data: URI carrying HTML or script, with no media type, or in SVG <use>",
        variants=_DM,
    ),
    Rule(
        "XSS-S06", _K, "Standard",
        rf"{_OPEN}(?:applet|object|embed)[\s\x0b/]|{_OPEN}\w{{0,10}}:?vmlframe\b"
        rf"|{_OPEN}\??{_WS}*import{_WS}*implementation\b",
        "active content element: applet, object, embed, VML frame, HTC import",
        variants=_DM,
    ),
    Rule(
        "XSS-S07", _K, "Standard",
        rf"\bsrcdoc{_WS}*=|[:;{{\"'=]{_WS}*(?:/\*[^*]{{0,64}}\*/{_WS}*)?expression{_WS}*\(",
        "srcdoc attribute, or CSS expression()",
        variants=_DM,
    ),
    Rule(
        "XSS-S08", _K, "Standard",
        rf"\bdocument{_JS_GAP}\.{_JS_GAP}(?:cookie|domain)\b"
        rf"|\bdocument{_JS_GAP}\.{_JS_GAP}(?:write(?:ln)?|createElement|getElementsBy\w+"
        rf"|getElementById|querySelector(?:All)?|execCommand|evaluate){_WS}*\("
        rf"|\b(?:{_WINDOW}|document){_JS_GAP}\.{_JS_GAP}location\b{_JS_GAP}(?:=[^=]"
        rf"|\.{_JS_GAP}(?:href{_WS}*=[^=]|(?:replace|assign){_WS}*\())"
        rf"|\b(?:window|document){_JS_GAP}\.{_JS_GAP}location{_WS}*(?:[\"'`;+]|\z)"
        rf"|\b{_WINDOW}{_JS_GAP}\.{_JS_GAP}(?:eval|alert|prompt|confirm|execScript|setTimeout"
        rf"|setInterval|Function|atob){_WS}*[(`]",
        "DOM access from injected script: document.cookie, location changes, DOM calls",
        kinds=_VALUES, variants=_DM,
    ),
    Rule(
        "XSS-S09", _K, "Standard",
        rf"\b{_GLOBALS}{_JS_GAP}\)?{_JS_GAP}\[{_JS_GAP}[\"'`](?:{_DANGEROUS_PROPS}[\"'`]"
        r"|\w{0,12}[\"'`]\s*\+)",
        "global object property looked up by string: window['alert'], self['ev'+'al']",
        kinds=_VALUES, variants=_DM,
    ),
    Rule(
        "XSS-S10", _K, "Standard",
        rf"\b(?:eval|setTimeout|setInterval|setImmediate|execScript|importScripts|atob|btoa"
        rf"|fromCharCode|globalEval|getScript){_WS}*[(`]"
        rf"|\bnew{_WS}+Function{_WS}*\(|\bFunction{_WS}*\({_WS}*[\"'`]"
        rf"|\.{_WS}*(?:inner|outer)HTML{_WS}*=|\binsertAdjacentHTML{_WS}*\("
        rf"|\d{{5,}}\)?{_WS}*\.{{1,2}}{_WS}*toString{_WS}*\({_WS}*(?:2\d|3[0-6]){_WS}*\)",
        "code-evaluating call or HTML sink: eval(), setTimeout(), new Function(), innerHTML=, "
        "names spelt as numbers (8680439..toString(30))",
        kinds=_VALUES, variants=_DM,
    ),
    Rule(
        "XSS-S11", _K, "Standard",
        rf"\b(?:alert|prompt|confirm)(?:{_WS}*`|{_WS}*\({_WS}*\)|{_WS}+\({_WS}*\d+{_WS}*\)"
        rf"|\({_WS}*(?:[-+~!\d\"'`/\[(]|[\w$]{{1,40}}{_WS}*[.(\[]|{_PROOF_ARGS}\b)"
        rf"|{_WS}*\.{_WS}*(?:call|apply|bind)\b|{_WS}*\?\.{_WS}*\()"
        rf"|\({_WS}*(?:alert|prompt|confirm|eval){_WS}*\){_WS}*\(",
        "dialog call used to prove XSS: alert(1), prompt`1`, confirm(document.domain)",
        kinds=_VALUES, variants=_DM,
    ),
    Rule(
        "XSS-S12", _K, "Standard",
        rf"\.{_JS_GAP}(?:call|apply|bind){_WS}*`"
        rf"|`[^`]{{0,64}}\$\{{{_WS}*(?:alert|prompt|confirm|eval)\b"
        rf"|\.{_WS}*(?:find|map|filter|forEach|some|every|reduce|sort|then|call|apply)"
        rf"{_WS}*\({_WS}*(?:alert|prompt|confirm|eval){_WS}*[),]"
        rf"|\bReflect{_WS}*\.{_WS}*(?:apply|construct){_WS}*\({_WS}*(?:alert|prompt|confirm"
        rf"|eval|Function)\b",
        "dialog or eval invoked indirectly: [].sort.call`${alert}1`, [1].find(alert), "
        "Reflect.apply(alert, ...)",
        kinds=_VALUES, variants=_DM,
    ),
    Rule(
        "XSS-S13", _K, "Standard",
        # `!![]` but not markdown's `!![](image)`; a form-decoded `+` is a blank.
        r"!!\s*\[\s*\]\s*(?:[-+)\]\[,;]|\z)|\(\s*!\s*\[\s*\]\s*[+ ]\s*\[\s*\]\s*\)"
        r"|[+ ]\s*!\s*[+ ]\s*\[\s*\]|\[\s*\]\s*\[\s*\(\s*!",
        "JSFuck: JavaScript written with []()!+ only",
        kinds=_VALUES,
    ),
    Rule(
        "XSS-S14", _K, "Standard",
        r"\+ADw-",
        "UTF-7 encoded markup (+ADw- is '<')",
        caseless=False,
    ),
    Rule(
        "XSS-S15", _K, "Standard",
        r"\xbc/?[a-zA-Z][a-zA-Z0-9]{0,15}[\x80-\xdf]{0,3}\xbe",
        "angle brackets with the high bit set (0xBC, 0xBE), read as < > by 7-bit decoders",
        variants=_DM,
        # Case-sensitive: RE2 reads bytes as Latin-1 and would fold 0xC0-0xDE onto 0xE0-0xFE.
        caseless=False,
    ),
    Rule(
        "XSS-S16", _K, "Standard",
        rf"#@~\^[a-z0-9+/]{{6}}==|(?:\bjquery|\$){_WS}*\.{_WS}*(?:globalEval|getScript)\b",
        "encoded JScript (#@~^) and jQuery script loaders",
        kinds=_VALUES, variants=_DM,
    ),
    Rule(
        "XSS-S17", _K, "Standard",
        rf"\bimport{_WS}*\({_WS}*[\"'`]|\bimport{_WS}*\{{[^}}]{{0,200}}\}}{_WS}*from{_WS}*[\"'`]",
        "JavaScript module import (dynamic import('...') or import {...} from '...')",
        kinds=_VALUES, variants=_DM,
    ),
    Rule(
        "XSS-S18", _K, "Standard",
        rf"{_LT}{_WS}*(?:s{_WS}+c{_WS}+r{_WS}+i{_WS}+p{_WS}+t|f{_WS}+o{_WS}+r{_WS}+m"
        rf"|i{_WS}+f{_WS}+r{_WS}+a{_WS}+m{_WS}+e|d{_WS}+i{_WS}+a{_WS}+l{_WS}+o{_WS}+g"
        rf"|o{_WS}+b{_WS}+j{_WS}+e{_WS}+c{_WS}+t|e{_WS}+m{_WS}+b{_WS}+e{_WS}+d"
        rf"|s{_WS}+t{_WS}+y{_WS}+l{_WS}+e|s{_WS}+v{_WS}+g|i{_WS}+m{_WS}+g"
        rf"|m{_WS}+e{_WS}+t{_WS}+a|l{_WS}+i{_WS}+n{_WS}+k|b{_WS}+a{_WS}+s{_WS}+e)\b",
        "tag name spelled with blanks between letters to dodge filters (<s c r i p t)",
        variants=_DM,
    ),
    Rule(
        "XSS-S19", _K, "Standard",
        rf"[0-9]on[a-z]{{3,40}}{_WS}*=",
        "event-handler-like attribute glued to a digit, as smuggled into tokens",
        variants=_DM,
        # Lower case only: mixed-case base64 tokens would otherwise end in `9ONxYz=` by chance.
        caseless=False,
    ),
    Rule(
        "XSS-S20", _K, "Standard",
        rf"[\"'`]{_WS}*in{_WS}*(?:[\w$]{{0,32}}\.[\w$.]{{1,64}}|{_WS}(?:location|name|valueOf"
        rf"|toString|onerror)){_WS}*=(?:[^=]|\z)",
        "string literal broken with the `in` operator to chain an assignment: \"in location=",
        kinds=_VALUES, variants=_DM,
    ),
    # --- Strict: constructs that are usually but not always hostile ------------------------
    Rule(
        "XSS-X01", _K, "Strict",
        rf"\bdata{_WS}*:{_WS}*image/svg\+xml|\bdata{_WS}*:[^,]{{0,64}},{_WS}*<",
        "data: URI with SVG or markup content",
        variants=_DM,
    ),
    Rule(
        "XSS-X02", _K, "Strict",
        rf"{_OPEN}/?(?:svg|math)\b[^>]{{0,64}}>{_WS}*{_OPEN}[a-z]",
        "SVG or MathML element wrapping further markup",
        variants=_DM,
    ),
]  # fmt: skip
