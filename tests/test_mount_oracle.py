"""Kernel oracles replayed THROUGH a real mount: FUSE, the glue, the tree and the handlers.

tests/test_proc_handlers.py replays the same tables against the handler functions alone. Here
every probe goes through the kernel's FUSE client exactly as a program would drive
/proc/sys/net/core: open(O_WRONLY|O_TRUNC), write(2), close, then a fresh open + read(4096).
The result (byte count or errno) and the value read back must be what the real kernel answered.

  * ../shared/oracle/kernel-sysctl-oracle.json: Linux 6.18, HZ=250, 2 CPUs, one write per probe.
  * tests/data/host-sysctl-oracle.json (tools/oracle_record.py): several writes, pwrites at
    offsets and reads on one open file, optional setup value, inputs up to 5000 bytes, and
    lo's rx-0/rps_cpus and rps_flow_cnt (sysfs stores). Also 2 CPUs, HZ=250.

The mount therefore has 2 CPUs (cpumask answers depend on nr_cpu_ids).

Known differences that come from FUSE itself, not from procnet (docs/fuse.md, "Where a mount
cannot match the kernel"); each is asserted as it is, so a change shows up here:
  * A zero-length write(2) never reaches a FUSE filesystem: the kernel's FUSE client answers 0
    itself. On Linux it reaches the sysctl handler, and for the cpumask sysctls
    (flow_limit_cpu_bitmap, rps_default_mask) it parses as an empty mask and clears them. So
    after `setup 3`, `write("")` leaves 3 on the mount where Linux shows 0.
  * FUSE moves the file position by every byte count a write reports. The cpumask sysctl
    handlers do not move it on Linux, so a read() after a write() on the same fd reads from
    position 0 on Linux (the value) and from position > 0 on the mount (EOF).
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
from pathlib import Path

import pytest
from mount_helpers import mounted

SHARED_ORACLE = Path(__file__).parents[2] / "shared" / "oracle" / "kernel-sysctl-oracle.json"
HOST_ORACLE = Path(__file__).parent / "data" / "host-sysctl-oracle.json"
CORE = "proc/sys/net/core"
SYSFS_RX0 = "sys/class/net/lo/queues/rx-0"
CPUMASK_SYSCTLS = ("flow_limit_cpu_bitmap", "rps_default_mask")


def _load(path: Path) -> dict:
    # A missing oracle is a failure (CI checks ../shared out beside the repo), never a skip.
    assert path.is_file(), f"missing oracle {path}"
    with open(path) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def m(fuse_env):
    with mounted("--clock", "manual", "--cpus", "2") as mnt:
        yield mnt


def decode(inp) -> bytes:
    """oracle_record.py input encoding: latin-1 text or [[piece, repeat], ...]."""
    if isinstance(inp, str):
        return inp.encode("latin-1")
    return b"".join(piece.encode("latin-1") * n for piece, n in inp)


def show(inp) -> str:
    text = repr(decode(inp))
    return text if len(text) < 40 else text[:36] + "...'"


def read_fresh(path: Path) -> str:
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 4096).decode("latin-1")
    finally:
        os.close(fd)


def write_once(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        n = os.write(fd, data)
        assert n == len(data), f"restoring {path}: short write {n}/{len(data)}"
    finally:
        os.close(fd)


def restore(path: Path, orig: str) -> None:
    write_once(path, orig.encode() if orig.endswith("\n") else orig.encode() + b"\n")
    now = read_fresh(path)
    assert now.strip() == orig.strip(), f"could not restore {path} to {orig!r} (reads {now!r})"


def run_ops(path: Path, ops: list) -> list:
    """oracle_record.run_ops(): every op on ONE open file (O_RDWR if it reads)."""
    reads = any(op[0] == "read" for op in ops)
    fd = os.open(path, (os.O_RDWR if reads else os.O_WRONLY) | os.O_TRUNC)
    results = []
    try:
        for op in ops:
            try:
                if op[0] == "write":
                    results.append(["ok", os.write(fd, decode(op[1]))])
                elif op[0] == "pwrite":
                    results.append(["ok", os.pwrite(fd, decode(op[1]), op[2])])
                else:
                    results.append(["data", os.read(fd, op[1]).decode("latin-1")])
            except OSError as e:
                results.append(["err", errno.errorcode[e.errno]])
    finally:
        os.close(fd)
    return results


# ---------------------------------------------------------------- the shared oracle

SHARED = _load(SHARED_ORACLE) if SHARED_ORACLE.is_file() else None


def test_shared_oracle_is_present():
    assert SHARED is not None, f"missing {SHARED_ORACLE} (CI checks ../shared out beside the repo)"
    assert len(SHARED) >= 9


@pytest.mark.parametrize("name", sorted(SHARED) if SHARED else ["shared-oracle-missing"])
def test_shared_oracle_through_the_mount(m, name):
    assert SHARED is not None, f"missing {SHARED_ORACLE}"
    table = SHARED[name]
    path = m / CORE / name
    assert read_fresh(path).strip() == table["orig"], "the mount does not start at the kernel default"
    bad = []
    for inp, expected, after in table["probe"]:
        restore(path, table["orig"])
        result = run_ops(path, [["write", inp]])[0]
        value = read_fresh(path).strip()
        if inp == "" and name in CPUMASK_SYSCTLS:
            # FUSE never delivers a zero-length write; the value was 0 already, so it matches
            assert result == ["ok", 0]
        if result != expected or value != after:
            bad.append(f"{show(inp)}: mount {result} -> {value!r}, "
                       f"kernel {expected} -> {after!r}")
    restore(path, table["orig"])
    assert not bad, f"{name}: {len(bad)} of {len(table['probe'])} probes differ:\n" + "\n".join(bad)


# ---------------------------------------------------------------- the host oracle

HOST = _load(HOST_ORACLE) if HOST_ORACLE.is_file() else None


def fuse_difference(name: str, probe: dict) -> str | None:
    """Why a recorded probe cannot come out the same through FUSE (see the module docstring)."""
    if name in CPUMASK_SYSCTLS:
        writes = [op for op in probe["ops"] if op[0] in ("write", "pwrite")]
        if any(decode(op[1]) == b"" for op in writes) and probe["setup"] is not None:
            return "zero-length write"
        ops = [op[0] for op in probe["ops"]]
        if "write" in ops and "read" in ops and ops.index("write") < ops.index("read"):
            return "file position after a cpumask write"
    return None


def host_cases():
    if HOST is None:
        return [pytest.param(None, None, id="host-oracle-missing")]
    cases = [pytest.param("files", name, id=name) for name in HOST["files"]]
    cases += [pytest.param("sysfs", name, id=f"sysfs-{name}") for name in HOST["sysfs"]]
    return cases


def test_host_oracle_matches_the_mount():
    assert HOST is not None, f"missing {HOST_ORACLE} (record it with tools/oracle_record.py)"
    meta = HOST["meta"]
    assert meta["nr_cpu_ids"] == 2 and meta["hz"] == 250 and meta["sysctl_writes_strict"] == 1


@pytest.mark.parametrize("section,name", host_cases())
def test_host_oracle_through_the_mount(m, section, name):
    assert HOST is not None, f"missing {HOST_ORACLE}"
    table = HOST[section][name]
    path = m / (CORE if section == "files" else SYSFS_RX0) / name
    assert read_fresh(path) == table["orig"], "the mount does not start at the kernel default"
    bad, differ, checked = [], [], 0
    for probe in table["probes"]:
        restore(path, table["orig"])
        if probe["setup"] is not None:
            write_once(path, probe["setup"].encode("latin-1"))
        results = run_ops(path, probe["ops"])
        after = read_fresh(path)
        same = results == probe["results"] and after == probe["after"]
        why = fuse_difference(name, probe)
        if why is not None:
            # documented FUSE difference: it must still be there (else update the docs)
            differ.append(why)
            assert not same, f"{name} {probe['ops']}: no longer differs ({why}); update docs"
            continue
        checked += 1
        if not same:
            ops = [[op[0], show(op[1]), *op[2:]] if op[0] != "read" else op for op in probe["ops"]]
            bad.append(f"setup={probe['setup']!r} {ops}: mount {results} -> {after!r}, "
                       f"kernel {probe['results']} -> {probe['after']!r}")
    restore(path, table["orig"])
    assert not bad, f"{name}: {len(bad)} of {checked} probes differ:\n" + "\n".join(bad)
    assert checked >= len(table["probes"]) - 4


# ---------------------------------------------------------------- the parser author's notes, spelled out


def ops_on_one_fd(path: Path, *ops) -> list:
    return run_ops(path, [list(op) for op in ops])


def test_cpumask_sysctls_parse_every_write_whatever_the_position(m):
    path = m / CORE / "rps_default_mask"
    assert ops_on_one_fd(path, ("write", "1\n"), ("write", "2\n")) == [["ok", 2], ["ok", 2]]
    assert read_fresh(path) == "2\n"
    assert ops_on_one_fd(path, ("pwrite", "3", 100)) == [["ok", 1]]
    assert read_fresh(path) == "3\n"
    restore(path, "0")


def test_integer_sysctls_ignore_writes_at_a_position(m):
    path = m / CORE / "netdev_budget"
    assert ops_on_one_fd(path, ("write", "12\n"), ("write", "34\n")) == [["ok", 3], ["ok", 3]]
    assert read_fresh(path) == "12\n"
    assert ops_on_one_fd(path, ("pwrite", "56", 1)) == [["ok", 2]]
    assert read_fresh(path) == "12\n"
    assert ops_on_one_fd(path, ("write", "1 2")) == [["ok", 2]]  # short write: "2" not parsed
    assert read_fresh(path) == "1\n"
    restore(path, "300")


def test_sysfs_stores_see_at_most_4096_bytes(m):
    rps = m / SYSFS_RX0 / "rps_cpus"
    assert ops_on_one_fd(rps, ("write", [[" ", 5000], ["1", 1]])) == [["ok", 4096]]
    assert read_fresh(rps) == "0\n"  # the "1" was past the cut
    assert ops_on_one_fd(rps, ("write", [[" ", 4095], ["1", 1]])) == [["ok", 4096]]
    assert read_fresh(rps) == "1\n"
    cnt = m / SYSFS_RX0 / "rps_flow_cnt"
    assert ops_on_one_fd(cnt, ("write", [["0", 4095], ["5", 1]])) == [["ok", 4096]]
    assert read_fresh(cnt) == "8\n"
    restore(rps, "0")
    restore(cnt, "0")


def test_zero_length_writes_never_reach_the_mount(m):
    """FUSE answers a zero-length write(2) with 0 in the kernel and sends no WRITE request
    (fuse_direct_io has nothing to send). Linux's sysctl code does call the handler, and
    cpumask_parse("") clears the mask, so on Linux this sequence ends with "0"."""
    path = m / CORE / "flow_limit_cpu_bitmap"
    write_once(path, b"3\n")
    assert ops_on_one_fd(path, ("write", "")) == [["ok", 0]]
    assert read_fresh(path) == "3\n"  # Linux: "0\n"
    restore(path, "0")
    # the integer files and sysfs agree with Linux here: nothing changes
    path = m / CORE / "netdev_budget"
    assert ops_on_one_fd(path, ("write", "")) == [["ok", 0]]
    assert read_fresh(path) == "300\n"


def test_sysctl_reads_answer_only_at_position_zero(m):
    path = m / CORE / "netdev_max_backlog"
    assert ops_on_one_fd(path, ("read", 2), ("read", 100)) == [["data", "10"], ["data", ""]]
    mask = m / CORE / "rps_default_mask"
    assert ops_on_one_fd(mask, ("read", 1), ("read", 2)) == [["data", ""], ["data", "0\n"]]
    head = subprocess.run(["head", "-c", "2", str(path)], capture_output=True, text=True,
                          timeout=30)
    assert head.stdout == "10"
    cat = subprocess.run(["cat", str(path), str(mask)], capture_output=True, text=True, timeout=30)
    assert cat.stdout == "1000\n0\n"
