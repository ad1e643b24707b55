"""Kernel-faithful sysctl handlers for /proc/sys/net/core, as pure functions.

Mirrors kernel/sysctl.c (``proc_dointvec``, ``proc_dointvec_minmax``, ``proc_douintvec_minmax``:
``do_proc_dointvec``/``__do_proc_dointvec``, ``do_proc_douintvec_w``, ``proc_get_long``,
``strtoul_lenient``, ``proc_skip_spaces``), fs/proc/proc_sysctl.c (``proc_sys_call_handler``), the
bespoke handlers of net/core/sysctl_net_core.c (``proc_do_dev_weight``, ``rps_sock_flow_sysctl``,
``flow_limit_cpu_sysctl``, ``flow_limit_table_len_sysctl``, ``rps_default_mask_sysctl``,
``dump_cpumask``), Felix Fietkau's unmerged ``backlog_threaded_sysctl`` (seed 000) and
lib/kstrtox.c (``kstrtoul``/``kstrtoint``, used by sysfs stores).

Baseline: Linux 6.18 (what the oracles in ../shared/oracle and tests/data were recorded on), with
``kernel.sysctl_writes_strict = 1`` (the default since 4.11). Every behaviour below was checked
against the source and, where it is cheap to observe, against a real 6.18 kernel
(tools/oracle_record.py).

How a write() is answered (single-value files):
  * A handler gets the bytes of ONE write() call, the file position ``pos`` and the current value;
    it returns ``SysctlWrite(value, count, pos)``: the new value (None = unchanged), the byte count
    write() reports, and the file position afterwards. Errors raise ``OSError(errno, message)``;
    nothing is changed unless the exception is a ``SysctlWriteError`` whose ``value_after`` is not
    None (rps_default_mask keeps the chunks it parsed before failing).
  * Integer handlers advance the position by the reported count, so a second write() on the same
    open file is ignored under strict mode (``echo`` retrying the tail of a short write, "12" then
    "34\\n"). The cpumask handlers never touch the position: every write() is parsed.

Simplifications:
  * Only single-value files (``maxlen == sizeof(int)``); the vector case of ``do_proc_dointvec`` is
    not needed by any file here.
  * ``sysctl_writes_strict`` is fixed at 1 (STRICT); LEGACY/WARN modes are not modelled.
  * Permission checks (``sysctl_perm``, CAP_NET_ADMIN, netns ownership), ENOMEM and the
    ``count >= KMALLOC_MAX_SIZE`` -> ENOMEM guard of ``proc_sys_call_handler`` are left to callers.
  * Side effects belong to the engine, not to these functions: recomputing ``dev_rx_weight`` /
    ``dev_tx_weight`` (proc_do_dev_weight), (re)allocating the RFS table -- which the kernel
    re-initialises to RPS_NO_CPU on *every* write, even a failing or ignored one, whenever the
    resulting size is non-zero (rps_sock_flow_sysctl) -- allocating/freeing per-CPU flow-limit
    tables, starting backlog threads.
  * 64-bit ``unsigned long``; 4 KiB pages.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import Callable, NamedTuple

from .cpumask import CpumaskParseError, bitmap_parse, bitmap_string, kernel_isspace

__all__ = [
    "PAGE_SIZE", "HZ_DEFAULT", "USEC_PER_SEC", "INT_MAX", "INT_MIN", "UINT_MAX", "ULONG_MAX",
    "SysctlWrite", "SysctlWriteError", "SysctlSpec", "KernelParams", "SYSCTL_SPECS", "HANDLERS",
    "sysctl_specs", "parse_int_write", "format_int", "sysctl_read", "dump_cpumask",
    "proc_dointvec", "proc_dointvec_minmax", "proc_douintvec_minmax", "proc_do_dev_weight",
    "rps_sock_flow_sysctl", "flow_limit_table_len_sysctl", "backlog_threaded_sysctl",
    "flow_limit_cpu_sysctl", "rps_default_mask_sysctl", "sysctl_write", "sysctl_show",
    "kstrtoull", "kstrtoul", "kstrtouint", "kstrtoll", "kstrtoint",
]

PAGE_SIZE = 4096
TMPBUFLEN = 22  # proc_get_long(): a number must fit in TMPBUFLEN - 2 = 20 characters
USEC_PER_SEC = 1_000_000
HZ_DEFAULT = 250
INT_MAX = 2**31 - 1
INT_MIN = -(2**31)
UINT_MAX = 2**32 - 1
ULONG_MAX = 2**64 - 1

# proc_wspace_sep[]: the only characters allowed right after a number
_PROC_WSPACE_SEP = b" \t\n"


class SysctlWrite(NamedTuple):
    """Outcome of one successful write() call."""
    value: int | None  # new value of the file's data; None = nothing to apply
    count: int         # what write() returns (may be short: "1 2" -> 2)
    pos: int           # file position after the call


class SysctlWriteError(OSError):
    """A failed write() that nevertheless changed the value (see rps_default_mask_sysctl)."""

    def __init__(self, err: int, message: str, value_after: int | None = None):
        super().__init__(err, message)
        self.value_after = value_after


def _einval(name: str, why: str) -> OSError:
    return OSError(errno.EINVAL, "%s: %s" % (name, why))


# ---------------------------------------------------------------------------------------------
# Number parsing: lib/kstrtox.c helpers as used by kernel/sysctl.c
# ---------------------------------------------------------------------------------------------

def _isdigit(c: int) -> bool:
    return 0x30 <= c <= 0x39


def _isxdigit(c: int) -> bool:
    return _isdigit(c) or 0x61 <= (c | 0x20) <= 0x66


def _parse_integer_fixup_radix(s: bytes, i: int, base: int) -> tuple[int, int]:
    """lib/kstrtox.c: base 0 -> "0x" + hex digit = 16, leading "0" = 8, else 10.

    ``s`` must end with a NUL sentinel. Returns (index of first digit, base).
    """
    if base == 0:
        if s[i] == 0x30:
            base = 16 if (s[i + 1] | 0x20) == 0x78 and _isxdigit(s[i + 2]) else 8
        else:
            base = 10
    if base == 16 and s[i] == 0x30 and (s[i + 1] | 0x20) == 0x78:
        i += 2
    return i, base


def _parse_integer(s: bytes, i: int, base: int) -> tuple[int, int, bool]:
    """lib/kstrtox.c ``_parse_integer()``: (value mod 2**64, digits consumed, overflowed)."""
    res, j, overflow = 0, i, False
    while True:
        c = s[j] if j < len(s) else 0
        if _isdigit(c):
            val = c - 0x30
        elif 0x61 <= (c | 0x20) <= 0x66:
            val = (c | 0x20) - 0x61 + 10
        else:
            break
        if val >= base:
            break
        res = res * base + val
        if res > ULONG_MAX:
            overflow = True
            res &= ULONG_MAX
        j += 1
    return res, j - i, overflow


def _proc_get_long(buf: bytes, size: int, name: str) -> tuple[int, bool, int]:
    """kernel/sysctl.c ``proc_get_long()`` with perm_tr = proc_wspace_sep.

    ``buf`` starts at the current position; ``size`` bytes are left. Returns (magnitude, negative,
    characters consumed). Only TMPBUFLEN-1 = 21 characters are looked at, and a number that fills
    all 21 is refused because the parser cannot see what follows it.
    """
    if size <= 0:
        raise _einval(name, "nothing to parse")
    n = min(size, TMPBUFLEN - 1)
    tmp = buf[:n] + b"\0"  # memcpy + NUL, exactly like tmp[TMPBUFLEN]
    p = 0
    neg = tmp[0] == 0x2D and size > 1  # '-' only counts when something follows it
    if neg:
        p = 1
    if not _isdigit(tmp[p]):
        raise _einval(name, "expected a number, got %r" % bytes(buf[:n]))
    # strtoul_lenient(): base auto-detection, fail only on overflow
    p, base = _parse_integer_fixup_radix(tmp, p, 0)
    val, used, overflow = _parse_integer(tmp, p, base)
    if overflow:
        raise _einval(name, "number %r overflows unsigned long" % bytes(buf[:n]))
    length = p + used
    if length == TMPBUFLEN - 1:
        raise _einval(name, "number %r is too long" % bytes(buf[:n]))
    if length < size and tmp[length] not in _PROC_WSPACE_SEP:
        raise _einval(name, "invalid character %r after number" % bytes(tmp[length:length + 1]))
    return val, neg, length


def _skip_spaces(buf: bytes, p: int, left: int) -> tuple[int, int]:
    """kernel/sysctl.c ``proc_skip_spaces()`` (bounded by ``left`` since the CVE-2022-4378 fix)."""
    while left and kernel_isspace(buf[p]):
        p += 1
        left -= 1
    return p, left


def _check_bounds(name: str, value: int, minimum: int | None, maximum: int | None) -> None:
    if minimum is not None and value < minimum:
        raise OSError(errno.EINVAL, "%s must be >= %d (got %d)" % (name, minimum, value))
    if maximum is not None and value > maximum:
        raise OSError(errno.EINVAL, "%s must be <= %d (got %d)" % (name, maximum, value))


def _do_proc_dointvec_write(data: bytes, pos: int, name: str,
                            minimum: int | None = None, maximum: int | None = None) -> SysctlWrite:
    """Write side of ``do_proc_dointvec`` for one int, conv = do_proc_dointvec(_minmax)_conv."""
    count = len(data)
    if count == 0:  # !*lenp: nothing happens, write() returns 0
        return SysctlWrite(None, 0, pos)
    if pos != 0:  # proc_first_pos_non_zero_ignore(): swallowed whole under sysctl_writes_strict=1
        return SysctlWrite(None, count, pos + count)
    left = min(count, PAGE_SIZE - 1)  # bytes beyond PAGE_SIZE-1 are never looked at
    p, left = _skip_spaces(data, 0, left)
    if not left:
        raise _einval(name, "no number in %r" % data[:40])
    lval, neg, used = _proc_get_long(data[p:], left, name)
    p += used
    left -= used
    # do_proc_dointvec_conv(): must fit in an int
    if neg:
        if lval > INT_MAX + 1:
            raise OSError(errno.EINVAL, "%s must be >= %d (got -%d)" % (name, INT_MIN, lval))
        value = -lval
    else:
        if lval > INT_MAX:
            raise OSError(errno.EINVAL, "%s must be <= %d (got %d)" % (name, INT_MAX, lval))
        value = lval
    _check_bounds(name, value, minimum, maximum)  # do_proc_dointvec_minmax_conv()
    if left:
        p, left = _skip_spaces(data, p, left)
    # *lenp -= left: anything after the number and its trailing blanks makes this a short write
    return SysctlWrite(value, count - left, pos + count - left)


def _do_proc_douintvec_write(data: bytes, pos: int, name: str,
                             minimum: int | None = None, maximum: int | None = None) -> SysctlWrite:
    """``do_proc_douintvec_w`` (proc_douintvec, proc_douintvec_minmax, proc_dou8vec_minmax).

    Differs from the int path: any '-' is EINVAL, range is 0..UINT_MAX, and a successful write
    reports the *whole* buffer and does not move the file position (the kernel never updates
    ``*lenp``/``*ppos`` on that path), so "1 junk" sets 1 and returns 6, and a second write() on
    the same fd is parsed again.
    """
    count = len(data)
    if count == 0:
        return SysctlWrite(None, 0, pos)
    if pos != 0:  # bail_early: *ppos += *lenp
        return SysctlWrite(None, count, pos + count)
    left = min(count, PAGE_SIZE - 1)
    p, left = _skip_spaces(data, 0, left)
    if not left:
        raise _einval(name, "no number in %r" % data[:40])
    lval, neg, _used = _proc_get_long(data[p:], left, name)
    if neg:
        raise _einval(name, "negative numbers are not accepted")
    if lval > UINT_MAX:
        raise OSError(errno.EINVAL, "%s must be <= %d (got %d)" % (name, UINT_MAX, lval))
    _check_bounds(name, lval, minimum, maximum)  # -ERANGE inside, turned into -EINVAL by the caller
    return SysctlWrite(lval, count, pos)


def parse_int_write(data: bytes, pos: int, *, minimum: int | None = None,
                    maximum: int | None = None, unsigned: bool = False,
                    name: str = "value") -> tuple[int | None, int]:
    """One write() to a single-int sysctl: ``proc_dointvec`` / ``proc_dointvec_minmax``
    (``unsigned=False``) or ``proc_douintvec_minmax`` (``unsigned=True``).

    Returns (new value or None if nothing is to be applied, byte count write() reports).
    Raises ``OSError(EINVAL, ...)``. Use the handler functions below when the file position
    after the call matters.
    """
    do = _do_proc_douintvec_write if unsigned else _do_proc_dointvec_write
    res = do(data, pos, name, minimum, maximum)
    return res.value, res.count


def format_int(value: int) -> bytes:
    """Read side of proc_dointvec & co.: decimal + "\\n" (``proc_put_long`` + ``proc_put_char``)."""
    return b"%d\n" % value


def sysctl_read(text: bytes, pos: int, size: int) -> bytes:
    """One read() of a numeric sysctl file whose full text is ``text``.

    ``do_proc_dointvec`` formats into the caller's buffer only when ``pos == 0`` and truncates to
    ``size``; any read at ``pos != 0`` is EOF. So 1-byte reads of "1000\\n" give b"1" then b"",
    and a buffer shorter than the text loses the tail (and the newline).
    """
    if pos != 0 or size <= 0:
        return b""
    return text[:size]


def dump_cpumask(mask: int, nbits: int, pos: int, size: int) -> bytes:
    """One read() of a cpumask sysctl (net/core/sysctl_net_core.c ``dump_cpumask``, 6.13+).

    EOF unless ``pos == 0``. The text is ``scnprintf(kbuf, len, "%*pb")`` with
    len = min(ceil(nbits/32)*9, size), i.e. at most ``len - 1`` characters, and a "\\n" is always
    appended. Hence a 1-byte read returns nothing at all, a 2-byte read of a 2-CPU mask returns
    b"0\\n", and a short buffer gets a truncated mask that still ends in "\\n".
    """
    if pos != 0 or size <= 0:
        return b""
    room = min(-(-nbits // 32) * 9, size)
    text = bitmap_string(mask, nbits).encode()[:max(room - 1, 0)]
    if not text:
        return b""
    return text + b"\n"


# ---------------------------------------------------------------------------------------------
# The file table (data) and the handlers it names
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SysctlSpec:
    """One ``struct ctl_table`` entry of net_core_table / netns_core_table."""
    name: str
    ctype: str                 # C type of .data: "int", "uint" or "cpumask"
    default: int
    handler: str               # .proc_handler (a key of HANDLERS)
    minimum: int | None = None  # *.extra1
    maximum: int | None = None  # *.extra2
    mode: int = 0o644
    mainline: bool = True      # False: only in an unmerged patch
    note: str = ""


@dataclass(frozen=True)
class KernelParams:
    """Machine facts the handlers depend on."""
    hz: int = HZ_DEFAULT
    nr_cpu_ids: int = 2                # cpumask width (nr_cpumask_bits)
    possible: int | None = None        # cpu_possible_mask; None = all nr_cpu_ids CPUs
    housekeeping: int | None = None    # HK_TYPE_DOMAIN & HK_TYPE_WQ CPUs; None = all


def sysctl_specs(hz: int = HZ_DEFAULT) -> dict[str, SysctlSpec]:
    """The /proc/sys/net/core files procnet emulates, as of Linux 6.18 (net/core/sysctl_net_core.c
    tables; defaults from net/core/hotdata.c and dev.c). Only netdev_budget_usecs depends on HZ."""
    usecs = 2 * USEC_PER_SEC // hz  # "Must be at least 2 jiffes to guarantee 1 jiffy timeout"
    specs = [
        SysctlSpec("netdev_max_backlog", "int", 1000, "proc_dointvec",
                   note="0 and negative values are accepted"),
        SysctlSpec("dev_weight", "int", 64, "proc_do_dev_weight", minimum=1,
                   note="min 1 since 2025-01 (Liu Jian), before: proc_dointvec; "
                        "write recomputes dev_rx_weight/dev_tx_weight"),
        SysctlSpec("dev_weight_rx_bias", "int", 1, "proc_do_dev_weight", minimum=1),
        SysctlSpec("dev_weight_tx_bias", "int", 1, "proc_do_dev_weight", minimum=1),
        SysctlSpec("netdev_budget", "int", 300, "proc_dointvec"),
        SysctlSpec("netdev_budget_usecs", "uint", usecs, "proc_dointvec_minmax", minimum=usecs,
                   note="min 2*USEC_PER_SEC/HZ since 2025-02 (Jiri Slaby), before: 0"),
        SysctlSpec("netdev_tstamp_prequeue", "int", 1, "proc_dointvec"),
        SysctlSpec("rps_sock_flow_entries", "uint", 0, "rps_sock_flow_sysctl",
                   maximum=1 << 29, note="rounded up to a power of two; 0 frees the table"),
        SysctlSpec("flow_limit_cpu_bitmap", "cpumask", 0, "flow_limit_cpu_sysctl",
                   note="value = CPUs that have a flow-limit table"),
        SysctlSpec("flow_limit_table_len", "int", 4096, "flow_limit_table_len_sysctl",
                   note="must be a power of two as an unsigned int (so INT_MIN passes)"),
        SysctlSpec("rps_default_mask", "cpumask", 0, "rps_default_mask_sysctl",
                   note="per netns; parsed straight into the live mask"),
        SysctlSpec("busy_poll", "uint", 0, "proc_dointvec_minmax", minimum=0),
        SysctlSpec("busy_read", "uint", 0, "proc_dointvec_minmax", minimum=0),
        SysctlSpec("gro_normal_batch", "uint", 8, "proc_dointvec_minmax", minimum=1),
        SysctlSpec("skb_defer_max", "uint", 64, "proc_dointvec_minmax", minimum=0,
                   note="128 in mainline after 6.18 (2025-11, Eric Dumazet)"),
        SysctlSpec("backlog_threaded", "int", 0, "backlog_threaded_sysctl", minimum=0, maximum=1,
                   mainline=False, note="Felix Fietkau's patch (seed 000), never merged"),
    ]
    return {s.name: s for s in specs}


SYSCTL_SPECS: dict[str, SysctlSpec] = sysctl_specs(HZ_DEFAULT)

_DEFAULT_PARAMS = KernelParams()


def _spec(name: str) -> SysctlSpec:
    return SYSCTL_SPECS[name]


# Every handler: (data, pos, old, spec, params) -> SysctlWrite, or raise OSError.

def proc_dointvec(data: bytes, pos: int = 0, old: int | None = None,
                  spec: SysctlSpec | None = None, params: KernelParams = _DEFAULT_PARAMS) -> SysctlWrite:
    """kernel/sysctl.c ``proc_dointvec`` (write side, one int): no bounds beyond int."""
    return _do_proc_dointvec_write(data, pos, spec.name if spec else "value")


def proc_dointvec_minmax(data: bytes, pos: int = 0, old: int | None = None,
                         spec: SysctlSpec | None = None,
                         params: KernelParams = _DEFAULT_PARAMS) -> SysctlWrite:
    """kernel/sysctl.c ``proc_dointvec_minmax``: int, then extra1 <= v <= extra2, else EINVAL."""
    spec = spec or SysctlSpec("value", "int", 0, "proc_dointvec_minmax")
    return _do_proc_dointvec_write(data, pos, spec.name, spec.minimum, spec.maximum)


def proc_douintvec_minmax(data: bytes, pos: int = 0, old: int | None = None,
                          spec: SysctlSpec | None = None,
                          params: KernelParams = _DEFAULT_PARAMS) -> SysctlWrite:
    """kernel/sysctl.c ``proc_douintvec_minmax`` (no /proc/sys/net/core file uses it; kept for
    sysctls elsewhere): see ``_do_proc_douintvec_write`` for how it differs."""
    spec = spec or SysctlSpec("value", "uint", 0, "proc_douintvec_minmax")
    return _do_proc_douintvec_write(data, pos, spec.name, spec.minimum, spec.maximum)


def proc_do_dev_weight(data: bytes, pos: int = 0, old: int | None = None,
                       spec: SysctlSpec | None = None,
                       params: KernelParams = _DEFAULT_PARAMS) -> SysctlWrite:
    """net/core/sysctl_net_core.c ``proc_do_dev_weight`` (dev_weight, dev_weight_{rx,tx}_bias):
    ``proc_dointvec_minmax`` with extra1 = SYSCTL_ONE. On success the caller recomputes
    dev_rx_weight = weight_p * dev_weight_rx_bias and dev_tx_weight = weight_p * dev_weight_tx_bias
    (int arithmetic, no overflow check)."""
    return proc_dointvec_minmax(data, pos, old, spec or _spec("dev_weight"), params)


def rps_sock_flow_sysctl(data: bytes, pos: int = 0, old: int | None = 0,
                         spec: SysctlSpec | None = None,
                         params: KernelParams = _DEFAULT_PARAMS) -> SysctlWrite:
    """net/core/sysctl_net_core.c ``rps_sock_flow_sysctl``.

    ``proc_dointvec`` parses into an ``unsigned int`` temporary that starts at the current table
    size, so "-1" becomes 0xffffffff. Its return code is only reported at the very end: the size
    check runs on whatever the temporary holds. Non-zero sizes above 1 << 29 are EINVAL, others
    are rounded up to a power of two ("100" -> 128); 0 frees the table.
    """
    spec = spec or _spec("rps_sock_flow_entries")
    old = old or 0
    failure: OSError | None = None
    res = SysctlWrite(None, 0, pos)
    try:
        res = _do_proc_dointvec_write(data, pos, spec.name)
    except OSError as e:
        failure = e
    size = (old if res.value is None else res.value) & UINT_MAX
    limit = spec.maximum if spec.maximum is not None else 1 << 29
    if size:
        if size > limit:  # "Enforce limit to prevent overflow"
            raise OSError(errno.EINVAL, "%s must be <= %d (got %d)" % (spec.name, limit, size))
        size = 1 << (size - 1).bit_length()  # roundup_pow_of_two()
    if failure is not None:
        raise failure
    return res._replace(value=None if res.value is None else size)


def flow_limit_table_len_sysctl(data: bytes, pos: int = 0, old: int | None = None,
                                spec: SysctlSpec | None = None,
                                params: KernelParams = _DEFAULT_PARAMS) -> SysctlWrite:
    """net/core/sysctl_net_core.c ``flow_limit_table_len_sysctl``: ``proc_dointvec``, then if the
    stored value is not a power of two *as an unsigned int* the old value is put back and the write
    fails with EINVAL. So 0, 3 and INT_MAX fail while -2147483648 (0x80000000) is accepted."""
    spec = spec or _spec("flow_limit_table_len")
    res = _do_proc_dointvec_write(data, pos, spec.name)
    if res.value is not None:
        u = res.value & UINT_MAX
        if u == 0 or u & (u - 1):
            raise OSError(errno.EINVAL, "%s must be a power of two (got %d)" % (spec.name, res.value))
    return res


def backlog_threaded_sysctl(data: bytes, pos: int = 0, old: int | None = None,
                            spec: SysctlSpec | None = None,
                            params: KernelParams = _DEFAULT_PARAMS) -> SysctlWrite:
    """``backlog_threaded_sysctl`` from Felix Fietkau's patch (seed 000, not in mainline):
    ``proc_dointvec_minmax`` in [0, 1], then ``backlog_set_threaded(value)`` (engine's job;
    the kernel returns its error, e.g. a failed kthread_run, from the write)."""
    return proc_dointvec_minmax(data, pos, old, spec or _spec("backlog_threaded"), params)


def flow_limit_cpu_sysctl(data: bytes, pos: int = 0, old: int | None = 0,
                          spec: SysctlSpec | None = None,
                          params: KernelParams = _DEFAULT_PARAMS) -> SysctlWrite:
    """net/core/sysctl_net_core.c ``flow_limit_cpu_sysctl`` (write side).

    ``cpumask_parse`` into a temporary mask (errors change nothing), then each possible CPU gets a
    flow-limit table iff its bit is set; the file then reads back as that set. The whole buffer is
    parsed (no PAGE_SIZE cut), the whole count is reported, and the position is not used or moved.
    """
    nbits = params.nr_cpu_ids
    mask = bitmap_parse(data, nbits)
    possible = params.possible if params.possible is not None else (1 << nbits) - 1
    return SysctlWrite(mask & possible, len(data), pos)


def rps_default_mask_sysctl(data: bytes, pos: int = 0, old: int | None = 0,
                            spec: SysctlSpec | None = None,
                            params: KernelParams = _DEFAULT_PARAMS) -> SysctlWrite:
    """net/core/sysctl_net_core.c ``rps_default_mask_sysctl`` (write side).

    ``cpumask_parse`` writes *directly into the live mask*, chunk by chunk, so a failing write can
    still change it: with 2 CPUs, "f" fails with EOVERFLOW but leaves the mask at 3. Such failures
    raise ``SysctlWriteError`` with ``value_after`` = the mask to keep. A non-empty result is then
    ANDed with the housekeeping CPUs (``rps_cpumask_housekeeping``); if that empties it the mask
    stays empty and the write fails with EINVAL. Position: ignored and not moved.
    """
    spec = spec or _spec("rps_default_mask")
    nbits = params.nr_cpu_ids
    try:
        mask = bitmap_parse(data, nbits, dest=old or 0)
    except CpumaskParseError as e:
        raise SysctlWriteError(e.errno, "%s: %s" % (spec.name, e.strerror), e.partial) from None
    if mask:
        hk = params.housekeeping if params.housekeeping is not None else (1 << nbits) - 1
        mask &= hk
        if not mask:
            raise SysctlWriteError(errno.EINVAL, "%s: no housekeeping CPU in %r" % (spec.name, data), 0)
    return SysctlWrite(mask, len(data), pos)


Handler = Callable[..., SysctlWrite]

# .proc_handler name -> implementation; SysctlSpec.handler keys into this.
HANDLERS: dict[str, Handler] = {
    "proc_dointvec": proc_dointvec,
    "proc_dointvec_minmax": proc_dointvec_minmax,
    "proc_douintvec_minmax": proc_douintvec_minmax,
    "proc_do_dev_weight": proc_do_dev_weight,
    "rps_sock_flow_sysctl": rps_sock_flow_sysctl,
    "flow_limit_table_len_sysctl": flow_limit_table_len_sysctl,
    "backlog_threaded_sysctl": backlog_threaded_sysctl,
    "flow_limit_cpu_sysctl": flow_limit_cpu_sysctl,
    "rps_default_mask_sysctl": rps_default_mask_sysctl,
}


def _lookup(name: str, params: KernelParams) -> SysctlSpec:
    spec = SYSCTL_SPECS[name]
    if params.hz != HZ_DEFAULT:
        spec = sysctl_specs(params.hz)[name]
    return spec


def sysctl_write(name: str, data: bytes, pos: int, old: int,
                 params: KernelParams = _DEFAULT_PARAMS) -> SysctlWrite:
    """One write() call on /proc/sys/net/core/<name>: table lookup + the file's handler."""
    spec = _lookup(name, params)
    return HANDLERS[spec.handler](data, pos, old, spec, params)


