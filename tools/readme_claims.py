"""Put the primary verdicts of a ``claims.csv`` into README.md (generated, never typed).

    python tools/readme_claims.py figures/claims.csv            # rewrite README.md's block
    python tools/readme_claims.py figures/claims.csv --print    # print the block only
    python tools/readme_claims.py figures/claims.csv --readme other.md

The block lies between the lines ``<!-- claims:begin -->`` and ``<!-- claims:end -->``;
its text is :func:`junk_dna.report.claims.readme_claims_table` of the csv.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- claims:begin -->", "<!-- claims:end -->"


def replace_block(text: str, block: str) -> str:
    """``text`` with the lines between the markers replaced by ``block``.

    Raises:
        ValueError: the markers are missing or out of order.
    """
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"README has no {BEGIN} ... {END} block")
    return text[:start + len(BEGIN)] + "\n" + block.rstrip("\n") + "\n" + text[end:]


def main(argv: list[str] | None = None) -> int:
    from junk_dna.report.claims import readme_claims_table

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("csv", help="a claims.csv written by junk-dna figures")
    parser.add_argument("--readme", default=str(ROOT / "README.md"))
    parser.add_argument("--print", action="store_true", help="print the block, change nothing")
    args = parser.parse_args(argv)
    block = readme_claims_table(args.csv)
    if args.print:
        print(block)
        return 0
    path = Path(args.readme)
    try:
        path.write_text(replace_block(path.read_text(encoding="utf-8"), block), encoding="utf-8")
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote the primary verdicts of {args.csv} into {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
