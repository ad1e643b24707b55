"""The file table: every file procnet serves, one declarative entry each (like ctl_table).

An `Entry` names its path pattern, mode, how it is shown and stored, and the kernel code it
mirrors. Patterns contain placeholders that expand against the running machine:

    <pid>   a live task's pid          -> ctx.task
    <dev>   a registered net device    -> ctx.dev
    <rxq>   "rx-N" of that device      -> ctx.rxq
    <cpu>   "cpuN" of a possible CPU   -> ctx.cpu

Listing, stat, read and write are all derived from `TABLE` (see `KernelFS`), and docs/files.md is
generated from it (`python -m procnet.kernelfs.docgen`). Nothing else in procnet lists paths.

show(ctx) returns the file's whole text. store(ctx, data, offset) handles one write() call and
returns the byte count it reports, or raises OSError(errno, message). read_call(ctx, pos, size),
where set, answers one read() call by itself, as proc_sys_read() does for /proc/sys files: the
text is rendered on every call, only a read at position 0 returns data, and it is cut to the
caller's buffer. Files without it are seq_file/sysfs-like: one snapshot per open.
"""
from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import Callable

from procnet.engine.config import (NSEC_PER_SEC, CostModel, NetDeviceConfig, TaskConfig,
                                   TrafficConfig, UdpRRConfig, spread_irqs)

from . import render
from .control import (MAX_DIGITS, ControlError, parse_command, parse_cpulist,
                      parse_duration_ns, parse_kv)
from .cpumask import CpumaskParseError, bitmap_list_string, bitmap_parse, bitmap_string
from .jsontext import dumps_indent1
from .proc_handlers import (PAGE_SIZE, SYSCTL_SPECS, KernelParams, SysctlWriteError,
                            kstrtoul, sysctl_show, sysctl_write)


@dataclass
class Ctx:
    """What a handler sees: the runtime, its machine, and the placeholders' bindings."""

    rt: object
    task: object = None
    dev: object = None
    rxq: object = None
    cpu: object = None

    @property
    def m(self):
        return self.rt.machine


@dataclass(frozen=True)
class Entry:
    path: str
    mode: int
    show: Callable[[Ctx], str] | None
    store: Callable[[Ctx, bytes, int], int] | None
    kernel: str
    doc: str
    when: Callable[[Ctx], bool] | None = None     # entry exists only where this holds
    own_lock: bool = False     # store() takes the runtime lock itself (mutex first, or slices)
    read_call: Callable[[Ctx, int, int], bytes] | None = None   # per-read() files (sysctls)


# ---------------------------------------------------------------------------- sysctl files
def _params(ctx: Ctx) -> KernelParams:
    m = ctx.m
    return KernelParams(hz=m.cfg.hz, nr_cpu_ids=m.cfg.cpus)


def _sysctl_show(name: str) -> Callable[[Ctx], str]:
    def show(ctx: Ctx) -> str:
        value = ctx.m.get_sysctl(name)
        if SYSCTL_SPECS[name].ctype == "cpumask":
            return bitmap_string(value, ctx.m.cfg.cpus) + "\n"
        return f"{value}\n"
    return show


def _sysctl_read_call(name: str) -> Callable[[Ctx, int, int], bytes]:
    """proc_sys_read() -> proc_dointvec / dump_cpumask for one read() call."""
    def read_call(ctx: Ctx, pos: int, size: int) -> bytes:
        return sysctl_show(name, ctx.m.get_sysctl(name), pos, size, _params(ctx))
    return read_call


def _sysctl_store(name: str) -> Callable[[Ctx, bytes, int], int]:
    def store(ctx: Ctx, data: bytes, offset: int) -> int:
        m = ctx.m
        try:
            res = sysctl_write(name, data, offset, m.get_sysctl(name), _params(ctx))
        except SysctlWriteError as e:
            if e.value_after is not None:      # rps_default_mask keeps what it parsed
                m.set_sysctl(name, e.value_after)
            raise OSError(e.errno, e.strerror) from None
        if res.value is not None:
            try:
                m.set_sysctl(name, res.value)
            except ValueError as e:
                raise OSError(errno.EINVAL, str(e)) from None
        return res.count
    return store


