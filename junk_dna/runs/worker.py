"""The entry of every worker process a sweep starts (internal)::

    python -m junk_dna.runs.worker kernels        # a persistent worker (junk_dna.runs.kernels)
    python -m junk_dna.runs.worker run NOTEBOOK OUTPUT PARAMS CWD ERROR_FILE   # one run

Its first act, before importing anything but the standard library, is to start watching the
sweep that started it (:class:`junk_dna.runs.watchdog.ParentWatch`): a sweep killed while
its worker is still importing papermill leaves no worker behind.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from junk_dna.runs.watchdog import ParentWatch

USAGE = ("internal: python -m junk_dna.runs.worker kernels | run NOTEBOOK OUTPUT PARAMS CWD "
         "ERROR_FILE; use `junk-dna sweep` instead")


def worker_entry(argv: Sequence[str]) -> int:
    """Start watching the sweep, then serve as the worker ``argv`` names; the exit status."""
    if not ((argv[:1] == ["kernels"] and len(argv) == 1)
            or (argv[:1] == ["run"] and len(argv) == 6)):
        print(USAGE, file=sys.stderr)
        return 2
    watch = ParentWatch().start()
    if argv[0] == "kernels":
        # imported once the watch runs: a worker watches its sweep before any other import
        from junk_dna.runs.kernels import serve_worker

        return serve_worker(watch)
    # imported once the watch runs: a worker watches its sweep before any other import
    from junk_dna.runs.notebook import worker_main

    return worker_main(argv[1:], watch)


if __name__ == "__main__":
    sys.exit(worker_entry(sys.argv[1:]))
