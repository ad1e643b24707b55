# C types for skbuff.py (Cython pure Python mode; the .py is the source).
cimport cython

cdef Py_ssize_t MIN_CAPACITY


@cython.final
cdef class SkbQueue:
    cdef long long[::1] _t
    cdef list _f
    cdef Py_ssize_t _mask, _head
    cdef public Py_ssize_t qlen
    cdef public object popped

    @cython.locals(i=Py_ssize_t)
    cpdef push(self, long long t_ns, object flow)
    @cython.locals(i=Py_ssize_t)
    cpdef long long pop(self)
    cpdef object peek_flow(self)
    @cython.locals(n=Py_ssize_t, i=Py_ssize_t, j=Py_ssize_t)
    cpdef splice_tail_init(self, SkbQueue other)
    @cython.locals(cap=Py_ssize_t, k=Py_ssize_t, j=Py_ssize_t)
    cdef _grow(self)
