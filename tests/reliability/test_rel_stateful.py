"""Section 1: a stateful model check of the machine, driven only through its files.

A hypothesis RuleBasedStateMachine writes the files a user would (traffic/ctl, rps_cpus,
backlog_threaded, netdev_max_backlog, dev_weight, netdev_budget, flow_limit_cpu_bitmap,
flow_limit_table_len, cpuN/online, net/ctl add/del, <dev>/threaded, tasks/ctl, clock/advance)
and reads every statistics file (softnet_stat, stat, softirqs, interrupts, stats.json,
proc/<pid>/stat), in one of the three modes chosen at the start of each sequence:

  stock    NET_RX softirq (backlog_threaded may be switched on later)
  seed000  backlog_threaded=1 written at the start (unbound napi/backlog-N threads)
  seed002  booted with thread_backlog_napi (bound backlog_napi/N threads)

After every step (felix_variant "intended", the default):
  * conservation: offered == delivered + dropped + queued;
  * no input_pkt_queue grows past netdev_max_backlog + 1 (when >= 0; a queue that was longer
    when the limit was lowered may only shrink);
  * nothing is queued on an offline CPU once the offline completed, except a CPU taken down
    while seed 000 threaded its backlog (by design, its queues stay with the unbound thread);
  * nothing is delivered for an unregistered device: delivered_after_unregister never exceeds
    the packets of that device left on such offline seed-000 CPUs at unregister time (the
    documented hazard, docs/modes.md section 3 (d));
  * threads: ksoftirqd/N for every CPU; napi/backlog-N for every CPU once backlog_threaded was
    enabled, never more; backlog_napi/N for every CPU in seed002; napi/<dev>-<q> only for live
    devices whose threaded was set;
  * softnet_stat has exactly one row per online CPU, in order;
  * no backlog stall is ever detected.

The in-process variant runs against KernelFS (no FUSE: fast) and also checks the engine's own
state; the mount variant runs the same rules through a real FUSE mount and checks what the
files show. Quick: 100 sequences x 50 steps (KernelFS) and 15 x 25 (mount); full
(PROCNET_FULL=1): 1000 x 200 and 100 x 50. Set PROCNET_RANDOM=1 to explore new sequences in
the quick profile (it is derandomized, so CI runs the same sequences every time), and
PROCNET_SHRINK=1 to have hypothesis shrink a failing sequence (off by default: it can take
minutes; the failing steps are printed either way).
"""
from __future__ import annotations

import errno
import json
import os
import time

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, initialize, invariant, precondition,
                                 rule, run_state_machine_as_test)
from rel_common import FULL, MODES, bump, make_fs, pick, record

from procnet.engine.sched import DEAD
from procnet.engine.defs import NAPI_STATE_THREADED

SECTION = "stateful"
EXTRA_DEVS = ("eth1", "eth2", "eth3")
STAT_FILES = ("proc/net/softnet_stat", "proc/stat", "proc/softirqs", "proc/interrupts",
              "procnet/stats.json", "procnet/dmesg", "sys/devices/system/cpu/online",
              "procnet/traffic/ctl", "procnet/tasks/ctl", "procnet/net/ctl")


def _settings(examples: int, steps: int) -> settings:
    random = FULL or os.environ.get("PROCNET_RANDOM") == "1"
    phases = list(Phase)
    if os.environ.get("PROCNET_SHRINK") != "1":
        phases.remove(Phase.shrink)     # shrinking a sequence can take minutes; opt in
    return settings(max_examples=examples, stateful_step_count=steps, deadline=None,
                    derandomize=not random, database=None, print_blob=True, phases=phases,
                    suppress_health_check=list(HealthCheck))


# ------------------------------------------------------------------------------------ backends

class KernelFSBackend:
    """The file tree in this process; the engine is visible for the deeper invariants."""

    def __init__(self, mode: str, cpus: int, seed: int) -> None:
        self.fs = make_fs(mode, cpus=cpus, seed=seed)
        self.m = self.fs.rt.machine

    def write(self, path: str, data: str):
        try:
            return ("ok", self.fs.write(path, data.encode(), 0))
        except OSError as e:
            return ("err", e.errno)

    def read(self, path: str) -> str:
        if self.fs.stat(path).per_read:
            return self.fs.read_at(path, 0, 65536).decode()
        return self.fs.read(path).decode()

    def listdir(self, path: str) -> list[str]:
        return self.fs.listdir(path)

    def close(self) -> None:
        pass


