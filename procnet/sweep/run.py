"""Running a sweep: the executors and the incremental result store.

Executors (each calls `on_row` in the client process as results arrive):
  * local: a ProcessPoolExecutor (forkserver start method: safe when the caller has threads).
  * dask: a dask.distributed Client at a scheduler address; workers need only procnet installed.
Both keep a bounded window of points in flight, so a large sweep does not queue everything at
once and an interruption loses at most the points in flight.

The store: results.csv is the journal, one row appended (and flushed) per finished point;
results.parquet is rewritten from the rows every few seconds and at the end. A re-run with the
same output directory reads results.csv, skips every key already there (status "ok", and
status "error" unless retry_errors), runs the rest, and at the end rewrites both files compacted
(one row per key, the current sweep's rows first in grid order). Rows of other sweeps in the same
directory are kept.

A point that raises is an error row (points.run_point). A failure of the machinery itself (a
worker process killed, a dask worker lost) stops the sweep with SweepError; what finished is kept.
"""
from __future__ import annotations

import csv
import multiprocessing
import os
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from .points import FLOAT_METRICS, HEAD, INT_METRICS, METRIC_COLUMNS, run_point
from .spec import Spec

CSV_NAME = "results.csv"
PARQUET_NAME = "results.parquet"
STR_COLUMNS = ("key", "status", "error", "scenario", "mode", "cpu_util", "procnet_version")


class SweepError(RuntimeError):
    """The sweep could not go on (not a point's own failure)."""


def columns_for(spec: Spec) -> list[str]:
    params = list(spec.params) + (list(spec.fixed) if spec.template is None else [])
    return [*HEAD, *params, *METRIC_COLUMNS]


# ---------------------------------------------------------------- the store
def _to_cell(v) -> str:
    return "" if v is None else str(v)


def _from_cell(col: str, s: str):
    if s == "":
        return None
    if col in STR_COLUMNS:
        return s
    if col in INT_METRICS or col == "seed":
        return int(s)
    if col in FLOAT_METRICS:
        return float(s)
    if s in ("True", "False"):
        return s == "True"
    for conv in (int, float):
        try:
            return conv(s)
        except ValueError:
            pass
    return s


def _arrow_type(col: str, values: list):
    import pyarrow as pa
    if col in STR_COLUMNS:
        return pa.string()
    vals = [v for v in values if v is not None]
    if not vals:
        return pa.float64() if col in FLOAT_METRICS else pa.int64() if col in INT_METRICS \
            else pa.string()
    if all(isinstance(v, bool) for v in vals):
        return pa.bool_()
    if all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
        return pa.int64()
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
        return pa.float64()
    return pa.string()


