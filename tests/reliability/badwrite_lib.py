"""Bad writes: what every writable file must answer, and the inputs to try (section 2 of
docs/reliability.md).

``Checker``s compute the expected answer of one write(2) call on a live KernelFS and compare it
with what KernelFS.write returned and what the file reads back afterwards:

  * kernel files (/proc/sys/net/core, sysfs): the independent kernel model of kernel_ref.py
    (itself checked against the recorded kernel oracles);
  * procnet/* files: their documented behaviour (docs/files.md).

``run_one`` classifies one call: "ok" (as expected), "mismatch", "uncaught" (an exception that
is not an OSError escaped KernelFS.write: the FUSE glue would turn it into EIO and log a
traceback) or "slow".
"""
from __future__ import annotations

import decimal
import errno
import random
import re
import time
from dataclasses import dataclass, field

import kernel_ref as K

from procnet.engine.config import MAX_COST_NS
from procnet.kernelfs.tree import KernelFS

SLOW_S = 1.0
# procnet/clock/advance refuses more than this per write (kernelfs/table.py)
ADVANCE_MAX_NS = 3600 * 10**9


def read_text(fs: KernelFS, path: str) -> str:
    node = fs.stat(path)
    if node.per_read:
        return fs.read_at(path, 0, 4096).decode("latin-1")
    return fs.read(path).decode("latin-1")


def do_write(fs: KernelFS, path: str, data: bytes, pos: int):
    try:
        return ("ok", fs.write(path, data, pos))
    except OSError as e:
        return ("err", e.errno)


LAST = {}      # path -> outcome of the last write a checker made (for file positions)


def _write(fs: KernelFS, path: str, data: bytes, pos: int):
    LAST[path] = out = do_write(fs, path, data, pos)
    return out


def _show(outcome) -> str:
    kind, n = outcome[0], outcome[1]
    return f"{kind} {errno.errorcode.get(n, n) if kind == 'err' else n}"


@dataclass
class Result:
    kind: str                 # ok | mismatch | uncaught | slow
    detail: str = ""
    seconds: float = 0.0
    budget_s: float = 1.0     # more than 1 s only for an accepted clock/advance


class Checker:
    """Base: no model; any OSError with an allowed errno, else the full count."""

    allowed = frozenset({errno.EINVAL})

    def __init__(self, path: str) -> None:
        self.path = path

    def expect(self, fs: KernelFS, data: bytes, pos: int):
        """(expected outcome, expected text afterwards or None) before the write."""
        return None, None

    def check(self, fs: KernelFS, data: bytes, pos: int) -> tuple[str, str]:
        exp, exp_text = self.expect(fs, data, pos)
        got = _write(fs, self.path, data, pos)
        return self.compare(fs, data, pos, exp, exp_text, got)

    def budget_s(self, data: bytes) -> float:
        """How long one call may take."""
        return SLOW_S

    def compare(self, fs, data, pos, exp, exp_text, got) -> tuple[str, str]:
        if exp is None:
            if got[0] == "err" and got[1] not in self.allowed:
                return "mismatch", f"errno {errno.errorcode.get(got[1])} not documented"
            if got[0] == "ok" and got[1] != len(data):
                return "mismatch", f"count {got[1]} != {len(data)}"
            return "ok", ""
        if (got[0], got[1]) != (exp[0], exp[1]):
            return "mismatch", f"got {_show(got)}, expected {_show(exp)}"
        if exp_text is not None:
            text = read_text(fs, self.path)
            if text != exp_text:
                return "mismatch", f"reads {text!r}, expected {exp_text!r}"
        return "ok", ""


class SysctlChecker(Checker):
    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.name = path.rsplit("/", 1)[-1]

    def value(self, text: str) -> int:
        return int(text, 16) if self.name in K.CPUMASK_SYSCTLS else int(text)

    def expect(self, fs, data, pos):
        nbits = fs.rt.machine.cfg.cpus
        old = self.value(read_text(fs, self.path))
        exp = K.sysctl_write(self.name, data, pos, old, nbits)
        new = exp[2] if exp[2] is not None else old
        return exp, K.sysctl_text(self.name, new, nbits)

class RpsCpusChecker(Checker):
    def expect(self, fs, data, pos):
        m = fs.rt.machine
        nbits = m.cfg.cpus
        online = sum(1 << c for c in m.online_cpus())
        old = int(read_text(fs, self.path), 16)
        exp = K.store_rps_map(data, nbits, online)
        new = exp[2] if exp[2] is not None else old
        return exp, K.bitmap_string(new, nbits) + "\n"


