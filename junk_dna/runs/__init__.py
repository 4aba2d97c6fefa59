"""Everything that executes runs: presets, run folders, the notebook worker, executors."""
