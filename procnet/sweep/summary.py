"""The summary of a sweep: a table, the crossovers, and plots (matplotlib, Agg).

Values are means over the seeds of the rows with status "ok". For each mode other than stock,
diff = metric(mode) - metric(stock) at every grid point; |diff| <= sweep.tolerance x |stock|
(default 1%) is a tie and counts as 0. A crossover is a sign change of diff
between two neighbouring grid points along one swept parameter (the others held), placed by
linear interpolation between them: at a + (b - a) * d_a / (d_a - d_b). A diff of exactly 0 at a
grid point between a + and a - is a crossover at that point. Missing points (errors, not yet
run) break a line: no crossover is guessed across them. Non-numeric parameters are interpolated
on their position in the list.

Plots: two swept parameters (or sweep.plot x/y) give one heatmap per mode plus one of the
difference per non-stock mode, with the crossovers marked; one gives a line per mode; further
swept parameters give one figure per combination of their values.
"""
from __future__ import annotations

import csv
import itertools
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from .points import column_value
from .spec import Spec

LOWER_IS_BETTER = ("dropped_total", "dropped_ring_full", "dropped_backlog", "dropped_flow_limit",
                   "dropped_device_gone", "p50_us", "p99_us", "p999_us", "mean_us",
                   "context_switches", "ipis", "received_rps", "wakeups", "migrations",
                   "cpu_util_max", "cpu_util_mean", "stalls_detected")
HIGHER_IS_BETTER = ("delivered_pps", "hog_cpu_share", "user_cpu_share", "transactions_per_s")
UNITS = {"p50_us": "us", "p99_us": "us", "p999_us": "us", "mean_us": "us", "delivered_pps": "pps",
         "offered_pps": "pps", "transactions_per_s": "/s"}
MAX_TABLE_ROWS = 40


@dataclass
class Grid:
    """metric means over seeds, indexed by (tuple of parameter value indices, mode)."""
    names: list[str]
    values: list[list]                   # per parameter, normalized values in spec order
    mean: dict[tuple, float]             # (idx..., mode) -> mean
    spread: dict[tuple, tuple]           # (idx..., mode) -> (min, max, n)


def build_grid(spec: Spec, rows: list[dict], metric: str) -> Grid:
    names = list(spec.params)
    values = [spec.params[n] for n in names]
    index = [{json.dumps(column_value(v)): i for i, v in enumerate(vals)} for vals in values]
    acc: dict[tuple, list[float]] = {}
    for r in rows:
        if r.get("status") != "ok" or r.get(metric) is None:
            continue
        try:
            idx = tuple(index[j][json.dumps(r[n])] for j, n in enumerate(names))
        except KeyError:
            continue
        acc.setdefault((*idx, r["mode"]), []).append(float(r[metric]))
    mean = {k: sum(v) / len(v) for k, v in acc.items()}
    spread = {k: (min(v), max(v), len(v)) for k, v in acc.items()}
    return Grid(names, values, mean, spread)


def _numeric(vals: list) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals)


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


def crossovers(spec: Spec, grid: Grid, metric: str) -> list[dict]:
    """Sign changes of metric(mode) - metric(stock) along each swept parameter."""
    if "stock" not in spec.modes:
        return []
    out = []
    swept = [i for i, v in enumerate(grid.values) if len(v) > 1]
    for mode in (m for m in spec.modes if m != "stock"):
        for ax in swept:
            vals = grid.values[ax]
            num = _numeric(vals)
            pos = [float(v) for v in vals] if num else list(range(len(vals)))
            others = [range(len(v)) if j != ax else [None] for j, v in enumerate(grid.values)]
            for fixed in itertools.product(*others):
                seq = []
                for i in range(len(vals)):
                    idx = tuple(i if j == ax else fixed[j] for j in range(len(grid.values)))
                    a, b = grid.mean.get((*idx, mode)), grid.mean.get((*idx, "stock"))
                    if a is None or b is None:
                        seq.append(None)
                    else:                 # within tolerance of stock: a tie, i.e. 0
                        d = a - b
                        seq.append(0.0 if abs(d) <= spec.tolerance * abs(b) else d)
                where = {grid.names[j]: grid.values[j][fixed[j]] for j in swept if j != ax}
                for c in _sign_changes(seq, pos):
                    i, k, at = c
                    out.append({
                        "metric": metric, "mode": mode, "along": grid.names[ax],
                        "where": where, "between": [vals[i], vals[k]],
                        "at": round(at, 6) if num else None,
                        "position": round(at, 6) if not num else None,
                        "diff_before": round(seq[i], 6), "diff_after": round(seq[k], 6),
                    })
    return out


