"""The `procnet` command: one click group with thin commands over the runtime and the mount.

Only this module imports click. Errors become a one-line message and a distinct exit code
(procnet.fs.EXIT_*), never a traceback.
"""
from __future__ import annotations

import functools
import os
import subprocess
import sys
import time

import click

from procnet import __version__
from procnet.options import build_options


def _machine_options(f):
    """--cpus --cmdline --preempt-rt --dev --clock --speed --seed --config, shared by commands."""
    opts = [
        click.option("--cpus", type=click.IntRange(1, 1024), help="Number of CPUs (default 4)."),
        click.option("--cmdline", help='Boot options, e.g. "thread_backlog_napi".'),
        click.option("--preempt-rt", "preempt_rt", is_flag=True, default=None,
                     help="PREEMPT_RT: forces thread_backlog_napi; hardirq softirqs go to ksoftirqd."),
        click.option("--dev", "devs", multiple=True, metavar="NAME:k=v,...",
                     help="A NIC, e.g. eth0:rxqueues=4,irq=0-3,driver=napi (repeatable; "
                          "replaces the default eth0)."),
        click.option("--clock", type=click.Choice(["realtime", "manual"]),
                     help="realtime (default): virtual time follows wall time; manual: only "
                          "procnet/clock/advance moves it."),
        click.option("--speed", type=float, help="Realtime speed factor (default 1)."),
        click.option("--seed", type=int, help="Random seed (default 1)."),
        click.option("--config", "config_path", type=click.Path(dir_okay=False),
                     help="TOML machine description (see docs/usage.md)."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _options(kw: dict):
    try:
        return build_options(cpus=kw.pop("cpus"), seed=kw.pop("seed"), cmdline=kw.pop("cmdline"),
                             preempt_rt=kw.pop("preempt_rt"), devs=kw.pop("devs"),
                             clock=kw.pop("clock"), speed=kw.pop("speed"),
                             config_path=kw.pop("config_path"))
    except ValueError as e:
        raise click.UsageError(str(e)) from None


def _mount_errors(f):
    @functools.wraps(f)
    def wrapper(*a, **kw):
        from procnet.fs import MountError
        try:
            return f(*a, **kw)
        except MountError as e:
            click.echo(f"procnet: {e.message}", err=True)
            sys.exit(e.code)
    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="procnet")
def main() -> None:
    """Emulate the Linux receive backlog and drive it through procfs/sysfs-style files."""


@main.command()
@click.argument("mountpoint", type=click.Path())
@_machine_options
@click.option("--background", is_flag=True, help="Return once the mount serves (for scripts).")
@click.option("--log-file", type=click.Path(dir_okay=False), help="Daemon log (stdout/stderr).")
@_mount_errors
def mount(mountpoint, background, log_file, **kw):
    """Mount an emulated machine on MOUNTPOINT and serve it until Ctrl-C, SIGTERM or umount."""
    from procnet.fs import serve
    from procnet.runtime import make_tree
    opts = _options(kw)
    sys.exit(serve(functools.partial(make_tree, opts), mountpoint, foreground=not background,
                   log_file=log_file))


@main.command()
@click.argument("mountpoint", type=click.Path())
@_mount_errors
def umount(mountpoint):
    """Unmount MOUNTPOINT; also recovers a mount whose daemon was killed."""
    from procnet.fs import umount as do_umount
    do_umount(mountpoint)


def _live_mount(mountpoint: str) -> str:
    """MOUNTPOINT if a procnet machine answers there; else a one-line error and exit code."""
    from procnet.fs import EXIT_DEAD_MOUNT
    from procnet.fs.lifecycle import is_dead_mount
    if is_dead_mount(mountpoint):
        click.echo(f"procnet: {mountpoint} is a dead FUSE mount (Transport endpoint is not "
                   f"connected): its server was killed. Recover with: procnet umount "
                   f"{mountpoint}", err=True)
        sys.exit(EXIT_DEAD_MOUNT)
    if not os.path.isfile(os.path.join(mountpoint, "proc/net/softnet_stat")):
        raise click.UsageError(f"{mountpoint} is not a procnet mount (no proc/net/softnet_stat; "
                               f"mount one with: procnet mount {mountpoint})")
    return mountpoint


def _read_failed(mountpoint: str, e: OSError) -> None:
    if isinstance(e, BrokenPipeError):   # `procnet ps MNT | head`: stop quietly, like ps does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    click.echo(f"procnet: cannot read {mountpoint}: {e.strerror or e} (was it unmounted?)",
               err=True)
    sys.exit(1)


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("mountpoint", type=click.Path(file_okay=False))
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def shell(mountpoint, command):
    """Run a shell (or COMMAND) where MOUNTPOINT's net.core sysctls replace /proc/sys/net/core.

    Like LXCFS for containers: a private mount namespace with $MNT/proc/sys/net/core bind-mounted
    over /proc/sys/net/core, so procps `sysctl` works unchanged. The host is untouched.
    """
    src = os.path.join(os.path.abspath(_live_mount(mountpoint)), "proc/sys/net/core")
    cmd = list(command) or [os.environ.get("SHELL", "/bin/bash")]
    script = 'mount --bind "$1" /proc/sys/net/core && shift && exec "$@"'
    argv = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sh",
            src, *cmd]
    try:
        sys.exit(subprocess.call(argv))
    except FileNotFoundError:
        click.echo("procnet: unshare not found (apt-get install util-linux)", err=True)
        sys.exit(5)


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


