"""Section 2: bad input gets the kernel's answer, from every writable file.

For EVERY writable file (the TABLE entries with a store, expanded on a 4-CPU machine):

  * the categories of the kernel's tools/testing/selftests/sysctl/sysctl.sh (wide integers,
    INT_MAX/UINT_MAX/ULONG_MAX +-1, negatives, 511/512 and 4094/4095 leading spaces, writes at
    an offset and past the end, several writes on one open file, empty writes, NUL bytes);
  * both recorded kernel oracles, replayed through KernelFS;
  * a seeded fuzzer of random bytes up to 64 KiB (quick: a few thousand inputs per file,
    full: 1,000,000), run in one process per CPU;
  * a through-the-mount sample: the same inputs through real FUSE answer exactly what
    KernelFS answers (errno and byte count), so the glue preserves both.

Each call is checked against the independent kernel model (tests/reliability/kernel_ref.py) for
kernel files and against docs/files.md for procnet/* files: errno, bytes consumed and the value
read back. Goals: 0 mismatches, 0 uncaught (non-OSError) exceptions, 0 calls over 1 s.
"""
from __future__ import annotations

import errno
import json
import logging
import multiprocessing
import os
import time
from pathlib import Path

import badwrite_lib as B
import kernel_ref as K
import pytest
from rel_common import (PROFILE, bump, high, make_fs, pick, record, scan_log,
                        writable_paths)

from procnet.kernelfs.table import TABLE

ROOT = Path(__file__).resolve().parents[2]
SHARED_ORACLE = ROOT.parent / "shared" / "oracle" / "kernel-sysctl-oracle.json"
HOST_ORACLE = ROOT / "tests" / "data" / "host-sysctl-oracle.json"

FUZZ_PER_FILE = pick(2000, 1_000_000)
SECTION = "bad_writes"


def fresh():
    return make_fs("stock", cpus=4)


FS0 = fresh()
BY_ENTRY = writable_paths(FS0)
PATHS = [p for paths in BY_ENTRY.values() for p in paths[:2]]   # at most 2 per entry


def decode(inp) -> bytes:
    if isinstance(inp, str):
        return inp.encode("latin-1")
    return b"".join(piece.encode("latin-1") * n for piece, n in inp)


def _load(path: Path) -> dict:
    assert path.is_file(), f"missing oracle {path}"   # a missing oracle fails, never skips
    return json.loads(path.read_text())


# ------------------------------------------------------------------ the reference model itself

def test_reference_model_matches_both_kernel_oracles():
    """kernel_ref answers every recorded write exactly as the real kernels did."""
    checked = 0
    shared = _load(SHARED_ORACLE)
    for name, table in shared.items():
        for inp, expected, after in table["probe"]:
            old = int(table["orig"], 16) if name in K.CPUMASK_SYSCTLS else int(table["orig"])
            res = K.sysctl_write(name, decode(inp), 0, old, 2)
            got = ["ok", res[1]] if res[0] == "ok" else ["err", errno.errorcode[res[1]]]
            new = res[2] if res[2] is not None else old
            assert (got, K.sysctl_text(name, new, 2).strip()) == (expected, after), (name, inp)
            checked += 1
    host = _load(HOST_ORACLE)
    for name, table in host["files"].items():
        for probe in table["probes"]:
            if any(op[0] == "read" for op in probe["ops"]):
                continue                  # reads are replayed through KernelFS below
            value = int(table["orig"], 16) if name in K.CPUMASK_SYSCTLS else int(table["orig"])
            if probe["setup"] is not None:
                value = K.sysctl_write(name, probe["setup"].encode(), 0, value, 2)[2]
            pos, results = 0, []
            for op in probe["ops"]:
                at = pos if op[0] == "write" else op[2]
                res = K.sysctl_write(name, decode(op[1]), at, value, 2)
                if res[2] is not None:
                    value = res[2]
                if res[0] == "ok":
                    results.append(["ok", res[1]])
                    if op[0] == "write" and name not in K.CPUMASK_SYSCTLS:
                        pos = at + res[1]
                else:
                    results.append(["err", errno.errorcode[res[1]]])
            assert results == probe["results"], (name, probe)
            assert K.sysctl_text(name, value, 2) == probe["after"], (name, probe)
            checked += 1
    for name, table in host["sysfs"].items():
        for probe in table["probes"]:
            value = int(table["orig"], 16 if name == "rps_cpus" else 10)

            def store(data: bytes):
                if name == "rps_cpus":
                    return K.store_rps_map(data, 2, 0b11)
                return K.store_rps_dev_flow_table_cnt(data)
            if probe["setup"] is not None:
                value = store(probe["setup"].encode())[2]
            results = []
            for op in probe["ops"]:
                res = store(decode(op[1]))
                if res[2] is not None:
                    value = res[2]
                results.append(["ok", res[1]] if res[0] == "ok"
                               else ["err", errno.errorcode[res[1]]])
            text = K.bitmap_string(value, 2) if name == "rps_cpus" else str(value)
            assert (results, text + "\n") == (probe["results"], probe["after"]), (name, probe)
            checked += 1
    record(SECTION, "oracle probes the reference model reproduces", checked)


