# C types for listhead.py (Cython pure Python mode; the .py is the source).
cimport cython


@cython.final
cdef class ListHead:
    cdef list slots
    cdef Py_ssize_t mask, head
    cdef public Py_ssize_t count

    cpdef int add_tail(self, object entry) except -1
    @cython.locals(i=Py_ssize_t)
    cpdef object pop_first(self)
    cpdef object item(self, Py_ssize_t k)
    cpdef splice_tail_init(self, ListHead other)
    cpdef clear(self)
    cdef _grow(self)