@main.command()
@click.argument("mountpoint", type=click.Path(file_okay=False))
@click.option("--interval", type=float, default=1.0, show_default=True,
              help="Seconds (of wall time) between reports.")
@click.option("--count", type=int, default=0, help="Stop after this many reports (0: never).")
def stat(mountpoint, interval, count):
    """Print per-CPU softnet rates the way `sar -n SOFT` does (per virtual second)."""
    try:
        _stat(_live_mount(mountpoint), interval, count)
    except OSError as e:
        _read_failed(mountpoint, e)


def _stat(mountpoint: str, interval: float, count: int) -> None:
    sn = os.path.join(mountpoint, "proc/net/softnet_stat")
    now = os.path.join(mountpoint, "procnet/clock/now")

    def sample():
        t = int(_read(now))
        rows = {int(f[12], 16): [int(f[i], 16) for i in (0, 1, 2, 9, 10)]
                for f in (line.split() for line in _read(sn).splitlines())}
        return t, rows

    t0, prev = sample()
    n = 0
    while count == 0 or n < count:
        time.sleep(interval)
        t1, cur = sample()
        dt = (t1 - t0) / 1e9
        click.echo(f"{'CPU':>5} {'total/s':>10} {'dropd/s':>10} {'squeezd/s':>10} "
                   f"{'rx_rps/s':>10} {'flw_lim/s':>10}")
        totals = [0.0] * 5
        for cpu in sorted(cur):
            old = prev.get(cpu, cur[cpu])
            rates = [((c - o) & 0xFFFFFFFF) / dt if dt > 0 else 0.0 for c, o in zip(cur[cpu], old)]
            totals = [a + b for a, b in zip(totals, rates)]
            click.echo(f"{cpu:>5} " + " ".join(f"{r:10.2f}" for r in rates))
        click.echo(f"{'all':>5} " + " ".join(f"{r:10.2f}" for r in totals))
        t0, prev = t1, cur
        n += 1


@main.command()
@click.argument("mountpoint", type=click.Path(file_okay=False))
def ps(mountpoint):
    """List the emulated tasks with their CPU, state and run time."""
    try:
        _ps(_live_mount(mountpoint))
    except OSError as e:
        _read_failed(mountpoint, e)


