#!/usr/bin/env python3
"""Record what THIS host's kernel answers to writes/reads on /proc/sys/net/core files.

Extends ../shared/oracle/kernel-sysctl-oracle.json with the categories of the kernel's
tools/testing/selftests/sysctl/sysctl.sh: wide integers, INT_MAX/UINT_MAX/ULONG_MAX (+1),
negatives, 511/512 leading spaces and 4095/4096/5000-byte writes (the PAGE_SIZE-1 cut), writes at
an offset and past the end, several writes on one open file, reads before/after writes, empty
writes, NUL bytes, "\\r", "0x", "-0", octal/hex edges, and for the cpumask files
(flow_limit_cpu_bitmap, rps_default_mask) chunk/comma/whitespace/overflow cases, some of them
starting from a non-zero mask to show partial writes. A small sysfs section probes lo's
rx-0/rps_flow_cnt (kstrtoul) and rx-0/rps_cpus (bitmap_parse with an explicit length).

Usage (root):  python3 tools/oracle_record.py [-o tests/data/host-sysctl-oracle.json]
               python3 tools/oracle_record.py --dry-run      # print the plan, touch nothing

Safety: these files are global. Every probe is followed at once by a restore of the original value
(try/finally), the restore is read back and checked, and at the end every file of
/proc/sys/net/core is compared with the snapshot taken at start; the check is printed and the
exit status is 1 if anything differs. Inputs that would be *accepted* with a value that is unsafe
on a live host (a 2 GiB RFS table, busy polling for minutes, dev_rx_weight overflow) are skipped;
the decision uses procnet's own parser, whose acceptance of those values the shared oracle already
covers.

Output format (JSON): {"meta": {...}, "files": {NAME: TABLE}, "sysfs": {NAME: TABLE}}
TABLE = {"orig": TEXT, "probes": [PROBE, ...]}
PROBE = {"setup": TEXT|null, "ops": [OP, ...], "results": [RESULT, ...], "after": TEXT}
  OP = ["write", INPUT] | ["pwrite", INPUT, OFFSET] | ["read", SIZE]  -- all on ONE open file
       (O_RDWR|O_TRUNC if the probe reads, else O_WRONLY|O_TRUNC), after writing `setup` (if any)
       through a separate open.
  INPUT = latin-1 string, or [[piece, repeat], ...] for long inputs.
  RESULT = ["ok", bytes_reported] | ["err", "EINVAL"] | ["data", text_read]
  TEXT = exactly what a fresh open + read(4096) returns (newline included).
"""

from __future__ import annotations

import argparse
import errno
import gzip
import json
import os
import platform
import signal
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from procnet.kernelfs.proc_handlers import KernelParams, kstrtoul, sysctl_write  # noqa: E402

CORE = Path("/proc/sys/net/core")

# ---------------------------------------------------------------------------------------------
# The probe plan
# ---------------------------------------------------------------------------------------------

GENERIC_INT = [
    "0", "1", "2", "-0", "-1", "7", "64", "1000", "1000\n",
    "", "\n", " ", "\t\n",
    "1\n", "1 ", "1\t", "1\r", "1\v", "1\f", "\r1", "\v1", "\f1", " \t\n\v\f\r5",
    "\xa05", "5\xa0", "\x1c5",
    # wide integers and the int/uint/ulong edges
    "2147483647", "2147483648", "-2147483648", "-2147483649", "4294967295", "4294967296",
    "18446744073709551615", "18446744073709551616", "99999999999999999999",
    "0x7fffffff", "0x80000000", "0xffffffff", "0xffffffffffffffff", "0x10000000000000000",
    "-0x80000000", "-0x7fffffff",
    "017777777777", "020000000000", "0377", "00", "08", "09", "0x", "0X10", "0xA", "0xa",
    "0x1g", "0xg", "0x\n", "0x 1",
    "00000000000000000001", "000000000000000000001", "0000000000000000000001",
    "-0000000000000000001", "-00000000000000000001", "12345678901234567890123",
    # signs and junk
    "+5", "--5", "- 5", "-", "-\n", "5-", "abc", "1.5", "1e3", "\xd9\xa1", "1,2",
    # short writes
    "1 2", "1\n2\n", "1 junk", "1  \n\n  ", "1 \n 2", "1\t\t2",
    # NUL bytes
    "\x00", "1\x00", "1 \x00", "\x001", "1\x002",
    # long inputs around PAGE_SIZE - 1 = 4095
    [[" ", 511], ["7", 1]], [[" ", 512], ["7", 1]],
    [[" ", 4094], ["7", 1]], [[" ", 4094], ["12", 1]], [[" ", 4093], ["-1", 1]],
    [[" ", 4094], ["-1", 1]], [[" ", 4095], ["7", 1]], [[" ", 4096], ["7", 1]],
    [[" ", 4999], ["7", 1]],
    [["7", 1], [" ", 4094]], [["7", 1], [" ", 4095]], [["7", 1], [" ", 4999]],
    [["7 ", 1], ["x", 4093]], [["7 ", 1], ["x", 4998]],
    [["7", 1], [" ", 4093], ["x", 1]], [["7", 1], [" ", 4094], ["x", 1]],
    [["7", 1], ["\x00", 4999]],
]

