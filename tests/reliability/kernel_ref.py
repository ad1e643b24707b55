"""Independent reference models of the kernel's write handlers, for differential fuzzing.

Written from the kernel sources (Linux 6.18: kernel/sysctl.c __do_proc_dointvec, proc_get_long,
strtoul_lenient, lib/kstrtox.c, lib/bitmap-str.c bitmap_parse, lib/kstrtox.c kstrtobool,
net/core/sysctl_net_core.c, net/core/net-sysfs.c, drivers/base/core.c online_store,
fs/kernfs/file.c kernfs_fop_write_iter) and deliberately NOT from procnet's own parsers
(procnet/kernelfs/proc_handlers.py, cpumask.py): a bug shared by both would otherwise be
invisible. tests/reliability/test_rel_bad_writes.py checks this model against both recorded
kernel oracles first, so a disagreement with procnet is procnet's bug or the model's, never
an untested guess.

Every function answers ONE write(2) call: ``("ok", count, new_value)`` (new_value None: the
value does not change) or ``("err", errno, new_value)`` (new_value is what the failed write
leaves behind; None: unchanged).
"""
from __future__ import annotations

import errno

PAGE_SIZE = 4096
INT_MAX = 2**31 - 1
UINT_MAX = 2**32 - 1
ULONG_MAX = 2**64 - 1
TMPBUFLEN = 22

# lib/ctype.c: _S is set for \t \n \v \f \r, space and 0xa0 (NBSP, _S|_SP).
KSPACE = frozenset(b" \t\n\v\f\r\xa0")
WSPACE_SEP = frozenset(b" \t\n")         # kernel/sysctl.c proc_wspace_sep[] (no NUL)
DIGITS = frozenset(b"0123456789")
HEX = {c: int(chr(c), 16) for c in b"0123456789abcdefABCDEF"}


def _at(buf: bytes, i: int) -> int:
    """A NUL-terminated C buffer: reading past the end gives 0."""
    return buf[i] if i < len(buf) else 0


def _lower(c: int) -> int:
    return c | 0x20                       # _tolower() of lib/kstrtox.c


def _fixup_radix(s: bytes, i: int, base: int) -> tuple[int, int]:
    if base == 0:
        if _at(s, i) == 0x30:
            base = 16 if _lower(_at(s, i + 1)) == 0x78 and _at(s, i + 2) in HEX else 8
        else:
            base = 10
    if base == 16 and _at(s, i) == 0x30 and _lower(_at(s, i + 1)) == 0x78:
        i += 2
    return i, base


def _parse_integer(s: bytes, i: int, base: int) -> tuple[int, int, bool]:
    """(value, digits, overflowed) of lib/kstrtox.c _parse_integer_limit()."""
    res, n, overflow = 0, 0, False
    while True:
        c = _at(s, i + n)
        if c in DIGITS:
            val = c - 0x30
        elif 0x61 <= _lower(c) <= 0x66:
            val = _lower(c) - 0x61 + 10
        else:
            break
        if val >= base:
            break
        res = res * base + val
        if res > ULONG_MAX:
            overflow = True
            res &= ULONG_MAX
        n += 1
    return res, n, overflow


# ------------------------------------------------------------------------------- proc_dointvec

def dointvec(data: bytes, pos: int, lo: int | None = None, hi: int | None = None):
    """__do_proc_dointvec() write of ONE int (maxlen = sizeof(int)), sysctl_writes_strict=1,
    conv = do_proc_dointvec_conv (+ the minmax check when lo/hi are given)."""
    count = len(data)
    if count == 0:
        return ("ok", 0, None)
    if pos != 0:                               # proc_first_pos_non_zero_ignore()
        return ("ok", count, None)
    left = min(count, PAGE_SIZE - 1)
    p = 0
    while left and data[p] in KSPACE:          # proc_skip_spaces()
        p += 1
        left -= 1
    if not left:
        return ("err", errno.EINVAL, None)
    # proc_get_long(): at most TMPBUFLEN-1 characters are copied and NUL-terminated
    n = min(left, TMPBUFLEN - 1)
    tmp = data[p:p + n]
    q = 0
    neg = _at(tmp, 0) == 0x2D and left > 1
    if neg:
        q = 1
    if _at(tmp, q) not in DIGITS:
        return ("err", errno.EINVAL, None)
    q, base = _fixup_radix(tmp, q, 0)
    val, used, overflow = _parse_integer(tmp, q, base)
    if overflow:                               # strtoul_lenient(): -ERANGE -> -EINVAL
        return ("err", errno.EINVAL, None)
    length = q + used
    if length == TMPBUFLEN - 1:
        return ("err", errno.EINVAL, None)
    if length < left and _at(tmp, length) not in WSPACE_SEP:
        return ("err", errno.EINVAL, None)
    p += length
    left -= length
    if neg:
        if val > INT_MAX + 1:
            return ("err", errno.EINVAL, None)
        value = -val
    else:
        if val > INT_MAX:
            return ("err", errno.EINVAL, None)
        value = val
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        return ("err", errno.EINVAL, None)
    while left and data[p] in KSPACE:          # trailing blanks are consumed too
        p += 1
        left -= 1
    return ("ok", count - left, value)


