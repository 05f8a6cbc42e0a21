cdef class Field:
    cdef public object kind
    cdef public object name
    cdef public object value
    cdef public object raw
    cdef public object source
    cdef public object is_name
    cdef public object encoded

    cdef tuple astuple(self)


cdef Field make_field(object kind, str name, str value, str raw, str source, bint is_name,
                      bint encoded)
