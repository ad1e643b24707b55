"""The engine: a deterministic discrete-event model of the Linux receive backlog.

No FUSE, no click, no threads, no wall clock. Start with `Machine(MachineConfig())`.
"""
from .config import (NSEC_PER_MSEC, NSEC_PER_SEC, NSEC_PER_USEC, CostModel, MachineConfig,
                     NetDeviceConfig, SchedConfig, TaskConfig, TrafficConfig, UdpRRConfig)
from .machine import Machine

__all__ = ["Machine", "MachineConfig", "CostModel", "SchedConfig", "NetDeviceConfig",
           "TrafficConfig", "TaskConfig", "UdpRRConfig", "NSEC_PER_SEC", "NSEC_PER_MSEC",
           "NSEC_PER_USEC"]
