"""Write (or check) the ``parameters`` cell of every experiment notebook from its config
(and of the report notebooks from ReportConfig).

    python tools/notebook_params.py          # rewrite the cells that differ
    python tools/notebook_params.py --check  # exit 1, naming them, if any differs

The cell is generated from the experiment's config dataclass and its own defaults
(:func:`junk_dna.experiments.parameters.parameters_cell`), so a default lives once, in the
dataclass. Only the tagged ``parameters`` cell changes; the rest of the notebook is kept as
it is (same JSON layout as nbformat writes).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from junk_dna.experiments import experiment_names, get_experiment  # noqa: E402
from junk_dna.experiments.parameters import parameters_cell  # noqa: E402
from junk_dna.report.config import ReportConfig  # noqa: E402

#: The report notebooks, parameterized by ReportConfig.
REPORT_NOTEBOOKS = {"figures.ipynb": "the figures notebook (ReportConfig)",
                    "analysis.ipynb": "the claims notebook (ReportConfig)"}


def expected_cells(notebooks: Path) -> dict[Path, str]:
    """Notebook path -> the source its parameters cell must have."""
    out = {}
    for name in experiment_names():
        exp = get_experiment(name)
        path = notebooks / exp.notebook
        if exp.config is None or exp.default_notebook_dir is not None or not path.is_file():
            continue
        out[path] = parameters_cell(exp.config, f"one configuration of the {name} experiment",
                                    exp.defaults)
    for name, title in REPORT_NOTEBOOKS.items():
        if (notebooks / name).is_file():
            out[notebooks / name] = parameters_cell(ReportConfig, title, run_dir=False)
    return out


def parameters_cell_of(nb: dict) -> dict:
    """The notebook's cell tagged ``parameters``.

    Raises:
        ValueError: none or several.
    """
    cells = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise ValueError(f"{len(cells)} cells tagged 'parameters'; expected one")
    return cells[0]


def source_text(cell: dict) -> str:
    source = cell["source"]
    return "".join(source) if isinstance(source, list) else source


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if stale")
    parser.add_argument("--notebooks", type=Path, default=ROOT / "notebooks")
    args = parser.parse_args(argv)
    stale = []
    for path, want in expected_cells(args.notebooks).items():
        nb = json.loads(path.read_text(encoding="utf-8"))
        cell = parameters_cell_of(nb)
        if source_text(cell) == want:
            continue
        stale.append(path)
        if args.check:
            continue
        cell["source"] = want.splitlines(keepends=True) if isinstance(cell["source"], list) \
            else want
        path.write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                        encoding="utf-8")
    verb = "stale" if args.check else "rewrote"
    for path in stale:
        print(f"{verb}: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