class RpsFlowCntChecker(Checker):
    def expect(self, fs, data, pos):
        old = int(read_text(fs, self.path))
        exp = K.store_rps_dev_flow_table_cnt(data)
        return exp, f"{exp[2] if exp[2] is not None else old}\n"


class ThreadedChecker(Checker):
    def expect(self, fs, data, pos):
        dev = self.path.split("/")[3]
        old = int(read_text(fs, self.path))
        exp = K.threaded_store(data, has_napi=not fs.rt.machine.netdevs[dev].loopback)
        return exp, f"{exp[2] if exp[2] is not None else old}\n"


class OnlineChecker(Checker):
    def expect(self, fs, data, pos):
        old = int(read_text(fs, self.path))
        exp = K.online_store(data)
        return exp, f"{exp[2] if exp[2] is not None else old}\n"


class CommChecker(Checker):
    """comm_write() from outside the task's thread group: EINVAL, whatever the count."""

    def expect(self, fs, data, pos):
        return ("err", errno.EINVAL, None), read_text(fs, self.path)


class NumberChecker(Checker):
    """procnet/model/<cost>, backlog_local_shortcut, faults/kthread_run: kstrtoul syntax,
    at most `limit` (costs: 1 s), EINVAL for anything else (docs/files.md)."""

    def __init__(self, path: str, shown=lambda v: str(v), limit: int | None = None) -> None:
        super().__init__(path)
        self.shown = shown
        self.limit = limit

    def expect(self, fs, data, pos):
        old = read_text(fs, self.path)
        try:
            v = K.kstrtoul(data)
        except OSError:
            return ("err", errno.EINVAL, None), old
        if self.limit is not None and v > self.limit:
            return ("err", errno.EINVAL, None), old
        return ("ok", len(data), v), self.shown(v) + "\n"


class WordChecker(Checker):
    """clock/mode, model/felix_variant: one of a few words, blanks around it allowed."""

    def __init__(self, path: str, words: tuple[str, ...]) -> None:
        super().__init__(path)
        self.words = words

    def expect(self, fs, data, pos):
        old = read_text(fs, self.path)
        word = data.decode("ascii", "replace").strip()
        if word in self.words:
            return ("ok", len(data), word), word + "\n"
        return ("err", errno.EINVAL, None), old


class SpeedChecker(Checker):
    def expect(self, fs, data, pos):
        old = read_text(fs, self.path)
        try:
            v = float(data.decode("ascii", "replace").strip())
        except ValueError:
            return ("err", errno.EINVAL, None), old
        if not 0 < v <= 1e6:
            return ("err", errno.EINVAL, None), old
        return ("ok", len(data), v), f"{v:g}\n"


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ns|us|ms|s)?\s*$")
_UNIT = {"ns": 1, "us": 10**3, "ms": 10**6, "s": 10**9, None: 1}


def duration_ns(data: bytes) -> int | None:
    """The documented duration syntax, converted exactly (decimal arithmetic)."""
    mt = _DURATION.match(data.decode("ascii", "replace"))
    if not mt:
        return None
    with decimal.localcontext() as ctx:
        ctx.prec = len(mt.group(1)) + 30
        value = decimal.Decimal(mt.group(1)) * _UNIT[mt.group(2)]
        return int(value.to_integral_value(decimal.ROUND_HALF_EVEN))


class AdvanceChecker(Checker):
    """A duration (250ms, 2s, 100us, or ns) of at most ADVANCE_MAX_NS; now moves by exactly it."""

    def budget_s(self, data: bytes) -> float:
        # an accepted advance simulates: an idle 4-CPU machine needs ~1.3 ms per virtual second
        ns = duration_ns(data) or 0
        return SLOW_S + min(ns, ADVANCE_MAX_NS) / 10**9 * 0.005

    def check(self, fs, data, pos):
        m = fs.rt.machine
        before = m.now_ns
        ns = duration_ns(data)
        got = _write(fs, self.path, data, pos)
        if ns is None or ns > ADVANCE_MAX_NS:
            exp = ("err", errno.EINVAL)
            want_now = before
        else:
            exp = ("ok", len(data))
            want_now = before + ns
        if got != exp:
            return "mismatch", f"got {_show(got)}, expected {_show(exp)}"
        if m.now_ns != want_now:
            return "mismatch", f"now {m.now_ns}, expected {want_now}"
        return "ok", ""