def _sign_changes(seq: list, pos: list[float]) -> list[tuple[int, int, float]]:
    """(i, k, x): seq[i] and seq[k] nonzero with opposite signs, only zeros between them."""
    out = []
    last = None                           # index of the last nonzero value of the run
    for k, d in enumerate(seq):
        if d is None:
            last = None
            continue
        if d == 0:
            continue
        if last is not None and _sign(seq[last]) != _sign(d):
            if k == last + 1:
                x = pos[last] + (pos[k] - pos[last]) * seq[last] / (seq[last] - d)
            else:                         # zeros at the grid points between: their middle
                x = sum(pos[last + 1:k]) / (k - last - 1)
            out.append((last, k, x))
        last = k
    return out


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, float):
        if v == 0:
            return "0"
        a = abs(v)
        return f"{v:,.0f}" if a >= 1000 else f"{v:.3g}" if a < 1 else f"{v:.4g}"
    if isinstance(v, int):
        return f"{v:,}" if abs(v) >= 10000 else str(v)
    return str(v)


def _better(metric: str, mode: str, d: float) -> str:
    if metric in LOWER_IS_BETTER:
        return mode if d < 0 else "stock"
    if metric in HIGHER_IS_BETTER:
        return mode if d > 0 else "stock"
    return f"{mode} {'above' if d > 0 else 'below'} stock"


def describe(c: dict) -> str:
    """One line per crossover, for people."""
    where = ", ".join(f"{k}={_fmt(v)}" for k, v in c["where"].items())
    a, b = c["between"]
    at = f" at {_fmt(float(c['at']))}" if c["at"] is not None else ""
    unit = UNITS.get(c["metric"], "")
    after = _better(c["metric"], c["mode"], c["diff_after"])
    before = _better(c["metric"], c["mode"], c["diff_before"])
    return (f"{c['metric']} {c['mode']} vs stock: {c['along']} {_fmt(a)} -> {_fmt(b)}{at}"
            f"{' (' + where + ')' if where else ''}: difference {c['diff_before']:+.4g} -> "
            f"{c['diff_after']:+.4g} {unit}".rstrip() + f"; better: {before} -> {after}")


def table(spec: Spec, grid: Grid, metric: str) -> tuple[list[str], list[list]]:
    """Rows: every grid point; columns: parameters with several values, the metric per mode,
    and mode - stock per non-stock mode."""
    swept = [i for i, v in enumerate(grid.values) if len(v) > 1]
    diffs = [m for m in spec.modes if m != "stock"] if "stock" in spec.modes else []
    header = [grid.names[i] for i in swept] + list(spec.modes) + [f"{m}-stock" for m in diffs]
    rows = []
    for idx in itertools.product(*(range(len(v)) for v in grid.values)):
        vals = {m: grid.mean.get((*idx, m)) for m in spec.modes}
        rows.append([grid.values[i][idx[i]] for i in swept] + [vals[m] for m in spec.modes]
                    + [None if vals[m] is None or vals["stock"] is None else vals[m] - vals["stock"]
                       for m in diffs])
    return header, rows


def format_table(header: list[str], rows: list[list], limit: int = MAX_TABLE_ROWS) -> str:
    cells = [header] + [[_fmt(v) for v in r] for r in rows[:limit]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells]
    if len(rows) > limit:
        lines.append(f"... {len(rows) - limit} more rows in summary.json")
    return "\n".join(lines)


# ---------------------------------------------------------------- plots
def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", s)