# Multi-operation probes on one open file. {a} and {b} are two values the file accepts.
OPS_INT = [
    [["pwrite", "{a}", 1]], [["pwrite", "{a}", 5]], [["pwrite", "{a}\n", 100]],
    [["pwrite", "", 1]], [["pwrite", "abc", 1]], [["pwrite", "{a}", 0]],
    [["write", "{a}"], ["write", "{b}\n"]],
    [["write", "{a} "], ["write", "{b}"]],
    [["write", " "], ["write", "{a}"]],
    [["write", ""], ["write", "{a}"]],
    [["write", "abc"], ["write", "{a}"]],
    [["write", "{a}"], ["pwrite", "{b}", 0]],
    [["write", "{a}"], ["read", 100]],
    [["read", 100], ["write", "{a}"]],
    [["read", 1], ["write", "{a}"]],
    [["read", 100], ["pwrite", "{a}", 0]],
    [["read", 1]], [["read", 2]], [["read", 3]], [["read", 1], ["read", 1]],
    [["read", 0]], [["read", 4096]],
]

GENERIC_MASK = [
    "0", "1", "2", "3", "4", "8", "f", "F", "10", "00000003", "000000003", "100000003",
    "ffffffff", "fffffffd", "ffffffff,ffffffff", "ff,ffffffff",
    "0,3", "0,0", "00000000,00000001", ",3", "3,", ",", ",,", "1,,", "1,,0",
    " 3", "3 ", " 3 \n", "1 1", "0 1", "3\t", "\t3", "3\r", "\xa03", "3\xa0", "\v3\f",
    "\n", "\n3", "3\n1", "3\nzz", "3\x001", "\x003", "\x00", "",
    "zz", "z", "z3", "3z", "z00000003", "x00000001", "0x3", "0x00000003", "-1", "+1", "3.",
    "3,z", "3,,z",
    [[" ", 5000], ["1", 1]], [["1", 1], [" ", 5000]], [["0", 4999], ["1", 1]],
    [[",", 5000], ["2", 1]],
]

OPS_MASK = [
    [["pwrite", "1", 5]], [["pwrite", "2\n", 100]],
    [["write", "1"], ["write", "2"]],
    [["write", "1\n"], ["write", "zz"]],
    [["write", "zz"], ["write", "2"]],
    [["write", "1"], ["read", 100]],
    [["read", 100], ["write", "1"]],
    [["read", 1]], [["read", 2]], [["read", 3]], [["read", 1], ["read", 2]], [["read", 0]],
]

# Inputs run once more after setting the mask to `setup`, to show what a failed write leaves.
MASK_SETUP = ("3\n", ["", "\n", "4", "zz", "1,0", "f", "2", "0x00000003", "ffffffff,ffffffff",
                      "fffffffd", "1 1"])

