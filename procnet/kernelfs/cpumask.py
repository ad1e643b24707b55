"""Kernel-faithful cpumask text: ``%*pb`` / ``%*pbl`` printing and ``bitmap_parse`` /
``bitmap_parselist`` parsing.

Mirrors lib/vsprintf.c (``bitmap_string``, ``bitmap_list_string``) and lib/bitmap-str.c
(``bitmap_parse``, ``bitmap_parselist``), as used through ``cpumask_parse`` / ``cpulist_parse``
(include/linux/cpumask.h, with ``nbits = nr_cpumask_bits = nr_cpu_ids``) by
/proc/sys/net/core/{rps_default_mask,flow_limit_cpu_bitmap}, /sys/class/net/*/queues/rx-*/rps_cpus
and /sys/devices/system/cpu/{online,possible}.

A mask is a plain non-negative Python ``int``: bit N = CPU N.

Simplifications:
  * Input is the ``bytes`` of one write; the kernel's copy is NUL-terminated, so a NUL byte ends
    the text exactly like the end of the buffer does.
  * The kernel writes each parsed 32-bit chunk straight into the destination, and may leave bits
    >= nbits set in memory after a failed write. Those bits are never observable (printing and all
    cpumask operations stop at nr_cpumask_bits), so every mask returned here, including the partial
    mask of a failed parse, is truncated to ``nbits``.
  * Little-endian chunk order (x86-64, arm64); the big-endian ``chunk ^ 1`` swizzle is not modelled.
"""

from __future__ import annotations

import errno

__all__ = [
    "CpumaskParseError",
    "bitmap_string",
    "bitmap_list_string",
    "bitmap_parse",
    "bitmap_parselist",
    "cpumask_parse",
    "cpulist_parse",
    "kernel_isspace",
]

CHUNKSZ = 32  # bitmap_string / bitmap_parse work in u32 chunks
UINT_MAX = 0xFFFF_FFFF

# lib/ctype.c: _S (whitespace) is \t \n \v \f \r, space, and 0xa0 (Latin-1 NBSP) -- the last one
# surprises people coming from glibc.
_KERNEL_SPACE = frozenset(b"\t\n\v\f\r \xa0")


def kernel_isspace(c: int) -> bool:
    """``isspace()`` from include/linux/ctype.h (kernel _ctype table, includes 0xa0)."""
    return c in _KERNEL_SPACE


class CpumaskParseError(OSError):
    """A cpumask/cpulist parse failed with ``errno``.

    ``partial`` is what the destination holds after the failure: the kernel stores each parsed
    chunk (bitmap_parse) or region (bitmap_parselist) as it goes, so a write into a live mask
    (rps_default_mask) can change it even though the write() fails.
    """

    def __init__(self, err: int, message: str, partial: int):
        super().__init__(err, message)
        self.partial = partial


def _nbits_mask(nbits: int) -> int:
    return (1 << nbits) - 1 if nbits > 0 else 0


# ---------------------------------------------------------------------------------------------
# Printing (lib/vsprintf.c)
# ---------------------------------------------------------------------------------------------

