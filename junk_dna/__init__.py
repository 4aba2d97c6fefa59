"""junk-dna: a reproducible paper package for Yin et al., ICML 2024 (the "Junk DNA hypothesis").

Subpackages (see the README's Layout section): ``experiments`` (one module per figure),
``runs`` (sweeps: presets, run folders, the local and SLURM executors), ``results`` (run
records), ``pruning`` (masks, LLM pruning, quantization, transfer modes), ``models``,
``data``, ``training`` and ``evaluation`` (fine-tuning side: encoders, GLUE tasks, GLUE
metrics; zero-shot side: causal LMs, QA tasks, LM scoring), ``report`` (analysis, claims,
plots). Nothing heavy is imported here.
"""

from importlib import metadata

try:
    __version__ = metadata.version("junk-dna")
except metadata.PackageNotFoundError:  # a source tree that is not installed
    __version__ = "0+unknown"
