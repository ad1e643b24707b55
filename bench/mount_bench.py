"""The mount: file reads per second through a real FUSE mount, and the backlog_threaded switch.

Cases, all in one run so their ratios compare like with like:

    idle     procnet mount, --clock manual: the engine does not run (an R16-like machine is
             configured through the files: 16 CPUs, 16 rx queues, rps_cpus ffff on every queue,
             `add t1 dev=eth0 flows=1024 pps=10000000`, but virtual time stands still)
    running  the same machine with --clock realtime: the engine simulates flat out between
             requests (the mount's FUSE loop drives it) and never catches up
             (procnet/clock/lag_ns keeps growing), the worst case for readers
    host     the host kernel's own /proc/net/softnet_stat
    floor    bench/minimal_fs.py: the smallest mfusepy filesystem, serving a softnet_stat-shaped
             file the way procnet serves its files; what the binding itself costs here
    lxcfs    LXCFS's proc/uptime on a private LXCFS mount (Debian's lxcfs package), started on
             a temporary directory with its own pidfile and stopped afterwards; skipped with a
             note when lxcfs is not installed
    wakeup   no FUSE at all: the host scheduler's floor for the switch latency. A pipe round
             trip to a process that shares its CPU with a busy loop (nice 0, then SCHED_IDLE),
             the situation of a shell woken where a busy thread runs (and, before the mount's
             loop drove the engine itself, of its FUSE thread)

For each case and file, 1 and 4 reader processes (`bench.reader`) each loop os.open/os.read/
os.close for SECONDS; the figure is the total reads per second of all readers. With --rounds N
every case is measured N times, the cases taking turns (idle, host, lxcfs, floor, running,
then again), and each rate is the median of its N rounds: on a shared 2-CPU host a single
2-second window of LXCFS moved between 28 k and 51 k reads/s from one run to the next. Ratios
(procnet vs LXCFS) are taken round by round, then their median (bench/report.py).

The switch latency (running case): N times, write 0 to backlog_threaded and wait until it reads
back 0; then time from just before writing 1 to the first read of backlog_threaded that says 1
(the handler switches before write() returns and reads back the real mode; stats.json is checked
to agree after every switch). Then N more, observed through procnet/stats.json's "mode"
instead. p50, p99 and max over N, in every round. The goal's figure is the median of the
rounds' p99 (min-max beside it), as the read rates are medians of rounds: the 2-core VMs this
runs on have bursts of millisecond stalls that no FUSE request causes (a busy loop alone sees a
few a second on the EPYC one), and one burst in one round should show as that round's figure,
not as the verdict. The p99 over all rounds' writes together is reported too.

    python -m bench.mount_bench --seconds 1.5 --rounds 3 --switches 200
    python -m bench.mount_bench --case lxcfs --seconds 2
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROCNET = [sys.executable, "-m", "procnet.cli"]
R16_CPUS = 16
R16_TRAFFIC = "add t1 dev=eth0 flows=1024 pps=10000000\n"
FILES = ("proc/net/softnet_stat", "proc/sys/net/core/netdev_max_backlog")
HOST_FILE = "/proc/net/softnet_stat"
LXCFS_FILE = "proc/uptime"
FLOOR_FILE = "softnet_stat"
CASES = ("idle", "host", "lxcfs", "floor", "running", "wakeup")
WAKEUP_TRIPS = 1000
CMD_TIMEOUT_S = 60


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _mkdir(prefix: str) -> Path:
    p = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    p.chmod(0o755)
    return p


def is_mounted(path: Path) -> bool:
    want = str(path)
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == want for line in f)


def readers(path: str, n: int, seconds: float) -> dict:
    """Run n reader processes on `path` over the same window; total reads per second."""
    start_at = time.time() + 1.0           # every reader has started its loop by then
    procs = [subprocess.Popen([sys.executable, "-m", "bench.reader", path, repr(start_at),
                               repr(seconds)], cwd=ROOT, env=_env(), stdout=subprocess.PIPE,
                              text=True) for _ in range(n)]
    results = []
    for p in procs:
        out, _ = p.communicate(timeout=seconds + 60)
        if p.returncode != 0:
            raise RuntimeError(f"reader of {path} failed with exit {p.returncode}")
        results.append(json.loads(out))
    reads = sum(r["reads"] for r in results)
    window = max(r["seconds"] for r in results)
    return {"path": path, "readers": n, "seconds": window, "reads": reads,
            "errors": sum(r["errors"] for r in results), "rate": reads / window,
            "per_reader": [r["reads"] for r in results]}


# ------------------------------------------------------------------------------ procnet
def _write(path: Path | str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _read(path: Path | str) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = []
        while True:
            b = os.read(fd, 1 << 20)
            if not b:
                return b"".join(chunks)
            chunks.append(b)
    finally:
        os.close(fd)


def _daemon_pids(mnt: Path) -> list[int]:
    """procnet daemons whose command line names this (unique, temporary) mountpoint."""
    want = str(mnt).encode()
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            if b"mount" in argv and want in argv:
                pids.append(int(proc.name))
    return pids


def _gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":
            return True
        time.sleep(0.02)
    return False


class ProcnetMount:
    """`procnet mount MNT --background` of the R16-like machine; always unmounted on exit."""

    def __init__(self, clock: str) -> None:
        self.clock = clock
        self.mnt: Path | None = None
        self.pids: list[int] = []
        self.log = None

    def command(self) -> list[str]:
        return [*PROCNET, "mount", str(self.mnt), "--background", "--clock", self.clock,
                "--cpus", str(R16_CPUS), "--dev", f"eth0:rxqueues={R16_CPUS},irq=0-{R16_CPUS - 1}",
                "--log-file", str(self.log)]

    def __enter__(self) -> "ProcnetMount":
        self.mnt = _mkdir("procnet-bench-")
        self.log = self.mnt.with_name(self.mnt.name + ".log")
        try:
            r = subprocess.run(self.command(), cwd=ROOT, env=_env(), capture_output=True,
                               text=True, timeout=CMD_TIMEOUT_S, stdin=subprocess.DEVNULL)
            self.pids = _daemon_pids(self.mnt)
            if r.returncode != 0:
                raise RuntimeError(f"procnet mount failed ({r.returncode}): {r.stderr.strip()}")
            for q in range(R16_CPUS):
                _write(self.mnt / f"sys/class/net/eth0/queues/rx-{q}/rps_cpus",
                       f"{(1 << R16_CPUS) - 1:x}\n".encode())
            _write(self.mnt / "procnet/traffic/ctl", R16_TRAFFIC.encode())
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        mnt = self.mnt
        if mnt is None:
            return
        self.pids = sorted(set(self.pids) | set(_daemon_pids(mnt)))
        if is_mounted(mnt):
            with contextlib.suppress(subprocess.TimeoutExpired):
                subprocess.run([*PROCNET, "umount", str(mnt)], cwd=ROOT, env=_env(),
                               capture_output=True, timeout=CMD_TIMEOUT_S)
        for pid in self.pids:                 # only the daemon this object started
            if not _gone(pid, 5.0):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                _gone(pid, 5.0)
        if is_mounted(mnt):
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=30)
        with contextlib.suppress(OSError):
            mnt.rmdir()
        with contextlib.suppress(OSError):
            self.log.unlink()
        self.mnt = None

    def now_ns(self) -> int:
        return int(_read(self.mnt / "procnet/clock/now"))

    def lag_ns(self) -> int:
        return int(_read(self.mnt / "procnet/clock/lag_ns"))

    def mode(self) -> str:
        return json.loads(_read(self.mnt / "procnet/stats.json"))["mode"]


def _share_over(vals, limit_ms: float) -> float:
    """The fraction of vals above limit_ms."""
    return sum(v > limit_ms for v in vals) / len(vals)


def _pct(vals: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(vals)
    k = max(0, min(len(s) - 1, -(-len(s) * p // 100) - 1))
    return s[int(k)]


def _switch_once(bt: Path, observe, want_on: bytes | str, want_off: bytes | str,
                 timeout_s: float) -> tuple[float, float, int]:
    """Write 0 and wait until `observe` says want_off; then (write ms, write-to-observed ms,
    extra polls) for writing 1 until `observe` says want_on."""
    def wait_for(want: str) -> int:
        k = 0
        deadline = time.monotonic() + timeout_s
        while observe() != want:
            k += 1
            if time.monotonic() > deadline:
                raise TimeoutError(f"the mode never read back as {want!r}")
        return k

    _write(bt, b"0\n")
    wait_for(want_off)
    t0 = time.perf_counter()
    _write(bt, b"1\n")
    t1 = time.perf_counter()
    polls = wait_for(want_on)
    t2 = time.perf_counter()
    return (t1 - t0) * 1e3, (t2 - t0) * 1e3, polls


def _latency_figures(runs: list[tuple[float, float, int]]) -> dict:
    wr, lat, polls = zip(*runs)
    return {"n": len(runs), "p50_ms": _pct(lat, 50), "p99_ms": _pct(lat, 99), "max_ms": max(lat),
            "over_2ms": _share_over(lat, 2.0), "write_p50_ms": _pct(wr, 50), "write_p99_ms": _pct(wr, 99),
            "extra_polls_max": max(polls), "extra_polls_total": sum(polls),
            "runs": [[round(w, 4), round(x, 4), p] for w, x, p in runs]}


def pool_switch(rounds: list[dict]) -> dict:
    """switch_latency() of several rounds as one: the figures over every round's writes
    together, each round's p99 ("round_p99_ms") and their median ("p99_round_median_ms")."""
    def pool(figs: list[dict]) -> dict:
        out = _latency_figures([tuple(r) for f in figs for r in f["runs"]])
        out["round_p99_ms"] = [f["p99_ms"] for f in figs]
        out["p99_round_median_ms"] = statistics.median(out["round_p99_ms"])
        return out
    out = pool(rounds)
    out["disagreed"] = sum(f["disagreed"] for f in rounds)
    out["stats_json"] = pool([f["stats_json"] for f in rounds])
    return out