class ControlChecker(Checker):
    """traffic/ctl, tasks/ctl, net/ctl: count == len(data) or a documented errno; the file still
    reads and its listing round-trips through the parser."""

    def __init__(self, path: str, allowed=(errno.EINVAL,)) -> None:
        super().__init__(path)
        self.allowed = frozenset(allowed)

    def check(self, fs, data, pos):
        got = _write(fs, self.path, data, pos)
        kind, detail = self.compare(fs, data, pos, None, None, got)
        if kind != "ok":
            return kind, detail
        read_text(fs, self.path)          # the listing still renders
        return "ok", ""


def checker_for(path: str) -> Checker:
    parts = path.split("/")
    if path == "backlog_threaded" or path.startswith("proc/sys/net/core/"):
        c = SysctlChecker(path)
        c.name = "backlog_threaded" if path == "backlog_threaded" else c.name
        return c
    if parts[0] == "proc" and parts[-1] == "comm":
        return CommChecker(path)
    if path.endswith("/rps_cpus"):
        return RpsCpusChecker(path)
    if path.endswith("/rps_flow_cnt"):
        return RpsFlowCntChecker(path)
    if path.endswith("/threaded"):
        return ThreadedChecker(path)
    if path.startswith("sys/devices/system/cpu/") and path.endswith("/online"):
        return OnlineChecker(path)
    if path == "procnet/clock/mode":
        return WordChecker(path, ("realtime", "manual"))
    if path == "procnet/model/felix_variant":
        return WordChecker(path, ("intended", "as-written"))
    if path == "procnet/clock/speed":
        return SpeedChecker(path)
    if path == "procnet/clock/advance":
        return AdvanceChecker(path)
    if path == "procnet/model/backlog_local_shortcut":
        return NumberChecker(path, shown=lambda v: str(int(bool(v))))
    if path.startswith("procnet/model/"):
        return NumberChecker(path, limit=MAX_COST_NS)
    if path == "procnet/faults/kthread_run":
        return NumberChecker(path)
    if path == "procnet/net/ctl":
        # ETIMEDOUT: seed 000's flush wait cut off; EPERM: lo cannot be unregistered
        return ControlChecker(path, (errno.EINVAL, errno.ETIMEDOUT, errno.EPERM))
    if path in ("procnet/traffic/ctl", "procnet/tasks/ctl"):
        return ControlChecker(path)
    raise AssertionError(f"no checker for {path}")


def run_one(fs: KernelFS, checker: Checker, data: bytes, pos: int) -> Result:
    t0 = time.perf_counter()
    try:
        kind, detail = checker.check(fs, data, pos)
    except Exception as e:  # noqa: BLE001 - a non-OSError out of KernelFS: the bug we hunt
        import traceback
        kind, detail = "uncaught", "".join(traceback.format_exception(e)[-3:])
    dt = time.perf_counter() - t0
    budget = checker.budget_s(data) if kind == "ok" else SLOW_S
    if kind == "ok" and dt > budget:
        kind, detail = "slow", f"{dt:.2f} s"
    return Result(kind, detail, dt, budget)


# ------------------------------------------------------------------------------------- inputs

def _rep(piece: bytes, n: int) -> bytes:
    return piece * n


NUMBERS = [b"0", b"1", b"2", b"7", b"64", b"1000", b"2147483647", b"2147483648", b"-2147483648",
           b"-2147483649", b"4294967295", b"4294967296", b"18446744073709551615",
           b"18446744073709551616", b"99999999999999999999999", b"-1", b"-0", b"--1", b"+5",
           b"0x10", b"0X7fffffff", b"0x80000000", b"0xffffffffffffffff",
           b"0x10000000000000000", b"010", b"08", b"0x", b"1e3", b"1.5", b"-0x80000000"]

