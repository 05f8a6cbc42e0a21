"""Error types shared by the policy model and the engine."""


class PolicyError(ValueError):
    """An invalid policy: names the field path and the reason.

    Example: ``spec.request.custom.rules[2].ruleKey: must match ^[A-Z][A-Z0-9_]*$``.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class ParseError(Exception):
    """A request the engine cannot parse; the engine turns it into a block with reason PARSER."""


class LimitExceeded(Exception):
    """A request over a limit; the engine turns it into a block with reason LIMITS."""

    def __init__(self, limit: str, detail: str, name: str | None = None) -> None:
        super().__init__(f"{limit}: {detail}")
        self.limit = limit
        self.detail = detail
        self.name = name
