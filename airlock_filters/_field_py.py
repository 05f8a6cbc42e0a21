"""Pure-Python twin of `Field`, one named piece of a parsed request (compiled twin:
`_field_c.pyx`). Import it from `airlock_filters.request`, which selects the twin."""

from __future__ import annotations

from dataclasses import dataclass

# The API field type of each internal field kind (see airlock_filters.request), by kind.
FIELD_TYPES = ("Path", "PathSegment", "Parameter", "JSON", "Header", "Header")


@dataclass(slots=True)
class Field:
    """One named piece of a request, in the form the parser produced."""

    kind: int
    name: str  # header / parameter / cookie name, JSON path, segment index; "" for the path
    value: str  # decoded once by the parser (what the application will see)
    raw: str  # as received
    source: str = ""  # Query | Post | Cookie | Header | Multipart | FileName | Key
    is_name: bool = False  # the field carries a parameter or key *name*, not a value
    # `raw` is URL-encoded (path, query, form, cookie): only then do percent-encoding
    # anomalies in it mean anything; a multipart or JSON value may say "100%" literally.
    encoded: bool = True

    @property
    def type(self) -> str:
        return FIELD_TYPES[self.kind]