def _backlog_threaded_store(ctx: Ctx, data: bytes, offset: int) -> int:
    """backlog_threaded_sysctl(): one mutex around "parse, then switch"; read back = real mode."""
    rt = ctx.rt
    with rt.backlog_threaded_mutex, rt.access():
        m = rt.machine
        res = sysctl_write("backlog_threaded", data, offset, int(m.backlog_threaded),
                           _params(ctx))
        if res.value is not None:
            m.set_sysctl("backlog_threaded", res.value)
        return res.count


def _sysctl_entries() -> list[Entry]:
    out = []
    for name, spec in SYSCTL_SPECS.items():
        store = _backlog_threaded_store if name == "backlog_threaded" else _sysctl_store(name)
        origin = ("seed 000 patch, net/core/sysctl_net_core.c" if not spec.mainline
                  else "net/core/sysctl_net_core.c")
        doc = f"net.core.{name} ({spec.ctype}, default {spec.default})."
        if spec.note:
            doc += f" {spec.note}."
        out.append(Entry(f"proc/sys/net/core/{name}", spec.mode, _sysctl_show(name), store,
                         f"{spec.handler} ({origin})", doc,
                         own_lock=name == "backlog_threaded",
                         read_call=_sysctl_read_call(name)))
    return out


# ---------------------------------------------------------------------------- sysfs
def _kernfs_store(store: Callable[[Ctx, bytes], None]) -> Callable[[Ctx, bytes, int], int]:
    """kernfs_fop_write_iter() -> sysfs_kf_write() around a device attribute's ->store().

    kernfs copies at most PAGE_SIZE bytes (longer writes are cut there and write() reports
    4096), ignores the file position, and ->store() sees every write() on its own.
    """
    def write(ctx: Ctx, data: bytes, offset: int) -> int:
        data = data[:PAGE_SIZE]
        if data:                     # sysfs_kf_write(): a zero-length write never reaches it
            store(ctx, data)
        return len(data)
    write.__doc__ = store.__doc__
    return write


def _rps_cpus_store(ctx: Ctx, data: bytes) -> None:
    """store_rps_map(): bitmap_parse, housekeeping AND (all CPUs here), set the map."""
    nbits = ctx.m.cfg.cpus
    try:
        mask = bitmap_parse(data, nbits)
    except CpumaskParseError as e:
        raise OSError(e.errno, e.strerror) from None
    ctx.m.set_rps_cpus(ctx.dev.name, ctx.rxq.index, mask)


def _rps_flow_cnt_store(ctx: Ctx, data: bytes) -> None:
    """store_rps_dev_flow_table_cnt(): kstrtoul base 0, rounded up to a power of two."""
    count = kstrtoul(data, 0)
    if count:
        mask = (1 << (count - 1).bit_length()) - 1
        if mask > 0xFFFFFFFF:
            raise OSError(errno.EINVAL, f"rps_flow_cnt too large (got {count})")
        count = mask + 1
    ctx.rxq.rps_flow_cnt = count


def _threaded_show(ctx: Ctx) -> str:
    """threaded_show(): the device's threaded flag (0 for lo, which has no NAPI)."""
    return f"{int(getattr(ctx.dev, 'threaded', 0) or 0)}\n"


def _threaded_store(ctx: Ctx, data: bytes) -> None:
    """threaded_store() -> modify_napi_threaded(): kstrtoul, then EOPNOTSUPP without NAPI
    (lo) or for a value other than 0 or 1."""
    val = kstrtoul(data, 0)
    if ctx.dev.loopback or val not in (0, 1):
        raise OSError(errno.EOPNOTSUPP, f"threaded must be 0 or 1 on a NAPI device (got {val})")
    ctx.m.dev_set_threaded(ctx.dev.name, bool(val))


