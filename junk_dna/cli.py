"""Command line: ``junk-dna sweep | presets | figures`` (also ``python -m junk_dna.cli``).

Exit status: 0 success; 1 runs (or the figures notebook) failed; 2 bad input (the message
names the bad value); 3 another sweep holds the runs folder's lock; 130 interrupted.
Nothing heavy is imported here; the sweep module is imported by the subcommands.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_LOCKED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer >= 1") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer >= 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``junk-dna``."""
    parser = argparse.ArgumentParser(
        prog="junk-dna",
        description="Sweeps and figures of the Junk DNA hypothesis paper (Yin et al., ICML 2024).",
        epilog="exit status: 0 ok, 1 runs failed, 2 bad input, 3 runs folder locked by another "
               "sweep, 130 interrupted",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sweep = sub.add_parser(
        "sweep", help="run (or resume) every run of a preset",
        description="Run every run of a preset that is not finished yet, one papermill "
                    "execution per run. Rerun the same command to resume after a crash or to "
                    "retry failed runs.")
    sweep.add_argument("experiment", help="experiment name (see `junk-dna presets`)")
    sweep.add_argument("--preset", required=True,
                       help="preset name from junk_dna/presets/<experiment>.yaml, or a path to "
                            "a .yaml file holding one preset")
    sweep.add_argument("--jobs", type=_positive_int, default=None,
                       help="runs executed at once (default: the preset's jobs, else 1)")
    sweep.add_argument("--dry-run", action="store_true",
                       help="list the runs and whether they are done; execute nothing")
    sweep.add_argument("--runs-dir", default="papermill_runs",
                       help="folder of run folders (default: papermill_runs)")
    sweep.add_argument("--notebooks-dir", default=None,
                       help="folder holding the experiment's notebook (default: notebooks/)")
    sweep.add_argument("--no-progress", action="store_true", help="no progress bar")
    sweep.set_defaults(func=_cmd_sweep)

    presets = sub.add_parser("presets", help="list experiments and their presets")
    presets.add_argument("experiment", nargs="?", default=None, help="only this experiment")
    presets.set_defaults(func=_cmd_presets)

    figures = sub.add_parser("figures", help="execute notebooks/figures.ipynb over the runs")
    figures.add_argument("--runs-dir", default="papermill_runs",
                         help="folder of run folders (default: papermill_runs)")
    figures.add_argument("--figures-dir", default="figures",
                         help="where the figures go (default: figures)")
    figures.add_argument("--notebooks-dir", default=None,
                         help="folder holding figures.ipynb (default: notebooks/)")
    figures.set_defaults(func=_cmd_figures)
    return parser


def _cmd_sweep(args: argparse.Namespace) -> int:
    from junk_dna.sweep import run_sweep

    result = run_sweep(args.experiment, args.preset, runs_dir=args.runs_dir, jobs=args.jobs,
                       dry_run=args.dry_run, notebooks_dir=args.notebooks_dir,
                       progress=not args.no_progress)
    if result.dry_run:
        return EXIT_OK
    print(f"{result.experiment}/{result.preset}: {result.total} runs: {result.skipped} already "
          f"done, {result.ran} ran now, {len(result.failed)} failed; runs in {result.root}",
          file=sys.stderr)
    if result.failed:
        print(f"{len(result.failed)} run(s) failed (run the same command again to retry them):",
              file=sys.stderr)
        for run_id in result.failed:
            print(f"  {run_id}: {result.error_file(run_id)}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _cmd_presets(args: argparse.Namespace) -> int:
    from junk_dna.sweep import (
        PresetError,
        list_experiments,
        preset_summaries,
        presets_file,
    )

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
    from junk_dna.sweep import NotebookError, run_figures

    try:
        output = run_figures(args.runs_dir, args.figures_dir, args.notebooks_dir)
    except NotebookError as err:
        print(f"junk-dna figures: {err}", file=sys.stderr)
        return EXIT_FAILED
    print(f"figures written to {args.figures_dir} (executed notebook: {output})", file=sys.stderr)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (never raises for bad input)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    from junk_dna.sweep import SweepLockedError

    try:
        return args.func(args)
    except (ValueError, ImportError) as err:
        print(f"junk-dna {args.command}: error: {err}", file=sys.stderr)
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
