"""Machine options: build a MachineConfig from CLI flags and/or a TOML config file.

Shared by `procnet mount`, `procnet run` and `procnet demo`, so one set of options means one
machine everywhere. Errors are ValueError with a message naming the offending key.

Config file (TOML), every key optional:

    cpus = 8
    seed = 7
    hz = 250
    cmdline = "thread_backlog_napi"
    preempt_rt = false
    clock = "manual"          # or "realtime"
    speed = 1.0
    [[devices]]               # replaces the default eth0 (lo is always there)
    name = "eth0"
    rxqueues = 4
    irq = "0-3"
    driver = "napi"           # or "netif_rx"
    ring = 1024
    rx_usecs = 8
    [[traffic]]
    name = "t1"
    dev = "eth0"
    flows = 2
    pps = 1000000
    pattern = "poisson"
    [[tasks]]
    name = "hog"
    cpus = "1"
    util = 100
    [model]
    protocol_ns = 1200
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields, replace

from procnet.engine.config import (CostModel, MachineConfig, NetDeviceConfig, TaskConfig,
                                   TrafficConfig, spread_irqs)
from procnet.engine.machine import Machine
from procnet.kernelfs.control import ControlError, parse_cpulist, parse_duration_ns

CMDLINE_BASE = "BOOT_IMAGE=/boot/vmlinuz-procnet root=/dev/procnet ro"


@dataclass(frozen=True)
class Options:
    machine: MachineConfig
    clock: str = "realtime"
    speed: float = 1.0


def parse_dev(spec: str, ncpus: int) -> NetDeviceConfig:
    """'eth1:rxqueues=4,irq=0-3,driver=napi,ring=512,rx_usecs=8' -> NetDeviceConfig."""
    name, _, rest = spec.partition(":")
    if not name:
        raise ValueError(f"--dev needs a name, e.g. eth1:rxqueues=4 (got {spec!r})")
    kv = dict(item.split("=", 1) for item in rest.split(",") if "=" in item) if rest else {}
    bad = [item for item in rest.split(",") if item and "=" not in item] if rest else []
    if bad:
        raise ValueError(f"--dev {name}: expected key=value (got {bad[0]!r})")
    return _dev_from_dict(name, kv, ncpus, f"--dev {name}")


def _int(value, what: str, minimum: int | None = None) -> int:
    """An integer option (a TOML int, or the text of one); ValueError naming the option."""
    got = value
    if isinstance(value, str):
        try:
            value = int(value.strip(), 0)
        except ValueError:
            pass
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{what} must be an integer (got {got!r})")
    if minimum is not None and value < minimum:
        raise ValueError(f"{what} must be >= {minimum} (got {value})")
    return value


def _dev_from_dict(name: str, kv: dict, ncpus: int, what: str) -> NetDeviceConfig:
    allowed = {"rxqueues", "irq", "driver", "ring", "rx_usecs", "name"}
    for k in kv:
        if k not in allowed:
            raise ValueError(f"{what}: unknown key {k!r} (expected {', '.join(sorted(allowed - {'name'}))})")
    try:
        rxq = _int(kv.get("rxqueues", 1), f"{what}: rxqueues", 1)
        irq = (parse_cpulist(str(kv["irq"]), ncpus, f"{what}: irq") if "irq" in kv
               else spread_irqs(rxq, ncpus))
        return NetDeviceConfig(name, rx_queues=rxq, irq_cpus=irq,
                               driver=str(kv.get("driver", "napi")),
                               ring_size=_int(kv.get("ring", 1024), f"{what}: ring", 1),
                               rx_usecs=_int(kv.get("rx_usecs", 8), f"{what}: rx_usecs", 0))
    except ControlError as e:
        raise ValueError(e.strerror) from None
    except (TypeError, ValueError) as e:
        msg = str(e)
        raise ValueError(msg if msg.startswith(what) else f"{what}: {msg}") from None


def build_options(*, cpus: int | None = None, seed: int | None = None,
                  cmdline: str | None = None, preempt_rt: bool | None = None,
                  devs: tuple[str, ...] = (), clock: str | None = None,
                  speed: float | None = None, config_path: str | None = None) -> Options:
    """Flags override the config file, which overrides the defaults (design.md section 5)."""
    conf: dict = {}
    if config_path:
        try:
            with open(config_path, "rb") as f:
                conf = tomllib.load(f)
        except OSError as e:
            raise ValueError(f"cannot read config {config_path}: {e.strerror}") from None
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"config {config_path}: {e}") from None
        known = {"cpus", "seed", "hz", "cmdline", "preempt_rt", "clock", "speed", "devices",
                 "traffic", "tasks", "model"}
        for k in conf:
            if k not in known:
                raise ValueError(f"config {config_path}: unknown key {k!r}")
    where = f"config {config_path}: " if config_path else ""
    ncpus = cpus if cpus is not None else _int(conf.get("cpus", 4), f"{where}cpus", 1)
    if not 1 <= ncpus <= 1024:
        raise ValueError(f"{where}cpus must be in 1..1024 (got {ncpus})")
    cmd = cmdline if cmdline is not None else str(conf.get("cmdline", ""))
    words = cmd.split()
    rt = preempt_rt if preempt_rt is not None else conf.get("preempt_rt", False)
    if not isinstance(rt, bool):
        raise ValueError(f"{where}preempt_rt must be true or false (got {rt!r})")
    try:
        devices = [NetDeviceConfig(name="lo", irq_cpus=(), loopback=True)]
        if devs:
            devices = [parse_dev(d, ncpus) for d in devs] + devices
        elif "devices" in conf:
            devices = [_dev_from_dict(str(d.get("name", f"eth{i}")), d, ncpus,
                                      f"{where}devices[{i}]")
                       for i, d in enumerate(_tables(conf["devices"], f"{where}devices"))] + devices
        else:
            devices = [NetDeviceConfig()] + devices
        traffic = tuple(_traffic(t, f"{where}traffic[{i}]")
                        for i, t in enumerate(_tables(conf.get("traffic", []), f"{where}traffic")))
        tasks = tuple(_task(t, ncpus, f"{where}tasks[{i}]")
                      for i, t in enumerate(_tables(conf.get("tasks", []), f"{where}tasks")))
        model = conf.get("model", {})
        if not isinstance(model, dict):
            raise ValueError(f"{where}model must be a table of name = ns")
        cost = replace(CostModel(), **{k: _int(v, f"{where}model.{k}", 0) for k, v in
                                       _only(model, CostModel, f"{where}model").items()})
        machine = MachineConfig(
            cpus=ncpus,
            seed=seed if seed is not None else _int(conf.get("seed", 1), f"{where}seed"),
            hz=_int(conf.get("hz", 250), f"{where}hz"),
            thread_backlog_napi="thread_backlog_napi" in words,
            preempt_rt=rt,
            devices=tuple(devices), traffic=traffic, tasks=tasks, cost=cost,
            cmdline=" ".join([CMDLINE_BASE, *words]))
        Machine(machine)     # the engine's own checks (devices named by traffic exist, ...)
    except ControlError as e:
        raise ValueError(e.strerror) from None
    except (TypeError, KeyError) as e:
        raise ValueError(f"{where}{e.args[0] if e.args else e}") from None
    except ValueError as e:
        msg = str(e)
        raise ValueError(msg if msg.startswith(("config ", "--")) else f"{where}{msg}") from None
    clk = clock or str(conf.get("clock", "realtime"))
    if clk not in ("realtime", "manual"):
        raise ValueError(f"{where}clock must be realtime or manual (got {clk!r})")
    if speed is not None:
        spd = speed
    else:
        try:
            spd = float(conf.get("speed", 1.0))
        except (TypeError, ValueError):
            raise ValueError(f"{where}speed must be a number (got {conf.get('speed')!r})") from None
    if not 0 < spd <= 1e6:
        raise ValueError(f"speed must be in (0, 1e6] (got {spd})")
    return Options(machine, clk, spd)


def _tables(value, what: str) -> list[dict]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ValueError(f"{what} must be an array of tables ([[{what.rsplit(' ', 1)[-1]}]])")
    return value


def _traffic(t: dict, what: str) -> TrafficConfig:
    kv = _only(t, TrafficConfig, what)
    for key in ("flows", "pps", "size", "seed"):
        if key in kv:
            kv[key] = _int(kv[key], f"{what}: {key}", 0)
    for key in ("on_ns", "off_ns"):
        if key in kv and isinstance(kv[key], str):
            kv[key] = parse_duration_ns(kv[key], f"{what}: {key}")
        elif key in kv:
            kv[key] = _int(kv[key], f"{what}: {key}", 0)
    if "name" not in kv:
        raise ValueError(f"{what}: name is missing")
    try:
        return TrafficConfig(**kv)
    except ValueError as e:
        raise ValueError(f"{what}: {e}") from None


def _task(t: dict, ncpus: int, what: str) -> TaskConfig:
    kv = _only(t, TaskConfig, what)
    if "name" not in kv:
        raise ValueError(f"{what}: name is missing")
    for key in ("util", "period_ns"):
        if key in kv:
            kv[key] = _int(kv[key], f"{what}: {key}", 0)
    if "cpus" in t:
        kv["cpus"] = parse_cpulist(str(t["cpus"]), ncpus, f"{what}: cpus")
    return TaskConfig(**kv)


def _only(d: dict, cls, what: str) -> dict:
    names = {f.name for f in fields(cls)}
    for k in d:
        if k not in names:
            raise ValueError(f"{what}: unknown key {k!r} (expected one of {', '.join(sorted(names))})")
    return dict(d)
