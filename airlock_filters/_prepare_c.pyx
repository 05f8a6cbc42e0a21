# cython: language_level=3, embedsignature=True
"""Compiled twin of the per-field hot loops (pure twin: `_prepare_py.py`).

Same functions, same results; they run over every field of every request. Fields that need
decoding take the pure twin's `field_forms`, and limit errors its wording. Fields are the
compiled twin's (`_field_c`), read and made without Python calls; `airlock_filters.request`
selects both twins together.
"""

from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.unicode cimport PyUnicode_AsEncodedString

from airlock_filters._field_c cimport Field, make_field

from airlock_filters._prepare_py import SLOT_BITS, Pairs, field_forms
from airlock_filters.errors import LimitExceeded
from airlock_filters.jsonpath import canonical_key, jsonpath_matches
from airlock_filters.request import JSON


cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object text)
    const char *PyUnicode_DATA(object text)


cdef inline bint _plain(str value):
    """No normalization step acts on `value` (no `%`, `&`, `\\` or control character but tab
    and line breaks): it is its own normal form. The pure twin's `_PLAIN`, without a regex."""
    cdef Py_UCS4 char
    for char in value:
        if char == u"%" or char == u"&" or char == u"\\" or char == 0x7F:
            return False
        if char < 0x20 and char != 0x09 and char != 0x0A and char != 0x0D:
            return False
    return True


cdef inline bytes _encode(str text):
    # ASCII text is its own UTF-8: copied without the codec machinery.
    if PyUnicode_IS_ASCII(text):
        return PyBytes_FromStringAndSize(PyUnicode_DATA(text), len(text))
    return PyUnicode_AsEncodedString(text, b"utf-8", b"surrogatepass")


# Per kind: the bits of all its forms, and of all but RAW (for a value not URL-encoded).
cdef dict _PLAIN_BITS = {k: (b[0] | b[1] | b[2], b[1] | b[2]) for k, b in SLOT_BITS.items()}


cdef inline void _add(dict index_of, list values, list bits, list owners, str text,
                      Py_ssize_t index, object mask) except *:
    at = index_of.get(text)
    if at is None:
        index_of[text] = len(values)
        values.append(_encode(text))
        bits.append(mask)
        if owners is not None:
            owners.append([(index, mask)])
    else:
        bits[<Py_ssize_t>at] |= mask
        if owners is not None:
            (<list>owners[<Py_ssize_t>at]).append((index, mask))


def scan_input(list fields, markup_kinds, bint with_owners=True):
    """The distinct byte strings to scan, their combined slot bits, and for each the
    (field index, slot bits) it stands for, unless not `with_owners` (see the pure twin).
    Takes compiled Fields."""
    cdef dict index_of = {}
    cdef list values = []
    cdef list bits = []
    cdef list owners = [] if with_owners else None
    cdef Py_ssize_t index
    cdef tuple slot_bits
    cdef str value
    cdef Field fld
    cdef dict plain_bits = _PLAIN_BITS
    for index in range(len(fields)):
        fld = <Field?>fields[index]
        value = fld.value
        if (not fld.encoded or fld.raw == value) and _plain(value):
            # Nothing to decode: every form is the value itself, scanned once.
            slot_bits = <tuple>plain_bits[fld.kind]
            _add(index_of, values, bits, owners, value, index,
                 slot_bits[0] if fld.encoded else slot_bits[1])
        else:
            for text, mask in field_forms(fld, markup_kinds):
                _add(index_of, values, bits, owners, text, index, mask)
    return values, bits, owners


def fields_by_kind(list fields):
    """The fields of each kind present, in request order."""
    cdef dict by_kind = {}
    cdef list same
    cdef object last_kind = None
    cdef list last = None
    cdef Field fld
    for item in fields:
        fld = <Field?>item
        kind = fld.kind
        # Fields come in runs of one kind (headers, then parameters, ...).
        if last is not None and kind == last_kind:
            last.append(fld)
            continue
        same = by_kind.get(kind)
        if same is None:
            same = []
            by_kind[kind] = same
        same.append(fld)
        last_kind = kind
        last = same
    return by_kind