def _ps(mountpoint: str) -> None:
    procdir = os.path.join(mountpoint, "proc")
    click.echo(f"{'PID':>6} {'PSR':>3} {'S':1} {'TIME(ms)':>10} {'NVCSW':>8} {'NIVCSW':>8}  COMMAND")
    for name in sorted((n for n in os.listdir(procdir) if n.isdigit()), key=int):
        try:
            st = _read(os.path.join(procdir, name, "stat"))
            status = _read(os.path.join(procdir, name, "status"))
        except FileNotFoundError:
            continue        # the task ended meanwhile
        comm = st[st.index("(") + 1:st.rindex(")")]
        fields = st[st.rindex(")") + 2:].split()
        state, utime, stime, cpu = fields[0], int(fields[11]), int(fields[12]), int(fields[36])
        sw = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        click.echo(f"{name:>6} {cpu:>3} {state:1} {(utime + stime) * 10:>10} "
                   f"{sw.get('voluntary_ctxt_switches', '0').strip():>8} "
                   f"{sw.get('nonvoluntary_ctxt_switches', '0').strip():>8}  {comm}")


@main.command()
@_machine_options
@click.option("--duration", default="200ms", show_default=True, help="Virtual time per mode.")
def demo(duration, **kw):
    """Run the default machine's imbalance case in the three modes; print softnet_stat."""
    from procnet.demo import run_demo
    from procnet.kernelfs.control import ControlError, parse_duration_ns
    opts = _options(kw)
    try:
        ns = parse_duration_ns(duration, "--duration")
    except ControlError as e:
        raise click.UsageError(e.strerror) from None
    run_demo(opts.machine, ns, click.echo)


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("script", type=click.Path(exists=True, dir_okay=False))
@_machine_options
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def run(script, args, **kw):
    """Run SCRIPT with bash against a fresh machine mounted at $PROCNET; always unmount.

    The clock is manual unless --clock says otherwise (scripts move time with pn_advance).
    Exit status: the script's.
    """
    from procnet.experiments.runner import run_script
    from procnet.fs import MountError
    if kw.get("clock") is None:
        kw["clock"] = "manual"
    opts = _options(kw)
    try:
        status, _ = run_script(script, opts, args)
    except MountError as e:
        click.echo(f"procnet: {e.message}", err=True)
        sys.exit(e.code)
    except KeyboardInterrupt:      # a Ctrl-C outside the script's run; run_script unmounted
        sys.exit(130)
    sys.exit(status)


@main.command()
def libpath():
    """Print the path of the shell helper library for experiment scripts."""
    from procnet.experiments.runner import LIB
    click.echo(str(LIB))


@main.command()
@click.argument("name")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Where to write results.json, results.csv and the plot (default out/NAME).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON instead of a table.")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed.")
def experiment(name, out_dir, as_json, seed):
    """Run a built-in experiment (NAME, or "list" to see them) in every relevant mode."""
    import json
    from pathlib import Path

    from procnet.experiments.registry import EXPERIMENTS
    from procnet.experiments.report import get, run_experiment, table
    if name == "list":
        for e in EXPERIMENTS.values():
            click.echo(f"{e.name:18} {e.title}")
        return
    try:
        exp = get(name)
        opts = build_options(seed=seed)
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    out = Path(out_dir or Path("out") / name)
    labels = [v.label for v in exp.variants]
    show_bar = sys.stderr.isatty() and not as_json
    with click.progressbar(length=len(labels), label=f"{name}", file=sys.stderr,
                           hidden=not show_bar,
                           item_show_func=lambda x: x or "") as bar:
        doc = run_experiment(exp, opts, out, progress=lambda label: bar.update(1, label))
    if as_json:
        click.echo(json.dumps(doc, indent=1))
        return
    click.echo(f"{exp.name}: {exp.title}")
    click.echo(f"claim: {exp.claim}")
    click.echo(f"source: {exp.source}")
    click.echo("")
    click.echo(table(exp, doc))
    click.echo("")
    click.echo(f"the claim predicts: {doc['prediction']}")
    click.echo(f"the model {'agrees' if doc['model_agrees'] else 'DISAGREES'}: {doc['detail']}")
    click.echo(f"plot: {out / (exp.name + '.png')}   data: {out / 'results.json'}, "
               f"{out / 'results.csv'}")