# ------------------------------------------------------------------ coverage of the table

def test_every_writable_table_entry_is_checked():
    stores = [e.path for e in TABLE if e.store is not None]
    assert stores and set(stores) == set(BY_ENTRY)
    missing = [p for p, paths in BY_ENTRY.items() if not paths]
    assert not missing, f"entries with no concrete file on the test machine: {missing}"
    for path in PATHS:
        B.checker_for(path)               # every file has a model of its answer
    record(SECTION, "writable table entries", len(stores))
    record(SECTION, "writable files checked", len(PATHS))


# ------------------------------------------------------------------ sysctl.sh categories

def run_sequence(fs, checker, seq) -> list[B.Result]:
    """One open file: explicit positions are pwrite()s, None continues at the file position,
    which FUSE moves by every byte count a write() reports."""
    pos, out = 0, []
    for data, at in seq:
        where = pos if at is None else at
        res = B.run_one(fs, checker, data, where)
        out.append(res)
        last = B.LAST.get(checker.path)
        if at is None and last is not None and last[0] == "ok":
            pos = where + last[1]
    return out


@pytest.mark.parametrize("path", PATHS)
def test_sysctl_sh_categories(path):
    checker = B.checker_for(path)
    seqs = B.categories(B.valid_inputs(path))
    bad, calls = [], 0
    for seq in seqs:
        fs = fresh()
        for (data, at), res in zip(seq, run_sequence(fs, checker, seq)):
            calls += 1
            high(SECTION, "slowest category call (s)", round(res.seconds, 4))
            if res.kind != "ok":
                bad.append(f"{res.kind}: {data[:60]!r} at {at}: {res.detail}")
    bump(SECTION, "category calls", calls)
    bump(SECTION, "category mismatches/uncaught/slow", len(bad))
    assert not bad, f"{path}: {len(bad)} of {calls} calls wrong:\n" + "\n".join(bad[:20])


# ------------------------------------------------------------------ the oracles, via KernelFS

def _replay(fs, path: str, probe: dict, orig: str, per_read: bool):
    if probe["setup"] is not None:
        fs.write(path, probe["setup"].encode("latin-1"), 0)
    pos, results = 0, []
    for op in probe["ops"]:
        if op[0] == "read":
            data = fs.read_at(path, pos, op[1]) if per_read else \
                fs.read(path)[pos:pos + op[1]]
            pos += len(data)
            results.append(["data", data.decode("latin-1")])
            continue
        at = pos if op[0] == "write" else op[2]
        try:
            n = fs.write(path, decode(op[1]), at)
        except OSError as e:
            results.append(["err", errno.errorcode[e.errno]])
            continue
        results.append(["ok", n])
        if op[0] == "write":
            pos = at + n
    return results


