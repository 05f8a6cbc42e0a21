# cython: language_level=3, embedsignature=True
"""Compiled twin of `Field` (pure twin: `_field_py.py`, a slots dataclass).

A request yields a field per parameter, header, cookie and JSON key and value, hundreds for a
JSON body; a dataclass's `__init__` is Python code, this one is C. Same constructor, attributes,
`type`, equality and repr as the pure twin.
"""

from airlock_filters._field_py import FIELD_TYPES


cdef class Field:
    """One named piece of a request, in the form the parser produced."""

    # Attributes are declared in _field_c.pxd, so that compiled code reads them directly.

    def __init__(self, kind, name, value, raw, source="", is_name=False, encoded=True):
        self.kind = kind
        self.name = name
        self.value = value
        self.raw = raw
        self.source = source
        self.is_name = is_name
        self.encoded = encoded

    @property
    def type(self):
        return FIELD_TYPES[self.kind]

    cdef tuple astuple(self):
        return (self.kind, self.name, self.value, self.raw, self.source, self.is_name,
                self.encoded)

    def __eq__(self, other):
        # As a dataclass compares: only with its own class, field by field.
        if type(other) is not type(self):
            return NotImplemented
        return self.astuple() == (<Field>other).astuple()

    # Mutable and compared by value, so unhashable, like the dataclass.
    __hash__ = None

    def __repr__(self):
        return (
            f"{type(self).__qualname__}(kind={self.kind!r}, name={self.name!r}, "
            f"value={self.value!r}, raw={self.raw!r}, source={self.source!r}, "
            f"is_name={self.is_name!r}, encoded={self.encoded!r})"
        )


cdef Field make_field(object kind, str name, str value, str raw, str source, bint is_name,
                      bint encoded):
    """A new Field without the call machinery of the constructor, for compiled parsers."""
    cdef Field fld = Field.__new__(Field)
    fld.kind = kind
    fld.name = name
    fld.value = value
    fld.raw = raw
    fld.source = source
    fld.is_name = is_name
    fld.encoded = encoded
    return fld
