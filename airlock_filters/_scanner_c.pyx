# cython: language_level=3, embedsignature=True
"""Hyperscan twin of the multi-pattern scanner.

Same interface and same results as the RE2 twin `_scanner_py`, except that patterns Hyperscan
cannot compile are left out (listed in `rejected`, with the compiler's message in
`rejected_reasons`) so that the caller can search them with RE2 instead.

Patterns are compiled into one database per group the caller gives, so that a value is scanned
only by the databases holding patterns its slot bits select. Patterns flagged JOINED were sealed
by `airlock_filters._seal`: their database scans all selected values in one call, joined into one
buffer as ``\xff value \xfe ...`` (each call costs far more than the few bytes of a field).
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_Check, PyBytes_GET_SIZE
from libc.limits cimport UINT_MAX
from libc.stdint cimport uint32_t
from libc.stdlib cimport free, malloc, qsort, realloc
from libc.string cimport memchr, memcpy

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
    hs_valid_platform,
    hs_version,
)

CASELESS = 1
DOTALL = 2
JOINED = 4

# The bytes that frame a value in a joined buffer (see airlock_filters._seal); never in UTF-8.
cdef enum:
    VALUE_START = 0xFF
    VALUE_END = 0xFE
HYPERSCAN_VERSION = (<bytes>hs_version()).decode("ascii", "replace")


def valid_platform():
    """Whether this CPU can run Hyperscan (x86 builds need SSE4.2 or better)."""
    return hs_valid_platform() == HS_SUCCESS


cdef struct Hit:
    unsigned int pattern
    Py_ssize_t value


cdef struct Value:
    const char *data
    unsigned int length
    uint32_t bits
    bint framable  # holds no frame byte, so it can join a buffer


cdef struct Region:
    # A value in a joined buffer: its frame ends just before `end`.
    size_t end
    Py_ssize_t value
    uint32_t bits


cdef struct Database:
    hs_database_t *db
    uint32_t any_mask  # the masks of its patterns combined: a value outside it is skipped
    bint joined


cdef struct ScanState:
    const uint32_t *masks
    # Scanning one value: its bits and index. Scanning a joined buffer: its regions, and the
    # last value reported per pattern (a pattern may match many times in one buffer).
    uint32_t bits
    Py_ssize_t value
    const Region *regions
    size_t region_count
    Py_ssize_t *last
    Hit *hits
    size_t count
    size_t capacity
    bint out_of_memory


cdef int _on_match(unsigned int id, unsigned long long from_, unsigned long long to,
                   unsigned int flags, void *context) noexcept nogil:
    cdef ScanState *state = <ScanState *>context
    cdef Hit *grown
    cdef size_t capacity
    cdef size_t low
    cdef size_t high
    cdef size_t middle
    cdef uint32_t bits = state.bits
    cdef Py_ssize_t value = state.value
    if state.regions is not NULL:
        # The match belongs to the value whose frame holds its last byte, at `to - 1`: the
        # first region ending after it (a sealed pattern cannot match across frames).
        low = 0
        high = state.region_count - 1
        while low < high:
            middle = (low + high) // 2
            if state.regions[middle].end >= to:
                high = middle
            else:
                low = middle + 1
        bits = state.regions[low].bits
        value = state.regions[low].value
    # The mask is checked here rather than by compiling one database per slot: a few
    # databases keep memory and compile time flat however many slots the policy uses.
    if not (state.masks[id] & bits):
        return 0
    if state.last is not NULL:
        if state.last[id] == value:
            return 0
        state.last[id] = value
    if state.count == state.capacity:
        capacity = state.capacity * 2 if state.capacity else 64
        grown = <Hit *>realloc(state.hits, capacity * sizeof(Hit))
        if grown is NULL:
            state.out_of_memory = True
            return 1
        state.hits = grown
        state.capacity = capacity
    state.hits[state.count].pattern = id
    state.hits[state.count].value = value
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


# In `serialized`: this database is not cached, compile it.
COMPILE = object()


cdef class Scanner:
    """Scans byte values against a fixed list of (expression, flags, mask) patterns.

    Pattern i is searched in value v when ``mask_i & bits_v`` is non-zero.
    """

    cdef Database *_dbs
    cdef Py_ssize_t _db_count
    cdef uint32_t *_masks
    cdef Py_ssize_t _count
    cdef bint _initialised
    # Scratch spaces not in use by any scan, each large enough for every database. Only
    # touched while holding the GIL and without calling back into Python, which makes taking
    # and returning one atomic between threads.
    cdef hs_scratch_t **_idle
    cdef Py_ssize_t _idle_count
    cdef Py_ssize_t _idle_capacity
    cdef public list rejected
    cdef public dict rejected_reasons

    def __init__(self, patterns, groups=None, serialized=None, rejected=None):
        """Compile `patterns`, one database per (group, JOINED flag); or, given `serialized`
        (from `serialize()` of a scanner over the same expressions, flags and groups) and its
        `rejected` list, load those databases instead - except the ones given as COMPILE,
        which are compiled (and add their own rejections)."""
        cdef list entries = list(patterns)
        cdef Py_ssize_t n = len(entries)
        cdef Py_ssize_t i
        cdef Py_ssize_t d
        cdef hs_scratch_t *scratch = NULL

        # Re-running __init__ would free the databases under a scan running in another thread.
        if self._initialised:
            raise TypeError("Scanner is already initialised")
        self._initialised = True
        self.rejected = []
        self.rejected_reasons = {}
        if n > UINT_MAX:
            raise ValueError("too many patterns for Hyperscan")
        group_list = [0] * n if groups is None else list(groups)
        if len(group_list) != n:
            raise ValueError("patterns and groups must have the same length")
        self._count = n
        self._masks = <uint32_t *>malloc(max(n, 1) * sizeof(uint32_t))
        if self._masks is NULL:
            raise MemoryError()
        members = {}
        for i in range(n):
            expression, pattern_flags, mask = entries[i]
            if not PyBytes_Check(expression):
                raise TypeError(f"pattern {i}: expression must be bytes")
            self._masks[i] = mask
            members.setdefault((group_list[i], bool(pattern_flags & JOINED)), []).append(i)
        keys = sorted(members)
        self._dbs = <Database *>malloc(max(len(keys), 1) * sizeof(Database))
        if self._dbs is NULL:
            raise MemoryError()
        for d in range(len(keys)):
            self._dbs[d].db = NULL
            self._dbs[d].any_mask = 0
            self._dbs[d].joined = keys[d][1]
        self._db_count = len(keys)

        if serialized is not None:
            if not isinstance(serialized, list) or len(serialized) != len(keys):
                raise ValueError("serialized must list one database (or None) per group")
            for d in range(len(keys)):
                if serialized[d] is COMPILE:
                    self._compile(d, members[keys[d]], entries)
                elif serialized[d] is not None:
                    self._load(d, serialized[d])
            for i in rejected or ():
                self._reject(i, "refused when the cached database was compiled")
        else:
            for d in range(len(keys)):
                self._compile(d, members[keys[d]], entries)
        self.rejected.sort()
        refused = set(self.rejected)
        for d in range(len(keys)):
            for i in members[keys[d]]:
                if i not in refused:
                    self._dbs[d].any_mask |= self._masks[i]

        if any(self._dbs[d].db is not NULL for d in range(self._db_count)):
            scratch = self._new_scratch()
            self._give_scratch(scratch)

    cdef int _compile(self, Py_ssize_t d, list indices, list entries) except -1:
        """Compile the patterns `indices` into database `d`, rejecting those Hyperscan refuses."""
        cdef Py_ssize_t count = len(indices)
        cdef unsigned int live = 0
        cdef unsigned int position
        cdef const char **expressions = NULL
        cdef unsigned int *flags = NULL
        cdef unsigned int *ids = NULL
        cdef hs_database_t *db = NULL
        cdef hs_compile_error_t *error = NULL
        cdef int rc
        cdef int failed_at
        cdef unsigned int pattern_hs_flags
        # Holds the expressions whose buffers Hyperscan reads while the GIL is released, in case
        # a pattern entry is a mutable list that another thread rewrites meanwhile.
        cdef list keep = []

        expressions = <const char **>malloc(max(count, 1) * sizeof(const char *))
        flags = <unsigned int *>malloc(max(count, 1) * sizeof(unsigned int))
        ids = <unsigned int *>malloc(max(count, 1) * sizeof(unsigned int))
        try:
            if expressions is NULL or flags is NULL or ids is NULL:
                raise MemoryError()
            for i in indices:
                expression, pattern_flags, _ = entries[i]
                # In a joined buffer a pattern may match in many values: every match counts.
                pattern_hs_flags = 0 if pattern_flags & JOINED else HS_FLAG_SINGLEMATCH
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

            while live:
                with nogil:
                    rc = hs_compile_multi(expressions, flags, ids, live, HS_MODE_BLOCK, NULL,
                                          &db, &error)
                if rc == HS_SUCCESS:
                    self._dbs[d].db = db
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
        return 0

    def __dealloc__(self):
        cdef Py_ssize_t i
        for i in range(self._idle_count):
            hs_free_scratch(self._idle[i])
        free(self._idle)
        if self._dbs is not NULL:
            for i in range(self._db_count):
                if self._dbs[i].db is not NULL:
                    hs_free_database(self._dbs[i].db)
        free(self._dbs)
        free(self._masks)

    cdef _load(self, Py_ssize_t d, bytes serialized):
        cdef hs_database_t *db = NULL
        cdef int rc = hs_deserialize_database(PyBytes_AS_STRING(serialized),
                                              PyBytes_GET_SIZE(serialized), &db)
        if rc != HS_SUCCESS:
            raise ValueError(f"not a serialized Hyperscan database (error {rc})")
        self._dbs[d].db = db

    def serialize(self):
        """The compiled databases as a list of bytes (None for a group without one), to skip
        compiling the same patterns again."""
        cdef char *data = NULL
        cdef size_t length = 0
        cdef Py_ssize_t d
        result = []
        for d in range(self._db_count):
            if self._dbs[d].db is NULL:
                result.append(None)
                continue
            if hs_serialize_database(self._dbs[d].db, &data, &length) != HS_SUCCESS:
                raise MemoryError("hs_serialize_database failed")
            try:
                result.append(data[:length])
            finally:
                # Allocated with malloc: this module never installs a Hyperscan allocator.
                free(data)
        return result

    cdef _reject(self, Py_ssize_t index, str reason):
        self.rejected.append(index)
        self.rejected_reasons[index] = reason

    cdef hs_scratch_t *_new_scratch(self) except NULL:
        """A scratch space large enough for every database."""
        cdef hs_scratch_t *scratch = NULL
        cdef int rc = HS_SUCCESS
        cdef Py_ssize_t d
        with nogil:
            for d in range(self._db_count):
                if self._dbs[d].db is not NULL:
                    rc = hs_alloc_scratch(self._dbs[d].db, &scratch)
                    if rc != HS_SUCCESS:
                        break
        if rc != HS_SUCCESS:
            if scratch is not NULL:
                hs_free_scratch(scratch)
            raise MemoryError(f"hs_alloc_scratch failed with error {rc}")
        return scratch

    cdef hs_scratch_t *_take_scratch(self) except NULL:
        if self._idle_count:
            self._idle_count -= 1
            return self._idle[self._idle_count]
        # Every scratch is busy in another thread: the pool grows to the peak concurrency.
        return self._new_scratch()

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
        """Size in bytes of the compiled Hyperscan databases, 0 when there is none."""
        cdef size_t size = 0
        cdef size_t total = 0
        cdef Py_ssize_t d
        for d in range(self._db_count):
            if self._dbs[d].db is NULL:
                continue
            if hs_database_size(self._dbs[d].db, &size) != HS_SUCCESS:
                raise RuntimeError("hs_database_size failed")
            total += size
        return total

    def scan(self, values, bits, skipped=None):
        """Return (pattern index, value index) for every match, sorted.

        A value holding a frame byte (0xFE or 0xFF, never in UTF-8) cannot join a buffer, so
        the JOINED patterns are not searched in it: its index is appended to `skipped`, or,
        without that list, ValueError is raised.
        """
        # Own references to every value keep their buffers alive while the GIL is released,
        # whatever the caller does to its sequence meanwhile.
        cdef list value_list = list(values)
        cdef list bits_list = list(bits)
        cdef Py_ssize_t n = len(value_list)
        cdef Py_ssize_t i
        cdef Py_ssize_t d
        cdef Py_ssize_t size
        cdef size_t k
        cdef size_t joined_size = 0
        cdef size_t length
        cdef uint32_t joined_mask = 0
        cdef Value *items = NULL
        cdef Region *regions = NULL
        cdef char *buffer = NULL
        cdef Py_ssize_t *last = NULL
        cdef Database *db
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
        state.bits = 0
        state.value = 0
        state.regions = NULL
        state.last = NULL
        state.hits = NULL
        state.count = 0
        state.capacity = 0
        state.out_of_memory = False
        try:
            for d in range(self._db_count):
                if self._dbs[d].joined:
                    joined_mask |= self._dbs[d].any_mask
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
                items[i].framable = (memchr(items[i].data, VALUE_START, size) is NULL
                                     and memchr(items[i].data, VALUE_END, size) is NULL)
                if not (items[i].bits & joined_mask):
                    continue
                if not items[i].framable:
                    if skipped is None:
                        raise ValueError(f"value {i} holds a frame byte (0xFE or 0xFF)")
                    skipped.append(i)
                    continue
                joined_size += items[i].length + 2
            if joined_size > UINT_MAX:
                raise ValueError("values are too long to scan together")
            if joined_mask:
                buffer = <char *>malloc(joined_size + 1)
                regions = <Region *>malloc(max(n, 1) * sizeof(Region))
                last = <Py_ssize_t *>malloc(max(self._count, 1) * sizeof(Py_ssize_t))
                if buffer is NULL or regions is NULL or last is NULL:
                    raise MemoryError()

            if any(self._dbs[d].db is not NULL for d in range(self._db_count)):
                scratch = self._take_scratch()
            try:
                with nogil:
                    for d in range(self._db_count):
                        db = &self._dbs[d]
                        if db.db is NULL or not db.any_mask:
                            continue
                        if db.joined:
                            length = 0
                            state.region_count = 0
                            for i in range(n):
                                if not (items[i].bits & db.any_mask) or not items[i].framable:
                                    continue
                                buffer[length] = <char>VALUE_START
                                memcpy(buffer + length + 1, items[i].data, items[i].length)
                                length += items[i].length + 2
                                buffer[length - 1] = <char>VALUE_END
                                regions[state.region_count].end = length
                                regions[state.region_count].value = i
                                regions[state.region_count].bits = items[i].bits
                                state.region_count += 1
                            if not state.region_count:
                                continue
                            for k in range(<size_t>self._count):
                                last[k] = -1
                            state.regions = regions
                            state.last = last
                            rc = hs_scan(db.db, buffer, <unsigned int>length, 0, scratch,
                                         _on_match, &state)
                            state.regions = NULL
                            state.last = NULL
                        else:
                            for i in range(n):
                                # A value no pattern's mask selects cannot produce a hit.
                                if not (items[i].bits & db.any_mask):
                                    continue
                                state.bits = items[i].bits
                                state.value = i
                                rc = hs_scan(db.db, items[i].data, items[i].length, 0,
                                             scratch, _on_match, &state)
                                if rc != HS_SUCCESS:
                                    break
                        if rc != HS_SUCCESS:
                            break
                    if rc == HS_SUCCESS and state.count > 1:
                        qsort(state.hits, state.count, sizeof(Hit), _hit_order)
            finally:
                if scratch is not NULL:
                    self._give_scratch(scratch)

            if state.out_of_memory:
                raise MemoryError()
            if rc != HS_SUCCESS:
                raise RuntimeError(f"hs_scan failed with error {rc}")
            for k in range(state.count):
                # A pattern may match one value again after matching another value between.
                if k and state.hits[k].pattern == state.hits[k - 1].pattern \
                        and state.hits[k].value == state.hits[k - 1].value:
                    continue
                result.append((state.hits[k].pattern, state.hits[k].value))
            return result
        finally:
            free(items)
            free(regions)
            free(buffer)
            free(last)
            free(state.hits)