# The one difference that is not procnet's: FUSE moves the file position by every count a
# write reports, while the cpumask handlers leave it alone (docs/fuse.md).
def _expected_difference(name: str, probe: dict) -> str | None:
    ops = [op[0] for op in probe["ops"]]
    if name in K.CPUMASK_SYSCTLS and "write" in ops and "read" in ops \
            and ops.index("write") < ops.index("read"):
        return "file position after a cpumask write"
    return None


def test_both_oracles_through_kernelfs():
    checked, differ, bad = 0, 0, []
    shared = _load(SHARED_ORACLE)
    for name, table in shared.items():
        for inp, expected, after in table["probe"]:
            fs = make_fs("stock", cpus=2)
            path = f"proc/sys/net/core/{name}"
            results = _replay(fs, path, {"setup": None, "ops": [["write", inp]]}, "", True)
            text = fs.read_at(path, 0, 4096).decode().strip()
            if _expected_difference(name, {"setup": None, "ops": [["write", inp]]}):
                differ += 1
                continue
            checked += 1
            if results != [expected] or text != after:
                bad.append(f"{name} {inp!r}: {results} -> {text!r}, kernel {expected} -> {after!r}")
    host = _load(HOST_ORACLE)
    for section, base in (("files", "proc/sys/net/core"), ("sysfs", "sys/class/net/lo/queues/rx-0")):
        for name, table in host[section].items():
            path = f"{base}/{name}"
            for probe in table["probes"]:
                fs = make_fs("stock", cpus=2)
                per_read = fs.stat(path).per_read
                results = _replay(fs, path, probe, table["orig"], per_read)
                after = fs.read_at(path, 0, 4096) if per_read else fs.read(path)
                if _expected_difference(name, probe):
                    differ += 1
                    continue
                checked += 1
                if results != probe["results"] or after.decode("latin-1") != probe["after"]:
                    bad.append(f"{name} {probe['ops']}: {results} -> {after!r}, "
                               f"kernel {probe['results']} -> {probe['after']!r}")
    record(SECTION, "oracle probes through KernelFS", checked)
    record(SECTION, "oracle probes with a documented difference", differ)
    record(SECTION, "oracle mismatches", len(bad))
    assert not bad, f"{len(bad)} of {checked} probes differ:\n" + "\n".join(bad[:20])


# ------------------------------------------------------------------ the fuzzer

def _fuzz_job(args):
    path, n, seed = args
    logging.getLogger("procnet").setLevel(logging.ERROR)   # a worker: no warning flood
    return B.fuzz_path(path, n, seed, fresh)


def test_fuzz_every_writable_file():
    """FUZZ_PER_FILE seeded random inputs per file, one worker process per CPU."""
    seed = int(os.environ.get("PROCNET_FUZZ_SEED", "1"))
    jobs = [(p, FUZZ_PER_FILE, seed) for p in PATHS]
    t0 = time.perf_counter()
    workers = max(1, min(len(jobs), os.cpu_count() or 1))
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        stats = pool.map(_fuzz_job, jobs, chunksize=1)
    wall = time.perf_counter() - t0
    total = sum(s.calls for s in stats)
    kinds: dict[str, int] = {}
    for s in stats:
        for k, v in s.by_kind.items():
            kinds[k] = kinds.get(k, 0) + v
    cpu_s = sum(s.seconds for s in stats)
    record(SECTION, "fuzz inputs per file", FUZZ_PER_FILE)
    record(SECTION, "fuzz files", len(stats))
    record(SECTION, "fuzz inputs total", total)
    record(SECTION, "fuzz rate per process (calls/s)", round(total / cpu_s))
    record(SECTION, "fuzz wall time (s)", round(wall, 1))
    record(SECTION, "fuzz workers", workers)
    record(SECTION, "fuzz slowest call (s)", round(max(s.max_plain_s for s in stats), 4))
    record(SECTION, "fuzz slowest accepted clock/advance (s)", round(max(s.max_s for s in stats), 4))
    for k in ("mismatch", "uncaught", "slow"):
        record(SECTION, f"fuzz {k}", kinds.get(k, 0))
    bad = [(s.path, k, ex) for s in stats for k, exs in s.examples.items() for ex in exs]
    assert not bad, "\n".join(f"{p} {k}: {ex}" for p, k, ex in bad[:30])
    assert kinds.get("ok", 0) == total