# name -> (two values the file accepts, extra inputs, largest value safe to leave for a moment)
INT_FILES = {
    "netdev_max_backlog": (("12", "34"), [], None),
    "netdev_budget": (("12", "34"), [], None),
    "netdev_budget_usecs": (("9000", "10000"),
                            ["7999", "8000", "8001", "0x1f40", "017500", " 8000\n"], None),
    "netdev_tstamp_prequeue": (("12", "34"), [], None),
    "dev_weight": (("12", "34"), [], None),
    "dev_weight_rx_bias": (("12", "34"), [], 1 << 20),  # dev_rx_weight = 64 * bias must fit
    "dev_weight_tx_bias": (("12", "34"), [], 1 << 20),
    "flow_limit_table_len": (("16", "32"),
                             ["3", "4096", "1073741824", "-1073741824", "0x40000000"], None),
    "rps_sock_flow_entries": (("16", "32"),
                              ["3", "100", "4096", "65536", "536870913", "1073741824",
                               "-536870912"], 65536),  # vmalloc(4 * size)
    "busy_poll": (("12", "34"), ["50"], 100),  # microseconds of busy polling in poll()
    "busy_read": (("12", "34"), ["50"], 100),
    "gro_normal_batch": (("12", "34"), [], None),
    "skb_defer_max": (("12", "34"), [], None),
}
INT_SETUP = {"rps_sock_flow_entries": ("4096\n", ["abc", "", "-1", "0", "1 2", "\n"])}

MASK_FILES = ["flow_limit_cpu_bitmap", "rps_default_mask"]

# sysfs stores on lo's rx queue: rps_flow_cnt parses with kstrtoul(buf, 0), rps_cpus with
# bitmap_parse(buf, count). Writes only: sysfs read/offset semantics are kernfs', not ours.
SYSFS_DIR = Path("/sys/class/net/lo/queues/rx-0")
KSTRTOUL_INPUTS = [
    "0", "1", "5", "5\n", "5\n\n", "+5", "-5", "-0", " 5", "5 ", "5\t", "0x10", "0X10", "010",
    "08", "0x", "0xg", "", "\n", " ", "+", "++5", "+-5", "+0x10", "5junk", "1e3", "0b1",
    "5\x00junk", "\x005", "00000000000000000000000000005", "65536", "65537",
    "18446744073709551615", "18446744073709551616", "99999999999999999999999",
    [["5", 1], ["\n", 1], [" ", 1]], [[" ", 4999], ["5", 1]], [["0", 4095], ["5", 1]],
]
SYSFS_OPS = [
    [["pwrite", "5", 3]], [["write", "5"], ["write", "7"]], [["write", "abc"], ["write", "7"]],
]
RPS_CPUS_INPUTS = ["0", "1", "2", "3", "4", "f", "1,0", "zz", "", "\n", " 3 ", "z00000003",
                   "0x1", [[" ", 4095], ["1", 1]], [[" ", 5000], ["1", 1]]]
SYSFS_FILES = {"rps_flow_cnt": KSTRTOUL_INPUTS, "rps_cpus": RPS_CPUS_INPUTS}


def decode(inp) -> bytes:
    if isinstance(inp, str):
        return inp.encode("latin-1")
    return b"".join(piece.encode("latin-1") * n for piece, n in inp)


def _fill(template, a: str, b: str):
    out = []
    for op in template:
        op = list(op)
        if op[0] in ("write", "pwrite"):
            op[1] = op[1].format(a=a, b=b)
        out.append(op)
    return out


def plan() -> dict[str, list[dict]]:
    probes: dict[str, list[dict]] = {}
    for name, ((a, b), extra, _safe) in INT_FILES.items():
        rows = [{"setup": None, "ops": [["write", inp]]} for inp in GENERIC_INT + extra]
        rows += [{"setup": None, "ops": _fill(t, a, b)} for t in OPS_INT]
        if name in INT_SETUP:
            setup, inputs = INT_SETUP[name]
            rows += [{"setup": setup, "ops": [["write", inp]]} for inp in inputs]
            rows += [{"setup": setup, "ops": [["pwrite", "8", 1]]}]
        probes[name] = rows
    for name in MASK_FILES:
        rows = [{"setup": None, "ops": [["write", inp]]} for inp in GENERIC_MASK]
        rows += [{"setup": None, "ops": ops} for ops in OPS_MASK]
        setup, inputs = MASK_SETUP
        rows += [{"setup": setup, "ops": [["write", inp]]} for inp in inputs]
        rows += [{"setup": setup, "ops": ops} for ops in OPS_MASK[:5]]
        probes[name] = rows
    return probes


