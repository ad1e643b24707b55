# C types for events.py (Cython pure Python mode; the .py is the source).
cimport cython
from procnet.engine.defs cimport *

cdef Py_ssize_t _INITIAL_SLOTS
cdef int _SLOT_BITS
cdef long long _SLOT_MASK, _SEQ_MAX


@cython.final
cdef class EventQueue:
    cdef long long _seq
    cdef public long long now_ns
    cdef public long long events_run
    cdef public object popped_obj
    cdef public long long popped_token
    cdef list _heap
    cdef Py_ssize_t _n, _cap
    cdef long long[::1] _ht, _hk, _token
    cdef int[::1] _kind
    cdef int[::1] _free
    cdef Py_ssize_t _nfree
    cdef list _obj

    @cython.locals(s=cython.int, i=Py_ssize_t, parent=Py_ssize_t, pt=cython.longlong,
                   key=cython.longlong, seq=cython.longlong)
    cpdef at(self, long long time_ns, int kind, object obj=*, long long token=*)
    cpdef after(self, long long delay_ns, int kind, object obj=*, long long token=*)
    cpdef long long head_ns(self) noexcept      # reads two fields: cannot fail
    cpdef int pop(self) except? -1
    cdef _alloc(self, Py_ssize_t n)
    cdef _grow(self)
    @cython.locals(s=cython.int, n=Py_ssize_t, i=Py_ssize_t, child=Py_ssize_t, j=Py_ssize_t,
                   lt=cython.longlong, lk=cython.longlong, ct=cython.longlong,
                   ck=cython.longlong, jt=cython.longlong)
    cdef int _pop(self) except? -1
