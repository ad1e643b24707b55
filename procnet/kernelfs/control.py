"""Parsers for procnet's own control files (procnet/*): durations, CPU lists, "key=value" lines.

These files are not kernel files, so their syntax is ours; it is documented in docs/files.md
(generated from the table) and every error names the offending word, attrs-style:
"traffic/ctl: pps must be an integer >= 0 (got 'fast')".
"""
from __future__ import annotations

import errno
import re
from fractions import Fraction

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ns|us|ms|s)?\s*$")
_UNIT_NS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000, None: 1}
_NUMBER = re.compile(r"(\d+)(?:\.(\d*))?(?:[eE](\d+))?")
# Numbers are converted exactly (no float: "1e400" was infinity and escaped as OverflowError),
# and digits that cannot matter are dropped first, so a 64 KiB digit string stays cheap and
# never meets Python's 4300-digit int() limit. Leading zeros are fine, as in the kernel.
MAX_DIGITS = 30
ULONG_MAX = 2**64 - 1
MAX_DURATION_NS = 3600 * 1_000_000_000   # durations in commands (on, off, period): an hour


class ControlError(OSError):
    """EINVAL with a message for the daemon log and procnet/dmesg."""

    def __init__(self, message: str, err: int = errno.EINVAL) -> None:
        super().__init__(err, message)


def parse_duration_ns(text: str, what: str = "duration") -> int:
    """'250ms', '2s', '100us', '5000' (ns) -> integer ns."""
    m = _DURATION.match(text)
    if not m:
        raise ControlError(f"{what} must look like 250ms, 2s, 100us or a number of ns "
                           f"(got {text.strip()!r})")
    whole, _, frac = m.group(1).partition(".")
    whole = whole.lstrip("0") or "0"
    if len(whole) > MAX_DIGITS:
        raise ControlError(f"{what}: {whole[:MAX_DIGITS]}... is out of range")
    if len(frac) > MAX_DIGITS:           # keep a sticky digit so that rounding is exact
        frac = frac[:MAX_DIGITS] + ("1" if frac[MAX_DIGITS:].strip("0") else "")
    value = Fraction(int(whole + frac), 10 ** len(frac)) * _UNIT_NS[m.group(2)]
    return round(value)


def parse_uint(value: str) -> int:
    """'2', '1.5' (-> 1), '1e6' -> an exact integer in 0..ULONG_MAX; ValueError otherwise."""
    m = _NUMBER.fullmatch(value)
    if m is None:
        raise ValueError(value)
    whole = m.group(1).lstrip("0") or "0"
    exp = (m.group(3) or "0").lstrip("0") or "0"
    if len(whole) > 20 or len(exp) > 2:       # >= 10**20 > ULONG_MAX already
        raise ValueError(value)
    frac = (m.group(2) or "")[:100]             # digits past 10**-99 are truncated anyway
    v = int(Fraction(int(whole + frac), 10 ** len(frac)) * 10 ** int(exp))
    if v > ULONG_MAX:
        raise ValueError(value)
    return v


def parse_cpulist(text: str, ncpus: int, what: str = "cpus") -> tuple[int, ...]:
    """'0-2,5' -> (0, 1, 2, 5); every CPU must exist."""
    cpus: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d{1,%d})(?:-(\d{1,%d}))?" % (MAX_DIGITS, MAX_DIGITS), part)
        if not m:
            raise ControlError(f"{what} must be a CPU list like 0-2,5 (got {text!r})")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        if lo > hi or hi >= ncpus:
            raise ControlError(f"{what}: CPU range {part} outside 0-{ncpus - 1}")
        cpus.update(range(lo, hi + 1))
    return tuple(sorted(cpus))


def parse_command(data: bytes, what: str) -> list[list[str]]:
    """Split a write into commands: one per line, words separated by blanks.

    Lines starting with "#" are comments. A write of comments only is a no-op (shells write
    every line of `printf` or a heredoc with its own write() call); a write with nothing but
    blanks is an error ("empty command"), since `echo $UNSET > ctl` is almost always a slip.
    """
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise ControlError(f"{what}: only ASCII text is accepted") from None
    lines = [line.split() for line in text.splitlines()]
    lines = [words for words in lines if words]
    if not lines:
        raise ControlError(f"{what}: empty command")
    return [words for words in lines if not words[0].startswith("#")]


def parse_kv(words: list[str], allowed: dict[str, type], what: str) -> dict:
    """['flows=2', 'pps=1e6'] -> {'flows': 2, ...}; unknown keys and bad values raise."""
    out: dict = {}
    for w in words:
        key, sep, value = w.partition("=")
        if not sep or not value:
            raise ControlError(f"{what}: expected key=value (got {w!r})")
        if key not in allowed:
            raise ControlError(f"{what}: unknown key {key!r} (expected one of "
                               f"{', '.join(sorted(allowed))})")
        kind = allowed[key]
        try:
            if kind is int:
                out[key] = parse_uint(value)
            elif kind == "duration":
                ns = parse_duration_ns(value, f"{what}: {key}")
                if ns > MAX_DURATION_NS:   # the engine does arrival arithmetic in int64
                    raise ControlError(f"{what}: {key} must be at most 3600s (got {value!r})")
                out[key] = ns
            else:
                out[key] = value
        except ValueError:
            raise ControlError(f"{what}: {key} must be an integer >= 0 (got {value!r})") from None
    return out