def sysfs_plan() -> dict[str, list[dict]]:
    probes = {}
    for name, inputs in SYSFS_FILES.items():
        rows = [{"setup": None, "ops": [["write", inp]]} for inp in inputs]
        rows += [{"setup": None, "ops": ops} for ops in SYSFS_OPS]
        rows += [{"setup": "3\n", "ops": [["write", inp]]} for inp in ("", "\n", "0", "zz")]
        probes[name] = rows
    return probes


def sysfs_unsafe(name: str, probe: dict) -> str | None:
    """rps_flow_cnt allocates 8 bytes per entry: refuse to ask for a big table."""
    if name != "rps_flow_cnt":
        return None
    for op in probe["ops"]:
        if op[0] in ("write", "pwrite"):
            try:
                v = kstrtoul(decode(op[1]))
            except OSError:
                continue
            if 65536 < v <= 2**32:
                return "would allocate a %d-entry flow table" % v
    return None


def unsafe(name: str, probe: dict, params: KernelParams) -> str | None:
    """Why `probe` must not run on a live host, or None. Uses procnet's parser to predict the
    value each write would set (at position 0, i.e. the worst case)."""
    safe = INT_FILES.get(name, (None, None, None))[2]
    if safe is None:
        return None
    for op in probe["ops"]:
        if op[0] not in ("write", "pwrite"):
            continue
        try:
            res = sysctl_write(name, decode(op[1]), 0, 0, params)
        except OSError:
            continue
        except Exception as e:  # a parser bug must not lead to an unsafe write
            return "parser raised %r" % e
        if res.value is not None and not (-1 <= res.value <= safe):
            return "would set %d (> %d)" % (res.value, safe)
    return None


# ---------------------------------------------------------------------------------------------
# Talking to the kernel
# ---------------------------------------------------------------------------------------------

def read_text(path: Path) -> str:
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 4096).decode("latin-1")
    finally:
        os.close(fd)


