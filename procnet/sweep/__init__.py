"""Parameter sweeps over the engine: `procnet sweep SPEC` (docs/sweeps.md).

spec.py parses and validates a spec into points; points.py runs one point (a pure function of
config, mode and seed); run.py runs the points on a local process pool or a dask.distributed
cluster and keeps the results (CSV, Parquet; resumable); summary.py makes the table, the
crossovers and the plots.
"""
from .run import SweepError, SweepResult, run_sweep
from .spec import SpecError, Spec, load_spec, parse_spec
from .summary import Summary, describe, summarize

__all__ = ["SpecError", "Spec", "load_spec", "parse_spec", "SweepError", "SweepResult",
           "run_sweep", "Summary", "describe", "summarize"]
