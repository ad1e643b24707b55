"""Generate docs/files.md from the file table: `python -m procnet.kernelfs.docgen > docs/files.md`.

tests/test_docs.py fails when the committed file differs from what this prints.
"""
from __future__ import annotations

from .table import TABLE

HEADER = """# File reference

Generated from `procnet/kernelfs/table.py` by `python -m procnet.kernelfs.docgen`; do not edit.
Paths are relative to the mountpoint. Placeholders: `<pid>` a task's pid, `<dev>` a network
device, `<rxq>` `rx-N`, `<cpu>` `cpuN`. Reads are rendered once per open (one snapshot), except
`proc/sys/net/core/*` and `backlog_threaded`, which render on every read() and return data only
at offset 0, as `proc_sys_read` does; files report size 0 as procfs does. Writes parse like the
kernel handler named in the *kernel* column: bad input gets the kernel's errno (EINVAL,
EOVERFLOW, ERANGE, EOPNOTSUPP) and changes nothing, except where the kernel itself applies a
partial write (rps_default_mask). Integer sysctls ignore writes at a non-zero offset, as with
`kernel.sysctl_writes_strict=1`; the cpumask sysctls parse every write. sysfs files
(`sys/...`) see at most the first 4096 bytes of a write and report that count, as kernfs does.
Files of mode 0444 refuse writes (EACCES at open); non-root users cannot write any file.
`procnet/*/ctl` files take one command per line (`#` starts a comment line); every line of
one write(2) is parsed before any is applied, a line the engine refuses stops the write with
EINVAL (the lines before it stay applied), and every error is also logged to `procnet/dmesg`.
What a read shows: with the clock stopped (`procnet/clock/mode` manual) the current state; with
the realtime clock running, the state at the end of the engine's last slice (at most about
2 ms of wall time old) unless nothing was rendered since; a write is always visible to the
reads after it (docs/architecture.md §3-4).

| path | mode | kernel | what it is |
|---|---|---|---|
"""


def render() -> str:
    rows = []
    for e in TABLE:
        doc = e.doc.replace("|", "\\|")
        rows.append(f"| `{e.path}` | {e.mode:04o} | {e.kernel} | {doc} |\n")
    return HEADER + "".join(rows)


if __name__ == "__main__":
    print(render(), end="")
