"""airlock_filters: decides, for one HTTP request and one policy, whether to allow, block or log.

from airlock_filters import Engine, Request, load_policy_files
engine = Engine(load_policy_files(["policy.yaml"]))
decision = engine.inspect(Request("GET", "/search?q=1"))
"""

from airlock_filters.decision import Decision, Match
from airlock_filters.engine import Engine
from airlock_filters.errors import LimitExceeded, ParseError, PolicyError
from airlock_filters.policy import ContentSecurity, default_policy, load_policy_files
from airlock_filters.request import Field, Request
from airlock_filters.scanner import IMPLEMENTATION

__all__ = [
    "IMPLEMENTATION",
    "ContentSecurity",
    "Decision",
    "Engine",
    "Field",
    "LimitExceeded",
    "Match",
    "ParseError",
    "PolicyError",
    "Request",
    "default_policy",
    "load_policy_files",
]