# ------------------------------------------------------------------ through a real mount

MOUNT_SAMPLE = pick(40, 400)


def test_bad_writes_through_the_mount(fuse_env):
    """A sample per file through FUSE answers what KernelFS answers for the same calls on an
    identical machine: same errno, same byte count, same value read back."""
    from mount_helpers import mounted
    twin = fresh()
    bad, calls = [], 0
    with mounted("--clock", "manual", "--cpus", "4") as m:
        for path in PATHS:
            if path == "procnet/clock/mode":
                continue                 # realtime would start the daemon's clock; the twin has none
            fz = B.Fuzzer(path, 7)
            inputs = [d for seq in B.categories(B.valid_inputs(path)) for d, at in seq[:1]
                      if at == 0]
            inputs += [fz.data() for _ in range(MOUNT_SAMPLE)]
            for data in inputs:
                if not data:
                    continue              # FUSE answers a zero-length write itself (docs/fuse.md)
                want = B.do_write(twin, path, data, 0)
                try:
                    fd = os.open(m / path, os.O_WRONLY | os.O_TRUNC)
                except OSError as e:
                    bad.append(f"{path}: open {e}")
                    break
                try:
                    got = ("ok", os.write(fd, data))
                except OSError as e:
                    got = ("err", e.errno)
                finally:
                    os.close(fd)
                calls += 1
                if got != want:
                    bad.append(f"{path} {data[:50]!r}: mount {got}, KernelFS {want}")
                node = twin.stat(path)
                if node.mode & 0o444:
                    twin_text = B.read_text(twin, path)
                    mount_text = (m / path).read_bytes().decode("latin-1")
                    if path.endswith("ctl"):
                        twin_text, mount_text = twin_text.splitlines(), mount_text.splitlines()
                    if twin_text != mount_text:
                        bad.append(f"{path} after {data[:50]!r}: mount reads {mount_text!r}, "
                                   f"KernelFS {twin_text!r}")
        bad_log = scan_log(m.log)
    record(SECTION, "through-the-mount calls", calls)
    record(SECTION, "through-the-mount differences", len(bad))
    assert not bad, "\n".join(bad[:30])
    assert not bad_log, bad_log[:5]


def test_profile_is_reported():
    record(SECTION, "profile", PROFILE)


# ------------------------------------------------------------------ what the suite found

