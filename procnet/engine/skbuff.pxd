# C types for skbuff.py (Cython pure Python mode; the .py is the source).
cimport cython

cdef Py_ssize_t MIN_CAPACITY


@cython.final
cdef class SkbQueue:
    cdef public list flows
    cdef long long[::1] times, fids
    cdef Py_ssize_t mask, head
    cdef public Py_ssize_t qlen
    cdef public long long popped_fid

    @cython.locals(i=Py_ssize_t)
    cpdef push(self, long long t_ns, long long fid)
    @cython.locals(i=Py_ssize_t)
    cpdef long long pop(self)
    cpdef long long peek_fid(self)
    @cython.locals(n=Py_ssize_t, i=Py_ssize_t, j=Py_ssize_t)
    cpdef splice_tail_init(self, SkbQueue other)
    cdef reserve(self, Py_ssize_t n)
    cpdef int drop_head(self, Py_ssize_t n) except -1
    @cython.locals(cap=Py_ssize_t, k=Py_ssize_t, j=Py_ssize_t)
    cdef _grow(self)