def plot(spec: Spec, grid: Grid, metric: str, cross: list[dict], out_dir: Path) -> list[Path]:
    """Write the figures of `metric`; returns their paths."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    swept = [i for i, v in enumerate(grid.values) if len(v) > 1]
    axes = [grid.names.index(a) for a in spec.plot_axes] or swept[:2]
    facets = [i for i in swept if i not in axes]
    paths = []
    for fidx in itertools.product(*(range(len(grid.values[i])) for i in facets)):
        fixed = dict(zip(facets, fidx))
        label = ", ".join(f"{grid.names[i]}={_fmt(grid.values[i][j])}" for i, j in fixed.items())
        suffix = "".join(f"-{grid.names[i]}={grid.values[i][j]}" for i, j in fixed.items())
        path = out_dir / _slug(f"{metric}{suffix}.png")

        def at(idx_axes: dict) -> tuple:
            return tuple(idx_axes.get(j, fixed.get(j, 0)) for j in range(len(grid.values)))

        mine = [c for c in cross if all(c["where"].get(grid.names[i]) == grid.values[i][j]
                                        for i, j in fixed.items())
                and c["along"] in [grid.names[a] for a in axes]]
        title = f"{spec.name}: {metric}" + (f" ({label})" if label else "") + \
            (f", mean of {len(spec.seeds)} seeds" if len(spec.seeds) > 1 else "")
        if len(axes) == 2:
            fig = _heatmaps(plt, spec, grid, metric, axes, at, mine)
        elif len(axes) == 1:
            fig = _lines(plt, spec, grid, metric, axes[0], at, mine)
        else:
            fig, ax = plt.subplots(figsize=(5, 3.5))
            vals = [grid.mean.get((*at({}), m), float("nan")) for m in spec.modes]
            ax.bar(spec.modes, vals, color=["#4c72b0", "#dd8452", "#55a868"][:len(vals)])
            ax.set_ylabel(metric)
        fig.suptitle(title, fontsize=10)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def _cross_xy(c: dict, grid: Grid, xa: int, ya: int) -> tuple[float, float]:
    """A crossover's position in heatmap cell coordinates."""
    import numpy as np

    def pos(axis: int, value, interp) -> float:
        vals = grid.values[axis]
        if interp is None:
            return float(vals.index(value))
        if _numeric(vals):
            return float(np.interp(interp, [float(v) for v in vals], range(len(vals))))
        return float(interp)

    along = grid.names.index(c["along"])
    interp = c["at"] if c["at"] is not None else c["position"]
    if along == xa:
        return pos(xa, None, interp), pos(ya, c["where"][grid.names[ya]], None)
    return pos(xa, c["where"][grid.names[xa]], None), pos(ya, None, interp)


def _heatmaps(plt, spec, grid, metric, axes, at, cross):
    import numpy as np
    from matplotlib.colors import LogNorm, Normalize, SymLogNorm, TwoSlopeNorm
    xa, ya = axes
    xs, ys = grid.values[xa], grid.values[ya]
    diffs = [m for m in spec.modes if m != "stock"] if "stock" in spec.modes else []
    panels = [(m, None) for m in spec.modes] + [(m, "stock") for m in diffs]
    fig, axs = plt.subplots(1, len(panels), figsize=(3.9 * len(panels) + 0.6, 3.9),
                            squeeze=False)
    mats = {}
    for m in spec.modes:
        mats[m] = np.array([[grid.mean.get((*at({xa: i, ya: j}), m), np.nan)
                             for i in range(len(xs))] for j in range(len(ys))])
    finite = np.concatenate([mats[m][np.isfinite(mats[m])] for m in spec.modes]) \
        if mats else np.array([])
    vmin, vmax = (finite.min(), finite.max()) if finite.size else (0, 1)
    if vmin > 0 and vmax / vmin > 20:                 # latencies that span decades
        mode_norm = LogNorm(vmin, vmax)
    else:
        mode_norm = Normalize(vmin, vmax if vmax > vmin else vmin + 1)
    for ax, (m, base) in zip(axs[0], panels):
        ticks = None
        if base is None:
            mat, kw, ttl = mats[m], {"cmap": "viridis", "norm": mode_norm}, m
        else:
            mat = mats[m] - mats[base]
            mag = np.abs(mat[np.isfinite(mat) & (mat != 0)])
            lim = float(mag.max()) if mag.size else 1.0
            small = float(np.median(mag)) if mag.size else 1.0
            ticks = None
            if lim / small > 20:          # differences that span decades
                norm = SymLogNorm(small, vmin=-lim, vmax=lim, base=10)
                exps = range(math.ceil(math.log10(small)), math.floor(math.log10(lim)) + 1)
                ticks = sorted({0.0} | {s * 10.0 ** k for k in exps for s in (-1, 1)})
            else:
                norm = TwoSlopeNorm(0, -lim, lim)
            kw = {"cmap": "RdBu_r", "norm": norm}
            ttl = f"{m} - stock (o crossover, -- zero)"
        im = ax.imshow(mat, origin="lower", aspect="auto", **kw)
        fig.colorbar(im, ax=ax, shrink=0.85, ticks=ticks if base is not None else None)
        for j in range(len(ys)):
            for i in range(len(xs)):
                if np.isfinite(mat[j, i]):
                    r, g, b, _ = im.cmap(im.norm(mat[j, i]))
                    ax.text(i, j + 0.18, _fmt(float(mat[j, i])), ha="center", va="center",
                            fontsize=7,
                            color="black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white")
        if base is not None and np.isfinite(mat).all() and len(xs) > 1 and len(ys) > 1 \
                and (mat > 0).any() and (mat < 0).any():
            ax.contour(np.arange(len(xs)), np.arange(len(ys)), mat, levels=[0], colors="k",
                       linewidths=1.0, linestyles="--")
        pts = [_cross_xy(c, grid, xa, ya) for c in cross
               if c["mode"] == m or (base is None and m == "stock")]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "o", ms=5, mfc="yellow",
                    mec="black", mew=0.8, ls="none")
        ax.set_xticks(range(len(xs)), [_fmt(v) for v in xs], fontsize=8)
        ax.set_yticks(range(len(ys)), [_fmt(v) for v in ys], fontsize=8)
        ax.set_xlabel(grid.names[xa])
        ax.set_ylabel(grid.names[ya])
        ax.set_title(ttl, fontsize=9)
    return fig


