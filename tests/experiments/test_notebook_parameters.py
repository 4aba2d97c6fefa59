"""The notebooks' parameters cells: generated from the config dataclasses (one source of
defaults), read by papermill's own parser, and unknown parameters rejected before any work."""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import papermill
import pytest

from junk_dna.experiments import experiment_names, get_experiment
from junk_dna.experiments.parameters import (
    EXTRA_PARAMETERS,
    annotation,
    field_help,
    notebook_parameters,
    param,
    parameter_values,
)
from junk_dna.experiments.true_gem import TrueGemConfig
from junk_dna.experiments.zero_shot import ZeroShotConfig

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
WITH_CONFIG = [name for name in experiment_names() if get_experiment(name).config is not None]


def test_every_builtin_experiment_has_a_config_and_a_notebook() -> None:
    assert set(WITH_CONFIG) == {"true_gem", "data_adequacy", "human_gap", "context_length",
                                "option_count", "kshot", "factoid_vs_mc", "quantization"}
    for name in WITH_CONFIG:
        assert (NOTEBOOKS / get_experiment(name).notebook).is_file(), name


@pytest.mark.parametrize("name", WITH_CONFIG)
def test_papermill_reads_every_config_field_with_its_default_type_and_help(name: str) -> None:
    exp = get_experiment(name)
    found = papermill.inspect_notebook(str(NOTEBOOKS / exp.notebook))
    config_fields = fields(exp.config)
    assert list(found) == [f.name for f in config_fields] + list(EXTRA_PARAMETERS)
    want = parameter_values(exp.config, exp.defaults)
    for f in config_fields:
        got = found[f.name]
        assert ast.literal_eval(got["default"]) == want[f.name], f.name
        assert got["inferred_type_name"] == annotation(f), f.name
        assert got["help"] == field_help(f), f.name
    assert ast.literal_eval(found["run_dir"]["default"]) == ""


def test_the_cells_are_what_the_tool_generates() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "notebook_params.py"),
                           "--check"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, f"run tools/notebook_params.py:\n{proc.stdout}{proc.stderr}"


def test_a_help_with_an_equals_sign_is_refused() -> None:
    from dataclasses import dataclass

    @dataclass
    class Bad:
        flag: bool = param(False, "False = the original")  # papermill would skip the line

    with pytest.raises(ValueError, match="'flag'.*'='"):
        field_help(fields(Bad)[0])


def test_the_experiments_defaults_are_the_validators_defaults() -> None:
    """A run that states nothing gets, in a sweep, the values its notebook shows."""
    for name in WITH_CONFIG:
        exp = get_experiment(name)
        shown = {k: v for k, v in parameter_values(exp.config, exp.defaults).items()}
        want = exp.validate({"experiment": name} if exp.config is ZeroShotConfig else {})
        normalized = exp.config(**shown).normalized()
        every = {f.name: getattr(normalized, f.name) for f in fields(exp.config)}
        # TrueGemConfig.params leaves out the fields added after runs were recorded, at None
        recorded = normalized.params() if hasattr(normalized, "params") else every
        assert want == recorded and {k: every[k] for k in recorded} == recorded, name


def test_train_config_is_built_from_the_experiment_config() -> None:
    from junk_dna.training.finetune import TrainConfig

    cfg = TrueGemConfig(learning_rate=3e-5, max_length=96, group_by_length=False, seed=5)
    train = cfg.train_config()
    assert {f.name for f in fields(TrainConfig)} <= {f.name for f in fields(TrueGemConfig)}
    assert all(getattr(train, f.name) == getattr(cfg, f.name) for f in fields(TrainConfig))


# --------------------------------------------------------------------------- reading them back


def kernel_namespace(*cells: str, **values: object) -> dict[str, object]:
    """A namespace as IPython's: ``In`` holds the executed cells' sources."""
    return {"In": ["", *cells], "Out": {}, "get_ipython": print, **values}


def test_notebook_parameters_are_the_names_of_the_parameters_cells() -> None:
    ns = kernel_namespace("# Parameters: x\nmodel: str = 'a'\nseed = 1\n",
                          "# Parameters\nseed = 2\n", "config = 1\nrecord = {}",
                          model="b", seed=2, config=1, record={}, pd=object())
    assert notebook_parameters(ns) == {"model": "b", "seed": 2}
    assert notebook_parameters({"model": "b", "_x": 1}) == {"model": "b"}  # a plain mapping


