"""Everything that executes runs: presets, the run-folder contract, the notebook worker,
the local and SLURM executors (see the README's Layout section).

No module here imports torch, transformers or pandas at module level; the local and SLURM
executors depend on the shared core (errors, layout, presets, resources, notebook), never on
each other. Names are re-exported lazily: importing this package imports none of its modules.
"""

from junk_dna.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "errors": [
        "SweepError", "PresetError", "SweepLockedError", "NotebookError", "SubmissionError",
        "RunFolderError"
    ],
    "layout": [
        "DEFAULT_RUNS_DIR", "LOCK_NAME", "PARAMS_NAME", "LOG_NAME", "ERROR_NAME", "RUNNER_NAME",
        "WORKER_LOG_NAME", "CLAIMS_DIR", "CLAIM_TIMEOUT_S", "DONE", "TODO", "FAILED", "CORRUPT",
        "STALE", "BLOCKED", "PACKAGE_DIR", "canonical_json", "run_id", "run_state", "state_reason",
        "run_folders", "blocked_reason", "prepare_run_folder", "describe_os_error", "write_error",
        "claimed_run", "usable_folder", "experiment_folder", "sweep_lock"
    ],
    "presets": [
        "PRESET_KEYS", "Preset", "Run", "MAX_YAML_NODES", "MAX_RUNS", "presets_file",
        "is_preset_path", "is_preset_folder", "preset_names", "load_preset", "parse_preset",
        "cached_resolver", "bound_validator", "grid_size", "check_grid_size", "config_types",
        "check_types", "expand_preset", "varying_keys", "lookup_experiment", "list_experiments",
        "PresetSummary", "preset_summaries"
    ],
    "resources": [
        "SLURM_KEYS", "DEFAULT_TIMEOUT_MIN", "SIGNAL_DELAY_S", "MIN_TIMEOUT_MIN",
        "DEFAULT_ARRAY_PARALLELISM", "DEFAULT_MAX_ARRAY_SIZE", "SlurmResources",
        "check_slurm_block", "parse_overrides", "resolve_resources"
    ],
    "watchdog": [
        "PARENT_ENV", "CLAIM_FD_ENV", "CLAIM_SOCKET_ENV", "WORKER_MODULE", "EXIT_ORPHAN",
        "ParentWatch", "children", "kill_process_tree", "wait_gone", "kill_children"
    ],
    "notebook": [
        "KERNEL_NAME", "KERNEL_DISPLAY_NAME", "STAGGER_S", "KERNEL_START_TIMEOUT_S",
        "default_notebooks_dir", "find_notebook", "find_notebook_or_reason", "available_cpus",
        "Launcher", "execute_notebook", "execute_run", "kernel_spec",
        "native_kernel_manager_class", "report_failure", "worker_main"
    ],
    "kernels": [
        "ENGINE_NAME", "RESET_TIMEOUT_S", "WorkerDied", "KernelWorker", "KernelPool", "serve",
        "serve_worker"
    ],
    "worker": [
        "USAGE", "worker_entry"
    ],
    "reuse": [
        "reuse_shared_runs"
    ],
    "cost": [
        "STEP_TIMES_ENV", "STEP_TIMES_NAME", "PUBLISHED_TRAIN_SIZES", "StepTime",
        "step_times_path", "load_step_times", "save_step_time", "sequences_per_example",
        "run_steps", "projection_lines"
    ],
    "local": [
        "JOBS_AUTO", "auto_layout", "SweepResult", "run_sweep", "run_sweeps"
    ],
    "slurm": [
        "SLURM_DIR", "LOGS_DIR", "ENDED_DIR", "CLUSTER_ENV", "CLUSTERS", "MAX_NUM_TIMEOUT",
        "FINAL_STATES", "MAYBE_REQUEUED", "ENDED", "ENDED_WORDS", "UNKNOWN", "POLL_MIN_S",
        "POLL_MAX_S", "UNKNOWN_GIVE_UP_S", "submitit_cluster", "RunFailedError", "task_threads",
        "RunTask", "Submitted", "SlurmPlan", "latest_submissions", "base_state", "expand_job_ids",
        "squeue_states", "sacct_states", "JobStates", "job_states", "final_jobs",
        "plan_submission", "describe_state", "SlurmSweepResult", "job_name", "submit_sweep",
        "submit_sweeps", "report"
    ],
    "figures": [
        "run_figures"
    ],
})
