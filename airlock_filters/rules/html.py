"""HTML and XML markup injection deny rules (rule key HTML).

HTML covers injected markup that changes what a page is or where its data goes, without
running script itself: frames (phishing, clickjacking), forms and form overrides (credential
theft), `<meta>` refresh and charset switches, `<base>` hijacking of relative URLs, `<link>` and
`<style>` (CSS injection, data exfiltration through selectors), elements that swallow the rest
of the page (`<textarea>`, `<title>`, `<xmp>`, ...), comment breakouts, Internet Explorer
conditional comments, server-side includes, and XML declarations that make a parser fetch or
include foreign content (external entities, XInclude, schema locations).

Anything that runs code (`<script>`, event handlers, `javascript:` URIs, applet/object/embed,
CSS expressions) belongs to XSS; the two keys together cover markup injection.

Ordinary rich text (paragraphs, emphasis, lists, quotes, code, links and images with https
URLs, inline colour styles) uses none of these elements, and an arrow such as "a --> b" in
prose is only flagged at Strict.
"""

from airlock_filters.request import NORM
from airlock_filters.rules._rule import DECODED_MARKUP, Rule

_K = "HTML"
_DM = DECODED_MARKUP
_N = frozenset({NORM})

# --- Fragments ------------------------------------------------------------------------------
# Vertical tab is whitespace to HTML parsers but not to RE2's \s, so it is spelled out.
_WS = r"[\s\x0b]"
# An opening angle bracket (also full-width) with the blanks filters are dodged with.
_OPEN = "(?:<|\uff1c)" + rf"{_WS}{{0,3}}"
# End of a tag name: what may follow it in a real tag.
_END = r"(?:[^\w:-]|\z)"
# SSI directives (Apache mod_include and friends).
_SSI = r"(?:exec|include|echo|set|config|printenv|fsize|flastmod|if|elif)"
# Elements whose content is raw text up to their end tag: opening one swallows the page,
# closing one escapes the context the input was reflected into.
_RAWTEXT = r"(?:textarea|noscript|noembed|noframes|xmp|plaintext|listing)"
# ... and those whose names are everyday words in prose about HTML: only closing or with
# attributes.
_RAWTEXT_WORDS = r"(?:title|template)"

# Elements that fetch or submit their URL without a click: a dangling quote in one of them
# sends the page up to the next matching quote to the attacker.
_AUTOLOAD = (
    r"(?:img|image|input|meta|base|link|script|i?frame|embed|object|video|audio|source|track"
    r"|body|table|td|th|form|button)"
)