def bitmap_string(mask: int, nbits: int) -> str:
    """``%*pb`` -- lib/vsprintf.c ``bitmap_string()``.

    Most significant chunk first, 32-bit chunks joined by ",", lower-case hex, zero padded: the first
    chunk has ceil((nbits % 32 or 32) / 4) digits, the others 8. nbits == 0 gives "".
    Bits >= nbits are ignored.
    """
    nbits = max(nbits, 0)
    chunksz = nbits & (CHUNKSZ - 1) or CHUNKSZ
    out = []
    i = -(-nbits // CHUNKSZ) * CHUNKSZ - CHUNKSZ  # ALIGN(nbits, 32) - 32
    while i >= 0:
        val = (mask >> i) & ((1 << chunksz) - 1)
        out.append(format(val, "0%dx" % -(-chunksz // 4)))
        chunksz = CHUNKSZ
        i -= CHUNKSZ
    return ",".join(out)


def bitmap_list_string(mask: int, nbits: int) -> str:
    """``%*pbl`` -- lib/vsprintf.c ``bitmap_list_string()``: "0-3,5,7-8" (decimal ranges).

    A run of two bits is printed as a range ("0-1"), as the kernel does.
    """
    mask &= _nbits_mask(nbits)
    out = []
    bit = 0
    while mask >> bit:
        if not (mask >> bit) & 1:
            bit += 1
            continue
        rbot = bit
        while (mask >> bit) & 1:
            bit += 1
        out.append(str(rbot) if bit == rbot + 1 else "%d-%d" % (rbot, bit - 1))
    return ",".join(out)


# ---------------------------------------------------------------------------------------------
# bitmap_parse (lib/bitmap-str.c): hex chunks, parsed right to left
# ---------------------------------------------------------------------------------------------

def _hex_to_bin(c: int) -> int:
    """lib/hexdump.c ``hex_to_bin()``: value of a hex digit or -1."""
    if 0x30 <= c <= 0x39:
        return c - 0x30
    c |= 0x20
    if 0x61 <= c <= 0x66:
        return c - 0x61 + 10
    return -1


def _end_of_region(c: int) -> bool:
    """``__end_of_region()``: whitespace or a comma separates regions/chunks."""
    return c == 0x2C or c in _KERNEL_SPACE


def bitmap_parse(data: bytes, nbits: int, dest: int = 0) -> int:
    """Parse a hex cpumask the way lib/bitmap-str.c ``bitmap_parse()`` does.

    * The text ends at the first "\\n" or NUL (``strnchrnul``).
    * It is read right to left in chunks of at most 8 hex digits, each one 32 bits; chunks are
      separated by any run of commas and/or whitespace (so "1 0" means the same as "1,0").
      Empty input and empty chunks ("", ",", "1,,5") are fine.
    * A non-hex character inside a chunk -> EINVAL ("0x1", "-1", "zz").
    * More than 8 digits in a chunk, more chunks than ceil(nbits/32), or a set bit >= nbits ->
      EOVERFLOW.
    * Quirk kept: after 8 digits the next character is skipped if it is neither a hex digit nor a
      separator, so "z00000001" parses as 1.

    ``dest`` is the destination's current value. On success the result does not depend on it. On
    failure ``CpumaskParseError.partial`` is ``dest`` with the chunks parsed so far written in
    (the kernel writes each chunk into the destination as soon as it has parsed it).
    """
    nmask = _nbits_mask(nbits)
    text = data
    for stop in (b"\n", b"\0"):
        cut = text.find(stop)
        if cut >= 0:
            text = text[:cut]
    mem = dest & nmask
    chunks = -(-nbits // CHUNKSZ)  # BITS_TO_U32(nbits)
    chunk = 0
    end = len(text) - 1

    def fail(err: int, why: str) -> CpumaskParseError:
        return CpumaskParseError(err, "cpumask %r: %s" % (data, why), mem & nmask)

    while True:
        # bitmap_find_region_reverse(): skip separators between chunks
        while end >= 0 and _end_of_region(text[end]):
            end -= 1
        if end < 0:
            break
        if chunks == 0:
            raise fail(errno.EOVERFLOW, "more than %d bits" % nbits)
        chunks -= 1
        # bitmap_get_x32_reverse(): up to 8 hex digits
        val = 0
        for shift in range(0, 32, 4):
            c = _hex_to_bin(text[end])
            end -= 1
            if c < 0:
                raise fail(errno.EINVAL, "invalid character %r" % chr(text[end + 1]))
            val |= c << shift
            if end < 0 or _end_of_region(text[end]):
                break
        else:
            c = _hex_to_bin(text[end])
            end -= 1  # the kernel steps past this character whatever it is
            if c >= 0:
                raise fail(errno.EOVERFLOW, "chunk longer than 8 hex digits")
        # the chunk lands in the destination now, before the rest is validated
        mem = (mem & ~(UINT_MAX << (CHUNKSZ * chunk))) | (val << (CHUNKSZ * chunk))
        chunk += 1

    unset_bit = chunk * CHUNKSZ
    if unset_bit < nbits:
        return mem & ((1 << unset_bit) - 1)  # bitmap_clear(unset_bit .. nbits)
    if mem >> nbits:
        raise fail(errno.EOVERFLOW, "bit %d >= nbits %d" % (mem.bit_length() - 1, nbits))
    return mem


cpumask_parse = bitmap_parse  # cpumask_parse(buf, mask) == bitmap_parse(buf, UINT_MAX, mask, nr_cpumask_bits)


# ---------------------------------------------------------------------------------------------
# bitmap_parselist (lib/bitmap-str.c): "0-3,5,8-15:2/4,N", used by cpulist_parse
# ---------------------------------------------------------------------------------------------

def bitmap_parselist(data: bytes, nbits: int) -> int:
    """Parse a CPU list the way lib/bitmap-str.c ``bitmap_parselist()`` does.

    Regions separated by commas/whitespace: "N" (= nbits-1), "A", "A-B", "all", and the group
    form "A-B:used/group" ("0-1023:2/256" -> 0,1,256,257,...). Decimal only.
    Errors: EINVAL (bad syntax, start > end, group 0, used > group), ERANGE (bit >= nbits),
    EOVERFLOW (number > UINT_MAX). The text ends at a NUL, and at a "\\n" that follows a number
    (a "\\n" between regions is skipped like other whitespace, as in the kernel).

    The destination is zeroed first and regions are set as they are parsed, so
    ``CpumaskParseError.partial`` holds the regions before the bad one.
    """
    s = data.split(b"\0", 1)[0] + b"\0"  # C string: sentinel NUL
    lastbit = (nbits - 1) & UINT_MAX
    mem = 0

    def fail(err: int, why: str) -> CpumaskParseError:
        return CpumaskParseError(err, "cpulist %r: %s" % (data, why), mem)

    def end_of_str(c: int) -> bool:
        return c == 0 or c == 0x0A

    def end_of_region(c: int) -> bool:
        return _end_of_region(c) or end_of_str(c)

    def getnum(i: int) -> tuple[int, int]:  # bitmap_getnum()
        if s[i] == ord("N"):
            return lastbit, i + 1
        j = i
        while 0x30 <= s[j] <= 0x39:
            j += 1
        if j == i:
            raise fail(errno.EINVAL, "expected a number at offset %d" % i)
        n = int(s[i:j])
        if n > UINT_MAX:
            raise fail(errno.EOVERFLOW, "number %d too large" % n)
        return n, j

    i = 0
    while True:
        # bitmap_find_region()
        while _end_of_region(s[i]):
            i += 1
        if end_of_str(s[i]):
            return mem
        # bitmap_parse_region()
        if s[i:i + 3].lower() == b"all":
            start, end, i = 0, lastbit, i + 3
        else:
            start, i = getnum(i)
            if end_of_region(s[i]):
                end = start
            elif s[i] != ord("-"):
                raise fail(errno.EINVAL, "unexpected %r" % chr(s[i]))
            else:
                end, i = getnum(i + 1)
        last = False
        if end_of_region(s[i]):
            off = group_len = (end + 1) & UINT_MAX  # unsigned int arithmetic, as in the kernel
            last = end_of_str(s[i])  # only this path stops at "\n"; after "A-B:u/g" it is skipped
        elif s[i] != ord(":"):
            raise fail(errno.EINVAL, "unexpected %r" % chr(s[i]))
        else:
            off, i = getnum(i + 1)
            if s[i] != ord("/"):
                raise fail(errno.EINVAL, "expected '/' in group pattern")
            group_len, i = getnum(i + 1)
        # bitmap_check_region()
        if start > end or group_len == 0 or off > group_len:
            raise fail(errno.EINVAL, "bad region %d-%d:%d/%d" % (start, end, off, group_len))
        if end >= nbits:
            raise fail(errno.ERANGE, "cpu %d >= nbits %d" % (end, nbits))
        # bitmap_set_region()
        for base in range(start, end + 1, group_len):
            width = min(end - base + 1, off)
            mem |= ((1 << width) - 1) << base
        if last:
            return mem


cpulist_parse = bitmap_parselist  # cpulist_parse(buf, mask) == bitmap_parselist(buf, mask, nr_cpumask_bits)