def switch_latency(m: ProcnetMount, n: int, timeout_s: float = 10.0) -> dict:
    """The write-to-switched latency, observed two ways, n switches each.

    The goal's figure reads the mode back from backlog_threaded itself: its handler switches
    under the engine lock before write() returns and reads back the real mode (a failed
    kthread_run reads back 0), so that is how a shell sees the switch. After each such switch,
    untimed, stats.json must agree ("disagreed" counts the times it did not). The second figure
    observes through stats.json instead, which adds a fresh 10 KB render to every poll."""
    bt = m.mnt / "backlog_threaded"

    def readback() -> bytes:
        return _read(bt).strip()

    runs, disagreed = [], 0
    for _ in range(n):
        runs.append(_switch_once(bt, readback, b"1", b"0", timeout_s))
        disagreed += m.mode() != "backlog_threaded"
    out = _latency_figures(runs)
    out["disagreed"] = disagreed
    out["stats_json"] = _latency_figures(
        [_switch_once(bt, m.mode, "backlog_threaded", "stock", timeout_s) for _ in range(n)])
    _write(bt, b"0\n")
    return out


def procnet_case(clock: str, seconds: float, switches: int = 0, progress=print) -> dict:
    out: dict = {"clock": clock, "reads": [], "machine": "16 CPUs, 16 rx queues, RPS ffff, "
                 + R16_TRAFFIC.strip()}
    with ProcnetMount(clock) as m:
        if clock == "realtime":
            time.sleep(1.0)                   # let the engine fall behind first
        v0, w0, lag0 = m.now_ns(), time.monotonic(), m.lag_ns()
        for f in FILES:
            for n in (1, 4):
                r = readers(str(m.mnt / f), n, seconds)
                r["file"] = f
                out["reads"].append(r)
                progress(f"  procnet {clock:8} {f:40} {n} reader(s): {r['rate']:9.0f} reads/s")
        if switches:
            out["switch"] = switch_latency(m, switches)
            s = out["switch"]
            progress(f"  backlog_threaded switch ({switches}x): p50 {s['p50_ms']:.2f} ms, "
                     f"p99 {s['p99_ms']:.2f} ms, max {s['max_ms']:.2f} ms")
        v1, w1, lag1 = m.now_ns(), time.monotonic(), m.lag_ns()
        out["engine_rtf_under_reads"] = (v1 - v0) / 1e9 / (w1 - w0)
        out["lag_ns"] = [lag0, lag1]
        out["behind"] = clock == "realtime" and lag1 > lag0
        out["mount_command"] = " ".join(m.command()[2:]).replace(str(m.mnt), "MNT")
    return out


