# cython: language_level=3
"""C entries for the three requests every `cat` costs (open, read and release), and the
FUSE loop's inner drain.

mfusepy answers each FUSE callback through a ctypes thunk: it builds ctypes objects for the
arguments, then calls through functools.partial, its own try/except wrapper, a method that
decodes the path and dereferences the fuse_file_info pointer, and our _errno_boundary, before
TreeOperations does its work; and ctypes.memmove copies the reply. About a third of the
daemon's time per `cat` went there (docs/performance.md, "Verdict").

These entries go into the fuse_operations table in place of mfusepy's (glue._install_hot_ops)
and call the same TreeOperations methods mfusepy's would (open_fh, read_fh, release_fh); errors
go through the same TreeOperations.callback_errno. No policy lives here: only the C calling
convention, the two fuse_file_info fields we touch, and the copy of the reply.

drain() is the inner loop of glue._serve_loop in C: libfuse's receive and process calls until
/dev/fuse has nothing more, without two ctypes foreign calls per request.

The layout of struct fuse_file_info is not assumed: glue passes the offsets of `fh` and of
the word holding `direct_io`, and that bit's mask, taken from mfusepy's ctypes definition.
"""
from libc.stdint cimport int64_t, uint32_t, uint64_t
from libc.string cimport memcpy

# Bumped whenever the entries' contract with glue.py changes; glue checks it at install.
ABI = 2

cdef object _ops = None            # the TreeOperations being served
cdef Py_ssize_t _fh_off = 0        # offsetof(struct fuse_file_info, fh)
cdef Py_ssize_t _dio_off = 0       # offset of the 32-bit word holding the direct_io bit
cdef uint32_t _dio_mask = 0


cdef inline uint64_t *_fh(void *fi) noexcept nogil:
    return <uint64_t *>(<char *>fi + _fh_off)


cdef object _path(const char *path):
    # libfuse passes NULL for a handle whose path it does not know (nullpath_ok).
    return None if path == NULL else path.decode("utf-8", "surrogateescape")


cdef int _open(const char *path, void *fi) noexcept with gil:
    # fuse_file_info.flags is its first field in every libfuse (an int).
    try:
        fh = _ops.open_fh(_path(path), (<int *>fi)[0])
        _fh(fi)[0] = fh
        (<uint32_t *>(<char *>fi + _dio_off))[0] |= _dio_mask
        return 0
    except BaseException as e:
        return -_ops.callback_errno("open", _path(path), e)


cdef int _read(const char *path, char *buf, size_t size, int64_t offset, void *fi) noexcept with gil:
    cdef bytes data
    try:
        data = _ops.read_fh(_fh(fi)[0], size, offset)
        if <size_t>len(data) > size:
            raise ValueError(f"read_fh returned {len(data)} bytes for {size}")
        memcpy(buf, <const char *>data, len(data))
        return len(data)
    except BaseException as e:
        return -_ops.callback_errno("read", _path(path), e)


cdef int _release(const char *path, void *fi) noexcept with gil:
    try:
        _ops.release_fh(_fh(fi)[0])
        return 0
    except BaseException as e:
        return -_ops.callback_errno("release", _path(path), e)


def entries(ops, Py_ssize_t fh_offset, Py_ssize_t direct_io_offset, uint32_t direct_io_mask):
    """Serve ``ops`` (a TreeOperations) from now on; returns the entries' addresses by
    fuse_operations field name, for glue to write into the table before fuse_new copies it."""
    global _ops, _fh_off, _dio_off, _dio_mask
    _ops, _fh_off, _dio_off, _dio_mask = ops, fh_offset, direct_io_offset, direct_io_mask
    return {"open": <size_t>&_open, "read": <size_t>&_read, "release": <size_t>&_release}


ctypedef int (*receive_buf_t)(void *se, void *buf) noexcept
ctypedef void (*process_buf_t)(void *se, void *buf) noexcept


def drain(size_t se, size_t buf, size_t receive_buf, size_t process_buf, int max_requests):
    """fuse_session_receive_buf() and fuse_session_process_buf() (addresses given) on session
    ``se`` with the struct fuse_buf at ``buf``, until a receive answers <= 0, which is
    returned (-EAGAIN: nothing waits), or ``max_requests`` were served (returns 1).

    The GIL stays held: /dev/fuse is non-blocking, so the receive never waits, and every
    callback of the process call takes the GIL anyway."""
    cdef receive_buf_t receive = <receive_buf_t>receive_buf
    cdef process_buf_t process = <process_buf_t>process_buf
    cdef int res
    cdef int n = 0
    while n < max_requests:
        res = receive(<void *>se, <void *>buf)
        if res <= 0:
            return res
        process(<void *>se, <void *>buf)
        n += 1
    return 1