class MountBackend:
    """A real `procnet mount --background` (manual clock): every call goes through FUSE."""

    def __init__(self, mode: str, cpus: int, seed: int) -> None:
        from mount_helpers import make_mount_dir, mount
        self.m = None
        self.path = make_mount_dir("procnet-rel-sm-")
        args = ["--clock", "manual", "--cpus", str(cpus), "--seed", str(seed)]
        if mode == "seed002":
            args += ["--cmdline", "thread_backlog_napi"]
        self.mnt = mount(self.path, *args)
        if mode == "seed000":
            assert self.write("backlog_threaded", "1\n") == ("ok", 2)

    def write(self, path: str, data: str):
        fd = os.open(self.path / path, os.O_WRONLY | os.O_TRUNC)
        try:
            return ("ok", os.write(fd, data.encode()))
        except OSError as e:
            return ("err", e.errno)
        finally:
            os.close(fd)

    def read(self, path: str) -> str:
        with open(self.path / path, encoding="latin-1") as f:
            return f.read()

    def listdir(self, path: str) -> list[str]:
        return os.listdir(self.path / path)

    def close(self) -> None:
        from mount_helpers import cleanup
        from rel_common import scan_log
        bad = scan_log(self.mnt.log)
        cleanup(self.path)
        self.mnt.log.unlink(missing_ok=True)
        assert not bad, f"unexpected daemon log lines: {bad[:5]}"


def softnet_rows(text: str) -> list[list[int]]:
    rows = [[int(v, 16) for v in line.split()] for line in text.splitlines()]
    assert all(len(r) == 15 for r in rows), text
    return rows


# ------------------------------------------------------------------------------- the machine