# ------------------------------------------------------------------------------ LXCFS
def lxcfs_status() -> tuple[str | None, str]:
    """(path of the lxcfs binary or None, note)."""
    r = subprocess.run(["dpkg", "-s", "lxcfs"], capture_output=True, text=True)
    exe = shutil.which("lxcfs")
    if r.returncode != 0 or "Status: install ok installed" not in r.stdout or not exe:
        return None, ("lxcfs is not installed (Debian package lxcfs): LXCFS column skipped; "
                      "`apt-get install lxcfs` to measure it (the benchmark starts and stops "
                      "its own instance)")
    version = next((ln.split(":", 1)[1].strip() for ln in r.stdout.splitlines()
                    if ln.startswith("Version:")), "?")
    return exe, f"lxcfs {version} (Debian package), private instance"


def _start_server(argv: list[str], mnt: Path, probe: str, what: str, **popen) -> subprocess.Popen:
    """Start a FUSE server on `mnt` and wait (15 s at most) until `probe` reads through it."""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, **popen)
    deadline = time.monotonic() + 15
    while True:
        with contextlib.suppress(OSError):
            if is_mounted(mnt) and _read(mnt / probe):
                return proc
        if proc.poll() is not None or time.monotonic() > deadline:
            _stop_server(proc, mnt)
            raise RuntimeError(f"{what} did not come up (see its log)")
        time.sleep(0.05)


