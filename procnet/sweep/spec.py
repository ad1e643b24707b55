"""Sweep specs: parse, validate strictly, expand into points.

A spec is TOML (or YAML when PyYAML is installed) with one top-level table, `sweep`. The format
is documented in docs/sweeps.md. Every error is a `SpecError` whose message starts with the key
path of the offending value, e.g. ``sweep.params.flows[2]: expected an integer >= 1 (got 'x')``.

Validation is by type and range, value by value. Constraints between values (a CPU number
beyond `cpus`, a device that does not exist) are the engine's to refuse: such a point becomes an
error row of the sweep, the other points still run.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from procnet.engine.config import CostModel
from procnet.engine.dev import NetCoreSysctls

MODES = ("stock", "backlog_threaded", "thread_backlog_napi")
MAX_POINTS = 100_000
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
REF_RE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


class SpecError(ValueError):
    """A spec problem, with the key path of the offending value."""

    def __init__(self, path: str, msg: str) -> None:
        self.path = path
        self.msg = msg
        super().__init__(f"{path}: {msg}" if path else msg)


# ---------------------------------------------------------------- value validators
# A validator takes (value, path) and returns the normalized value (JSON-able) or raises.

Validator = Callable[[Any, str], Any]


def _got(v: Any) -> str:
    if isinstance(v, dict):
        return "a table"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, bool):
        return "true" if v else "false"
    return repr(v)


def _fail(path: str, expected: str, v: Any):
    raise SpecError(path, f"expected {expected} (got {_got(v)})")


def integer(lo: int | None = None, hi: int | None = None) -> Validator:
    if lo is not None and hi is not None:
        what = f"an integer in {lo}..{hi}"
    elif lo is not None:
        what = f"an integer >= {lo}"
    else:
        what = "an integer"

    def check(v, path):
        if isinstance(v, bool) or not isinstance(v, int):
            _fail(path, what, v)
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            _fail(path, what, v)
        return v
    check.what = what
    return check


def choice(*options) -> Validator:
    what = "one of " + ", ".join(repr(o) for o in options)

    def check(v, path):
        if isinstance(v, bool) or v not in options:
            _fail(path, what, v)
        return v
    check.what = what
    return check


def boolean(v, path):
    if not isinstance(v, bool):
        _fail(path, "true or false", v)
    return v


boolean.what = "true or false"

_UNITS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}
_DUR_RE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ns|us|ms|s)\s*$")


def duration(v, path):
    """A duration: integer nanoseconds, or a string like "100ms" (ns, us, ms, s). Must be > 0."""
    what = 'a duration > 0 (integer ns, or a string like "100ms")'
    if isinstance(v, bool):
        _fail(path, what, v)
    if isinstance(v, int):
        ns = v
    elif isinstance(v, str) and (m := _DUR_RE.match(v)):
        ns = float(m.group(1)) * _UNITS[m.group(2)]
        if ns != int(ns):
            _fail(path, what + " that is a whole number of ns", v)
        ns = int(ns)
    else:
        _fail(path, what, v)
    if ns <= 0:
        _fail(path, what, v)
    return ns


duration.what = 'a duration (integer ns, or a string like "100ms")'


def cpumask(v, path):
    """A CPU mask: an integer, or hex as rps_cpus takes it ("f", "0x3", "00000000,0000000f")."""
    what = 'a CPU mask (hex string like "f", or an integer >= 0)'
    if isinstance(v, bool):
        _fail(path, what, v)
    if isinstance(v, int):
        if v < 0:
            _fail(path, what, v)
        return v
    if isinstance(v, str):
        s = v.strip().lower().removeprefix("0x").replace(",", "")
        if s and all(c in "0123456789abcdef" for c in s):
            return int(s, 16)
    _fail(path, what, v)


cpumask.what = "a CPU mask"


def cpulist(v, path):
    """A CPU list: a list of CPU numbers, or a string like "0-2,5"."""
    what = 'a CPU list (a list of CPU numbers, or a string like "0-2,5")'
    cpus: list[int] = []
    if isinstance(v, list) and v:
        for i, c in enumerate(v):
            cpus.append(integer(0)(c, f"{path}[{i}]"))
    elif isinstance(v, str) and v.strip():
        for part in v.split(","):
            a, sep, b = part.strip().partition("-")
            if not a.isdigit() or (sep and not b.isdigit()):
                _fail(path, what, v)
            lo, hi = int(a), int(b) if sep else int(a)
            if hi < lo:
                _fail(path, what, v)
            cpus.extend(range(lo, hi + 1))
    else:
        _fail(path, what, v)
    if len(set(cpus)) != len(cpus):
        raise SpecError(path, f"CPU listed twice (got {_got(v)})")
    return sorted(cpus)


cpulist.what = "a CPU list"


def name(v, path):
    if not isinstance(v, str) or not v or any(c.isspace() for c in v):
        _fail(path, "a name (a non-empty string without spaces)", v)
    return v


name.what = "a name"


# ---------------------------------------------------------------- tables
@dataclass
class Ref:
    """A "${param}" placeholder in a template, with the validator of the field it fills."""
    param: str
    check: Validator
    path: str


class _Ctx:
    """Collects template placeholders while the template is validated."""

    def __init__(self, allow_refs: bool) -> None:
        self.allow_refs = allow_refs
        self.refs: list[Ref] = []


def _table(v, path: str, what: str = "a table") -> dict:
    if not isinstance(v, dict):
        _fail(path, what, v)
    return v


def _keys(d: dict, path: str, allowed, required=()) -> None:
    for k in d:
        if k not in allowed:
            raise SpecError(_join(path, k), f"unknown key (expected one of: {', '.join(allowed)})")
    for k in required:
        if k not in d:
            raise SpecError(_join(path, k), "missing (required)")


def _join(path: str, key: str) -> str:
    k = key if NAME_RE.match(str(key)) else json.dumps(str(key))
    return f"{path}.{k}" if path else k


def _field(d: dict, key: str, path: str, check: Validator, ctx: _Ctx | None, default=None):
    """d[key] validated by `check`; a "${p}" placeholder becomes a Ref when ctx allows it."""
    if key not in d:
        return default
    v, p = d[key], _join(path, key)
    if isinstance(v, str) and (m := REF_RE.match(v)):
        if ctx is None or not ctx.allow_refs:
            raise SpecError(p, "a ${...} placeholder is only allowed in sweep.template")
        ref = Ref(m.group(1), check, p)
        ctx.refs.append(ref)
        return ref
    return check(v, p)


def _list_of_tables(d: dict, key: str, path: str) -> list[tuple[dict, str]]:
    if key not in d:
        return []
    v, p = d[key], _join(path, key)
    if not isinstance(v, list):
        _fail(p, "a list of tables", v)
    out = []
    for i, item in enumerate(v):
        out.append((_table(item, f"{p}[{i}]"), f"{p}[{i}]"))
    return out


# ---------------------------------------------------------------- built-in scenarios
@dataclass(frozen=True)
class Param:
    check: Validator
    default: Any
    doc: str


# imbalance: procnet/experiments/scripts/imbalance.sh as a function of its numbers.
SCENARIOS: dict[str, dict[str, Param]] = {
    "imbalance": {
        "cpus": Param(integer(1, 1024), 4, "CPUs of the machine"),
        "rps_mask": Param(cpumask, 0xF, "rps_cpus of eth0 rx-0 (the script writes f)"),
        "flows": Param(integer(1), 2, "flows of the traffic t1 on eth0"),
        "pps": Param(integer(0), 1_000_000, "packets per second, all flows together"),
        "pattern": Param(choice("constant", "poisson", "onoff"), "poisson", "arrival pattern"),
        "hog_util": Param(integer(0, 100), 100,
                          "percent of its period the hog wants to run; 0 = no hog"),
        "hog_cpu": Param(integer(0), 0, "the CPU the hog is pinned to (eth0's IRQ is on CPU 0)"),
        "duration": Param(duration, 300_000_000, "virtual time measured (the script's default)"),
    },
}


# ---------------------------------------------------------------- the template
DEVICE_KEYS = ("name", "rxqueues", "irq", "driver", "ring", "rx_usecs", "napi_weight",
               "rps_cpus")
TRAFFIC_KEYS = ("name", "dev", "flows", "pps", "pattern", "size", "on", "off", "seed")
TASK_KEYS = ("name", "cpus", "util", "period", "policy")
UDP_RR_KEYS = ("name", "client", "server")
TEMPLATE_KEYS = ("cpus", "hz", "duration", "devices", "traffic", "tasks", "udp_rr", "sysctl",
                 "model")
SYSCTLS = tuple(k for k in NetCoreSysctls.NAMES if k not in ("dev_rx_weight", "dev_tx_weight"))
MODEL_SETTINGS = {**{k: integer(0) for k in CostModel.field_names()},
                  "felix_variant": choice("intended", "as-written"),
                  "backlog_local_shortcut": boolean}


def _template(t: dict, path: str, ctx: _Ctx) -> dict:
    _keys(t, path, TEMPLATE_KEYS)
    out: dict[str, Any] = {
        "cpus": _field(t, "cpus", path, integer(1, 1024), ctx, 4),
        "hz": _field(t, "hz", path, choice(100, 250, 300, 1000), ctx, 250),
        "duration": _field(t, "duration", path, duration, ctx, 300_000_000),
    }
    devices = []
    for d, p in _list_of_tables(t, "devices", path):
        _keys(d, p, DEVICE_KEYS, required=("name",))
        devices.append({
            "name": _field(d, "name", p, name, None),
            "rxqueues": _field(d, "rxqueues", p, integer(1, 1024), ctx, 1),
            "irq": _field(d, "irq", p, cpulist, ctx, None),
            "driver": _field(d, "driver", p, choice("napi", "netif_rx"), ctx, "napi"),
            "ring": _field(d, "ring", p, integer(1), ctx, 1024),
            "rx_usecs": _field(d, "rx_usecs", p, integer(0), ctx, 8),
            "napi_weight": _field(d, "napi_weight", p, integer(1), ctx, 64),
            "rps_cpus": _field(d, "rps_cpus", p, cpumask, ctx, 0),
        })
    if "devices" not in t:
        devices.append({"name": "eth0", "rxqueues": 1, "irq": None, "driver": "napi",
                        "ring": 1024, "rx_usecs": 8, "napi_weight": 64, "rps_cpus": 0})
    out["devices"] = devices
    out["traffic"] = []
    for i, (d, p) in enumerate(_list_of_tables(t, "traffic", path)):
        _keys(d, p, TRAFFIC_KEYS)
        out["traffic"].append({
            "name": _field(d, "name", p, name, None, f"t{i + 1}"),
            "dev": _field(d, "dev", p, name, ctx, "eth0"),
            "flows": _field(d, "flows", p, integer(1), ctx, 1),
            "pps": _field(d, "pps", p, integer(0), ctx, 100_000),
            "pattern": _field(d, "pattern", p, choice("constant", "poisson", "onoff"), ctx,
                              "poisson"),
            "size": _field(d, "size", p, integer(1), ctx, 64),
            "on": _field(d, "on", p, duration, ctx, 1_000_000),
            "off": _field(d, "off", p, duration, ctx, 1_000_000),
            "seed": _field(d, "seed", p, integer(), ctx, 0),
        })
    out["tasks"] = []
    for d, p in _list_of_tables(t, "tasks", path):
        _keys(d, p, TASK_KEYS, required=("name",))
        out["tasks"].append({
            "name": _field(d, "name", p, name, None),
            "cpus": _field(d, "cpus", p, cpulist, ctx, None),
            "util": _field(d, "util", p, integer(0, 100), ctx, 100),
            "period": _field(d, "period", p, duration, ctx, 10_000_000),
            "policy": _field(d, "policy", p, choice("other", "fifo"), ctx, "other"),
        })
    out["udp_rr"] = []
    for i, (d, p) in enumerate(_list_of_tables(t, "udp_rr", path)):
        _keys(d, p, UDP_RR_KEYS)
        out["udp_rr"].append({
            "name": _field(d, "name", p, name, None, f"rr{i + 1}"),
            "client": _field(d, "client", p, cpulist, ctx, None),
            "server": _field(d, "server", p, cpulist, ctx, None),
        })
    for key, allowed in (("sysctl", {k: integer(0) for k in SYSCTLS}), ("model", MODEL_SETTINGS)):
        tab = _table(t.get(key, {}), _join(path, key))
        _keys(tab, _join(path, key), tuple(allowed))
        out[key] = {k: _field(tab, k, _join(path, key), allowed[k], ctx) for k in tab}
    for kind in ("devices", "traffic", "tasks", "udp_rr"):
        names = [x["name"] for x in out[kind]]
        dup = next((n for n in names if names.count(n) > 1), None)
        if dup is not None:
            raise SpecError(_join(path, kind), f"name {dup!r} used twice")
    return out


def substitute(obj, values: dict[str, Any]):
    """The template with every Ref replaced by its parameter's value, normalized for its field."""
    if isinstance(obj, Ref):
        return obj.check(values[obj.param], obj.path)
    if isinstance(obj, dict):
        return {k: substitute(v, values) for k, v in obj.items()}
    if isinstance(obj, list):
        return [substitute(v, values) for v in obj]
    return obj