# tools/testing/selftests/sysctl/sysctl.sh categories, plus NUL and empty writes; each is a
# list of (data, pos) calls on ONE open file (pos None: continue at the file position).
def categories(valid: list[bytes]) -> list[list[tuple[bytes, int | None]]]:
    seqs: list[list[tuple[bytes, int | None]]] = []
    one = [n for n in NUMBERS] + [n + b"\n" for n in NUMBERS[:12]]
    one += [b"", b"\0", b"\0" * 10, b"1\0", b"1\x002", b"\x001", b"\n", b" ", b"\t\n",
            b"1 2", b"1\n2\n", b"1junk", b"abc", b"\xff\xfe", b"\xa05", b"5\xa0", b"1\r",
            _rep(b" ", 511) + b"1", _rep(b" ", 512) + b"1", _rep(b" ", 4094) + b"7",
            _rep(b" ", 4095) + b"7", b"7" + _rep(b" ", 4095), _rep(b"0", 4095) + b"1",
            _rep(b"1", 65536), _rep(b"\0", 65536), _rep(b",", 5000) + b"2",
            b"f", b"3", b"ffffffff", b"ffffffff,ffffffff", b"1,0", b",", b"z00000003"]
    one += valid + [v + b"\n" for v in valid] + [b" " + v + b" \n" for v in valid]
    seqs += [[(d, 0)] for d in one]
    for v in (valid[:2] or [b"1"]):
        for off in (1, 5, 100, 4096, 2**31, 2**40):        # at an offset / past the end
            seqs.append([(v, off)])
        seqs.append([(v, 0), (v, None)])                    # several writes on one open
        seqs.append([(v + b" ", 0), (b"34", None)])
        seqs.append([(b" ", 0), (v, None)])
        seqs.append([(b"abc", 0), (v, None)])
        seqs.append([(b"", 0), (v, None)])
        seqs.append([(v, 0), (b"zz", None), (v + b"\n", None)])
    return seqs


# valid inputs per file, the seeds of the mutation fuzzer and of the categories
def valid_inputs(path: str) -> list[bytes]:
    name = path.rsplit("/", 1)[-1]
    if path == "procnet/traffic/ctl":
        return [b"add t1 dev=eth0 flows=2 pps=1000", b"del t1",
                b"add t2 dev=eth0 pps=10 pattern=onoff on=2ms off=3ms",
                b"add t3 dev=eth0 flows=2147483648", b"add t4 dev=eth0 pps=99999999999999999999",
                b"add t5 dev=lo", b"add t6 dev=eth9", b"del nosuch", b"# comment",
                b"add t7 dev=eth0 flows=0", b"add t8 dev=eth0 flows=1e30"]
    if path == "procnet/tasks/ctl":
        return [b"add h1 cpus=1 util=50 period=5ms", b"del h1", b"add h2 policy=fifo cpus=0-1",
                b"rr r1 client=0 server=1", b"affinity 1000 0-1", b"add h3 period=0 util=50",
                b"add h4 util=0", b"add h5 cpus=0-99999999999", b"affinity 99999999999999 0",
                b"add h6 period=99999999999999999999ms util=50"]
    if path == "procnet/net/ctl":
        return [b"add eth1 rxqueues=2 irq=0-1", b"del eth1", b"add eth2 driver=netif_rx",
                b"add eth3 rxqueues=4096", b"add eth4 rxqueues=4097", b"add eth5 rxqueues=1000000",
                b"add a/b", b"add .", b"add ..", b"add x123456789012345", b"add a:b", b"del lo",
                b"del eth0", b"add eth6 ring=0", b"add eth7 irq=9"]
    if path == "procnet/clock/advance":
        return [b"1ms", b"250us", b"2s", b"5000", b"1.5ms", b"60s", b"3601s", b"3600000000001", b"-5ms",
                b"99999999999999999999", b"18446744073709551615s"]
    if path == "procnet/clock/mode":
        return [b"manual", b"realtime", b"sometimes"]
    if path == "procnet/clock/speed":
        return [b"1", b"4", b"0.5", b"1e6", b"1e7", b"0", b"nan", b"inf", b"-1"]
    if name == "felix_variant":
        return [b"intended", b"as-written", b"whatever"]
    if path.endswith("rps_cpus") or name in K.CPUMASK_SYSCTLS:
        return [b"e", b"3", b"0", b"1"]
    if path.endswith("/online"):
        return [b"0", b"1", b"y", b"n", b"on", b"off", b"o"]
    if name == "flow_limit_table_len":
        return [b"16", b"32", b"3", b"-2147483648"]
    if name == "netdev_budget_usecs":
        return [b"9000", b"8000", b"7999"]
    if name == "backlog_threaded":
        return [b"1", b"0", b"2"]
    return [b"12", b"34", b"0", b"1"]