def _stop_server(proc: subprocess.Popen | None, mnt: Path) -> None:
    """SIGTERM to the server we started (SIGKILL after 10 s), then make sure nothing is left
    mounted on `mnt` and remove it."""
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    if is_mounted(mnt):
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=30)
    with contextlib.suppress(OSError):
        mnt.rmdir()


class Lxcfs:
    """lxcfs -f on a temp dir with its own pidfile; stopped (SIGTERM to its pid) on exit."""

    def __init__(self, exe: str) -> None:
        self.exe = exe
        self.proc: subprocess.Popen | None = None
        self.mnt: Path | None = None

    def __enter__(self) -> "Lxcfs":
        self.mnt = _mkdir("lxcfs-bench-")
        self.pidfile = self.mnt.with_name(self.mnt.name + ".pid")
        self.logf = open(self.mnt.with_name(self.mnt.name + ".log"), "w")
        try:
            self.proc = _start_server([self.exe, "-f", "-p", str(self.pidfile), str(self.mnt)],
                                      self.mnt, LXCFS_FILE, "lxcfs", stdout=self.logf,
                                      stderr=subprocess.STDOUT)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self.mnt is None:
            return
        _stop_server(self.proc, self.mnt)
        self.proc = None
        for p in (self.pidfile, Path(self.logf.name)):
            with contextlib.suppress(OSError):
                p.unlink()
        self.logf.close()
        self.mnt = None


def _reads(label: str, path: Path, file: str, seconds: float, progress) -> list[dict]:
    """1 and 4 readers of one file (a case's "reads" list), each line reported."""
    out = []
    for n in (1, 4):
        r = readers(str(path), n, seconds)
        r["file"] = file
        out.append(r)
        progress(f"  {label:16} {file:40} {n} reader(s): {r['rate']:9.0f} reads/s")
    return out