def write_text(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        n = os.write(fd, text.encode("latin-1"))
        if n != len(text):
            raise OSError(errno.EIO, "short write %d/%d restoring %s" % (n, len(text), path))
    finally:
        os.close(fd)


def run_ops(path: Path, ops) -> list:
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


def restore(path: Path, orig: str) -> None:
    for _attempt in range(3):
        write_text(path, orig if orig.endswith("\n") else orig + "\n")
        if read_text(path) == orig:
            return
    raise RuntimeError("could not restore %s to %r (reads %r)" % (path, orig, read_text(path)))


def snapshot() -> dict[str, str]:
    out = {}
    for p in sorted(CORE.iterdir()):
        try:
            out[p.name] = read_text(p)
        except OSError as e:
            out[p.name] = "<%s>" % errno.errorcode[e.errno]
    return out


def host_meta() -> dict:
    hz = None
    try:
        with gzip.open("/proc/config.gz", "rt") as f:
            for line in f:
                if line.startswith("CONFIG_HZ="):
                    hz = int(line.split("=")[1])
    except OSError:
        pass
    possible = read_text(Path("/sys/devices/system/cpu/possible")).strip()
    nr_cpu_ids = max(int(part.split("-")[-1]) for part in possible.split(",")) + 1
    return {
        "kernel": platform.release(),
        "machine": platform.machine(),
        "recorded": time.strftime("%Y-%m-%d", time.gmtime()),
        "hz": hz,
        "netdev_budget_usecs_default": 2 * 1_000_000 // hz if hz else None,
        "nr_cpu_ids": nr_cpu_ids,
        "cpu_possible": possible,
        "cpu_online": read_text(Path("/sys/devices/system/cpu/online")).strip(),
        "page_size": os.sysconf("SC_PAGE_SIZE"),
        "sysctl_writes_strict": int(read_text(Path("/proc/sys/kernel/sysctl_writes_strict"))),
        "tool": "tools/oracle_record.py",
    }


def _raise_exit(signum, _frame):
    raise SystemExit(128 + signum)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", "--output", default=str(REPO / "tests" / "data" / "host-sysctl-oracle.json"))
    ap.add_argument("--files", nargs="*", help="only these files")
    ap.add_argument("--dry-run", action="store_true", help="print the plan, touch nothing")
    ap.add_argument("--no-sysfs", action="store_true", help="skip the /sys/class/net/lo probes")
    args = ap.parse_args(argv)

    meta = host_meta()
    params = KernelParams(hz=meta["hz"] or 250, nr_cpu_ids=meta["nr_cpu_ids"])
    wanted = (lambda name: not args.files or name in args.files)
    groups = [  # (directory, {file: probes}, safety filter)
        (CORE, {k: v for k, v in plan().items() if wanted(k)},
         lambda name, probe: unsafe(name, probe, params)),
    ]
    if not args.no_sysfs and SYSFS_DIR.is_dir():
        groups.append((SYSFS_DIR, {k: v for k, v in sysfs_plan().items() if wanted(k)},
                       sysfs_unsafe))
    runnable = []  # (path, probes)
    for directory, todo, why_unsafe in groups:
        for name, probes in todo.items():
            keep = []
            for probe in probes:
                why = why_unsafe(name, probe)
                if why:
                    print("skip %s %r: %s" % (name, probe["ops"], why))
                else:
                    keep.append(probe)
            runnable.append((directory / name, keep))
    total = sum(len(v) for _p, v in runnable)
    print("%d probes on %d files (kernel %s, HZ=%s, %d CPUs)" % (
        total, len(runnable), meta["kernel"], meta["hz"], meta["nr_cpu_ids"]))
    if args.dry_run:
        return 0
    if os.geteuid() != 0:
        print("needs root", file=sys.stderr)
        return 2

    signal.signal(signal.SIGTERM, _raise_exit)
    signal.signal(signal.SIGHUP, _raise_exit)
    before = snapshot()
    originals = {path: read_text(path) for path, _probes in runnable}
    tables: dict[Path, dict] = {}
    changed = {}
    try:
        for path, probes in runnable:
            orig = originals[path]
            rows = []
            for probe in probes:
                try:
                    if probe["setup"] is not None:
                        write_text(path, probe["setup"])
                    results = run_ops(path, probe["ops"])
                    after = read_text(path)
                finally:
                    restore(path, orig)  # after every single probe
                rows.append({"setup": probe["setup"], "ops": probe["ops"],
                             "results": results, "after": after})
            tables[path] = {"orig": orig, "probes": rows}
    finally:
        for path, orig in originals.items():
            if read_text(path) != orig:
                restore(path, orig)
        after_all = snapshot()
        changed = {k: (before[k], after_all.get(k)) for k in before if after_all.get(k) != before[k]}
        changed.update({str(p): (o, read_text(p)) for p, o in originals.items() if read_text(p) != o})
        print("restore check: %d files in %s + %d probed sysfs files compared, %d differ" % (
            len(before), CORE, sum(1 for p in originals if p.parent != CORE), len(changed)))
        for k, (was, now) in changed.items():
            print("  DIFFERS %s: was %r now %r" % (k, was, now))
        for path, orig in originals.items():
            print("  %-44s %r (original %r)" % (path, read_text(path), orig))
    if changed:
        return 1
    meta["sysfs_dir"] = str(SYSFS_DIR)
    doc = {"meta": meta,
           "files": {p.name: t for p, t in tables.items() if p.parent == CORE},
           "sysfs": {p.name: t for p, t in tables.items() if p.parent != CORE}}
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w") as f:
        f.write(dump_json(doc))
    print("wrote %s" % out)
    return 0


def dump_json(doc: dict) -> str:
    """Indented JSON with one probe per line (keeps the table small and diffable)."""
    lines = ["{", ' "meta": %s,' % json.dumps(doc["meta"], sort_keys=True)]
    sections = [k for k in ("files", "sysfs") if k in doc]
    for si, section in enumerate(sections):
        lines.append(' "%s": {' % section)
        names = list(doc[section])
        for ni, name in enumerate(names):
            table = doc[section][name]
            lines.append('  %s: {"orig": %s, "probes": [' % (json.dumps(name), json.dumps(table["orig"])))
            probes = table["probes"]
            for pi, probe in enumerate(probes):
                lines.append("   %s%s" % (json.dumps(probe), "," if pi < len(probes) - 1 else ""))
            lines.append("  ]}%s" % ("," if ni < len(names) - 1 else ""))
        lines.append(" }%s" % ("," if si < len(sections) - 1 else ""))
    lines.append("}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
