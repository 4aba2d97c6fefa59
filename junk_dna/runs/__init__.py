"""Everything that executes runs: presets, the run-folder contract, the notebook worker,
the local and SLURM executors (see the README's Layout section).

No module here imports torch, transformers or pandas at module level; the local and SLURM
executors depend on the shared core (errors, layout, presets, resources, notebook), never on
each other. Names are re-exported lazily: importing this package imports none of its modules.
"""

from junk_dna.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "errors": [
        "SweepError", "PresetError", "SweepLockedError", "NotebookError", "SubmissionError"
    ],
    "layout": [
        "DEFAULT_RUNS_DIR", "LOCK_NAME", "PARAMS_NAME", "LOG_NAME", "ERROR_NAME", "RUNNER_NAME",
        "WORKER_LOG_NAME", "DONE", "TODO", "FAILED", "CORRUPT", "STALE", "PACKAGE_DIR",
        "canonical_json", "run_id", "run_state", "state_reason", "sweep_lock"
    ],
    "presets": [
        "PRESET_KEYS", "Preset", "Run", "presets_file", "is_preset_path", "preset_names",
        "load_preset", "parse_preset", "cached_resolver", "bound_validator", "expand_preset",
        "varying_keys", "lookup_experiment", "list_experiments", "PresetSummary",
        "preset_summaries"
    ],
    "resources": [
        "SLURM_KEYS", "DEFAULT_TIMEOUT_MIN", "DEFAULT_ARRAY_PARALLELISM", "DEFAULT_MAX_ARRAY_SIZE",
        "SlurmResources", "check_slurm_block", "parse_overrides", "resolve_resources"
    ],
    "notebook": [
        "KERNEL_NAME", "KERNEL_DISPLAY_NAME", "PARENT_ENV", "STAGGER_S", "KERNEL_START_TIMEOUT_S",
        "default_notebooks_dir", "find_notebook", "find_notebook_or_reason", "available_cpus",
        "Launcher", "execute_notebook", "execute_run", "kernel_spec",
        "native_kernel_manager_class", "watch_parent", "report_failure", "worker_main"
    ],
    "kernels": [
        "ENGINE_NAME", "RESET_TIMEOUT_S", "WorkerDied", "KernelWorker", "KernelPool", "serve"
    ],
    "reuse": [
        "reuse_shared_runs"
    ],
    "local": [
        "SweepResult", "run_sweep", "run_sweeps"
    ],
    "slurm": [
        "SLURM_DIR", "LOGS_DIR", "ENDED_DIR", "CLUSTER_ENV", "CLUSTERS", "MAX_NUM_TIMEOUT",
        "FINAL_STATES", "submitit_cluster", "RunFailedError", "RunTask", "Submitted", "SlurmPlan",
        "latest_submissions", "final_jobs", "plan_submission", "SlurmSweepResult", "job_name",
        "submit_sweep", "report"
    ],
    "figures": [
        "run_figures"
    ],
})