def _kstrtobool(data: bytes) -> bool:
    """lib/kstrtox.c kstrtobool(): the first character decides (y Y t T 1 / n N f F 0), or
    "o"/"O" followed by n/N (on) or f/F (off); anything else is EINVAL."""
    c0, c1 = data[:1], data[1:2].lower()
    if c0 in (b"y", b"Y", b"t", b"T", b"1"):
        return True
    if c0 in (b"n", b"N", b"f", b"F", b"0"):
        return False
    if c0 in (b"o", b"O") and c1 in (b"n", b"f"):
        return c1 == b"n"
    raise OSError(errno.EINVAL, f"expected 0 or 1 (got {data[:20]!r})")


def _cpu_online_store(ctx: Ctx, data: bytes) -> None:
    """online_store() -> device_online()/device_offline() -> cpu_up()/cpu_down()."""
    up = _kstrtobool(data)
    if up:
        ctx.m.cpu_up(ctx.cpu.id)
    else:
        ctx.m.cpu_down(ctx.cpu.id)


def _cpumask_list(ctx: Ctx, which: str) -> str:
    m = ctx.m
    if which == "online":
        mask = sum(1 << c for c in m.online_cpus())
    elif which == "offline":
        mask = sum(1 << c.id for c in m.cpus if not c.online)
    else:
        mask = (1 << m.cfg.cpus) - 1
    return bitmap_list_string(mask, m.cfg.cpus) + "\n"


# ---------------------------------------------------------------------------- procnet/
def _clock_mode_store(ctx: Ctx, data: bytes, offset: int) -> int:
    mode = data.decode("ascii", "replace").strip()
    try:
        ctx.rt.set_clock_mode(mode)
    except ValueError as e:
        raise ControlError(f"clock/mode: {e}") from None
    return len(data)


def _clock_speed_store(ctx: Ctx, data: bytes, offset: int) -> int:
    text = data.decode("ascii", "replace").strip()
    try:
        speed = float(text)
    except ValueError:
        raise ControlError(f"clock/speed must be a number > 0 (got {text!r})") from None
    try:
        ctx.rt.set_speed(speed)
    except ValueError as e:
        raise ControlError(f"clock/speed: {e}") from None
    return len(data)


ADVANCE_MAX_NS = 3600 * NSEC_PER_SEC     # one write simulates at most an hour


def _clock_advance_store(ctx: Ctx, data: bytes, offset: int) -> int:
    """Refuses more than ADVANCE_MAX_NS per write: the FUSE loop serves one request at a time,
    so "99999999999999999999" would otherwise hold the mount for centuries."""
    ns = parse_duration_ns(data.decode("ascii", "replace"), "clock/advance")
    if ns > ADVANCE_MAX_NS:
        raise ControlError(f"clock/advance must be at most {ADVANCE_MAX_NS // NSEC_PER_SEC}s "
                           f"per write (got {ns} ns)")
    ctx.rt.advance(ns)
    return len(data)


_TRAFFIC_KEYS = {"dev": str, "flows": int, "pps": int, "size": int, "pattern": str,
                 "seed": int, "on": "duration", "off": "duration"}
MAX_FLOWS = 1 << 16          # one source; each flow is an object (~0.2 s per 65536 to create,
                             # while the single FUSE loop waits): more flows = more sources
MAX_RX_QUEUES = 4096         # rtnl_create_link(): "Invalid number of receive queues"
IFNAMSIZ = 16


def _traffic_show(ctx: Ctx) -> str:
    lines = []
    for name, src in ctx.m.traffic.items():
        c = src.cfg
        onoff = (f" on={_fmt_duration(c.on_ns)} off={_fmt_duration(c.off_ns)}"
                 if c.pattern == "onoff" else "")
        lines.append(f"{name} dev={c.dev} flows={c.flows} pps={c.pps} pattern={c.pattern}"
                     f"{onoff} size={c.size} seed={c.seed}\n")
    return "".join(lines)


def _fmt_duration(ns: int) -> str:
    for unit, scale in (("s", 1_000_000_000), ("ms", 1_000_000), ("us", 1_000)):
        if ns and ns % scale == 0:
            return f"{ns // scale}{unit}"
    return str(ns)