@pytest.mark.parametrize(("cls", "experiment"), [(TrueGemConfig, "true_gem"),
                                                 (ZeroShotConfig, "kshot")])
def test_an_unknown_parameter_is_named_with_the_allowed_ones(cls: type, experiment: str) -> None:
    ns = kernel_namespace("# Parameters\nlerning_rate = 0.1\nexperiment = 'kshot'\n",
                          lerning_rate=0.1, experiment="kshot", run_dir="")
    if cls is TrueGemConfig:
        del ns["experiment"]
    with pytest.raises(ValueError, match=rf"unknown {experiment} parameter\(s\) "
                                         r"\['lerning_rate'\]; allowed: \[.*'seed'.*'run_dir'\]"):
        cls.from_notebook(ns)


@pytest.mark.slow
def test_papermill_with_an_unknown_parameter_fails_in_the_first_cell(tmp_path: Path) -> None:
    """The issue's example, on the command line: ``papermill true_gem.ipynb out.ipynb -p
    sparsty 0.7`` runs on the notebook's own kernel (``junk-dna``) and fails in the cell right
    after the parameters, naming the typo and the allowed names; nothing is trained."""
    import nbformat

    output = tmp_path / "out.ipynb"
    proc = subprocess.run([sys.executable, "-m", "papermill", str(NOTEBOOKS / "true_gem.ipynb"),
                           str(output), "-p", "sparsty", "0.7", "-p", "run_dir", str(tmp_path)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0
    assert "Executing notebook with kernel: junk-dna" in proc.stderr
    assert "unknown true_gem parameter(s) ['sparsty']; allowed: [" in proc.stderr
    assert "'sparsity'" in proc.stderr.split("allowed:")[-1]
    cells = [c for c in nbformat.read(output, as_version=4).cells if c.cell_type == "code"]
    states = [c.metadata.papermill.status for c in cells]
    failed = states.index("failed")
    assert "injected-parameters" in cells[failed - 1].metadata.tags
    assert "from_notebook(globals()" in cells[failed].source
    assert set(states[failed + 1:]) == {"pending"}
    assert not (tmp_path / "record.json").exists()


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_papermill_parses_every_line_of_every_parameters_cell(path: Path) -> None:
    """papermill's inspection finds every name the parameters cell assigns (a line it cannot
    parse, e.g. a comment with ``=``, would be missing and its value never injected)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, path.name
    assigned = [node.target.id if isinstance(node, ast.AnnAssign) else node.targets[0].id
                for node in ast.parse(cells[0].source).body
                if isinstance(node, (ast.Assign, ast.AnnAssign))]
    assert list(papermill.inspect_notebook(str(path))) == assigned


@pytest.mark.parametrize("name", WITH_CONFIG)
def test_the_cell_after_the_parameters_checks_them(name: str) -> None:
    """Before any work, the first code cell after the parameters builds the config from them
    (``from_notebook``: unknown names rejected)."""
    import nbformat

    nb = nbformat.read(NOTEBOOKS / get_experiment(name).notebook, as_version=4)
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    after = next(c for c in nb.cells[index + 1:] if c.cell_type == "code")
    assert ".from_notebook(globals()" in after.source


@pytest.mark.parametrize(("experiment", "block", "config"), [
    ("true_gem", "{mode: [sparse]}", "true_gem"),
    ("context_length", "{method: [magnitude]}", "zero-shot"),
])
def test_a_sweep_with_an_unknown_parameter_stops_before_any_run(
        tmp_path: Path, experiment: str, block: str, config: str) -> None:
    preset = tmp_path / "typo.yaml"
    preset.write_text(f"description: a typo\nbase: {{sparsty: 0.7}}\nblocks:\n  - {block}\n")
    runs = tmp_path / "runs"
    proc = subprocess.run([sys.executable, "-m", "junk_dna.cli", "sweep", experiment,
                           "--preset", str(preset), "--runs-dir", str(runs), "--no-progress"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert f"unknown {config} parameter(s) ['sparsty']; allowed: [" in proc.stderr
    assert "'sparsity'" in proc.stderr.split("allowed:")[-1]
    assert not runs.exists()