def split_names(list fields):
    """The fields that carry a name, and those that carry a value, in request order."""
    cdef list names = []
    cdef list values = []
    cdef Field fld
    for item in fields:
        fld = <Field?>item
        if fld.is_name:
            names.append(fld)
        else:
            values.append(fld)
    return names, values


def json_document_fields(document, Py_ssize_t key_length, Py_ssize_t value_length,
                         Py_ssize_t element_count, Py_ssize_t nesting_depth,
                         list exempt_patterns):
    """The fields of a document parsed with `Pairs` for objects (see the pure twin)."""
    cdef _JsonWalker walker = _JsonWalker(key_length, value_length, element_count,
                                          nesting_depth, exempt_patterns)
    if isinstance(document, list):  # objects are lists of pairs too
        walker.walk(document, "$", 0)
    else:
        walker.leaf(document, "$")
    return walker.fields


cdef class _JsonWalker:
    cdef Py_ssize_t key_length
    cdef Py_ssize_t value_length
    cdef Py_ssize_t element_count
    cdef Py_ssize_t nesting_depth
    cdef Py_ssize_t elements
    cdef list exempt_patterns
    cdef list fields
    # Key -> its path step: documents repeat the same keys in every record.
    cdef dict steps

    def __init__(self, Py_ssize_t key_length, Py_ssize_t value_length,
                 Py_ssize_t element_count, Py_ssize_t nesting_depth, list exempt_patterns):
        self.key_length = key_length
        self.value_length = value_length
        self.element_count = element_count
        self.nesting_depth = nesting_depth
        self.exempt_patterns = exempt_patterns
        self.elements = 0
        self.fields = []
        self.steps = {}

    cdef bint exempt(self, str path) except -1:
        return any(jsonpath_matches(p, path) for p in self.exempt_patterns)

    cdef int walk(self, object node, str path, Py_ssize_t depth) except -1:
        # `object`: a typed `list` argument would refuse `Pairs`, a list subclass.
        cdef list items = <list>node
        cdef Py_ssize_t index
        cdef str key
        cdef str child
        if depth >= self.nesting_depth:
            raise LimitExceeded(
                "json.nestingDepth", f"JSON nesting deeper than {self.nesting_depth}", path[:128]
            )
        self.elements += len(items)
        if self.elements > self.element_count:
            raise LimitExceeded(
                "json.elementCount", f"JSON document with more than {self.element_count} elements"
            )
        if isinstance(node, Pairs):
            for key, value in items:
                step = self.steps.get(key)
                if step is None:
                    step = canonical_key("", key)
                    self.steps[key] = step
                child = path + <str>step
                if len(key) > self.key_length and not self.exempt(child):
                    raise LimitExceeded(
                        "json.keyLength", f"JSON key longer than {self.key_length}", child[:128]
                    )
                self.fields.append(make_field(JSON, child, key, key, "Key", True, False))
                if isinstance(value, list):
                    self.walk(value, child, depth + 1)
                else:
                    self.leaf(value, child)
        else:
            for index in range(len(items)):
                value = items[index]
                child = f"{path}[{index}]"
                if isinstance(value, list):
                    self.walk(value, child, depth + 1)
                else:
                    self.leaf(value, child)
        return 0

    cdef int leaf(self, node, str path) except -1:
        cdef str text
        if isinstance(node, str):
            text = node
        elif node is None:
            text = "null"
        elif node is True or node is False:
            text = "true" if node else "false"
        else:
            text = repr(node)
        if len(text) > self.value_length and not self.exempt(path):
            raise LimitExceeded(
                "json.valueLength", f"JSON value longer than {self.value_length}", path[:128]
            )
        self.fields.append(make_field(JSON, path, text, text, "JSON", False, False))
        return 0