# ---------------------------------------------------------------- parameter values
def _values(v, path: str) -> list:
    """A parameter's values: a non-empty list, or a range table {from, to, step|factor}."""
    if isinstance(v, list):
        if not v:
            raise SpecError(path, "expected a non-empty list of values (got an empty list)")
        return v
    if isinstance(v, dict):
        _keys(v, path, ("from", "to", "step", "factor"), required=("from", "to"))
        num = "a number"
        lo, hi = v["from"], v["to"]
        for k, x in (("from", lo), ("to", hi)):
            if isinstance(x, bool) or not isinstance(x, (int, float)):
                _fail(f"{path}.{k}", num, x)
        if hi < lo:
            raise SpecError(f"{path}.to", f"expected a number >= from ({lo}) (got {hi!r})")
        if ("step" in v) == ("factor" in v):
            raise SpecError(path, "a range needs exactly one of step or factor")
        out: list = []
        if "step" in v:
            step = v["step"]
            if isinstance(step, bool) or not isinstance(step, (int, float)) or step <= 0:
                _fail(f"{path}.step", "a number > 0", step)
            n = math.floor((hi - lo) / step + 1e-9) + 1
            if n > MAX_POINTS:
                raise SpecError(path, f"range has {n} values (at most {MAX_POINTS})")
            ints = all(isinstance(x, int) for x in (lo, step))
            out = [lo + i * step if ints else round(lo + i * step, 12) for i in range(n)]
        else:
            f = v["factor"]
            if isinstance(f, bool) or not isinstance(f, (int, float)) or f <= 1:
                _fail(f"{path}.factor", "a number > 1", f)
            if lo <= 0:
                raise SpecError(f"{path}.from", f"expected a number > 0 with factor (got {lo!r})")
            x = lo
            while x <= hi * (1 + 1e-12):
                out.append(x if isinstance(x, int) else round(x, 12))
                x = x * f
                if len(out) > MAX_POINTS:
                    raise SpecError(path, f"range has more than {MAX_POINTS} values")
        return out
    _fail(path, "a list of values or a range table {from, to, step} / {from, to, factor}", v)