RULES = [
    # --- Basic --------------------------------------------------------------------------------
    Rule(
        "HTML-B01", _K, "Basic",
        rf"<!--{_WS}*#{_WS}*{_SSI}\b",
        "server-side include directive (<!--#exec, <!--#include, ...)",
        variants=_DM,
    ),
    Rule(
        "HTML-B02", _K, "Basic",
        rf"!ENTITY{_WS}+(?:%{_WS}*)?[\w.:-]+{_WS}+(?:SYSTEM|PUBLIC)\b",
        "XML external entity declaration",
        variants=_DM,
    ),
    Rule(
        "HTML-B03", _K, "Basic",
        rf"{_OPEN}meta\b[^>]{{0,128}}\bhttp-equiv{_WS}*={_WS}*[\"'`]?{_WS}*"
        r"(?:refresh|content-security-policy|content-type)\b",
        "<meta http-equiv> that redirects or changes the page's policy or charset",
        variants=_DM,
    ),
    # --- Standard -----------------------------------------------------------------------------
    Rule(
        "HTML-S01", _K, "Standard",
        rf"<!DOCTYPE{_WS}+[\w:.-]+{_WS}*(?:\[|SYSTEM\b)",
        "document type declaration with an internal subset or an external DTD",
        variants=_DM,
    ),
    Rule(
        "HTML-S02", _K, "Standard",
        rf"{_OPEN}\w{{1,20}}:include\b[^>]{{0,128}}\bhref{_WS}*=|\bhttps?://www\.w3\.org/2001"
        rf"/XInclude\b|\bxsi{_WS}*:{_WS}*(?:noNamespaceSchemaLocation|schemaLocation){_WS}*="
        rf"{_WS}*[\"'][^\"']{{0,256}}\b(?:https?|ftp|file)://",
        "XML inclusion of foreign content: XInclude, remote schema location",
        variants=_DM,
    ),
    Rule(
        "HTML-S03", _K, "Standard",
        rf"{_OPEN}i?frame(?:set)?[\s\x0b/]|{_OPEN}/{_WS}{{0,3}}i?frame(?:set)?{_END}",
        "frame injection: <iframe>, <frame>, <frameset>",
        variants=_DM,
    ),
    Rule(
        "HTML-S04", _K, "Standard",
        rf"{_OPEN}(?:form|isindex|keygen|input|button|select)[\s\x0b/]|\bformaction{_WS}*=",
        "form injection: <form>, <input>, <button>, <select>, formaction overrides",
        variants=_DM,
    ),
    Rule(
        "HTML-S05", _K, "Standard",
        rf"{_OPEN}(?:meta|base|link)[\s\x0b/]",
        "<meta>, <base> or <link> element",
        variants=_DM,
    ),
    Rule(
        "HTML-S06", _K, "Standard",
        rf"{_OPEN}/?{_WS}{{0,3}}style{_END}|@import{_WS}*(?:url{_WS}*\(|[\"'`])",
        "style sheet injection: <style> element, @import",
        variants=_DM,
    ),
    Rule(
        "HTML-S07", _K, "Standard",
        rf"{_OPEN}/?{_WS}{{0,3}}{_RAWTEXT}{_END}|{_OPEN}/{_WS}{{0,3}}{_RAWTEXT_WORDS}{_END}"
        rf"|{_OPEN}{_RAWTEXT_WORDS}[\s\x0b/]",
        "raw-text element that swallows or escapes the surrounding page (<textarea>, <title>)",
        variants=_DM,
    ),
    Rule(
        "HTML-S08", _K, "Standard",
        rf"(?:\A|[\"'`]){_WS}*--!?>",
        "HTML comment closed at the start of a value or right after a quote",
        variants=_DM,
    ),
    Rule(
        "HTML-S09", _K, "Standard",
        rf"<!--{_WS}*\[{_WS}*if\b|<!\[{_WS}*endif{_WS}*\]",
        "Internet Explorer conditional comment",
        variants=_DM,
    ),
    Rule(
        "HTML-S10", _K, "Standard",
        rf"\A[^<>\"'`]{{0,64}}[\"'`]{_WS}*/?{_WS}*>{_WS}*<{_WS}*[a-z!/]",
        "attribute value closed and a new tag opened (\"><tag)",
        variants=_DM,
    ),
    Rule(
        "HTML-S11", _K, "Standard",
        rf"{_OPEN}{_AUTOLOAD}[\s\x0b/][^<>]{{0,256}}\b(?:src|href|action|formaction|background"
        rf"|poster|content|data){_WS}*={_WS}*(?:\"[^\"<>]{{0,512}}|'[^'<>]{{0,512}})\z",
        "dangling markup: an unclosed URL attribute of a self-loading element sends the rest "
        "of the page away",
        variants=_DM,
    ),
    # --- Strict ---------------------------------------------------------------------------------
    Rule(
        "HTML-X01", _K, "Strict",
        rf"<!--{_WS}*\z|[^\s\x0b-]--!?>",
        "HTML comment opened at the end of a value or closed right after text",
        variants=_N,
    ),
    Rule(
        "HTML-X02", _K, "Strict",
        rf"{_OPEN}(?:option|dialog|marquee|svg|math|details){_END}",
        "rarely legitimate element: <option>, <dialog>, <marquee>, <svg>, <math>, <details>",
        variants=_DM,
    ),
    Rule(
        "HTML-X03", _K, "Strict",
        rf"<!DOCTYPE{_WS}+[\w:.-]+{_WS}+PUBLIC\b|\bxmlns(?::[\w.-]+)?{_WS}*={_WS}*[\"']?"
        rf"{_WS}*https?://www\.w3\.org/(?:1999/xhtml|2000/svg|1998/Math)",
        "external public DTD or XHTML/SVG/MathML namespace in input",
        variants=_DM,
    ),
]  # fmt: skip