def _run_commands(ctx: Ctx, data: bytes, what: str, parse_line) -> int:
    """A control file's write: every line is parsed and checked first (a syntax error anywhere
    applies nothing), then the lines are applied in order under the runtime lock. A line the
    engine refuses (a duplicate name, an unknown device) stops there with EINVAL; the lines
    before it stay applied, as with `ip -batch`."""
    actions = [parse_line(ctx, words) for words in parse_command(data, what)]
    for action in actions:
        try:
            action()
        except ControlError:
            raise
        except OSError as e:
            raise ControlError(f"{what}: {e.strerror or e}", e.errno or errno.EINVAL) from None
        except (ValueError, KeyError, LookupError, TypeError) as e:
            raise ControlError(f"{what}: {e.args[0] if e.args else e}") from None
    return len(data)


def _traffic_line(ctx: Ctx, words: list[str]):
    m = ctx.m
    op, rest = words[0], words[1:]
    if op == "add" and rest:
        kv = parse_kv(rest[1:], _TRAFFIC_KEYS, "traffic/ctl")
        if kv.get("flows", 1) > MAX_FLOWS:
            raise ControlError(f"traffic/ctl: flows must be <= {MAX_FLOWS} (got {kv['flows']})")
        for k_from, k_to in (("on", "on_ns"), ("off", "off_ns")):
            if k_from in kv:
                kv[k_to] = kv.pop(k_from)
        try:
            cfg = TrafficConfig(rest[0], **kv)
        except (ValueError, TypeError) as e:
            raise ControlError(f"traffic/ctl: {e}") from None
        return lambda: m.add_traffic(cfg)
    if op == "del" and len(rest) == 1:
        return lambda: m.del_traffic(rest[0])
    raise ControlError("traffic/ctl: expected 'add NAME key=value...' or 'del NAME' "
                       f"(got {' '.join(words)!r})")


def _traffic_store(ctx: Ctx, data: bytes, offset: int) -> int:
    return _run_commands(ctx, data, "traffic/ctl", _traffic_line)


def _tasks_show(ctx: Ctx) -> str:
    m = ctx.m
    lines = []
    for name, t in m.user_tasks.items():
        lines.append(f"{name} pid={t.pid} cpus={bitmap_list_string(sum(1 << c for c in t.allowed), m.cfg.cpus)} "
                     f"policy={t.policy}\n")
    for name, p in m.udp_rr.items():
        lines.append(f"{name} udp_rr client={p.client.pid} server={p.server.pid} "
                     f"transactions={p.transactions}\n")
    return "".join(lines)


def _tasks_line(ctx: Ctx, words: list[str]):
    m = ctx.m
    n = m.cfg.cpus
    op, rest = words[0], words[1:]
    if op == "add" and rest:
        kv = parse_kv(rest[1:], {"cpus": str, "util": int, "period": "duration",
                                 "policy": str}, "tasks/ctl")
        cpus = parse_cpulist(kv["cpus"], n, "tasks/ctl: cpus") if "cpus" in kv else None
        policy = kv.get("policy", "other")
        if kv.get("period", 1000) < 1000:
            raise ControlError(f"tasks/ctl: period must be >= 1us (got {kv['period']} ns)")
        if policy not in ("other", "fifo"):
            raise ControlError(f"tasks/ctl: policy must be other or fifo (got {policy!r})")
        try:
            cfg = TaskConfig(rest[0], cpus=cpus, util=kv.get("util", 100),
                             period_ns=kv.get("period", 10_000_000))
        except (ValueError, TypeError) as e:
            raise ControlError(f"tasks/ctl: {e}") from None
        return lambda: m.add_task(cfg, policy=policy)
    if op == "rr" and rest:
        kv = parse_kv(rest[1:], {"client": str, "server": str}, "tasks/ctl")
        cfg = UdpRRConfig(
            rest[0],
            client_cpus=parse_cpulist(kv["client"], n, "tasks/ctl: client") if "client" in kv else None,
            server_cpus=parse_cpulist(kv["server"], n, "tasks/ctl: server") if "server" in kv else None)
        return lambda: m.add_udp_rr(cfg)
    if op == "del" and len(rest) == 1:
        return lambda: m.del_task(rest[0])
    if op == "affinity" and len(rest) == 2:
        if not rest[0].isdigit() or len(rest[0]) > MAX_DIGITS:
            raise ControlError(f"tasks/ctl: affinity needs a pid (got {rest[0]!r})")
        pid, cpus = int(rest[0]), parse_cpulist(rest[1], n, "tasks/ctl: affinity")
        return lambda: m.set_affinity(pid, cpus)
    raise ControlError("tasks/ctl: expected 'add NAME [cpus=LIST util=PCT "
                       "period=DUR policy=other|fifo]', 'rr NAME [client=LIST "
                       "server=LIST]', 'del NAME' or 'affinity PID LIST' "
                       f"(got {' '.join(words)!r})")


