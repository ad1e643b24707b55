"""Parsers for procnet's own control files (procnet/*): durations, CPU lists, "key=value" lines.

These files are not kernel files, so their syntax is ours; it is documented in docs/files.md
(generated from the table) and every error names the offending word, attrs-style:
"traffic/ctl: pps must be an integer >= 0 (got 'fast')".
"""
from __future__ import annotations

import errno
import re

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ns|us|ms|s)?\s*$")
_UNIT_NS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000, None: 1}


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
    value = float(m.group(1)) * _UNIT_NS[m.group(2)]
    return int(round(value))


def parse_cpulist(text: str, ncpus: int, what: str = "cpus") -> tuple[int, ...]:
    """'0-2,5' -> (0, 1, 2, 5); every CPU must exist."""
    cpus: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
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
                v = int(float(value)) if re.fullmatch(r"\d+(\.\d*)?([eE]\d+)?", value) else None
                if v is None:
                    raise ValueError
                out[key] = v
            elif kind == "duration":
                out[key] = parse_duration_ns(value, f"{what}: {key}")
            else:
                out[key] = value
        except ValueError:
            raise ControlError(f"{what}: {key} must be an integer >= 0 (got {value!r})") from None
    return out
