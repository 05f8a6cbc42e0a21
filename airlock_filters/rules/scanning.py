"""Probing for files that should never be served (rule key SCANNING).

Scanners walk lists of version-control folders, backups, credentials and admin consoles; a
real user's browser never asks for them.
"""

from airlock_filters.request import PATH
from airlock_filters.rules._rule import DECODED, Rule

_K = "SCANNING"
_PATH_ONLY = frozenset({PATH})

RULES = [
    Rule(
        "SCANNING-B01", _K, "Basic",
        r"/\.(?:git|svn|hg|bzr)(?:/|\z)|/\.(?:htpasswd|htaccess)\b|/\.env(?:\.[a-z]+)?\z"
        r"|/\.aws/credentials|/\.ssh/|/\.docker/config\.json|/\.npmrc\z|/\.DS_Store\z",
        "request for version control data, credentials or server configuration",
        kinds=_PATH_ONLY, variants=DECODED,
    ),
    Rule(
        "SCANNING-S01", _K, "Standard",
        r"\.(?:bak|backup|old|orig|save|sav|swp|swo|tmp|temp|dist|copy)\z|~\z"
        r"|\.(?:sql|sqlite|db|mdb|dump)(?:\.(?:gz|zip|bz2))?\z",
        "request for a backup, editor or database dump file",
        kinds=_PATH_ONLY, variants=DECODED,
    ),
    Rule(
        "SCANNING-S02", _K, "Standard",
        r"/(?:phpinfo|info|test|php_info)\.php\z|/server-(?:status|info)\z|/wp-config\.php"
        r"|/web\.config\z|/(?:config|settings|database|credentials|secrets)\.(?:ya?ml|json|ini|xml)\z",
        "request for a diagnostics page or configuration file",
        kinds=_PATH_ONLY, variants=DECODED,
    ),
    Rule(
        "SCANNING-X01", _K, "Strict",
        r"/(?:phpmyadmin|pma|myadmin|adminer|manager/html|jmx-console|web-console|solr/admin"
        r"|actuator/(?:env|heapdump|jolokia|gateway)|cgi-bin/(?:php|bash|sh|test-cgi))",
        "request for a well-known admin console",
        kinds=_PATH_ONLY, variants=DECODED,
    ),
]  # fmt: skip