def sysctl_show(name: str, value: int, pos: int, size: int,
                params: KernelParams = _DEFAULT_PARAMS) -> bytes:
    """One read() call on /proc/sys/net/core/<name> holding ``value``."""
    spec = _lookup(name, params)
    if spec.ctype == "cpumask":
        return dump_cpumask(value, params.nr_cpu_ids, pos, size)
    return sysctl_read(format_int(value), pos, size)


# ---------------------------------------------------------------------------------------------
# lib/kstrtox.c, as used by sysfs ->store() (rps_flow_cnt, threaded, cpu online, ...)
# ---------------------------------------------------------------------------------------------

def _cstr(data: bytes | str) -> bytes:
    if isinstance(data, str):
        data = data.encode("latin-1")
    return data.split(b"\0", 1)[0] + b"\0"  # sysfs hands the store a NUL-terminated copy


def _kstrtoull_raw(s: bytes, i: int, base: int) -> int:
    """lib/kstrtox.c ``_kstrtoull()``: digits, one optional "\\n", then the end."""
    i, base = _parse_integer_fixup_radix(s, i, base)
    val, used, overflow = _parse_integer(s, i, base)
    if overflow:
        raise OSError(errno.ERANGE, "%r overflows" % s[:-1])
    if used == 0:
        raise OSError(errno.EINVAL, "%r is not a number" % s[:-1])
    i += used
    if s[i] == 0x0A:
        i += 1
    if s[i] != 0:
        raise OSError(errno.EINVAL, "trailing characters in %r" % s[:-1])
    return val