# ---------------------------------------------------------------- the spec
METRICS = ("offered_pps", "delivered_pps", "dropped_total", "dropped_ring_full",
           "dropped_backlog", "dropped_flow_limit", "dropped_device_gone", "p50_us", "p99_us",
           "p999_us", "mean_us", "context_switches", "ipis", "received_rps", "wakeups",
           "migrations", "hog_cpu_share", "user_cpu_share", "cpu_util_max", "cpu_util_mean",
           "transactions_per_s", "stalls_detected")
RESERVED = ("key", "status", "error", "scenario", "mode", "seed", "cpu_util", "conserved",
            "duration_s", "procnet_version")
SWEEP_KEYS = ("name", "scenario", "template", "fixed", "params", "modes", "seeds", "metric",
              "plot", "tolerance")


@dataclass
class Point:
    """One run: a pure function of (config, mode, seed). `params` are the row's columns."""
    key: str
    config: dict
    params: dict
    mode: str
    seed: int

    def task(self) -> dict:
        return {"key": self.key, "config": self.config, "params": self.params,
                "mode": self.mode, "seed": self.seed}


@dataclass
class Spec:
    name: str
    scenario: str                     # "imbalance" or "template"
    params: dict[str, list]           # swept parameter -> normalized values, spec order
    raw_params: dict[str, list]       # as written (for placeholders)
    fixed: dict[str, Any]             # scenario parameters: every value, resolved
    template: dict | None
    modes: list[str]
    seeds: list[int]
    metrics: list[str]
    plot_axes: list[str] = field(default_factory=list)
    tolerance: float = 0.01           # |mode - stock| <= tolerance * |stock| is a tie
    source: str = ""
    source_format: str = "toml"

    @property
    def swept(self) -> list[str]:
        """Parameters with more than one value, in spec order."""
        return [k for k, v in self.params.items() if len(v) > 1]

    def grid(self) -> list[dict]:
        """The cartesian product of the parameters, first parameter outermost."""
        names = list(self.params)
        return [dict(zip(names, combo)) for combo in itertools.product(*self.params.values())]

    def points(self) -> list[Point]:
        out = []
        for combo in self.grid():
            if self.template is not None:
                raw = dict(zip(self.raw_params, (self.raw_params[k][self.params[k].index(v)]
                                                 for k, v in combo.items())))
                config = {"template": substitute(self.template, raw)}
                params = dict(combo)
            else:
                params = {**combo, **self.fixed}
                config = {"scenario": self.scenario, "params": params}
            for mode in self.modes:
                for seed in self.seeds:
                    out.append(Point(point_key(config, mode, seed), config, params, mode, seed))
        return out


