"""Experiments: one module per figure of the paper, each with a validated config and a run.

true_gem, data_adequacy and human_gap (the fine-tuning half: one protocol, TrueGemConfig),
zero_shot (the five LLM experiments: ZeroShotConfig) with conditions (one condition runner
per zero-shot experiment), and parameters (the notebooks' parameters cells). Importing this
package registers the built-in experiments in the registry (:mod:`.registry`, re-exported
here); none of them imports torch until a run starts.
"""

# the built-in experiments register themselves (they import the registry, not this package)
from junk_dna.experiments import data_adequacy, human_gap, true_gem, zero_shot
from junk_dna.experiments.registry import (
    Experiment,
    ModelResolver,
    experiment_names,
    get_experiment,
    register,
    same_protocol,
)

__all__ = ["Experiment", "ModelResolver", "data_adequacy", "experiment_names", "get_experiment",
           "human_gap", "register", "same_protocol", "true_gem", "zero_shot"]