# Each of these escaped as a non-OSError exception (EIO + a traceback in the daemon log),
# hung the mount, or was accepted against the kernel's rules before the kernelfs fixes.
FINDINGS = [
    ("procnet/clock/advance", b"99999999999999999999", errno.EINVAL),      # hung for centuries
    ("procnet/clock/advance", b"3601s", errno.EINVAL),
    ("procnet/clock/advance", b"9" * 400, errno.EINVAL),                 # OverflowError
    ("procnet/traffic/ctl", b"add t dev=eth0 pps=1e400", errno.EINVAL),  # OverflowError
    ("procnet/traffic/ctl", b"add t dev=eth0 flows=2147483648", errno.EINVAL),   # hung (OOM)
    ("procnet/traffic/ctl", b"add t dev=eth0 flows=65537", errno.EINVAL),  # 214748: 1.3 s
    ("procnet/traffic/ctl", b"add t dev=eth0 pattern=onoff on=999999999999999999992ms",
     errno.EINVAL),                                                      # OverflowError (numpy)
    ("procnet/traffic/ctl", b"add t dev=eth0 pattern=onoff off=3601s", errno.EINVAL),
    ("procnet/traffic/ctl", b"add t dev=eth0 pps=18446744073709551616", errno.EINVAL),
    ("procnet/tasks/ctl", b"add h period=" + b"9" * 400 + b"ms util=5", errno.EINVAL),
    ("procnet/tasks/ctl", b"add h cpus=" + b"9" * 5000, errno.EINVAL),   # ValueError (int())
    ("procnet/tasks/ctl", b"affinity " + b"9" * 5000 + b" 0", errno.EINVAL),
    ("procnet/tasks/ctl", b"add h period=0 util=50", errno.EINVAL),      # engine RuntimeError
    ("procnet/tasks/ctl", b"add h period=999ns util=50", errno.EINVAL),
    ("procnet/tasks/ctl", b"add h period=3601s util=50", errno.EINVAL),
    ("procnet/net/ctl", b"add e irq=" + b"9" * 5000, errno.EINVAL),
    ("procnet/net/ctl", b"add e rxqueues=1000000", errno.EINVAL),        # 8 s, 1 GB
    ("procnet/net/ctl", b"add e rxqueues=4097", errno.EINVAL),
    ("procnet/net/ctl", b"add a/b", errno.EINVAL),                       # unreachable directory
    ("procnet/net/ctl", b"add .", errno.EINVAL),
    ("procnet/net/ctl", b"add ..", errno.EINVAL),
    ("procnet/net/ctl", b"add a:b", errno.EINVAL),
    ("procnet/net/ctl", b"add x123456789012345", errno.EINVAL),          # IFNAMSIZ
    ("procnet/net/ctl", b"add a\0b", errno.EINVAL),
]
ACCEPTED = [
    ("procnet/clock/advance", b"0" * 4095 + b"1", "1 ns, leading zeros"),
    ("procnet/clock/advance", b"60s", "a minute"),
    ("procnet/traffic/ctl", b"add t dev=eth0 flows=1e3 pps=1.5e5", "exponents"),
    ("procnet/traffic/ctl", b"add t dev=eth0 flows=65536 pattern=onoff on=3600s off=1ns",
     "the limits"),
    ("procnet/traffic/ctl", b"add t dev=eth0 pps=18446744073709551615", "ULONG_MAX"),
    ("procnet/net/ctl", b"add x12345678901234 rxqueues=4096", "15 characters, 4096 queues"),
    ("procnet/tasks/ctl", b"add h period=1us util=50", "the shortest period, 1 us"),
]


@pytest.mark.parametrize("path,data,err", FINDINGS, ids=lambda v: repr(v)[:40])
def test_findings_are_refused_quickly(path, data, err):
    fs = fresh()
    t0 = time.perf_counter()
    with pytest.raises(OSError) as e:
        fs.write(path, data, 0)
    assert e.value.errno == err
    assert time.perf_counter() - t0 < 1.0
    fs.rt.machine.run_for(10**6)            # and the machine still runs
    fs.rt.machine.check_conservation()


@pytest.mark.parametrize("path,data,why", ACCEPTED, ids=lambda v: repr(v)[:40])
def test_limits_still_accept_what_they_should(path, data, why):
    fs = fresh()
    assert fs.write(path, data, 0) == len(data), why


def test_a_flood_of_bad_control_writes_is_ratelimited():
    """printk_ratelimited()-like: 100 messages per 5 s in the log and procnet/dmesg, then one
    'N messages suppressed' line; each message cut to 240 characters."""
    fs = fresh()
    m = fs.rt.machine
    for i in range(5000):
        with pytest.raises(OSError):
            fs.write("procnet/traffic/ctl", b"bogus " + b"x" * 60000, 0)
    lines = fs.read("procnet/dmesg").decode().splitlines()
    assert len(m.dmesg) <= 101 and len(lines) <= 101
    assert max(len(line) for line in lines) < 300
    record(SECTION, "dmesg lines after 5000 bad control writes", len(lines))