def _tasks_store(ctx: Ctx, data: bytes, offset: int) -> int:
    return _run_commands(ctx, data, "tasks/ctl", _tasks_line)


def _net_show(ctx: Ctx) -> str:
    out = []
    for d in ctx.m.netdevs.values():
        c = d.cfg
        irqs = ",".join(str(q.irq_cpu) for q in d.rxqs if q.irq_cpu is not None) or "-"
        out.append(f"{d.name} ifindex={d.ifindex} rxqueues={len(d.rxqs)} irq={irqs} "
                   f"driver={'loopback' if d.loopback else c.driver} ring={c.ring_size}\n")
    return "".join(out)


def _net_line(ctx: Ctx, words: list[str]):
    m = ctx.m
    op, rest = words[0], words[1:]
    if op == "add" and rest:
        if not _dev_valid_name(rest[0]):
            raise ControlError(f"net/ctl: {rest[0]!r} is not a valid device name (1-15 "
                               "characters, no '/', ':', blanks or NUL, not '.' or '..')")
        kv = parse_kv(rest[1:], {"rxqueues": int, "irq": str, "driver": str, "ring": int,
                                 "rx_usecs": int}, "net/ctl")
        if kv.get("rxqueues", 1) > MAX_RX_QUEUES:
            raise ControlError(f"net/ctl: rxqueues must be <= {MAX_RX_QUEUES} "
                               f"(got {kv['rxqueues']})")
        irq = (parse_cpulist(kv["irq"], m.cfg.cpus, "net/ctl: irq") if "irq" in kv
               else spread_irqs(kv.get("rxqueues", 1), m.cfg.cpus))
        try:
            cfg = NetDeviceConfig(rest[0], rx_queues=kv.get("rxqueues", 1), irq_cpus=irq,
                                  driver=kv.get("driver", "napi"),
                                  ring_size=kv.get("ring", 1024), rx_usecs=kv.get("rx_usecs", 8))
        except (ValueError, TypeError) as e:
            raise ControlError(f"net/ctl: {e}") from None
        return lambda: m.add_netdev(cfg)
    if op == "del" and len(rest) == 1:
        def unregister() -> None:
            res = m.unregister_netdev(rest[0])
            if res.error:
                raise ControlError(f"net/ctl: {res.error}", errno.ETIMEDOUT)
        return unregister
    raise ControlError("net/ctl: expected 'add DEV [rxqueues=N irq=LIST "
                       "driver=napi|netif_rx ring=N rx_usecs=N]' or 'del DEV' "
                       f"(got {' '.join(words)!r})")


def _dev_valid_name(name: str) -> bool:
    """net/core/dev.c dev_valid_name(); NUL is refused too (the name is a path component)."""
    if not name or len(name) >= IFNAMSIZ or name in (".", ".."):
        return False
    return not any(c in "/:\0" or c.isspace() for c in name)


def _net_store(ctx: Ctx, data: bytes, offset: int) -> int:
    return _run_commands(ctx, data, "net/ctl", _net_line)