@main.command()
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Results directory (default out/sweeps/NAME). Re-running into the same "
                   "directory resumes: finished points are skipped.")
@click.option("--workers", type=click.IntRange(1), help="Local worker processes (default: CPUs).")
@click.option("--scheduler", metavar="ADDRESS",
              help="Run on a dask.distributed scheduler (e.g. tcp://127.0.0.1:8786) instead.")
@click.option("--retry-errors", is_flag=True, help="Run again the points recorded as errors.")
def sweep(spec_path, out_dir, workers, scheduler, retry_errors):
    """Run a parameter sweep: every point of SPEC (TOML) in each mode and seed (docs/sweeps.md).

    Writes results.csv / results.parquet (one row per point, mode and seed), summary.json,
    crossovers.csv and a plot per metric; prints a table and the crossovers."""
    from pathlib import Path

    from procnet.sweep import SpecError, SweepError, describe, load_spec, run_sweep, summarize
    try:
        spec = load_spec(spec_path)
    except SpecError as e:
        click.echo(f"procnet sweep: {spec_path}: {e}", err=True)
        sys.exit(2)
    if workers and scheduler:
        click.echo("procnet sweep: --workers is for the local pool; a dask cluster has its own "
                   "workers", err=True)
        sys.exit(2)
    out = Path(out_dir or Path("out") / "sweeps" / spec.name)
    state = {}

    def on_start(todo, skipped):
        if skipped:
            click.echo(f"{out}: {skipped} run(s) already done, {todo} to go", err=True)
        bar = click.progressbar(length=todo, label=spec.name, file=sys.stderr,
                                hidden=not sys.stderr.isatty() or not todo,
                                item_show_func=lambda r: r and f"{r['mode']} seed {r['seed']}")
        state["bar"] = bar.__enter__()

    def on_row(row, done, todo):
        state["bar"].update(1, row)

    try:
        res = run_sweep(spec, out, workers=workers, scheduler=scheduler,
                        retry_errors=retry_errors, on_row=on_row, on_start=on_start)
    except KeyboardInterrupt:
        click.echo(f"\nprocnet sweep: interrupted; finished rows are in {out}; run the same "
                   "command again to resume", err=True)
        sys.exit(130)
    except (SweepError, OSError) as e:
        click.echo(f"procnet sweep: {e}", err=True)
        sys.exit(1)
    finally:
        if "bar" in state:
            state["bar"].__exit__(None, None, None)
    summ = summarize(spec, res.rows, out)
    nparams = len(spec.grid())
    click.echo(f"sweep {spec.name}: {res.total} runs ({nparams} points x {len(spec.modes)} "
               f"modes x {len(spec.seeds)} seeds): {len(res.ran)} run now in {res.wall_s:.1f} s, "
               f"{res.skipped} found in {out}, {len(res.errors)} error(s)")
    click.echo("")
    click.echo(summ.text)
    click.echo("")
    if "stock" not in spec.modes:
        click.echo("crossovers: none computed (stock is not among the modes)")
    else:
        click.echo(f"crossovers (mode - stock changes sign; ties within "
                   f"{spec.tolerance:.0%} of stock): {len(summ.crossovers) or 'none'}")
        for c in summ.crossovers:
            click.echo(f"  {describe(c)}")
    for r in res.errors[:5]:
        params = " ".join(f"{k}={r.get(k)}" for k in spec.params)
        click.echo(f"error: {params} mode={r['mode']} seed={r['seed']}: {r['error']}")
    if len(res.errors) > 5:
        click.echo(f"... {len(res.errors) - 5} more errors in {out / 'results.csv'}")
    click.echo(f"plots: {', '.join(str(p) for p in summ.plots)}")
    click.echo(f"data: {out / 'results.csv'}, {out / 'results.parquet'}, "
               f"{out / 'summary.json'}, {out / 'crossovers.csv'}")


if __name__ == "__main__":
    main()