class Fuzzer:
    """Seeded random inputs up to 64 KiB: raw bytes, small alphabets, numbers and mutations of
    the file's valid inputs."""

    ALPHABET = b"0123456789abcdefxX+- \t\n\r\v\f,.:=#\0\xa0ABCDEF"
    TO_ALPHABET = (ALPHABET * 7)[:256]          # byte -> a byte of the alphabet

    def __init__(self, path: str, seed: int) -> None:
        self.rng = random.Random(f"{path}:{seed}")
        self.corpus = valid_inputs(path) + NUMBERS
        self.max_digits = 25
        if path == "procnet/clock/advance":
            # Every accepted input simulates that much virtual time (an idle machine: ~1.3 ms
            # of wall time per virtual second), so numbers stay below 1 s here and the corpus
            # holds no long valid duration; the categories cover the limits.
            self.max_digits = 9
            self.corpus = [c for c in self.corpus if c != b"60s"]

    def length(self) -> int:
        r = self.rng.random()
        if r < 0.85:
            return int(self.rng.expovariate(1 / 12))
        if r < 0.97:
            return self.rng.randrange(64, 4200)
        return self.rng.randrange(4200, 65537)

    def data(self) -> bytes:
        rng = self.rng
        r = rng.random()
        if r < 0.25:
            return rng.randbytes(self.length())
        if r < 0.45:
            return rng.randbytes(self.length()).translate(self.TO_ALPHABET)
        if r < 0.60:
            sign = rng.choice([b"", b"", b"-", b"+", b"--"])
            prefix = rng.choice([b"", b"", b"0", b"0x", b"0X"])
            digits = bytes(rng.choice(b"0123456789abcdef" if prefix.lower() == b"0x" else
                                      b"0123456789")
                           for _ in range(rng.randrange(0, self.max_digits)))
            lead = b" " * rng.choice([0, 0, 1, 3, 511, 512, 4094, 4095])
            tail = rng.choice([b"", b"\n", b" ", b"\0", b"x", b" 7", b"\n\n", b"\r"])
            return lead + sign + prefix + digits + tail
        return self.mutate(rng.choice(self.corpus))

    def mutate(self, s: bytes) -> bytes:
        rng = self.rng
        b = bytearray(s)
        for _ in range(rng.randrange(1, 4)):
            op = rng.randrange(6)
            i = rng.randrange(len(b) + 1)
            if op == 0:
                b[i:i] = bytes([rng.randrange(256)])
            elif op == 1 and b:
                del b[min(i, len(b) - 1)]
            elif op == 2 and b:
                b[min(i, len(b) - 1)] = rng.randrange(256)
            elif op == 3:
                b[i:i] = rng.choice([b" ", b"\n", b"\0", b"=", b"0", b"9" * 20, b"-"])
            elif op == 4:
                b = b[:i]
            else:
                b += b"\n" + rng.choice(self.corpus)
        return bytes(b)

    def pos(self) -> int:
        r = self.rng.random()
        if r < 0.9:
            return 0
        return self.rng.choice([1, 2, 5, 4096, 2**31, 2**40, self.rng.randrange(1, 100)])


@dataclass
class FuzzStats:
    path: str
    calls: int = 0
    by_kind: dict = field(default_factory=dict)
    examples: dict = field(default_factory=dict)
    max_s: float = 0.0
    max_plain_s: float = 0.0       # slowest call that had the plain 1 s budget
    seconds: float = 0.0

    def add(self, res: Result, data: bytes, pos: int) -> None:
        self.calls += 1
        self.by_kind[res.kind] = self.by_kind.get(res.kind, 0) + 1
        self.max_s = max(self.max_s, res.seconds)
        if res.budget_s <= SLOW_S:
            self.max_plain_s = max(self.max_plain_s, res.seconds)
        if res.kind != "ok" and len(self.examples.get(res.kind, [])) < 5:
            self.examples.setdefault(res.kind, []).append((data[:80], pos, res.detail[:300]))


def fuzz_path(path: str, n: int, seed: int, make_fs, reset_every: int = 400) -> FuzzStats:
    """n random writes to one file of a fresh machine (renewed every ``reset_every`` calls so
    that accepted control commands do not pile up)."""
    checker = checker_for(path)
    fz = Fuzzer(path, seed)
    stats = FuzzStats(path)
    fs = make_fs()
    t0 = time.perf_counter()
    for i in range(n):
        if i and i % reset_every == 0:
            fs = make_fs()
        data, pos = fz.data(), fz.pos()
        res = run_one(fs, checker, data, pos)
        stats.add(res, data, pos)
    stats.seconds = time.perf_counter() - t0
    return stats