def lxcfs_case(seconds: float, progress=print) -> dict:
    exe, note = lxcfs_status()
    if exe is None:
        progress(f"  lxcfs: skipped: {note}")
        return {"skipped": True, "note": note, "reads": []}
    with Lxcfs(exe) as lx:
        reads = _reads("lxcfs", lx.mnt / LXCFS_FILE, LXCFS_FILE, seconds, progress)
    return {"skipped": False, "note": note, "reads": reads}


class MinimalFs:
    """bench/minimal_fs.py on a temp dir; stopped with SIGTERM (and checked gone) on exit."""

    def __enter__(self) -> "MinimalFs":
        self.mnt = _mkdir("minimal-fuse-bench-")
        self.proc = _start_server([sys.executable, "-m", "bench.minimal_fs", str(self.mnt)],
                                  self.mnt, FLOOR_FILE, "bench.minimal_fs", cwd=ROOT,
                                  env=_env(), stdout=subprocess.DEVNULL)
        return self

    def __exit__(self, *exc) -> None:
        _stop_server(self.proc, self.mnt)


def floor_case(seconds: float, progress=print) -> dict:
    with MinimalFs() as fs:
        reads = _reads("minimal FUSE", fs.mnt / FLOOR_FILE, FLOOR_FILE, seconds, progress)
    return {"reads": reads, "note": "bench/minimal_fs.py: mfusepy, libfuse3, one loop thread, "
            "direct_io, a 16-row softnet_stat-shaped file rendered per open"}


def host_case(seconds: float, progress=print) -> dict:
    return {"reads": _reads("host", Path(HOST_FILE), HOST_FILE, seconds, progress)}


# ------------------------------------------------------------------------------ wake-up floor
_HOG = "import os\nos.sched_setaffinity(0, {%d})\n%s\nwhile True:\n    pass\n"
_ECHO = ("import os\nos.sched_setaffinity(0, {%d})\n"
         "while (b := os.read(0, 1)) not in (b'', b'q'):\n    os.write(1, b)\n")


def _round_trips(cpu: int, policy: str, n: int) -> list[float]:
    """n pipe round trips (ms), 1 ms apart, to an echo process pinned to `cpu` beside a busy
    loop pinned there too; this process runs on another CPU meanwhile."""
    idle = "os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))" if policy == "idle" else ""
    hog = subprocess.Popen([sys.executable, "-c", _HOG % (cpu, idle)], stdin=subprocess.DEVNULL)
    echo = subprocess.Popen([sys.executable, "-c", _ECHO % cpu], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, bufsize=0)
    mine = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, mine - {cpu})
        w, r = echo.stdin.fileno(), echo.stdout.fileno()
        os.write(w, b"x")
        os.read(r, 1)                          # both children are up
        time.sleep(0.2)
        out = []
        for _ in range(n):
            t0 = time.perf_counter()
            os.write(w, b"x")
            os.read(r, 1)
            out.append((time.perf_counter() - t0) * 1e3)
            time.sleep(0.001)
        return out
    finally:
        os.sched_setaffinity(0, mine)
        with contextlib.suppress(OSError):
            echo.stdin.write(b"q")
        for proc in (echo, hog):
            proc.kill()
            proc.wait()


def wakeup_case(progress=print) -> dict:
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        note = "needs 2 CPUs (this process may use only one): skipped"
        progress(f"  wakeup: {note}")
        return {"skipped": True, "note": note}
    out: dict = {"skipped": False, "trips": WAKEUP_TRIPS, "cpu": cpus[-1]}
    for policy in ("normal", "idle"):
        lat = _round_trips(cpus[-1], policy, WAKEUP_TRIPS)
        out[policy] = {"p50_ms": _pct(lat, 50), "p99_ms": _pct(lat, 99), "max_ms": max(lat),
                       "over_2ms": _share_over(lat, 2.0)}
        f = out[policy]
        progress(f"  wakeup beside a busy loop ({policy:6}): p50 {f['p50_ms']:.3f} ms, p99 "
                 f"{f['p99_ms']:.3f} ms, max {f['max_ms']:.3f} ms, "
                 f"{f['over_2ms']:.1%} over 2 ms")
    return out