def _lines(plt, spec, grid, metric, xa, at, cross):
    vals = grid.values[xa]
    num = _numeric(vals)
    xs = [float(v) for v in vals] if num else list(range(len(vals)))
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for m in spec.modes:
        ys = [grid.mean.get((*at({xa: i}), m), float("nan")) for i in range(len(vals))]
        line, = ax.plot(xs, ys, "o-", label=m)
        lo = [grid.spread.get((*at({xa: i}), m), (float("nan"),) * 3)[0] for i in range(len(vals))]
        hi = [grid.spread.get((*at({xa: i}), m), (float("nan"),) * 3)[1] for i in range(len(vals))]
        if len(spec.seeds) > 1:
            ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.15)
    for c in cross:
        x = c["at"] if c["at"] is not None else c["position"]
        ax.axvline(x, color="k", ls="--", lw=0.8)
        ax.annotate(f"{c['mode']} = stock\n@ {_fmt(float(x))}", (x, 0.97),
                    xycoords=("data", "axes fraction"), fontsize=7, va="top", ha="left")
    if not num:
        ax.set_xticks(xs, [str(v) for v in vals])
    ax.set_xlabel(grid.names[xa])
    ax.set_ylabel(metric)
    ax.legend(fontsize=8)
    return fig


# ---------------------------------------------------------------- all of it
@dataclass
class Summary:
    text: str                    # the table(s), for the terminal
    crossovers: list[dict]
    plots: list[Path]
    doc: dict


def summarize(spec: Spec, rows: list[dict], out_dir: str | Path, plots: bool = True) -> Summary:
    """Tables and crossovers for every metric of the spec; writes summary.json, crossovers.csv
    and (with plots) one PNG per metric (and facet) into out_dir."""
    out = Path(out_dir)
    texts, allx, paths, tables = [], [], [], {}
    for metric in spec.metrics:
        grid = build_grid(spec, rows, metric)
        cross = crossovers(spec, grid, metric)
        header, trows = table(spec, grid, metric)
        unit = UNITS.get(metric, "")
        texts.append(f"{metric}{' (' + unit + ')' if unit else ''}, mean over "
                     f"{len(spec.seeds)} seed(s):\n" + format_table(header, trows))
        tables[metric] = [dict(zip(header, r)) for r in trows]
        allx += cross
        if plots:
            paths += plot(spec, grid, metric, cross, out)
    ok = sum(r["status"] == "ok" for r in rows)
    doc = {"name": spec.name, "scenario": spec.scenario, "metrics": spec.metrics,
           "modes": spec.modes, "seeds": spec.seeds,
           "params": {k: v for k, v in spec.params.items()},
           "runs": len(spec.points()), "rows": len(rows), "ok": ok, "errors": len(rows) - ok,
           "not_conserved": sum(1 for r in rows if r.get("conserved") is False),
           "tables": tables, "crossovers": allx, "plots": [p.name for p in paths]}
    (out / "summary.json").write_text(json.dumps(doc, indent=1, default=str) + "\n")
    with (out / "crossovers.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["metric", "mode", "along", "where", "from", "to", "at", "diff_before",
                    "diff_after"])
        for c in allx:
            w.writerow([c["metric"], c["mode"], c["along"],
                        " ".join(f"{k}={v}" for k, v in c["where"].items()), c["between"][0],
                        c["between"][1], c["at"] if c["at"] is not None else c["position"],
                        c["diff_before"], c["diff_after"]])
    return Summary("\n\n".join(texts), allx, paths, doc)