def _model_show(name: str) -> Callable[[Ctx], str]:
    def show(ctx: Ctx) -> str:
        m = ctx.m
        if name == "felix_variant":
            return m.felix_variant + "\n"
        if name == "backlog_local_shortcut":
            return f"{int(m.backlog_local_shortcut)}\n"
        return f"{getattr(m.cost, name)}\n"
    return show


def _model_store(name: str) -> Callable[[Ctx, bytes, int], int]:
    def store(ctx: Ctx, data: bytes, offset: int) -> int:
        text = data.decode("ascii", "replace").strip()
        try:
            if name == "felix_variant":
                ctx.m.set_model(name, text)
            else:
                ctx.m.set_model(name, _control_number(data, f"model/{name}"))
        except (ValueError, KeyError) as e:
            raise ControlError(f"model/{name}: {e.args[0] if e.args else e}") from None
        return len(data)
    return store


def _model_entries() -> list[Entry]:
    out = [Entry(f"procnet/model/{f}", 0o644, _model_show(f), _model_store(f),
                 "procnet cost model", f"Virtual cost in ns ({f}), 0 to 1000000000 (1 s); "
                 "see docs/model.md.")
           for f in CostModel.field_names()]
    out.append(Entry("procnet/model/felix_variant", 0o644, _model_show("felix_variant"),
                     _model_store("felix_variant"), "seed 000 napi_schedule_rps",
                     "'intended' wakes a remote threaded target's thread; 'as-written' "
                     "schedules this CPU's backlog as the patch does on >= 6.0 trees."))
    out.append(Entry("procnet/model/backlog_local_shortcut", 0o644,
                     _model_show("backlog_local_shortcut"), _model_store("backlog_local_shortcut"),
                     "seed 002 ____napi_schedule",
                     "1: mainline's local-CPU shortcut to softirq; 0: the August 2023 RFC "
                     "(always threaded). Only matters with thread_backlog_napi."))
    out.append(Entry("procnet/model/seed", 0o444, lambda ctx: f"{ctx.m.cfg.seed}\n", None,
                     "procnet", "The machine's random seed (set at mount time with --seed)."))
    return out


def _control_number(data: bytes, what: str) -> int:
    """An unsigned integer for a procnet/ file (kstrtoul syntax), EINVAL naming the file."""
    try:
        return kstrtoul(data, 0)
    except OSError:
        text = data.decode("ascii", "replace").strip()
        raise ControlError(f"{what} must be an integer >= 0 (got {text!r})") from None


def _kthread_fail_store(ctx: Ctx, data: bytes, offset: int) -> int:
    n = _control_number(data, "faults/kthread_run")
    ctx.m.kthread_fail_at = n or None
    return len(data)


def _stats_show(ctx: Ctx) -> str:
    return dumps_indent1(ctx.m.summary()) + "\n"     # = json.dumps(..., indent=1), faster


def _dmesg_show(ctx: Ctx) -> str:
    return "".join(f"[{t // NSEC_PER_SEC:5d}.{t % NSEC_PER_SEC // 1000:06d}] {msg}\n"
                   for t, msg in ctx.m.dmesg)


def _pid_comm_store(ctx: Ctx, data: bytes, offset: int) -> int:
    """comm_write(): only a thread of the task's own thread group may rename it; any other
    writer gets EINVAL. The writer (a shell, a test) is never an emulated task, so every write
    fails here exactly as `echo x > /proc/<other pid>/comm` fails on Linux."""
    raise OSError(errno.EINVAL, f"comm of pid {ctx.task.pid} can only be set by the task itself")


def _not_cpu0(ctx: Ctx) -> bool:
    return ctx.cpu.id != 0      # x86: cpu0 has no online file without BOOTPARAM_HOTPLUG_CPU0


