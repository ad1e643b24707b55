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
                                   TrafficConfig)
from procnet.kernelfs.control import ControlError, parse_cpulist

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


def _dev_from_dict(name: str, kv: dict, ncpus: int, what: str) -> NetDeviceConfig:
    allowed = {"rxqueues", "irq", "driver", "ring", "rx_usecs", "name"}
    for k in kv:
        if k not in allowed:
            raise ValueError(f"{what}: unknown key {k!r} (expected {', '.join(sorted(allowed - {'name'}))})")
    try:
        rxq = int(kv.get("rxqueues", 1))
        irq = (parse_cpulist(str(kv["irq"]), ncpus, f"{what}: irq") if "irq" in kv
               else tuple(i % ncpus for i in range(rxq)))
        return NetDeviceConfig(name, rx_queues=rxq, irq_cpus=irq,
                               driver=str(kv.get("driver", "napi")),
                               ring_size=int(kv.get("ring", 1024)),
                               rx_usecs=int(kv.get("rx_usecs", 8)))
    except ControlError as e:
        raise ValueError(e.strerror) from None
    except (TypeError, ValueError) as e:
        raise ValueError(f"{what}: {e}") from None


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
    ncpus = cpus if cpus is not None else int(conf.get("cpus", 4))
    cmd = cmdline if cmdline is not None else str(conf.get("cmdline", ""))
    words = cmd.split()
    rt = preempt_rt if preempt_rt is not None else bool(conf.get("preempt_rt", False))
    try:
        devices = [NetDeviceConfig(name="lo", irq_cpus=(), loopback=True)]
        if devs:
            devices = [parse_dev(d, ncpus) for d in devs] + devices
        elif "devices" in conf:
            devices = [_dev_from_dict(str(d.get("name", f"eth{i}")), d, ncpus,
                                      f"config devices[{i}]")
                       for i, d in enumerate(conf["devices"])] + devices
        else:
            devices = [NetDeviceConfig()] + devices
        traffic = tuple(TrafficConfig(**_only(t, TrafficConfig, f"config traffic[{i}]"))
                        for i, t in enumerate(conf.get("traffic", [])))
        tasks = tuple(TaskConfig(**{**_only(t, TaskConfig, f"config tasks[{i}]"),
                                    **({"cpus": parse_cpulist(str(t["cpus"]), ncpus)}
                                       if "cpus" in t else {})})
                      for i, t in enumerate(conf.get("tasks", [])))
        cost = replace(CostModel(), **_only(conf.get("model", {}), CostModel, "config model"))
        machine = MachineConfig(
            cpus=ncpus,
            seed=seed if seed is not None else int(conf.get("seed", 1)),
            hz=int(conf.get("hz", 250)),
            thread_backlog_napi="thread_backlog_napi" in words,
            preempt_rt=rt,
            devices=tuple(devices), traffic=traffic, tasks=tasks, cost=cost,
            cmdline=" ".join([CMDLINE_BASE, *words]))
    except ControlError as e:
        raise ValueError(e.strerror) from None
    except TypeError as e:
        raise ValueError(str(e)) from None
    clk = clock or str(conf.get("clock", "realtime"))
    if clk not in ("realtime", "manual"):
        raise ValueError(f"clock must be realtime or manual (got {clk!r})")
    spd = speed if speed is not None else float(conf.get("speed", 1.0))
    if not spd > 0:
        raise ValueError(f"speed must be > 0 (got {spd})")
    return Options(machine, clk, spd)


def _only(d: dict, cls, what: str) -> dict:
    names = {f.name for f in fields(cls)}
    for k in d:
        if k not in names:
            raise ValueError(f"{what}: unknown key {k!r} (expected one of {', '.join(sorted(names))})")
    return {k: v for k, v in d.items() if k != "cpus" or cls is not TaskConfig}