def point_key(config: dict, mode: str, seed: int) -> str:
    """A stable key: sha256 of the canonical JSON of the resolved config, mode and seed."""
    doc = json.dumps({"config": config, "mode": mode, "seed": seed}, sort_keys=True,
                     separators=(",", ":"))
    return hashlib.sha256(doc.encode()).hexdigest()[:16]


def parse_spec(doc: Any, source: str = "", default_name: str = "sweep",
               source_format: str = "toml") -> Spec:
    """Validate a parsed spec document (a dict) and resolve it into a Spec."""
    root = _table(doc, "sweep", "a [sweep] table")
    if "sweep" not in root:
        raise SpecError("sweep", "missing (a spec is one [sweep] table)")
    _keys(root, "", ("sweep",))
    s = _table(root["sweep"], "sweep")
    _keys(s, "sweep", SWEEP_KEYS)
    spec_name = _field(s, "name", "sweep", name, None, default_name)
    if ("scenario" in s) == ("template" in s):
        raise SpecError("sweep", "give exactly one of scenario (a built-in: "
                        f"{', '.join(SCENARIOS)}) or template (a machine and its load)")
    raw_params = _table(s.get("params", {}), "sweep.params")
    params_raw: dict[str, list] = {}
    for k, v in raw_params.items():
        p = _join("sweep.params", k)
        if not NAME_RE.match(k):
            raise SpecError(p, "a parameter name is letters, digits and _ (not first a digit)")
        if k in RESERVED or k in METRICS:
            raise SpecError(p, f"{k!r} is a column of the results; name the parameter otherwise")
        params_raw[k] = _values(v, p)
        if len(params_raw[k]) * max(1, len(params_raw)) > MAX_POINTS:
            raise SpecError(p, f"too many values (at most {MAX_POINTS})")

    def vpath(k, i, vals):
        return f"{_join('sweep.params', k)}[{i}]" if isinstance(raw_params[k], list) \
            else f"{_join('sweep.params', k)} (value {vals[i]!r})"

    params: dict[str, list] = {}
    fixed: dict[str, Any] = {}
    template = None
    if "scenario" in s:
        scen = s["scenario"]
        if scen not in SCENARIOS:
            _fail("sweep.scenario", "one of " + ", ".join(repr(x) for x in SCENARIOS), scen)
        schema = SCENARIOS[scen]
        fx = _table(s.get("fixed", {}), "sweep.fixed")
        _keys(fx, "sweep.fixed", tuple(schema))
        for k, v in fx.items():
            fixed[k] = _field(fx, k, "sweep.fixed", schema[k].check, None)
        for k, vals in params_raw.items():
            if k not in schema:
                raise SpecError(_join("sweep.params", k),
                                f"unknown parameter of scenario {scen!r} (expected one of: "
                                f"{', '.join(schema)})")
            if k in fixed:
                raise SpecError(_join("sweep.params", k), "also given in sweep.fixed")
            params[k] = [schema[k].check(x, vpath(k, i, vals)) for i, x in enumerate(vals)]
        fixed = {k: p.default if k not in fixed else fixed[k]
                 for k, p in schema.items() if k not in params}
    else:
        scen = "template"
        if "fixed" in s:
            raise SpecError("sweep.fixed", "only with a built-in scenario (a template writes "
                            "its fixed values in place)")
        ctx = _Ctx(allow_refs=True)
        template = _template(_table(s["template"], "sweep.template"), "sweep.template", ctx)
        used = {r.param for r in ctx.refs}
        for r in ctx.refs:
            if r.param not in params_raw:
                raise SpecError(r.path, f"unknown parameter {r.param!r} (declare it in "
                                "sweep.params)")
        for k, vals in params_raw.items():
            if k not in used:
                raise SpecError(_join("sweep.params", k),
                                f'not used in sweep.template (write "${{{k}}}" where it goes)')
            refs = [r for r in ctx.refs if r.param == k]
            norm = []
            for i, x in enumerate(vals):
                for r in refs:
                    try:
                        y = r.check(x, vpath(k, i, vals))
                    except SpecError as e:
                        raise SpecError(e.path, f"{e.msg} (for {r.path})") from None
                    if r is refs[0]:
                        norm.append(y)
            params[k] = norm
    for k, vals in params.items():
        seen = set()
        for i, x in enumerate(vals):
            canon = json.dumps(x, sort_keys=True)
            if canon in seen:
                raise SpecError(vpath(k, i, params_raw[k]),
                                f"duplicate value {_got(params_raw[k][i])}")
            seen.add(canon)

    modes = s.get("modes", list(MODES))
    if not isinstance(modes, list) or not modes:
        _fail("sweep.modes", "a non-empty list of modes", modes)
    for i, m in enumerate(modes):
        choice(*MODES)(m, f"sweep.modes[{i}]")
        if modes.index(m) != i:
            raise SpecError(f"sweep.modes[{i}]", f"duplicate mode {m!r}")
    seeds = [integer(0)(x, f"sweep.seeds[{i}]")
             for i, x in enumerate(_values(s.get("seeds", [1]), "sweep.seeds"))]
    if len(set(seeds)) != len(seeds):
        raise SpecError("sweep.seeds", "a seed is listed twice")
    metric = s.get("metric", "p99_us")
    metrics = metric if isinstance(metric, list) else [metric]
    if not metrics:
        _fail("sweep.metric", "a metric name or a non-empty list of them", metric)
    for i, m in enumerate(metrics):
        p = f"sweep.metric[{i}]" if isinstance(metric, list) else "sweep.metric"
        choice(*METRICS)(m, p)
    plot_axes: list[str] = []
    if "plot" in s:
        pl = _table(s["plot"], "sweep.plot")
        _keys(pl, "sweep.plot", ("x", "y"))
        for k in ("x", "y"):
            if k in pl:
                v = pl[k]
                if v not in params or len(params[v]) < 2:
                    _fail(f"sweep.plot.{k}", "a swept parameter (one with several values: "
                          + ", ".join(x for x in params if len(params[x]) > 1) + ")", v)
                plot_axes.append(v)
        if len(set(plot_axes)) != len(plot_axes):
            raise SpecError("sweep.plot.y", "the same parameter as sweep.plot.x")
    tol = s.get("tolerance", 0.01)
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not 0 <= tol < 1:
        _fail("sweep.tolerance", "a number in [0, 1) (a fraction of the stock value)", tol)
    n = math.prod(len(v) for v in params.values()) * len(modes) * len(seeds)
    if n > MAX_POINTS:
        raise SpecError("sweep", f"{n} runs (at most {MAX_POINTS})")
    return Spec(spec_name, scen, params, params_raw, fixed, template, list(modes), seeds,
                metrics, plot_axes, float(tol), source, source_format)


def load_spec(path: str | Path) -> Spec:
    """Read and validate a spec file (.toml; .yaml/.yml with PyYAML installed)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise SpecError("", f"cannot read it: {e.strerror}") from None
    if path.suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise SpecError("", "YAML specs need PyYAML (pip install pyyaml), or write "
                            "the spec in TOML") from None
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise SpecError("", f"not valid YAML: {e}") from None
    else:
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise SpecError("", f"not valid TOML: {e}") from None
    return parse_spec(doc, source=text, default_name=path.stem,
                      source_format="yaml" if path.suffix in (".yaml", ".yml") else "toml")
