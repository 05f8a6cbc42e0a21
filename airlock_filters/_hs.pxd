cdef extern from "hs/hs.h" nogil:

    ctypedef int hs_error_t

    ctypedef struct hs_database_t:
        pass

    ctypedef struct hs_scratch_t:
        pass

    ctypedef struct hs_platform_info_t:
        pass

    ctypedef struct hs_compile_error_t:
        char *message
        int expression

    ctypedef struct hs_expr_info_t:
        unsigned int min_width
        unsigned int max_width
        char unordered_matches
        char matches_at_eod
        char matches_only_at_eod

    ctypedef int (*match_event_handler)(unsigned int id,
                                        unsigned long long from_,
                                        unsigned long long to,
                                        unsigned int flags,
                                        void *context) noexcept nogil

    cdef enum:
        HS_SUCCESS
        HS_INVALID
        HS_NOMEM
        HS_SCAN_TERMINATED
        HS_SCRATCH_IN_USE

        HS_FLAG_CASELESS
        HS_FLAG_DOTALL
        HS_FLAG_MULTILINE
        HS_FLAG_SINGLEMATCH
        HS_FLAG_ALLOWEMPTY
        HS_FLAG_UTF8
        HS_FLAG_UCP
        HS_FLAG_PREFILTER
        HS_FLAG_SOM_LEFTMOST

        HS_MODE_BLOCK

    hs_error_t hs_compile_multi(const char *const *expressions,
                                const unsigned int *flags,
                                const unsigned int *ids,
                                unsigned int elements,
                                unsigned int mode,
                                const hs_platform_info_t *platform,
                                hs_database_t **db,
                                hs_compile_error_t **error)

    hs_error_t hs_free_compile_error(hs_compile_error_t *error)

    hs_error_t hs_expression_info(const char *expression,
                                  unsigned int flags,
                                  hs_expr_info_t **info,
                                  hs_compile_error_t **error)

    hs_error_t hs_free_database(hs_database_t *db)

    hs_error_t hs_valid_platform()

    hs_error_t hs_serialize_database(const hs_database_t *db, char **bytes, size_t *length)

    hs_error_t hs_deserialize_database(const char *bytes, const size_t length,
                                       hs_database_t **db)

    const char *hs_version()

    hs_error_t hs_database_size(const hs_database_t *database, size_t *database_size)

    hs_error_t hs_alloc_scratch(const hs_database_t *db, hs_scratch_t **scratch)

    hs_error_t hs_clone_scratch(const hs_scratch_t *src, hs_scratch_t **dest)

    hs_error_t hs_free_scratch(hs_scratch_t *scratch)

    hs_error_t hs_scan(const hs_database_t *db,
                       const char *data,
                       unsigned int length,
                       unsigned int flags,
                       hs_scratch_t *scratch,
                       match_event_handler onEvent,
                       void *context)
