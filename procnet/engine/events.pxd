# C types for events.py (Cython pure Python mode; the .py is the source).
cimport cython
from procnet.engine.defs cimport *

cdef Py_ssize_t _INITIAL_SLOTS


@cython.final
cdef class EventQueue:
    cdef long long _seq
    cdef public long long now_ns
    cdef public long long events_run
    cdef public object popped_obj
    cdef public long long popped_token
    cdef list _heap
    cdef Py_ssize_t _n, _cap
    cdef long long[::1] _time, _seqno, _token
    cdef int[::1] _kind, _heap_slots
    cdef int[::1] _free
    cdef Py_ssize_t _nfree
    cdef list _obj

    cpdef at(self, long long time_ns, int kind, object obj=*, long long token=*)
    cpdef after(self, long long delay_ns, int kind, object obj=*, long long token=*)
    cpdef long long head_ns(self)
    cpdef int pop(self) except? -1
    cdef _alloc(self, Py_ssize_t n)
    cdef _grow(self)
    cdef inline bint _before(self, int a, int b) noexcept
    @cython.locals(s=cython.int, i=Py_ssize_t, parent=Py_ssize_t, p=cython.int)
    cdef _push(self, long long time_ns, long long seq, int kind, object obj, long long token)
    @cython.locals(s=cython.int, n=Py_ssize_t, last=cython.int, i=Py_ssize_t, child=Py_ssize_t,
                   c=cython.int)
    cdef int _pop(self) except? -1
