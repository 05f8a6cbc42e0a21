"""Java expression language deny rules (rule key OGNL).

Struts OGNL, Spring SpEL, Java EL and MVEL evaluate request data as Java: the payloads reach
the JVM through static member access (`@java.lang.Runtime@getRuntime()`), type references
(`T(java.lang.Runtime)`), reflection (`Class.forName`), the class loader reached by bean
property binding (Spring4Shell `class.module.classLoader`), or simply by naming the Java classes
that run commands, open files and load code.

Struts evaluates OGNL found in protocol headers (Content-Type in S2-045) and in the path, so the
expression rules look at every field; the rules on mere class names stay with user data.
"""

from __future__ import annotations

from airlock_filters.rules._rule import ALL_FIELDS, DATA, DECODED_MARKUP, rule_maker

_K = "OGNL"


# Expressions travel in XML and HTML as often as in parameters: decode entities too.
_rule = rule_maker(_K, kinds=ALL_FIELDS, variants=DECODED_MARKUP)

_ID = r"[a-z_$][\w$]{0,60}"
_QUALIFIED = _ID + r"(?:\." + _ID + r"){1,10}"

# Classes that execute commands, load code or reach the JVM's internals: never data.
_JAVA_EXEC = (
    r"\bjava\.lang\.(?:runtime|processbuilder|processimpl|unixprocess|classloader)"
    r"|\bjavax\.script\.|\bjava\.net\.urlclassloader\b|\bsun\.misc\.unsafe\b"
    r"|\bjava\.beans\.(?:xmldecoder|expression|statement)\b|\bscriptenginemanager\b"
    r"|\b(?:filesystem|classpath)xmlapplicationcontext\b"
)
# Packages and classes an expression needs to read files, open sockets or instantiate objects.
_JAVA_CLASSES = (
    r"\bjava\.lang\.(?:class|object|string(?:builder|buffer)?|integer|long|short|byte"
    r"|boolean|character|number|double|float|math|process|module|ref|reflect|invoke|system"
    r"|thread)\b"
    r"|\bjava\.io\.(?:[a-z]{0,30}(?:stream|reader|writer|file)|console|filedescriptor)\b"
    r"|\bjava\.nio\.(?:file|channels)\b|\bjava\.net\.(?:url|uri|socket|serversocket"
    r"|inetaddress|httpurlconnection|urlconnection)\b|\bjava\.rmi\b|\bjava\.util\.(?:scanner"
    r"|zip|jar|properties|serviceloader)\b|\bjava\.security\.(?:accesscontroller"
    r"|privilegedaction)\b|\bjavax\.(?:naming|management|el|xml\.transform)\b"
    r"|\bsun\.(?:reflect|rmi|net\.www|misc)\b|\bcom\.sun\.(?:org\.apache|jndi|rowset"
    r"|management|net\.httpserver)\b|\bcom\.opensymphony\.xwork2?\b|\borg\.apache\.(?:commons"
    r"|xalan|xbean|naming|bcel|struts2?|tomcat|catalina|jasper|velocity|ibatis|shiro)\b"
    r"|\borg\.omg\.(?:corba|stub)\b|\borg\.springframework\.(?:context|beans|expression|jndi"
    r"|cglib|aop|core\.io)\b|\bcom\.bea\.core\b|\borg\.codehaus\.groovy\b|\bgroovy\.lang\b"
    r"|\bbsh\.interpreter\b|\borg\.mozilla\.javascript\b|\bcom\.mchange\.v2\b"
)
# Reflection and process calls, the steps between "a class" and "a shell".
_REFLECTION = (
    r"\bclass\s*\.\s*forname\s*\(|\.\s*getclass\s*\(\s*\)\s*\.|\.\s*(?:getdeclaredmethods?"
    r"|getdeclaredconstructors?|getdeclaredfields?|getmethods?|getconstructors?|newinstance"
    r"|setaccessible|getclassloader|defineclass|loadclass|getenginebyname|forname)\s*\("
)

