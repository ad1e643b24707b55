# C types for listhead.py (Cython pure Python mode; the .py is the source), and add_tail and
# pop_first of the compiled ListHead again, as inline methods that the receive path's other
# modules compile without a call.
cimport cython


@cython.final
cdef class ListHead:
    cdef list slots
    cdef Py_ssize_t mask, head
    cdef public Py_ssize_t count

    cpdef int add_tail(self, object entry) except -1
    cpdef object pop_first(self)
    cdef _grow(self)

    cdef inline int _add_tail(self, object entry) except -1:
        """add_tail(), compiled."""
        if self.count > self.mask:
            self._grow()
        self.slots[(self.head + self.count) & self.mask] = entry
        self.count += 1
        return 0

    cdef inline object _pop_first(self):
        """pop_first(), compiled."""
        cdef Py_ssize_t i = self.head
        entry = self.slots[i]
        self.slots[i] = None
        self.head = (i + 1) & self.mask
        self.count -= 1
        return entry

    cpdef object item(self, Py_ssize_t k)
    cpdef splice_tail_init(self, ListHead other)
    cpdef clear(self)