TABLE: list[Entry] = [
    Entry("backlog_threaded", 0o644, _sysctl_show("backlog_threaded"), _backlog_threaded_store,
          "backlog_threaded_sysctl (seed 000)",
          "The card's headline knob: the same file as proc/sys/net/core/backlog_threaded.",
          own_lock=True, read_call=_sysctl_read_call("backlog_threaded")),
    *_sysctl_entries(),
    Entry("proc/net/softnet_stat", 0o444, lambda c: render.softnet_seq_show(c.m), None,
          "softnet_seq_show (net/core/net-procfs.c)",
          "15 columns of %08x per online CPU: processed dropped time_squeeze 0 0 0 0 0 0 "
          "received_rps flow_limit_count backlog_len cpu input_qlen process_qlen."),
    Entry("proc/stat", 0o444, lambda c: render.proc_stat_show(c.m, int(c.rt.boot_wall)), None,
          "show_stat (fs/proc/stat.c)", "CPU time split in USER_HZ ticks, intr, ctxt, softirq."),
    Entry("proc/softirqs", 0o444, lambda c: render.softirqs_show(c.m), None,
          "show_softirqs (fs/proc/softirqs.c)", "Softirq counts per possible CPU (NET_RX)."),
    Entry("proc/interrupts", 0o444, lambda c: render.interrupts_show(c.m), None,
          "show_interrupts (kernel/irq/proc.c), arch_show_interrupts (arch/x86)",
          "NIC queue IRQs per online CPU; RPS IPIs in the CAL row, wake-up IPIs in RES."),
    Entry("proc/cmdline", 0o444, lambda c: render.cmdline_show(c.m), None,
          "cmdline_proc_show (fs/proc/cmdline.c)",
          "The boot command line given with --cmdline (e.g. thread_backlog_napi)."),
    Entry("proc/<pid>/comm", 0o644, lambda c: render.proc_pid_comm(c.task), _pid_comm_store,
          "comm_show/comm_write (fs/proc/base.c)",
          "The task's name. Writes fail with EINVAL, as on Linux for a writer outside the "
          "task's thread group."),
    Entry("proc/<pid>/stat", 0o444, lambda c: render.proc_pid_stat(c.m, c.task), None,
          "do_task_stat (fs/proc/array.c)", "52 fields; field 39 is the CPU it last ran on."),
    Entry("proc/<pid>/status", 0o444, lambda c: render.proc_pid_status(c.m, c.task), None,
          "proc_pid_status (fs/proc/array.c)", "State, affinity, context switches."),
    Entry("sys/class/net/<dev>/threaded", 0o644, _threaded_show, _kernfs_store(_threaded_store),
          "threaded_show/threaded_store (net/core/net-sysfs.c)",
          "Per-device threaded NAPI (napi/<dev>-<q> threads). Backlog NAPIs are unaffected."),
    Entry("sys/class/net/<dev>/queues/<rxq>/rps_cpus", 0o644,
          lambda c: bitmap_string(c.rxq.rps_mask, c.m.cfg.cpus) + "\n",
          _kernfs_store(_rps_cpus_store),
          "show_rps_map/store_rps_map (net/core/net-sysfs.c)",
          "RPS CPUs of this rx queue; the map is (written mask AND online CPUs) at write time."),
    Entry("sys/class/net/<dev>/queues/<rxq>/rps_flow_cnt", 0o644,
          lambda c: f"{c.rxq.rps_flow_cnt}\n", _kernfs_store(_rps_flow_cnt_store),
          "show/store_rps_dev_flow_table_cnt (net/core/net-sysfs.c)",
          "RFS flow table size (rounded up to a power of two). Stored; RFS does not steer."),
    Entry("sys/devices/system/cpu/online", 0o444, lambda c: _cpumask_list(c, "online"), None,
          "print_cpus_online (drivers/base/cpu.c)", "Online CPUs as a list (0-3)."),
    Entry("sys/devices/system/cpu/offline", 0o444, lambda c: _cpumask_list(c, "offline"), None,
          "print_cpus_offline (drivers/base/cpu.c)", "Offline CPUs as a list (may be empty)."),
    Entry("sys/devices/system/cpu/possible", 0o444, lambda c: _cpumask_list(c, "possible"), None,
          "print_cpus_possible (drivers/base/cpu.c)", "Possible CPUs (--cpus)."),
    Entry("sys/devices/system/cpu/present", 0o444, lambda c: _cpumask_list(c, "possible"), None,
          "print_cpus_present (drivers/base/cpu.c)", "Present CPUs (= possible)."),
    Entry("sys/devices/system/cpu/<cpu>/online", 0o644, lambda c: f"{int(c.cpu.online)}\n",
          _kernfs_store(_cpu_online_store), "online_show/online_store (drivers/base/core.c)",
          "echo 0 to take the CPU offline (dev_cpu_dead runs), echo 1 to bring it back. "
          "cpu0 has none, as on x86.", when=_not_cpu0),
    Entry("procnet/clock/now", 0o444, lambda c: f"{c.m.now_ns}\n", None, "procnet",
          "Virtual time in ns."),
    Entry("procnet/clock/mode", 0o644, lambda c: c.rt.clock_mode + "\n", _clock_mode_store,
          "procnet", "'realtime' (virtual time follows wall time x speed) or 'manual'."),
    Entry("procnet/clock/speed", 0o644, lambda c: f"{c.rt.speed:g}\n", _clock_speed_store,
          "procnet", "Realtime speed factor (virtual seconds per wall second)."),
    Entry("procnet/clock/lag_ns", 0o444, lambda c: f"{c.rt.lag_ns}\n", None, "procnet",
          "How far realtime mode is behind wall time x speed (the engine cannot keep up)."),
    Entry("procnet/clock/advance", 0o200, None, _clock_advance_store, "procnet",
          "Write a duration (250ms, 2s, 100us, or ns): returns once it has been simulated. "
          "The mount answers nothing else meanwhile (one request at a time), so advance long "
          "runs in steps if other clients read; stopping the mount interrupts it (EINTR). "
          "At most 3600s per write (EINVAL).",
          own_lock=True),
    Entry("procnet/traffic/ctl", 0o644, _traffic_show, _traffic_store, "procnet",
          "'add NAME dev=eth0 flows=2 pps=1000000 [pattern=constant|poisson|onoff on=1ms "
          "off=1ms size=64 seed=0]' or 'del NAME'. Read: current sources. Numbers are "
          "integers in 0..2^64-1 (1e6 and 1.5 allowed); flows <= 65536; on/off <= 3600s."),
    Entry("procnet/tasks/ctl", 0o644, _tasks_show, _tasks_store, "procnet",
          "'add NAME [cpus=0-1 util=100 period=10ms policy=other|fifo]', 'rr NAME "
          "[client=LIST server=LIST]' (UDP_RR over lo), 'del NAME', 'affinity PID LIST'. "
          "period in 1us..3600s."),
    Entry("procnet/net/ctl", 0o644, _net_show, _net_store, "procnet",
          "'add DEV [rxqueues=N irq=LIST driver=napi|netif_rx ring=N rx_usecs=N]' or 'del DEV' "
          "(unregister_netdevice; ETIMEDOUT if seed 000's flush wait had to be cut off). "
          "DEV as dev_valid_name() wants it (1-15 characters, no '/', ':' or blanks, not "
          "'.'/'..'); rxqueues <= 4096 (rtnl_create_link). Without irq=, queue i's IRQ is on "
          "CPU i mod ncpus (cpumask_local_spread() hints), as with --dev."),
    *_model_entries(),
    Entry("procnet/faults/kthread_run", 0o644, lambda c: f"{c.m.kthread_fail_at or 0}\n",
          _kthread_fail_store, "procnet",
          "N > 0: the Nth kthread_run() of backlog_set_threaded fails with -ENOMEM. 0: off."),
    Entry("procnet/stats.json", 0o444, _stats_show, None, "procnet",
          "JSON snapshot: offered, delivered, dropped{reason}, queued, latency_us, ipis, "
          "wakeups, context_switches, migrations, per_cpu, stalls; see docs/files.md."),
    Entry("procnet/dmesg", 0o444, _dmesg_show, None, "printk",
          "Kernel-style log with virtual timestamps: kthread_run failures, flush_backlog "
          "hangs, backlog stalls, affinity breaks."),
]