# fmt: off
RULES = [
    # Struts OGNL.
    _rule("OGNL-B01", "Basic",
          r"#_?memberaccess\b|\bdefault_member_access\b|\bognlcontext\b|#context\s*\["
          r"|@ognl\.|\bognlutil\b|#_\s*=\s*#",
          "OGNL: member access / context manipulation (#_memberAccess, #context[...])"),
    _rule("OGNL-B02", "Basic", r"@(?:java|javax|ognl|org|com|sun)(?:\." + _ID + r"){1,10}@",
          "OGNL: static member access to a Java class (@java.lang.Runtime@)"),
    _rule("OGNL-S01", "Standard", r"@" + _QUALIFIED + r"@" + _ID,
          "OGNL: static member access (@package.Class@member)"),
    _rule("OGNL-S02", "Standard", r"%\{\s*[#(@'\[]|\(\s*#[a-z_]\w{0,30}\s*=|#(?:request"
          r"|session|application|parameters|attr)\s*[\[.]",
          "OGNL: forced evaluation %{...}, variable assignment (#x=...) or scope access"),
    # Spring4Shell and its Struts ancestor: the class loader reached by property binding.
    _rule("OGNL-B03", "Basic",
          r"\bclass\s*(?:\.|\[\s*['\"]?)\s*(?:module\s*(?:\.|['\"]?\s*\]\s*\[\s*['\"]?)\s*)?"
          r"classloader\b",
          "Class loader manipulation through bean properties (class.module.classLoader)"),
    _rule("OGNL-S03", "Standard", r"\bclass\.(?:module|protectiondomain|classloader)\.",
          "Bean property path into java.lang.Class (class.module.*)"),
    # Spring SpEL.
    _rule("OGNL-B04", "Basic", r"\bT\s*\(\s*(?:java|javax|org|com|sun)\s*\.",
          "SpEL: type reference to a Java class, T(java...)"),
    _rule("OGNL-S04", "Standard", r"\bT\s*\(\s*" + _QUALIFIED + r"\s*\)",
          "SpEL: type reference T(package.Class)"),
    _rule("OGNL-S05", "Standard",
          r"[#$]\{[^}]{0,200}(?:\bT\s*\(|\bnew\s+" + _ID + r"\s*\(|getclass|forname|getruntime"
          r"|getmethod|newinstance|classloader|scriptengine|processbuilder|invoke\s*\()",
          "Java expression (EL / SpEL #{...} ${...}) using reflection or object creation"),
    _rule("OGNL-S06", "Standard",
          r"\$\{\s*(?:pagecontext|applicationscope|sessionscope|requestscope|initparam"
          r"|facescontext|(?:header|cookie|param)(?:values)?\s*\[)",
          "Java EL implicit object in data (${pageContext...}, ${sessionScope...})"),
    # Java classes and reflection, in any expression language.
    _rule("OGNL-B05", "Basic", _JAVA_EXEC,
          "Java class that runs commands or loads code (java.lang.Runtime, ...)"),
    _rule("OGNL-B06", "Basic",
          r"\bgetruntime\s*\(\s*\)\s*\.\s*exec\b|\bnew\s+(?:java\.lang\.)?processbuilder\s*\(",
          "Java command execution (Runtime.getRuntime().exec, new ProcessBuilder)"),
    _rule("OGNL-S07", "Standard", _JAVA_CLASSES,
          "Java class reference used by expression payloads (java.io.*, java.lang.*, ...)",
          kinds=DATA),
    _rule("OGNL-S08", "Standard",
          r"\bjava(?:\.[\w$]{1,40}){0,4}\.(?:runtime|processbuilder)\b",
          "Java Runtime or ProcessBuilder named through a package path", kinds=DATA),
    _rule("OGNL-S09", "Standard", _REFLECTION, "Java reflection call (Class.forName, ...)",
          kinds=DATA),
]
# fmt: on

__all__ = ["RULES"]
