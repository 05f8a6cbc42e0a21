# cython: language_level=3, embedsignature=True
"""Hyperscan twin of the multi-pattern scanner.

Same interface and same results as the RE2 twin `_scanner_py`, except that patterns Hyperscan
cannot compile are left out (listed in `rejected`, with the compiler's message in
`rejected_reasons`) so that the caller can search them with RE2 instead.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_Check, PyBytes_GET_SIZE
from libc.limits cimport UINT_MAX
from libc.stdint cimport uint32_t
from libc.stdlib cimport free, malloc, qsort, realloc
from libc.string cimport memchr

from airlock_filters._hs cimport (
    HS_FLAG_CASELESS,
    HS_FLAG_DOTALL,
    HS_FLAG_SINGLEMATCH,
    HS_MODE_BLOCK,
    HS_NOMEM,
    HS_SUCCESS,
    hs_alloc_scratch,
    hs_compile_error_t,
    hs_compile_multi,
    hs_database_size,
    hs_database_t,
    hs_deserialize_database,
    hs_expr_info_t,
    hs_expression_info,
    hs_free_compile_error,
    hs_free_database,
    hs_free_scratch,
    hs_scan,
    hs_scratch_t,
    hs_serialize_database,
    hs_version,
)

CASELESS = 1
DOTALL = 2
HYPERSCAN_VERSION = (<bytes>hs_version()).decode("ascii", "replace")


cdef struct Hit:
    unsigned int pattern
    Py_ssize_t value


cdef struct Value:
    const char *data
    unsigned int length
    uint32_t bits


cdef struct ScanState:
    const uint32_t *masks
    uint32_t bits
    Py_ssize_t value
    Hit *hits
    size_t count
    size_t capacity
    bint out_of_memory


cdef int _on_match(unsigned int id, unsigned long long from_, unsigned long long to,
                   unsigned int flags, void *context) noexcept nogil:
    cdef ScanState *state = <ScanState *>context
    cdef Hit *grown
    cdef size_t capacity
    # The mask is checked here rather than by compiling one database per slot: a single
    # database keeps memory and compile time flat however many slots the policy uses.
    if not (state.masks[id] & state.bits):
        return 0
    if state.count == state.capacity:
        capacity = state.capacity * 2 if state.capacity else 64
        grown = <Hit *>realloc(state.hits, capacity * sizeof(Hit))
        if grown is NULL:
            state.out_of_memory = True
            return 1
        state.hits = grown
        state.capacity = capacity
    state.hits[state.count].pattern = id
    state.hits[state.count].value = state.value
    state.count += 1
    return 0


cdef int _hit_order(const void *a, const void *b) noexcept nogil:
    cdef const Hit *x = <const Hit *>a
    cdef const Hit *y = <const Hit *>b
    if x.pattern != y.pattern:
        return -1 if x.pattern < y.pattern else 1
    if x.value != y.value:
        return -1 if x.value < y.value else 1
    return 0


cdef str _take_message(hs_compile_error_t *error):
    message = (<bytes>error.message).decode("utf-8", "replace")
    hs_free_compile_error(error)
    return message


cdef str _compile_alone(const char *text, unsigned int flags):
    """Return why Hyperscan refuses to compile `text` on its own, or None if it accepts it."""
    cdef hs_database_t *db = NULL
    cdef hs_compile_error_t *error = NULL
    cdef unsigned int id = 0
    cdef int rc
    with nogil:
        rc = hs_compile_multi(&text, &flags, &id, 1, HS_MODE_BLOCK, NULL, &db, &error)
    if rc == HS_SUCCESS:
        hs_free_database(db)
        return None
    if error is NULL:
        raise MemoryError(f"hs_compile_multi failed with error {rc}")
    return _take_message(error)


cdef str _precheck(bytes expression, unsigned int flags):
    """Return why Hyperscan refuses `expression`, or None if it most likely accepts it.

    The multi-pattern compiler analyses every expression before the one it fails on, so
    finding each refused pattern by retrying it costs a full compile per refusal (a minute
    for 50 refusals among 3000 patterns); these checks catch nearly all of them up front.
    """
    cdef const char *text = PyBytes_AS_STRING(expression)
    cdef hs_expr_info_t *info = NULL
    cdef hs_compile_error_t *error = NULL
    cdef unsigned int min_width
    # Hyperscan reads expressions as C strings, so a raw NUL would silently cut the pattern
    # short; RE2 handles it correctly.
    if memchr(text, 0, PyBytes_GET_SIZE(expression)):
        return "expression contains a NUL byte"
    # A leading (*UTF8) or (*UCP) switches Hyperscan to UTF-8 mode, whose behaviour on the
    # arbitrary bytes scanned here is undefined. RE2 refuses these verbs anyway.
    if expression.startswith(b"(*"):
        return "leading control verbs such as (*UTF8) are not allowed: values are raw bytes"
    if hs_expression_info(text, flags, &info, &error) != HS_SUCCESS:
        if error is NULL:
            raise MemoryError()
        return _take_message(error)
    min_width = info.min_width
    # Allocated with malloc: this module never installs a Hyperscan allocator.
    free(info)
    if min_width:
        return None
    # Only the full compiler decides whether a pattern matches the empty string (refused
    # without HS_FLAG_ALLOWEMPTY); such patterns are rare, so compiling each alone is cheap.
    return _compile_alone(text, flags)


cdef unsigned int _remove(const char **expressions, unsigned int *flags, unsigned int *ids,
                          unsigned int live, unsigned int position) noexcept nogil:
    cdef unsigned int i
    live -= 1
    for i in range(position, live):
        expressions[i] = expressions[i + 1]
        flags[i] = flags[i + 1]
        ids[i] = ids[i + 1]
    return live


cdef class Scanner:
    """Scans byte values against a fixed list of (expression, flags, mask) patterns.

    Pattern i is searched in value v when ``mask_i & bits_v`` is non-zero.
    """

    cdef hs_database_t *_db
    cdef uint32_t *_masks
    cdef uint32_t _any_mask
    cdef Py_ssize_t _count
    cdef bint _initialised
    # Scratch spaces not in use by any scan. Only touched while holding the GIL and without
    # calling back into Python, which makes taking and returning one atomic between threads.
    cdef hs_scratch_t **_idle
    cdef Py_ssize_t _idle_count
    cdef Py_ssize_t _idle_capacity
    cdef public list rejected
    cdef public dict rejected_reasons

    def __init__(self, patterns, serialized=None, rejected=None):
        """Compile `patterns`; or, given `serialized` (from `serialize()` of a scanner over the
        same expressions and flags) and its `rejected` list, load that database instead."""
        cdef list entries = list(patterns)
        cdef Py_ssize_t n = len(entries)
        cdef Py_ssize_t i
        cdef unsigned int live = 0
        cdef unsigned int position
        cdef const char **expressions = NULL
        cdef unsigned int *flags = NULL
        cdef unsigned int *ids = NULL
        cdef hs_database_t *db = NULL
        cdef hs_compile_error_t *error = NULL
        cdef hs_scratch_t *scratch = NULL
        cdef int rc
        cdef int failed_at
        cdef unsigned int pattern_hs_flags
        # Holds the expressions whose buffers Hyperscan reads while the GIL is released, in case
        # a pattern entry is a mutable list that another thread rewrites meanwhile.
        cdef list keep = []

        # Re-running __init__ would free the database under a scan running in another thread.
        if self._initialised:
            raise TypeError("Scanner is already initialised")
        self._initialised = True
        self.rejected = []
        self.rejected_reasons = {}
        if n > UINT_MAX:
            raise ValueError("too many patterns for Hyperscan")
        self._count = n
        self._masks = <uint32_t *>malloc(max(n, 1) * sizeof(uint32_t))
        expressions = <const char **>malloc(max(n, 1) * sizeof(const char *))
        flags = <unsigned int *>malloc(max(n, 1) * sizeof(unsigned int))
        ids = <unsigned int *>malloc(max(n, 1) * sizeof(unsigned int))
        try:
            if self._masks is NULL or expressions is NULL or flags is NULL or ids is NULL:
                raise MemoryError()
            for i in range(n):
                expression, pattern_flags, mask = entries[i]
                if not PyBytes_Check(expression):
                    raise TypeError(f"pattern {i}: expression must be bytes")
                self._masks[i] = mask
                self._any_mask |= self._masks[i]
                if serialized is not None:
                    continue
                pattern_hs_flags = HS_FLAG_SINGLEMATCH
                if pattern_flags & CASELESS:
                    pattern_hs_flags |= HS_FLAG_CASELESS
                if pattern_flags & DOTALL:
                    pattern_hs_flags |= HS_FLAG_DOTALL
                reason = _precheck(expression, pattern_hs_flags)
                if reason is not None:
                    self._reject(i, reason)
                    continue
                keep.append(expression)
                expressions[live] = PyBytes_AS_STRING(expression)
                ids[live] = <unsigned int>i
                flags[live] = pattern_hs_flags
                live += 1

            if serialized is not None:
                self._load(serialized)
                for i in rejected or ():
                    self._reject(i, "refused when the cached database was compiled")
            while live:
                with nogil:
                    rc = hs_compile_multi(expressions, flags, ids, live, HS_MODE_BLOCK, NULL,
                                          &db, &error)
                if rc == HS_SUCCESS:
                    self._db = db
                    break
                if error is NULL:
                    if rc == HS_NOMEM:
                        raise MemoryError()
                    raise ValueError(f"hs_compile_multi failed with error {rc}")
                failed_at = error.expression
                message = _take_message(error)
                error = NULL
                if failed_at >= 0 and <unsigned int>failed_at < live:
                    self._reject(ids[failed_at], message)
                    live = _remove(expressions, flags, ids, live, failed_at)
                    continue
                # Errors such as "Resource limit exceeded." name no expression. Patterns that
                # fail on their own can still go to RE2; if none does, the set as a whole is
                # too much for Hyperscan.
                found = False
                position = 0
                while position < live:
                    reason = _compile_alone(expressions[position], flags[position])
                    if reason is None:
                        position += 1
                        continue
                    found = True
                    self._reject(ids[position], reason)
                    live = _remove(expressions, flags, ids, live, position)
                if not found:
                    raise ValueError(message)
        finally:
            free(expressions)
            free(flags)
            free(ids)
        self.rejected.sort()

        if self._db is not NULL:
            with nogil:
                rc = hs_alloc_scratch(self._db, &scratch)
            if rc != HS_SUCCESS:
                raise MemoryError(f"hs_alloc_scratch failed with error {rc}")
            self._give_scratch(scratch)

    def __dealloc__(self):
        cdef Py_ssize_t i
        for i in range(self._idle_count):
            hs_free_scratch(self._idle[i])
        free(self._idle)
        if self._db is not NULL:
            hs_free_database(self._db)
        free(self._masks)

    cdef _load(self, bytes serialized):
        cdef hs_database_t *db = NULL
        cdef int rc = hs_deserialize_database(PyBytes_AS_STRING(serialized),
                                              PyBytes_GET_SIZE(serialized), &db)
        if rc != HS_SUCCESS:
            raise ValueError(f"not a serialized Hyperscan database (error {rc})")
        self._db = db

    def serialize(self):
        """The compiled database as bytes, to skip compiling the same patterns again."""
        cdef char *data = NULL
        cdef size_t length = 0
        if self._db is NULL:
            return None
        if hs_serialize_database(self._db, &data, &length) != HS_SUCCESS:
            raise MemoryError("hs_serialize_database failed")
        try:
            return data[:length]
        finally:
            # Allocated with malloc: this module never installs a Hyperscan allocator.
            free(data)

    cdef _reject(self, Py_ssize_t index, str reason):
        self.rejected.append(index)
        self.rejected_reasons[index] = reason

    cdef hs_scratch_t *_take_scratch(self) except NULL:
        cdef hs_scratch_t *scratch = NULL
        cdef int rc
        if self._idle_count:
            self._idle_count -= 1
            return self._idle[self._idle_count]
        # Every scratch is busy in another thread: the pool grows to the peak concurrency.
        with nogil:
            rc = hs_alloc_scratch(self._db, &scratch)
        if rc != HS_SUCCESS:
            raise MemoryError(f"hs_alloc_scratch failed with error {rc}")
        return scratch

    cdef void _give_scratch(self, hs_scratch_t *scratch) noexcept:
        cdef Py_ssize_t capacity
        cdef hs_scratch_t **grown
        if self._idle_count == self._idle_capacity:
            capacity = self._idle_capacity * 2 if self._idle_capacity else 4
            grown = <hs_scratch_t **>realloc(self._idle, capacity * sizeof(hs_scratch_t *))
            if grown is NULL:
                hs_free_scratch(scratch)
                return
            self._idle = grown
            self._idle_capacity = capacity
        self._idle[self._idle_count] = scratch
        self._idle_count += 1

    def __len__(self):
        return self._count

    def database_size(self):
        """Size in bytes of the compiled Hyperscan database, 0 when there is none."""
        cdef size_t size = 0
        if self._db is NULL:
            return 0
        if hs_database_size(self._db, &size) != HS_SUCCESS:
            raise RuntimeError("hs_database_size failed")
        return size

    def scan(self, values, bits):
        """Return (pattern index, value index) for every match, sorted."""
        # Own references to every value keep their buffers alive while the GIL is released,
        # whatever the caller does to its sequence meanwhile.
        cdef list value_list = list(values)
        cdef list bits_list = list(bits)
        cdef Py_ssize_t n = len(value_list)
        cdef Py_ssize_t i
        cdef Py_ssize_t size
        cdef size_t k
        cdef Value *items = NULL
        cdef hs_scratch_t *scratch = NULL
        cdef ScanState state
        cdef int rc = HS_SUCCESS
        cdef list result = []

        if len(bits_list) != n:
            raise ValueError("values and bits must have the same length")
        items = <Value *>malloc(max(n, 1) * sizeof(Value))
        if items is NULL:
            raise MemoryError()
        state.masks = self._masks
        state.hits = NULL
        state.count = 0
        state.capacity = 0
        state.out_of_memory = False
        try:
            for i in range(n):
                value = value_list[i]
                if not PyBytes_Check(value):
                    raise TypeError(f"value {i} must be bytes, not {type(value).__name__}")
                size = PyBytes_GET_SIZE(value)
                if <size_t>size > UINT_MAX:
                    raise ValueError(f"value {i} is too long for Hyperscan")
                items[i].data = PyBytes_AS_STRING(value)
                items[i].length = <unsigned int>size
                # Masks are 32 bits wide, so higher bits can never select a pattern; reducing
                # with Python's `&` keeps the twin's result for negative and huge ints too.
                items[i].bits = bits_list[i] & 0xFFFFFFFF
            if self._db is NULL:
                return result

            scratch = self._take_scratch()
            try:
                with nogil:
                    for i in range(n):
                        # A value no pattern's mask selects cannot produce a hit.
                        if not (items[i].bits & self._any_mask):
                            continue
                        state.bits = items[i].bits
                        state.value = i
                        rc = hs_scan(self._db, items[i].data, items[i].length, 0, scratch,
                                     _on_match, &state)
                        if rc != HS_SUCCESS:
                            break
                    if rc == HS_SUCCESS and state.count > 1:
                        qsort(state.hits, state.count, sizeof(Hit), _hit_order)
            finally:
                self._give_scratch(scratch)

            if state.out_of_memory:
                raise MemoryError()
            if rc != HS_SUCCESS:
                raise RuntimeError(f"hs_scan failed with error {rc}")
            for k in range(state.count):
                result.append((state.hits[k].pattern, state.hits[k].value))
            return result
        finally:
            free(items)
            free(state.hits)
