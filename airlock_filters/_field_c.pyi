"""Type stub for the compiled `Field` built from `_field_c.pyx` (see `_field_py.Field`)."""

class Field:
    kind: int
    name: str
    value: str
    raw: str
    source: str
    is_name: bool
    encoded: bool

    def __init__(
        self,
        kind: int,
        name: str,
        value: str,
        raw: str,
        source: str = "",
        is_name: bool = False,
        encoded: bool = True,
    ) -> None: ...
    @property
    def type(self) -> str: ...
