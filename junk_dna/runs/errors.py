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


class RunFolderError(RuntimeError):
    """A run folder cannot be used: a symbolic link or a file where the folder belongs, claimed
    by a process that is still working in it, or a filesystem error (read-only, full disk).
    The run fails with this message (its folder may not be writable, so the message is in the
    sweep's summary, not only in ``error.txt``) and the sweep goes on."""
