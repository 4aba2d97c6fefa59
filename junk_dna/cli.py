"""Command line: ``junk-dna sweep | presets | figures | results`` (also ``python -m junk_dna.cli``).

Exit status: 0 success; 1 runs (or the figures notebook) failed; 2 bad input (the message
names the bad value); 3 another sweep holds the runs folder's lock; 130 interrupted.
``sweep --executor slurm`` (:mod:`junk_dna.runs.slurm`) exits 0 once the job arrays are
submitted (1 only with ``--wait`` when a run failed; 2 also when ``sbatch`` refuses an array).
Nothing heavy is imported here: :mod:`junk_dna.runs` imports no torch, transformers or pandas.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

# runs/ imports no torch, transformers or pandas: `junk-dna --help` and `presets` stay light
from junk_dna.runs.errors import NotebookError, PresetError, SweepError, SweepLockedError
from junk_dna.runs.figures import run_figures
from junk_dna.runs.layout import describe_os_error
from junk_dna.runs.local import JOBS_AUTO, run_sweeps
from junk_dna.runs.presets import MAX_RUNS, list_experiments, preset_summaries, presets_file
from junk_dna.runs.resources import parse_overrides
from junk_dna.runs.slurm import report, submit_sweeps

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_LOCKED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer >= 1") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer >= 1")
    return value


def _jobs(text: str) -> int | str:
    """``--jobs``: an integer >= 1, or ``auto`` (:func:`junk_dna.runs.local.auto_layout`)."""
    if text == JOBS_AUTO:
        return text
    try:
        return _positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither an integer >= 1 nor "
                                         f"{JOBS_AUTO!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``junk-dna``."""
    parser = argparse.ArgumentParser(
        prog="junk-dna",
        description="Sweeps and figures of the Junk DNA hypothesis paper (Yin et al., ICML 2024).",
        epilog="exit status: 0 ok, 1 runs failed, 2 bad input, 3 runs folder locked by another "
               "sweep, 130 interrupted",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_slurm_options(_add_sweep_command(sub))
    _add_presets_command(sub)
    _add_figures_command(sub)
    _add_results_command(sub)
    return parser


def _add_sweep_command(sub: Any) -> argparse.ArgumentParser:
    """``junk-dna sweep``: its arguments common to both executors."""
    sweep = sub.add_parser(
        "sweep", help="run (or resume) every run of a preset",
        description="Run every run of a preset that is not finished yet, one papermill "
                    "execution per run. Rerun the same command to resume after a crash or to "
                    "retry failed runs.")
    sweep.add_argument("experiment", nargs="+",
                       help="experiment name(s) (see `junk-dna presets`); several run one after "
                            "the other, in this order, sharing their workers")
    sweep.add_argument("--preset", required=True,
                       help="preset name from junk_dna/presets/<experiment>.yaml, a path to "
                            "a .yaml file holding one preset, or a folder (a path with a '/', "
                            "e.g. ./mine/) holding one preset file <experiment>.yaml per "
                            "experiment")
    sweep.add_argument("--jobs", type=_jobs, default=None,
                       help="runs executed at once (default: the preset's jobs, else 1); auto: "
                            "one 1-thread run per CPU (fewer runs left: they share the CPUs)")
    sweep.add_argument("--dry-run", action="store_true",
                       help="list the runs and whether they are done; execute nothing "
                            "(--executor slurm: the job arrays to submit, their resources "
                            "and run ids; submit nothing, no SLURM needed)")
    sweep.add_argument("--runs-dir", default="papermill_runs",
                       help="folder of run folders (default: papermill_runs)")
    sweep.add_argument("--max-runs", type=_positive_int, default=MAX_RUNS, metavar="N",
                       help=f"refuse a preset that expands to more than N runs, before "
                            f"validating them (default {MAX_RUNS}); raise it for a grid "
                            f"that large on purpose")
    sweep.add_argument("--notebooks-dir", default=None,
                       help="folder holding the experiment's notebook (default: notebooks/)")
    sweep.add_argument("--no-progress", action="store_true", help="no progress bar")
    sweep.add_argument("--fresh-kernel", action="store_true",
                       help="a new Jupyter kernel for every run (default: each of the --jobs "
                            "workers keeps its kernel and imports across its runs, namespace "
                            "cleared between runs)")
    sweep.add_argument("--executor", choices=("local", "slurm"), default="local",
                       help="local: run here, --jobs at once (default); slurm: submit the runs "
                            "still to do as a SLURM job array through submitit and return")
    sweep.set_defaults(func=_cmd_sweep)
    return sweep


def _add_slurm_options(sweep: argparse.ArgumentParser) -> None:
    """``junk-dna sweep --executor slurm``: the resource overrides and submission flags."""
    slurm = sweep.add_argument_group(
        "SLURM (with --executor slurm; each overrides the preset's slurm: mapping)",
        description="One array task per run (a submission of a single run is a plain job), "
                    "executed like a local run (same run folders and "
                    "records). The command returns after submission, printing the job ids; "
                    "run it again to resume: finished runs and runs whose job is queued or "
                    "running are skipped, failed ones are submitted again. Preempted or "
                    "timed-out tasks requeue themselves and re-run their run.")
    slurm.add_argument("--partition", default=None, help="SLURM partition(s)")
    slurm.add_argument("--gpus", default=None, metavar="N", help="GPUs per task (0: none)")
    slurm.add_argument("--time", default=None, metavar="MINUTES",
                       help="time limit per task in minutes (default 60; at least 3: the "
                            "requeue signal comes 90 s before the limit)")
    slurm.add_argument("--cpus-per-task", default=None, metavar="N", help="CPUs per task")
    slurm.add_argument("--mem-gb", default=None, metavar="GB", help="memory per task in GB")
    slurm.add_argument("--array-parallelism", default=None, metavar="N",
                       help="tasks of the array running at once (default 256)")
    slurm.add_argument("--slurm-extra", action="append", default=[], metavar="KEY[=VALUE]",
                       help="extra sbatch option, repeatable (e.g. account=myproject, "
                            "qos=high, requeue)")
    slurm.add_argument("--resubmit", action="store_true",
                       help="also submit the runs whose job is still queued or running")
    slurm.add_argument("--wait", action="store_true",
                       help="wait until the submitted jobs end; exit 1 if a run failed")


def _add_presets_command(sub: Any) -> None:
    presets = sub.add_parser("presets", help="list experiments and their presets")
    presets.add_argument("experiment", nargs="?", default=None, help="only this experiment")
    presets.set_defaults(func=_cmd_presets)


def _add_figures_command(sub: Any) -> None:
    figures = sub.add_parser("figures", help="execute notebooks/figures.ipynb over the runs")
    figures.add_argument("--runs-dir", default="papermill_runs",
                         help="folder of run folders (default: papermill_runs)")
    figures.add_argument("--figures-dir", default="figures",
                         help="where the figures go (default: figures)")
    figures.add_argument("--notebooks-dir", default=None,
                         help="folder holding figures.ipynb (default: notebooks/)")
    figures.set_defaults(func=_cmd_figures)


def _add_results_command(sub: Any) -> None:
    results = sub.add_parser(
        "results", help="write the tidy run table (one row per run, metric and epoch) as CSV")
    results.add_argument("--runs-dir", default="papermill_runs",
                         help="folder of run folders (default: papermill_runs)")
    results.add_argument("--csv", default=None, metavar="PATH",
                         help="write the table here (default: standard output)")
    results.add_argument("--which", choices=("last", "best"), default=None,
                         help="only the last or the best evaluation's rows (default: both)")
    results.add_argument("--experiment", action="append", default=None, metavar="NAME",
                         help="only this experiment (repeatable; default: all)")
    results.set_defaults(func=_cmd_results)


_SLURM_FLAGS = (("partition", "--partition"), ("gpus", "--gpus"), ("time", "--time"),
                ("cpus_per_task", "--cpus-per-task"), ("mem_gb", "--mem-gb"),
                ("array_parallelism", "--array-parallelism"), ("slurm_extra", "--slurm-extra"),
                ("resubmit", "--resubmit"), ("wait", "--wait"))


def _cmd_sweep(args: argparse.Namespace) -> int:
    if args.executor == "slurm":
        return _cmd_sweep_slurm(args)
    given = [flag for name, flag in _SLURM_FLAGS if getattr(args, name)]
    if given:
        raise SweepError(f"{', '.join(given)} only apply to --executor slurm (the executor "
                         "is local)")
    results = run_sweeps(args.experiment, args.preset, runs_dir=args.runs_dir, jobs=args.jobs,
                         dry_run=args.dry_run, notebooks_dir=args.notebooks_dir,
                         progress=not args.no_progress, reuse_kernels=not args.fresh_kernel,
                         max_runs=args.max_runs)
    if args.dry_run:
        return EXIT_OK
    failed = 0
    for result in results:
        reused = f" ({result.reused} reused from another experiment)" if result.reused else ""
        print(f"{result.experiment}/{result.preset}: {result.total} runs: {result.skipped} "
              f"already done{reused}, {result.ran} ran now, {len(result.failed)} failed; runs "
              f"in {result.root}", file=sys.stderr)
        failed += len(result.failed)
    if failed:
        print(f"{failed} run(s) failed (run the same command again to retry them):",
              file=sys.stderr)
        for result in results:
            for run_id in result.failed:
                where = result.reasons.get(run_id) or result.error_file(run_id)
                print(f"  {run_id}: {where}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _cmd_sweep_slurm(args: argparse.Namespace) -> int:
    if args.jobs is not None:
        raise SweepError(f"--jobs {args.jobs} only applies to the local executor; with "
                         "--executor slurm use --array-parallelism")
    if args.fresh_kernel:
        raise SweepError("--fresh-kernel only applies to the local executor (every SLURM "
                         "array task already starts its own kernel)")
    overrides = parse_overrides(partition=args.partition, gpus=args.gpus, time=args.time,
                                cpus_per_task=args.cpus_per_task, mem_gb=args.mem_gb,
                                array_parallelism=args.array_parallelism,
                                extra=args.slurm_extra)
    results = submit_sweeps(args.experiment, args.preset, runs_dir=args.runs_dir,
                            overrides=overrides, dry_run=args.dry_run, resubmit=args.resubmit,
                            wait=args.wait, notebooks_dir=args.notebooks_dir,
                            progress=not args.no_progress, max_runs=args.max_runs)
    if args.dry_run:
        return EXIT_OK
    for result in results:
        report(result)
    return EXIT_FAILED if any(result.failed for result in results) else EXIT_OK


def _cmd_presets(args: argparse.Namespace) -> int:
    names = [args.experiment] if args.experiment else list_experiments()
    for name in names:
        try:
            summaries = preset_summaries(name)
        except PresetError as err:
            if args.experiment:
                raise
            print(f"{name}: no presets ({err})")
            continue
        print(f"{name}  ({presets_file(name)})")
        width = max(len(s.name) for s in summaries)
        for s in summaries:
            if s.error is not None:
                print(f"  {s.name:<{width}}  INVALID: {s.error}")
                continue
            jobs = f", jobs {s.jobs}" if s.jobs else ""
            print(f"  {s.name:<{width}}  {s.runs:>5} runs{jobs}  {s.description}")
    return EXIT_OK


def _cmd_figures(args: argparse.Namespace) -> int:
    try:
        output = run_figures(args.runs_dir, args.figures_dir, args.notebooks_dir)
    except NotebookError as err:
        print(f"junk-dna figures: {err}", file=sys.stderr)
        return EXIT_FAILED
    print(f"figures written to {args.figures_dir} (executed notebook: {output})", file=sys.stderr)
    return EXIT_OK


def _cmd_results(args: argparse.Namespace) -> int:
    from junk_dna.results import atomic_write_text, table_csv  # pandas: imported here only

    text = table_csv(args.runs_dir, which=args.which, experiments=args.experiment)
    if args.csv is None:
        sys.stdout.write(text)
        return EXIT_OK
    atomic_write_text(args.csv, text)
    print(f"wrote {text.count(chr(10)) - 1} rows to {args.csv}", file=sys.stderr)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (never raises for bad input)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    try:
        return args.func(args)
    except (ValueError, ImportError) as err:
        print(f"junk-dna {args.command}: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as err:  # a filesystem error not caught where it happened: before any run
        print(f"junk-dna {args.command}: error: {describe_os_error(err)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except SweepLockedError as err:
        print(f"junk-dna {args.command}: {err}", file=sys.stderr)
        return EXIT_LOCKED
    except KeyboardInterrupt:
        print(f"junk-dna {args.command}: interrupted; run the same command again to resume",
              file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