def write_parquet(path: Path, columns: list[str], rows: list[dict]) -> None:
    """Write rows atomically (a temporary file renamed over `path`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    arrays, fields = [], []
    for col in columns:
        vals = [r.get(col) for r in rows]
        t = _arrow_type(col, vals)
        if t == pa.string():
            vals = [None if v is None else str(v) for v in vals]
        elif t == pa.float64():
            vals = [None if v is None else float(v) for v in vals]
        arrays.append(pa.array(vals, type=t))
        fields.append(pa.field(col, t))
    table = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


class ResultStore:
    """results.csv (appended per row) and results.parquet (rewritten), keyed by `key`."""

    def __init__(self, out_dir: Path, columns: list[str], parquet_every_s: float = 5.0) -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.csv_path = self.out_dir / CSV_NAME
        self.parquet_path = self.out_dir / PARQUET_NAME
        self.columns = list(columns)
        self.rows: dict[str, dict] = {}
        self.parquet_every_s = parquet_every_s
        self._last_parquet = time.monotonic()
        self._dirty = False
        header = self._load()
        if header != self.columns or not self._ends_with_newline():
            self._rewrite_csv(list(self.rows))
        self._f = self.csv_path.open("a", newline="")
        self._w = csv.writer(self._f)

    def _ends_with_newline(self) -> bool:
        try:
            with self.csv_path.open("rb") as f:
                f.seek(-1, os.SEEK_END)
                return f.read(1) == b"\n"
        except OSError:
            return False

    def _load(self) -> list[str] | None:
        """Rows of an earlier run; a torn last line (a killed run) is ignored."""
        if not self.csv_path.exists():
            return None
        with self.csv_path.open(newline="") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if not header or "key" not in header:
                return None
            for rec in reader:
                if len(rec) != len(header):
                    continue
                row = {c: _from_cell(c, s) for c, s in zip(header, rec)}
                if row.get("key") and row.get("status") in ("ok", "error"):
                    self.rows[row["key"]] = row
        self.columns += [c for c in header if c not in self.columns]
        return header

    def _rewrite_csv(self, keys: list[str]) -> None:
        tmp = self.csv_path.with_name(f".{CSV_NAME}.tmp")
        with tmp.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(self.columns)
            for k in keys:
                w.writerow([_to_cell(self.rows[k].get(c)) for c in self.columns])
        os.replace(tmp, self.csv_path)

    def add(self, row: dict) -> None:
        self._w.writerow([_to_cell(row.get(c)) for c in self.columns])
        self._f.flush()
        self.rows[row["key"]] = row
        self._dirty = True
        if time.monotonic() - self._last_parquet >= self.parquet_every_s:
            self.write_parquet()

    def write_parquet(self, keys: list[str] | None = None) -> None:
        keys = list(self.rows) if keys is None else keys
        write_parquet(self.parquet_path, self.columns, [self.rows[k] for k in keys])
        self._last_parquet = time.monotonic()
        self._dirty = False

    def close(self, order: Iterable[str] = ()) -> None:
        """Compact both files: the keys in `order` first (those present), then the others."""
        self._f.close()
        first = [k for k in order if k in self.rows]
        seen = set(first)
        keys = first + [k for k in self.rows if k not in seen]
        self._rewrite_csv(keys)
        self.write_parquet(keys)


# ---------------------------------------------------------------- executors
def _mp_context():
    """fork when this process has a single thread (fast; works from a REPL or stdin), else
    forkserver (forking a process with threads can deadlock a child)."""
    if threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["procnet.sweep.points"])
    return ctx


def run_local(tasks: list[dict], workers: int, on_row: Callable[[dict], None]) -> None:
    ex = ProcessPoolExecutor(max_workers=workers, mp_context=_mp_context())
    it = iter(tasks)
    pending: dict = {}
    window = 2 * workers

    def top_up() -> None:
        while len(pending) < window:
            t = next(it, None)
            if t is None:
                return
            pending[ex.submit(run_point, t)] = t

    try:
        top_up()
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                pending.pop(fut)
                on_row(fut.result())
            top_up()
    except BrokenProcessPool as e:
        raise SweepError(f"a worker process died ({e}); re-run to resume") from None
    finally:
        ex.shutdown(wait=True, cancel_futures=True)


def run_dask(tasks: list[dict], address: str, on_row: Callable[[dict], None],
             connect_timeout_s: float = 10.0) -> None:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise SweepError("--scheduler needs dask.distributed: pip install 'procnet[sweep]'") \
            from None
    try:
        client = Client(address, timeout=connect_timeout_s, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as e:
        raise SweepError(f"cannot connect to the dask scheduler at {address}: {e}") from None
    try:
        it = iter(tasks)
        ac = as_completed(loop=client.loop)
        in_flight = 0

        def top_up() -> None:
            nonlocal in_flight
            window = max(8, 2 * sum(client.nthreads().values()))
            while in_flight < window:
                t = next(it, None)
                if t is None:
                    return
                ac.add(client.submit(run_point, t, key=f"procnet-point-{t['key']}",
                                     pure=False))
                in_flight += 1

        top_up()
        for fut in ac:
            in_flight -= 1
            try:
                row = fut.result()
            except Exception as e:  # noqa: BLE001 - KilledWorker, CancelledError, comm errors
                raise SweepError(f"dask failed to run point {fut.key}: {type(e).__name__}: {e}; "
                                 "re-run to resume") from None
            fut.release()
            on_row(row)
            top_up()
    finally:
        client.close()


# ---------------------------------------------------------------- the sweep
@dataclass
class SweepResult:
    spec: Spec
    out_dir: Path
    rows: list[dict]                   # the current sweep's rows, grid order
    ran: list[str] = field(default_factory=list)     # keys run this time, in completion order
    skipped: int = 0                   # keys found done in out_dir
    total: int = 0
    wall_s: float = 0.0

    @property
    def errors(self) -> list[dict]:
        return [r for r in self.rows if r["status"] == "error"]

    @property
    def complete(self) -> bool:
        return len(self.rows) == self.total


def run_sweep(spec: Spec, out_dir: str | os.PathLike, workers: int | None = None,
              scheduler: str | None = None, retry_errors: bool = False,
              on_row: Callable[[dict, int, int], None] | None = None,
              on_start: Callable[[int, int], None] | None = None,
              limit: int | None = None, connect_timeout_s: float = 10.0) -> SweepResult:
    """Run the points of `spec` not already in `out_dir`; write rows as they finish.

    on_start(todo, skipped) is called once the store is read; on_row(row, done, todo) in this
    process after each row is stored. `limit` stops after that many new points (a partial run,
    resumed by the next call)."""
    t0 = time.monotonic()
    out = Path(out_dir)
    points = spec.points()
    store = ResultStore(out, columns_for(spec))
    if spec.source:
        (out / f"spec.{spec.source_format}").write_text(spec.source)
    done_keys = {k for k, r in store.rows.items() if r["status"] == "ok" or not retry_errors}
    todo = [p.task() for p in points if p.key not in done_keys]
    skipped = len(points) - len(todo)
    if limit is not None:
        todo = todo[:limit]
    result = SweepResult(spec, out, [], skipped=skipped, total=len(points))
    if on_start:
        on_start(len(todo), skipped)

    def record(row: dict) -> None:
        store.add(row)
        result.ran.append(row["key"])
        if on_row:
            on_row(row, len(result.ran), len(todo))

    try:
        if todo:
            if scheduler:
                run_dask(todo, scheduler, record, connect_timeout_s)
            else:
                n = workers or os.cpu_count() or 1
                run_local(todo, max(1, min(n, len(todo))), record)
    finally:
        store.close(order=[p.key for p in points])
        result.rows = [store.rows[p.key] for p in points if p.key in store.rows]
        result.wall_s = time.monotonic() - t0
    return result