class ReceiveMachine(RuleBasedStateMachine):
    backend_cls = KernelFSBackend
    steps_run = 0
    sequences = 0
    outcomes: dict[str, int] = {}

    def __init__(self) -> None:
        super().__init__()
        self.b = None

    # ---------------------------------------------------------------- set-up / tear-down
    @initialize(mode=st.sampled_from(MODES), cpus=st.integers(2, 4), seed=st.integers(0, 3))
    def boot(self, mode, cpus, seed):
        type(self).sequences += 1
        self.mode, self.cpus = mode, cpus
        self.b = self.backend_cls(mode, cpus, seed)
        self.devs = {"eth0": 1}                    # live devices (not lo) -> rx queues
        self.dev_threaded: dict[str, bool] = {}    # threaded was ever set on this device
        self.traffic: dict[str, str] = {}          # source -> device
        self.hogs: set[str] = set()
        self.offline: set[int] = set()
        self.offline_threaded: dict[int, bool] = {}
        self.backlog_threads = mode == "seed000"   # napi/backlog-N created
        self.threaded_now = mode == "seed000"
        self.hazard = 0                            # packets that may reach deliver() after unregister
        self.hazard_possible = False               # mount variant: the same, without counts
        self.qlen_prev: dict[int, int] = {}
        self.max_backlog = 1000
        self.n = 0

    def teardown(self) -> None:
        if self.b is not None:
            self.b.close()

    def _name(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def _ok(self, path: str, data: str, allowed=()):
        res = self.b.write(path, data)
        key = f"{path.split('/')[-1]} {res[0]}"
        type(self).outcomes[key] = type(self).outcomes.get(key, 0) + 1
        if res[0] == "err":
            assert res[1] in allowed, (f"{path} <- {data!r}: {errno.errorcode.get(res[1])}"
                                       f" (mode {self.mode})")
        else:
            assert res[1] == len(data.encode()), (path, data, res)
        type(self).steps_run += 1
        return res

    # ---------------------------------------------------------------- traffic
    @precondition(lambda self: self.b is not None and self.devs and len(self.traffic) < 4)
    @rule(data=st.data(), flows=st.integers(1, 16),
          pps=st.sampled_from([1_000, 20_000, 100_000, 300_000]),
          pattern=st.sampled_from(["constant", "poisson", "onoff"]))
    def add_traffic(self, data, flows, pps, pattern):
        dev = data.draw(st.sampled_from(sorted(self.devs)))
        name = self._name("t")
        self._ok("procnet/traffic/ctl", f"add {name} dev={dev} flows={flows} pps={pps} "
                                        f"pattern={pattern}\n")
        self.traffic[name] = dev

    @precondition(lambda self: self.b is not None and self.traffic)
    @rule(data=st.data())
    def del_traffic(self, data):
        name = data.draw(st.sampled_from(sorted(self.traffic)))
        self._ok("procnet/traffic/ctl", f"del {name}\n")
        del self.traffic[name]

    # ---------------------------------------------------------------- RPS and sysctls
    @precondition(lambda self: self.b is not None)
    @rule(data=st.data())
    def set_rps(self, data):
        dev = data.draw(st.sampled_from(sorted(self.devs) + ["lo"]))
        q = data.draw(st.integers(0, self.devs.get(dev, 1) - 1))
        mask = data.draw(st.integers(0, (1 << self.cpus) - 1))
        self._ok(f"sys/class/net/{dev}/queues/rx-{q}/rps_cpus", f"{mask:x}\n")

    @precondition(lambda self: self.b is not None)
    @rule(value=st.sampled_from([0, 1]), root=st.booleans())
    def toggle_backlog_threaded(self, value, root):
        path = "backlog_threaded" if root else "proc/sys/net/core/backlog_threaded"
        if self.mode == "seed002":
            # docs/modes.md 3 (f): the two designs are alternatives
            self._ok(path, f"{value}\n", allowed=(errno.EOPNOTSUPP,))
            return
        self._ok(path, f"{value}\n")
        self.threaded_now = bool(value)
        self.backlog_threads |= bool(value)

    @precondition(lambda self: self.b is not None)
    @rule(value=st.sampled_from([-1, 0, 1, 2, 10, 100, 300, 1000, 5000]))
    def set_max_backlog(self, value):
        self._ok("proc/sys/net/core/netdev_max_backlog", f"{value}\n")
        self.max_backlog = value

    @precondition(lambda self: self.b is not None)
    @rule(name=st.sampled_from(["dev_weight", "netdev_budget"]),
          value=st.sampled_from([1, 2, 16, 64, 300, 1000]))
    def set_weight_or_budget(self, name, value):
        self._ok(f"proc/sys/net/core/{name}", f"{value}\n")

    @precondition(lambda self: self.b is not None)
    @rule(data=st.data())
    def set_flow_limit_bitmap(self, data):
        mask = data.draw(st.integers(0, (1 << self.cpus) - 1))
        self._ok("proc/sys/net/core/flow_limit_cpu_bitmap", f"{mask:x}\n")

    @precondition(lambda self: self.b is not None)
    @rule(value=st.sampled_from([1, 2, 16, 256, 4096, 3, 0]))
    def set_flow_limit_table_len(self, value):
        bad = value & (value - 1) or value == 0
        self._ok("proc/sys/net/core/flow_limit_table_len", f"{value}\n",
                 allowed=(errno.EINVAL,) if bad else ())

    # ---------------------------------------------------------------- CPU hotplug
    @precondition(lambda self: self.b is not None)
    @rule(data=st.data(), up=st.booleans())
    def cpu_online(self, data, up):
        cpu = data.draw(st.integers(1, self.cpus - 1))
        if not up and cpu not in self.offline:
            self.offline_threaded[cpu] = self.threaded_now
        self._ok(f"sys/devices/system/cpu/cpu{cpu}/online", f"{int(up)}\n")
        if up:
            self.offline.discard(cpu)
            self.offline_threaded.pop(cpu, None)
        else:
            self.offline.add(cpu)

    # ---------------------------------------------------------------- devices
    @precondition(lambda self: self.b is not None
                  and any(d not in self.devs for d in EXTRA_DEVS))
    @rule(data=st.data(), rxq=st.integers(1, 4), driver=st.sampled_from(["napi", "netif_rx"]))
    def add_dev(self, data, rxq, driver):
        name = data.draw(st.sampled_from([d for d in EXTRA_DEVS if d not in self.devs]))
        irq = ",".join(str(data.draw(st.integers(0, self.cpus - 1))) for _ in range(rxq))
        self._ok("procnet/net/ctl", f"add {name} rxqueues={rxq} irq={irq} driver={driver}\n")
        self.devs[name] = rxq
        self.dev_threaded.pop(name, None)

    @precondition(lambda self: self.b is not None and self.devs)
    @rule(data=st.data())
    def del_dev(self, data):
        name = data.draw(st.sampled_from(sorted(self.devs)))
        self._note_hazard(name)
        allowed = (errno.ETIMEDOUT,) if self.backlog_threads and self.mode != "seed002" else ()
        res = self._ok("procnet/net/ctl", f"del {name}\n", allowed=allowed)
        if res[0] == "err":
            bump(SECTION, "unregister ETIMEDOUT (seed 000 wait cut off)")
        del self.devs[name]
        self.dev_threaded.pop(name, None)
        self.traffic = {t: d for t, d in self.traffic.items() if d != name}

    def _note_hazard(self, name: str) -> None:
        """docs/modes.md 3 (d): packets of this device on CPUs that went offline while seed 000
        threaded their backlog are left to the thread, and counted if they reach deliver()."""
        for cpu in self.offline:
            if self.offline_threaded.get(cpu):
                self.hazard_possible = True
        m = self.b.m
        if m is None:
            return
        for c in m.cpus:
            if c.online:
                continue
            sd = m.softnet[c.id]
            if sd.backlog.state & NAPI_STATE_THREADED and not m.cfg.use_backlog_threads:
                self.hazard += sum(1 for q in (sd.input_pkt_queue, sd.process_queue)
                                   for p in q if p[1].dev.name == name)

    @precondition(lambda self: self.b is not None and self.devs)
    @rule(data=st.data(), value=st.sampled_from([0, 1]))
    def dev_threaded_napi(self, data, value):
        name = data.draw(st.sampled_from(sorted(self.devs)))
        self._ok(f"sys/class/net/{name}/threaded", f"{value}\n")
        if value:
            self.dev_threaded[name] = True

    # ---------------------------------------------------------------- competing tasks
    @precondition(lambda self: self.b is not None and len(self.hogs) < 3)
    @rule(data=st.data(), util=st.sampled_from([20, 50, 100]))
    def add_hog(self, data, util):
        cpu = data.draw(st.integers(0, self.cpus - 1))
        name = self._name("hog")
        self._ok("procnet/tasks/ctl", f"add {name} cpus={cpu} util={util} period=2ms\n")
        self.hogs.add(name)

    @precondition(lambda self: self.b is not None and self.hogs)
    @rule(data=st.data())
    def del_hog(self, data):
        name = data.draw(st.sampled_from(sorted(self.hogs)))
        self._ok("procnet/tasks/ctl", f"del {name}\n")
        self.hogs.discard(name)

    # ---------------------------------------------------------------- time and reads
    @precondition(lambda self: self.b is not None)
    @rule(us=st.sampled_from([50, 200, 1000, 3000]))
    def advance(self, us):
        self._ok("procnet/clock/advance", f"{us}us\n")

    @precondition(lambda self: self.b is not None)
    @rule()
    def read_everything(self):
        for path in STAT_FILES:
            text = self.b.read(path)
            if path.endswith(".json"):
                json.loads(text)
        for pid in self.b.listdir("proc"):
            if pid.isdigit():
                for f in ("stat", "status", "comm"):
                    try:
                        self.b.read(f"proc/{pid}/{f}")
                    except FileNotFoundError:
                        pass
        type(self).steps_run += 1

    # ---------------------------------------------------------------- invariants
    @invariant()
    def files_agree(self):
        if self.b is None:
            return
        s = json.loads(self.b.read("procnet/stats.json"))
        dropped = sum(s["dropped"].values())
        assert s["conserved"] and s["offered"] == s["delivered"] + dropped + s["queued"], s
        assert s["stalls_detected"] == 0, self.b.read("procnet/dmesg")
        if self.b.m is None:
            assert s["delivered_after_unregister"] == 0 or self.hazard_possible
        online = [c for c in range(self.cpus) if c not in self.offline]
        rows = softnet_rows(self.b.read("proc/net/softnet_stat"))
        assert [r[12] for r in rows] == online, (rows, online)
        assert self.b.read("sys/devices/system/cpu/online") != ""
        if self.max_backlog >= 0:
            for r in rows:
                cpu, qlen = r[12], r[13]
                assert qlen <= max(self.max_backlog + 1, self.qlen_prev.get(cpu, 0)), (cpu, qlen)
        self.qlen_prev = {r[12]: r[13] for r in rows}
        self._threads()

    def _threads(self):
        comms = []
        for pid in self.b.listdir("proc"):
            if pid.isdigit():
                try:
                    comms.append(self.b.read(f"proc/{pid}/comm").strip())
                except FileNotFoundError:
                    pass
        cpus = list(range(self.cpus))
        assert sorted(c for c in comms if c.startswith("ksoftirqd/")) == \
            sorted(f"ksoftirqd/{c}" for c in cpus)
        backlog = sorted(c for c in comms if c.startswith("napi/backlog-"))
        napi_boot = sorted(c for c in comms if c.startswith("backlog_napi/"))
        if self.mode == "seed002":
            assert napi_boot == sorted(f"backlog_napi/{c}" for c in cpus) and not backlog
        else:
            want = sorted(f"napi/backlog-{c}" for c in cpus) if self.backlog_threads else []
            assert backlog == want and not napi_boot, (backlog, want)
        for dev in list(self.devs) + [d for d in EXTRA_DEVS if d not in self.devs]:
            got = sorted(c for c in comms if c.startswith(f"napi/{dev}-"))
            want = sorted(f"napi/{dev}-{q}" for q in range(self.devs[dev])) \
                if self.dev_threaded.get(dev) and dev in self.devs else []
            assert got == want, (dev, got, want)
        users = [c for c in comms if c.startswith("hog")]
        assert sorted(users) == sorted(self.hogs)

    @invariant()
    def engine_state(self):
        m = self.b.m if self.b is not None else None
        if m is None:
            return
        m.check_conservation()
        assert m.stats.stalls_detected == 0, [msg for _, msg in m.dmesg[-3:]]
        assert m.stats.delivered_after_unregister <= self.hazard, \
            (m.stats.delivered_after_unregister, self.hazard)
        for c in m.cpus:
            sd = m.softnet[c.id]
            if not c.online:
                assert c.id in self.offline
                if not self.offline_threaded.get(c.id):
                    assert sd.qlen() == 0 and not sd.poll_list, (c.id, sd.qlen())
        live = {d.name for d in m.netdevs.values()}
        for t in m.tasks.values():
            if t.state != DEAD and t.comm.startswith("napi/") and "backlog" not in t.comm:
                assert t.comm[5:].rsplit("-", 1)[0] in live, t.comm


def _run(machine_cls, examples: int, steps: int, label: str) -> None:
    machine_cls.steps_run = 0
    machine_cls.sequences = 0
    machine_cls.outcomes = {}
    t0 = time.perf_counter()
    run_state_machine_as_test(machine_cls, settings=_settings(examples, steps))
    record(SECTION, f"{label}: sequences", machine_cls.sequences)
    record(SECTION, f"{label}: steps (file operations)", machine_cls.steps_run)
    record(SECTION, f"{label}: settings", f"max_examples={examples}, stateful_step_count={steps}")
    record(SECTION, f"{label}: wall time (s)", round(time.perf_counter() - t0, 1))
    record(SECTION, f"{label}: invariant violations", 0)
    refused = sum(v for k, v in machine_cls.outcomes.items() if k.endswith(" err"))
    record(SECTION, f"{label}: expected refusals (EOPNOTSUPP/EINVAL/ETIMEDOUT)", refused)


def test_stateful_kernelfs():
    _run(ReceiveMachine, pick(100, 1000), pick(50, 200), "KernelFS")


class MountMachine(ReceiveMachine):
    backend_cls = MountBackend


def test_stateful_through_a_mount(fuse_env):
    _run(MountMachine, pick(15, 100), pick(25, 50), "mount")


class AsWrittenMachine(ReceiveMachine):
    """The same rules on seed 000 "as-written" (docs/modes.md 3 (b)): a known stranding."""

    @initialize(cpus=st.integers(2, 4), seed=st.integers(0, 3))
    def boot(self, cpus, seed):
        ReceiveMachine.boot(self, "seed000", cpus, seed)
        for path, text in (("procnet/model/felix_variant", "as-written"),
                           ("sys/class/net/eth0/queues/rx-0/rps_cpus", f"{(1 << cpus) - 1:x}"),
                           ("procnet/traffic/ctl", "add t0 dev=eth0 flows=16 pps=100000")):
            assert self.b.write(path, text + "\n")[0] == "ok"
        self.traffic["t0"] = "eth0"


def test_the_invariants_catch_a_known_stranding():
    """A check of the check: with felix_variant=as-written, RPS over all CPUs and traffic from
    the start, the rules strand a backlog and the stall invariant fails."""
    t0 = time.perf_counter()
    try:
        run_state_machine_as_test(AsWrittenMachine, settings=_settings(100, 50))
    except AssertionError as e:
        assert "backlog stall" in str(e), e      # the stall invariant, with procnet/dmesg
        record(SECTION, "as-written stranding found by the invariants after (s)",
               round(time.perf_counter() - t0, 1))
        return
    raise AssertionError("the invariants did not catch seed 000 as-written stranding a backlog")
