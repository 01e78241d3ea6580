"""Re-run the forecast the README and the docs print, and put its output where they quote it.

The README's "What `make forecast` prints", docs/getting-started.md and
docs/guide/reading-the-output.md show the output of one real run,
``syriaforecast forecast --seed 1`` at the defaults in a 92-column terminal. A seed gives
the same draws only as long as the engine's arithmetic is the same: a kernel change that
rearranges a sum (the same density, other rounding) moves the draws, and the quoted
output no longer matches what the command prints (it happened after 2026-12-01, found on
2026-12-02). Run from the repository root::

    .venv/bin/python tools/quoted_runs.py            # rewrite the quoted blocks and their dates
    .venv/bin/python tools/quoted_runs.py --check    # only say which differ (exit 1 if any)

The README quotes the whole output; the two docs quote the scenario table up to the
sampler-diagnostics line. Floating-point results differ between machines, so this is a
tool for the machine the docs were measured on, not a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import difflib
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMAND = ["forecast", "--seed", "1"]
COLUMNS = "92"


@dataclass(frozen=True)
class Quote:
    """Where a file quotes the run: its fenced block after ``heading``, and the dated phrase."""

    path: str
    heading: str  # the quoted block is the first fenced block after this text
    whole: bool  # the whole output, or the table up to the sampler-diagnostics line
    date: str  # a regular expression around the run's date, with the date as group 1


QUOTES = (
    Quote(
        path="README.md",
        heading="## What `make forecast` prints",
        whole=True,
        date=r"evidence up to [\d-]+, run (\d{4}-\d{2}-\d{2});",
    ),
    Quote(
        path="docs/getting-started.md",
        heading="## A first forecast",
        whole=False,
        date=r"2-core machine \((\d{4}-\d{2}-\d{2}), `--seed 1`\)",
    ),
    Quote(
        path="docs/guide/reading-the-output.md",
        heading="# Reading the output",
        whole=False,
        date=r"run (\d{4}-\d{2}-\d{2}) on this project's",
    ),
)


def run_forecast() -> list[str]:
    """The command's standard output, lines without trailing spaces (as the docs keep them)."""
    exe = Path(sys.executable).with_name("syriaforecast")
    env = dict(os.environ, COLUMNS=COLUMNS)
    done = subprocess.run([str(exe), *COMMAND], capture_output=True, text=True, env=env, check=True)
    return [line.rstrip() for line in done.stdout.rstrip("\n").split("\n")]


def quoted_part(output: list[str], whole: bool) -> list[str]:
    """The lines a file quotes: everything, or the scenario table up to the diagnostics line."""
    if whole:
        return output
    for k, line in enumerate(output):
        if line.startswith("passed;") or line.startswith("failed;"):
            return output[: k + 1]
    raise SystemExit("the output has no sampler-diagnostics line: has the summary's layout changed?")


def block_span(text: str, heading: str) -> tuple[int, int]:
    """Start and end offsets of the first fenced block's body after ``heading``."""
    at = text.index(heading)
    fence = re.compile(r"^```[a-z]*\n", re.MULTILINE).search(text, at)
    if fence is None:
        raise SystemExit(f"no fenced block after {heading!r}")
    end = text.index("\n```\n", fence.end())
    return fence.end(), end


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report differences (exit 1 if any)")
    args = parser.parse_args()
    output = run_forecast()
    today = dt.datetime.now(dt.UTC).date().isoformat()
    stale = []
    for quote in QUOTES:
        path = ROOT / quote.path
        text = path.read_text(encoding="utf-8")
        start, end = block_span(text, quote.heading)
        old, new = text[start:end], "\n".join(quoted_part(output, quote.whole))
        if old == new:
            print(f"{quote.path}: the quoted run matches")
            continue
        stale.append(quote.path)
        diff = difflib.unified_diff(old.split("\n"), new.split("\n"), quote.path, "now", lineterm="", n=0)
        print("\n".join(diff))
        if args.check:
            continue
        text = text[:start] + new + text[end:]
        dated = re.search(quote.date, text)
        if dated is None:
            raise SystemExit(f"{quote.path}: the run's date ({quote.date}) was not found; update it by hand")
        text = text[: dated.start(1)] + today + text[dated.end(1) :]
        path.write_text(text, encoding="utf-8")
        print(f"{quote.path}: rewritten, run dated {today}")
    if args.check and stale:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