def command(case: str, seconds: float, switches: int, rounds: int = 1) -> str:
    if case == "wakeup":
        return "python -m bench.mount_bench --case wakeup"
    extra = f" --switches {switches}" if case == "running" else ""
    extra += f" --rounds {rounds}" if rounds > 1 else ""
    return f"python -m bench.mount_bench --case {case} --seconds {seconds:g}{extra}"


def _case(case: str, seconds: float, switches: int, progress) -> dict:
    if case == "idle":
        return procnet_case("manual", seconds, progress=progress)
    if case == "running":
        return procnet_case("realtime", seconds, switches, progress=progress)
    if case == "host":
        return host_case(seconds, progress=progress)
    if case == "lxcfs":
        return lxcfs_case(seconds, progress=progress)
    if case == "wakeup":
        return wakeup_case(progress=progress)
    return floor_case(seconds, progress=progress)


def run(seconds: float, switches: int, cases=CASES, progress=print, rounds: int = 1) -> dict:
    """Every case `rounds` times, taking turns; each reads entry keeps the rate of every round
    ("rates", in round order) and their median ("rate"). The running case times `switches`
    backlog_threaded switches in every round (pool_switch())."""
    res: dict = {"seconds": seconds, "switches": switches, "rounds": rounds}
    switch_rounds: list[dict] = []
    for i in range(rounds):
        if rounds > 1:
            progress(f"  round {i + 1} of {rounds}")
        last = i == rounds - 1
        for case in cases:
            if case == "wakeup" and not last:  # no reads to fold: measured once, at the end
                continue
            one = _case(case, seconds, switches, progress)
            if "switch" in one:
                switch_rounds.append(one["switch"])
            for r in one.get("reads", []):
                r["rates"] = [r["rate"]]
            if case in res:                   # fold this round's rates into the first round's
                for r, new in zip(res[case]["reads"], one["reads"]):
                    r["rates"].append(new["rate"])
                    r["rate"] = statistics.median(r["rates"])
                for key, value in one.items():
                    if key != "reads":
                        res[case][key] = value
            else:
                res[case] = one
            res[case]["command"] = command(case, seconds, switches, rounds)
    if switch_rounds:
        res["running"]["switch"] = pool_switch(switch_rounds)
    return res


def rate(res: dict, case: str, file: str, n: int) -> float | None:
    """The median reads/s of a case (None if not measured)."""
    r = _entry(res, case, file, n)
    return None if r is None else r["rate"]


def rates(res: dict, case: str, file: str, n: int) -> list[float]:
    """Reads/s of each round, in round order."""
    r = _entry(res, case, file, n)
    return [] if r is None else r.get("rates", [r["rate"]])


def ratio(res: dict, case: str, file: str, other: str, other_file: str, n: int = 4) -> float:
    """Median over rounds of case/other, each round's two rates taken in that round."""
    a, b = rates(res, case, file, n), rates(res, other, other_file, n)
    return statistics.median(x / y for x, y in zip(a, b))


def _entry(res: dict, case: str, file: str, n: int) -> dict | None:
    for r in res.get(case, {}).get("reads", []):
        if r["file"] == file and r["readers"] == n:
            return r
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.mount_bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--case", choices=CASES, action="append",
                    help="measure only this case (repeatable; default: all)")
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--switches", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=1,
                    help="measure every case this many times, taking turns (default 1)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    if a.rounds < 1:
        ap.error("--rounds must be >= 1")
    res = run(a.seconds, a.switches, tuple(a.case or CASES), rounds=a.rounds)
    if a.json:
        print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