def kstrtoull(data: bytes | str, base: int = 0) -> int:
    """``kstrtoull``: optional leading "+", no "-", one trailing "\\n"; EINVAL or ERANGE."""
    s = _cstr(data)
    return _kstrtoull_raw(s, 1 if s[0] == 0x2B else 0, base)


def kstrtoul(data: bytes | str, base: int = 0) -> int:
    """``kstrtoul`` (64-bit unsigned long == kstrtoull)."""
    return kstrtoull(data, base)


def kstrtouint(data: bytes | str, base: int = 0) -> int:
    """``kstrtouint``: kstrtoull, then > UINT_MAX is ERANGE."""
    val = kstrtoull(data, base)
    if val > UINT_MAX:
        raise OSError(errno.ERANGE, "%r does not fit in unsigned int" % data)
    return val


def kstrtoll(data: bytes | str, base: int = 0) -> int:
    """``kstrtoll``: optional "-" (no "+" after it) or "+"; out of long long range is ERANGE."""
    s = _cstr(data)
    if s[0] == 0x2D:
        tmp = _kstrtoull_raw(s, 1, base)
        if tmp > 2**63:
            raise OSError(errno.ERANGE, "%r does not fit in long long" % data)
        return -tmp
    tmp = kstrtoull(data, base)
    if tmp >= 2**63:
        raise OSError(errno.ERANGE, "%r does not fit in long long" % data)
    return tmp


def kstrtoint(data: bytes | str, base: int = 0) -> int:
    """``kstrtoint``: kstrtoll, then outside INT_MIN..INT_MAX is ERANGE."""
    val = kstrtoll(data, base)
    if not INT_MIN <= val <= INT_MAX:
        raise OSError(errno.ERANGE, "%r does not fit in int" % data)
    return val