def rps_sock_flow_sysctl(data: bytes, pos: int, old: int):
    """rps_sock_flow_sysctl(): proc_dointvec into an unsigned temporary holding the old size;
    the size check runs whatever proc_dointvec returned."""
    kind, a, value = dointvec(data, pos)
    size = old if value is None else value & UINT_MAX
    if size:
        if size > 1 << 29:
            return ("err", errno.EINVAL, None)
        size = 1 << (size - 1).bit_length()
    if kind == "err":
        return ("err", a, None)
    return ("ok", a, None if value is None else size)


def flow_limit_table_len_sysctl(data: bytes, pos: int, old: int):
    """proc_dointvec, then a stored value that is no power of two *as an unsigned int* is put
    back and the write fails."""
    kind, a, value = dointvec(data, pos)
    if kind == "err":
        return ("err", a, None)
    u = (old if value is None else value) & UINT_MAX
    if u == 0 or u & (u - 1):
        return ("err", errno.EINVAL, None)
    return ("ok", a, value)


# --------------------------------------------------------------------------------- bitmap_parse

def bitmap_parse(buf: bytes, buflen: int, dest: int, nbits: int) -> tuple[int | None, int]:
    """lib/bitmap-str.c bitmap_parse() into the bitmap ``dest`` (a Python int). Returns
    (errno or None, bitmap afterwards): chunks are stored as they are parsed, so a failing
    parse can leave some of them behind (what rps_default_mask shows)."""
    # strnchrnul(start, buflen, '\n'): stops at '\n', at NUL or after buflen bytes
    end = 0
    while end < buflen and end < len(buf) and buf[end] not in (0x0A, 0):
        end += 1
    end -= 1
    start = 0
    chunks = -(-nbits // 32)
    words = [(dest >> (32 * k)) & 0xFFFFFFFF for k in range(max(chunks, 1) + 1)]

    def region_end(c: int) -> bool:
        return c in KSPACE or c == 0x2C

    chunk = 0
    while True:
        while start <= end and region_end(buf[end]):    # bitmap_find_region_reverse
            end -= 1
        if start > end:
            break
        if chunks == 0:
            return errno.EOVERFLOW, _join(words)
        chunks -= 1
        ret, i, done = 0, 0, False                      # bitmap_get_x32_reverse
        while i < 32:
            c = HEX.get(buf[end], -1)
            end -= 1
            if c < 0:
                return errno.EINVAL, _join(words)
            ret |= c << i
            if start > end or region_end(buf[end]):
                done = True
                break
            i += 4
        if not done and HEX.get(buf[end], -1) >= 0:
            return errno.EOVERFLOW, _join(words)
        if not done:
            end -= 1
        words[chunk] = ret
        chunk += 1
    total = -(-nbits // 32)
    unset_bit = (total - chunks) * 32
    value = _join(words)
    if unset_bit < nbits:
        value &= (1 << unset_bit) - 1              # bitmap_clear(unset_bit .. nbits)
        return None, value
    if value >> nbits & ((1 << (unset_bit - nbits)) - 1):
        return errno.EOVERFLOW, value
    return None, value


def _join(words: list[int]) -> int:
    return sum(w << (32 * k) for k, w in enumerate(words))


def cpumask_parse(data: bytes, dest: int, nbits: int):
    """cpumask_parse(): the length is strchrnul(buf, '\\n') - buf, so NUL ends it too."""
    return bitmap_parse(data, len(data), dest, nbits)


def flow_limit_cpu_sysctl(data: bytes, pos: int, old: int, nbits: int):
    """cpumask_parse into a zeroed temporary; tables follow the possible CPUs in it."""
    err, mask = cpumask_parse(data, 0, nbits)
    if err:
        return ("err", err, None)
    return ("ok", len(data), mask & ((1 << nbits) - 1))


def rps_default_mask_sysctl(data: bytes, pos: int, old: int, nbits: int):
    """cpumask_parse straight into the live mask (rps_default_mask_cow_alloc), then
    rps_cpumask_housekeeping (every CPU is a housekeeping CPU here)."""
    err, mask = cpumask_parse(data, old, nbits)
    visible = mask & ((1 << nbits) - 1)
    if err:
        return ("err", err, visible)
    return ("ok", len(data), visible)


# ------------------------------------------------------------------------------------ kstrtox

def _cstr(data: bytes) -> bytes:
    return data.split(b"\0", 1)[0]


def kstrtoul(data: bytes, base: int = 0) -> int:
    """lib/kstrtox.c kstrtoull() on a NUL-terminated copy; raises OSError(EINVAL | ERANGE)."""
    s = _cstr(data)
    i = 1 if _at(s, 0) == 0x2B else 0
    i, base = _fixup_radix(s, i, base)
    val, used, overflow = _parse_integer(s, i, base)
    if overflow:
        raise OSError(errno.ERANGE, "overflow")
    if used == 0:
        raise OSError(errno.EINVAL, "no digits")
    i += used
    if _at(s, i) == 0x0A:
        i += 1
    if _at(s, i) != 0:
        raise OSError(errno.EINVAL, "trailing characters")
    return val


def kstrtobool(data: bytes) -> bool:
    s = _cstr(data)
    c0, c1 = _at(s, 0), _at(s, 1)
    if c0 in b"yYtT1":
        return True
    if c0 in b"nNfF0":
        return False
    if c0 in b"oO" and c1 in b"nNfF":
        return c1 in b"nN"
    raise OSError(errno.EINVAL, "not a boolean")


# ---------------------------------------------------------------------------------------- sysfs

def kernfs_cut(data: bytes) -> bytes:
    """kernfs_fop_write_iter(): at most PAGE_SIZE bytes reach ->store()."""
    return data[:PAGE_SIZE]


def store_rps_map(data: bytes, nbits: int, online: int):
    """net-sysfs.c store_rps_map(): bitmap_parse(buf, len); housekeeping; map = mask & online."""
    data = kernfs_cut(data)
    if not data:
        return ("ok", 0, None)                 # sysfs_kf_write() never calls ->store()
    err, mask = bitmap_parse(data, len(data), 0, nbits)
    if err:
        return ("err", err, None)
    return ("ok", len(data), mask & online & ((1 << nbits) - 1))


def store_rps_dev_flow_table_cnt(data: bytes):
    data = kernfs_cut(data)
    if not data:
        return ("ok", 0, None)
    try:
        count = kstrtoul(data)
    except OSError as e:
        return ("err", e.errno, None)
    if count:
        mask = count - 1
        while (mask | (mask >> 1)) != mask:
            mask |= mask >> 1
        if mask > UINT_MAX:
            return ("err", errno.EINVAL, None)
        count = mask + 1
    return ("ok", len(data), count)


def threaded_store(data: bytes, has_napi: bool):
    data = kernfs_cut(data)
    if not data:
        return ("ok", 0, None)
    try:
        val = kstrtoul(data)
    except OSError as e:
        return ("err", e.errno, None)
    if not has_napi or val not in (0, 1):
        return ("err", errno.EOPNOTSUPP, None)
    return ("ok", len(data), val)


def online_store(data: bytes):
    data = kernfs_cut(data)
    if not data:
        return ("ok", 0, None)
    try:
        up = kstrtobool(data)
    except OSError as e:
        return ("err", e.errno, None)
    return ("ok", len(data), int(up))


# ------------------------------------------------------------------------------ the file table

# /proc/sys/net/core: name -> (kind, min, max) as in net/core/sysctl_net_core.c (6.18, HZ=250)
SYSCTLS = {
    "netdev_max_backlog": ("int", None, None),
    "dev_weight": ("int", 1, None),
    "dev_weight_rx_bias": ("int", 1, None),
    "dev_weight_tx_bias": ("int", 1, None),
    "netdev_budget": ("int", None, None),
    "netdev_budget_usecs": ("int", 2 * 1_000_000 // 250, None),
    "netdev_tstamp_prequeue": ("int", None, None),
    "rps_sock_flow_entries": ("rps_sock_flow", None, None),
    "flow_limit_cpu_bitmap": ("flow_limit_cpu", None, None),
    "flow_limit_table_len": ("flow_limit_table_len", None, None),
    "rps_default_mask": ("rps_default_mask", None, None),
    "busy_poll": ("int", 0, None),
    "busy_read": ("int", 0, None),
    "gro_normal_batch": ("int", 1, None),
    "skb_defer_max": ("int", 0, None),
    "backlog_threaded": ("int", 0, 1),       # seed 000: proc_dointvec_minmax [0, 1]
}
CPUMASK_SYSCTLS = ("flow_limit_cpu_bitmap", "rps_default_mask")


def sysctl_write(name: str, data: bytes, pos: int, old: int, nbits: int):
    kind, lo, hi = SYSCTLS[name]
    if kind == "int":
        return dointvec(data, pos, lo, hi)
    if kind == "rps_sock_flow":
        return rps_sock_flow_sysctl(data, pos, old)
    if kind == "flow_limit_table_len":
        return flow_limit_table_len_sysctl(data, pos, old)
    if kind == "flow_limit_cpu":
        return flow_limit_cpu_sysctl(data, pos, old, nbits)
    return rps_default_mask_sysctl(data, pos, old, nbits)


def bitmap_string(mask: int, nbits: int) -> str:
    """%*pb: 32-bit chunks, most significant first; the first chunk without padding beyond its
    own width."""
    chunks = []
    for k in range(-(-nbits // 32) - 1, -1, -1):
        width = min(32, nbits - 32 * k)
        digits = -(-width // 4)
        chunks.append("%0*x" % (digits, (mask >> (32 * k)) & ((1 << width) - 1)))
    return ",".join(chunks)


def sysctl_text(name: str, value: int, nbits: int) -> str:
    if name in CPUMASK_SYSCTLS:
        return bitmap_string(value, nbits) + "\n"
    return f"{value}\n"
