"""The errors of sweeps: bad input (a ``ValueError``: exit status 2), a locked runs folder."""

from __future__ import annotations


class SweepError(ValueError):
    """Bad input to a sweep (unknown experiment, missing notebook, bad --jobs, ...)."""


class PresetError(SweepError):
    """A preset cannot be loaded or expanded; the message names the bad value."""


class SweepLockedError(RuntimeError):
    """Another sweep holds the lock of the same runs folder."""


class NotebookError(RuntimeError):
    """A notebook executed outside a sweep (``figures``) failed; the message has the error."""


class SubmissionError(SweepError):
    """``sbatch`` refused a job array (bad partition, account, limits, ...)."""
