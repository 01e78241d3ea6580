"""A new user's first hour: the CLI's help, progress, layouts and wording, and the plots' legends.

Each test pins one stumble of issue #19 so that it cannot come back.
"""

from __future__ import annotations

import argparse
import io
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.lines import Line2D
from rich.console import Console

import syriaforecast as sf
from syriaforecast import cli
from syriaforecast._console import print_forecast_summary, progress
from syriaforecast.phrases import phrase_for, phrase_within_error
from syriaforecast.report import plot_collection, plot_fan_chart, plot_sensitivity

DATA = Path(__file__).parent / "data"
MODEL = DATA / "report_tiny.toml"
EVIDENCE = DATA / "report_tiny_evidence.csv"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model():
    return sf.load_model(MODEL)


@pytest.fixture(scope="module")
def sampled(model):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sf.ConvergenceWarning)  # 150 draws: only shapes and wording matter
        warnings.simplefilter("ignore", FutureWarning)
        return sf.forecast(model, EVIDENCE, as_of="2025-04-30", draws=150, tune=150, chains=2, seed=5)


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


# --------------------------------------------------------------------------- help
def test_every_option_and_argument_has_help_and_defaults_are_shown(capsys):
    parser = cli._build_parser()
    for name, sub in _subparsers(parser).items():
        for action in sub._actions:
            assert action.help, (name, action.dest)
        with pytest.raises(SystemExit) as done:
            cli.main([name, "--help"])
        assert done.value.code == 0
        text = capsys.readouterr().out
        assert "``" not in text and ":func:" not in text
        for action in sub._actions:
            if action.option_strings and action.default not in (None, False, argparse.SUPPRESS):
                options = text.split("options:")[1]
                start = options.index(f"  {action.option_strings[-1]}")
                block = options[start:].split("\n  -")[0]
                assert "default" in block, (name, action.option_strings)
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    top = capsys.readouterr().out
    assert "``" not in top
    # Nothing is written without --out, and the help says so.
    forecast_line = " ".join(top[top.index("forecast  ") :].split("backtest")[0].split())
    assert "--out" in forecast_line


def test_forecast_help_names_chains_and_seed_defaults(capsys):
    with pytest.raises(SystemExit):
        cli.main(["forecast", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--chains N independent sampler chains (default: 4)" in text
    assert "--seed S random seed" in text and "(default: fresh)" in text
    assert "--quiet" in text


# --------------------------------------------------------------------------- validate
def test_validate_piped_does_not_wrap_and_lists_grades_per_period(tmp_path, model, capsys, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)  # piped with no width given (xdist's workers set 80)
    # Every Admiralty grade once: a table with one column per grade would need 37 columns.
    rows = [
        {
            "date": f"2025-0{1 + k % 4}-1{k % 9}",
            "indicator": "talks",
            "value": str(k % 2),
            "reliability": r,
            "credibility": str(c),
        }
        for k, (r, c) in enumerate((r, c) for r in "ABCDEF" for c in range(1, 7))
    ]
    path = tmp_path / "evidence.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    assert cli.main(["validate", str(MODEL), str(path)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    # Piped, nothing wraps: each scenario's name and each period's grades sit on one line.
    for scenario in model.scenarios:
        assert any(scenario.name in line for line in lines)
    for period in ("2025-01", "2025-02", "2025-03", "2025-04"):
        (line,) = [line for line in lines if line.startswith(f"│ {period}")]
        expected = sum(1 for r in rows if r["date"].startswith(period))
        assert f"│ {expected:>7} │" in line
        assert len(re.findall(r"\b[A-F][1-6]: \d+", line)) == expected
    (header,) = [line for line in lines if "┃ period" in line]
    assert header.count("┃") == 4  # period, reports, by grade: not one column per grade
    assert lines[-1] == "valid"


def test_piped_console_is_wider_than_80_columns(monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    from syriaforecast._console import PIPED_WIDTH, output_console

    assert output_console().width == PIPED_WIDTH > 80


# --------------------------------------------------------------------------- forecast output
def test_exact_mode_output_has_mode_and_no_sampling_words(capsys, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)  # piped with no width given (xdist's workers set 80)
    assert cli.main(["forecast", "--model", str(MODEL), "--evidence", str(EVIDENCE), "--exact"]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "[exact mode]" in out  # printed, not swallowed as rich markup
    for word in ("HDI", "posterior draws", "converged", "┃ confidence", "divergences", "57% - 57%"):
        assert word not in out, word
    assert "exact mode" in out.splitlines()[-1]
    assert "write" not in out  # nothing is written without --out
    assert captured.err == ""  # piped: no progress display


def test_hierarchical_title_names_the_mode_and_model_title_prints_as_written(sampled):
    buffer = io.StringIO()
    print_forecast_summary(sampled, Console(file=buffer, width=200, highlight=False))
    out = buffer.getvalue()
    assert "[hierarchical model]" in out
    assert "chains x 150 draws" in out
    assert "sampler diagnostics (R-hat, ESS)" in out


class _Stub:
    """A forecast whose summary puts one scenario's mean next to a band edge."""

    mode = "hierarchical"
    converged = True
    n_draws = 4000

    def __init__(self, model, posterior):
        self.model = model
        self.as_of = model.horizon
        self.evidence = sf.load_evidence(pd.DataFrame(columns=["date", "indicator", "value"]), model)
        self.posterior = posterior
        self.diagnostics = type("D", (), {"attrs": {"divergences": 0}})()

    def summary(self, prob=0.9):
        means = [0.552, 0.30, 0.148]
        mcse = [0.006, 0.004, 0.003]
        return pd.DataFrame(
            {
                "name": [s.name for s in self.model.scenarios],
                "mean": means,
                "hdi_low": [m - 0.05 for m in means],
                "hdi_high": [m + 0.05 for m in means],
                "phrase": [phrase_for(m) for m in means],
                "spans_phrases": [False, False, False],
                "confidence": ["moderate"] * 3,
                "mcse": mcse,
                "phrase_alternative": [
                    phrase_within_error(m, 2 * e) for m, e in zip(means, mcse, strict=True)
                ],
            },
            index=self.model.scenario_ids,
        )


def test_phrase_within_monte_carlo_error_of_an_edge_says_so(model, sampled):
    stub = _Stub(model, sampled.posterior)
    buffer = io.StringIO()
    print_forecast_summary(stub, Console(file=buffer, width=200, highlight=False))
    out = buffer.getvalue()
    assert "likely or roughly even chance †" in out  # 55.2% +- 1.2% straddles the 55% edge
    assert "unlikely †" not in out  # 30% is far from the 20% and 45% edges
    assert "55.2% ± 1.2%" in out and "another run may print either" in out


def test_phrase_within_error_matches_a_brute_force_scan():
    checked = 0
    for error in (0.0, 0.004, 0.02):
        for p in np.linspace(0.0037, 0.9937, 199):  # off the 0.005 grid: no exact ties with edges
            # Every phrase a probability strictly within +-error could get, found by scanning.
            grid = np.linspace(p - error, p + error, 2001)[1:-1]
            seen = {phrase_for(float(x)) for x in grid} - {phrase_for(p)}
            got = phrase_within_error(float(p), error)
            if not seen:
                assert got == "", (p, error)
            else:
                checked += 1
                assert got in seen, (p, error)
                if len(seen) == 1:
                    assert got == seen.pop()
    assert checked > 20  # the scan did meet band edges


def test_summary_reports_the_monte_carlo_error_of_each_mean(sampled):
    table = sampled.summary()
    samples = sampled.horizon.stack(sample=("chain", "draw")).transpose("sample", "scenario").to_numpy()
    # An independent estimate: batch means over 10 contiguous batches per chain.
    chains = sampled.horizon.transpose("chain", "draw", "scenario").to_numpy()
    batches = (
        chains.reshape(chains.shape[0], 10, -1, chains.shape[2]).mean(axis=2).reshape(-1, chains.shape[2])
    )
    batch_se = batches.std(axis=0, ddof=1) / np.sqrt(batches.shape[0])
    assert np.all(table["mcse"].to_numpy() > 0)
    assert np.all(table["mcse"].to_numpy() < samples.std(axis=0))
    np.testing.assert_allclose(table["mcse"].to_numpy(), batch_se, rtol=0.6)
    for _, row in table.iterrows():
        assert row["phrase_alternative"] == phrase_within_error(row["mean"], 2 * row["mcse"])
    assert (sf.forecast(sf.load_model(MODEL), EVIDENCE, exact=True).summary()["mcse"] == 0).all()


def test_progress_shows_on_a_terminal_and_nowhere_else():
    buffer = io.StringIO()
    terminal = Console(file=buffer, force_terminal=True, width=100)
    with progress(terminal, "sampling 4 chains", enabled=True):
        pass
    assert "sampling 4 chains" in buffer.getvalue()
    buffer = io.StringIO()
    with progress(Console(file=buffer, force_terminal=True), "sampling", enabled=False):
        pass
    assert buffer.getvalue() == ""


def test_progress_says_when_the_engine_is_being_compiled():
    import numba

    from syriaforecast._compiling import on_first_compile
    from syriaforecast._console import COMPILING

    # A function Numba has not compiled (nor cached: no cache=True) compiles on its first call.
    def fresh():
        return numba.njit(lambda x: x + 1)

    calls: list[int] = []
    with on_first_compile(lambda: calls.append(1)):
        compiled = fresh()
        assert compiled(1) == 2 and fresh()(2) == 3  # two compilations: one call
        assert compiled(3) == 4  # already compiled
    assert calls == [1]
    with on_first_compile(lambda: calls.append(2)):
        assert compiled(4) == 5  # nothing to compile: no call
    assert calls == [1]

    shown = {}
    for label, function in (("cold", fresh()), ("warm", compiled)):
        buffer = io.StringIO()
        terminal = Console(file=buffer, force_terminal=True, width=200)
        with progress(terminal, "sampling", enabled=True):
            function(5)
        shown[label] = " ".join(buffer.getvalue().split())
    assert COMPILING.strip() in shown["cold"] and "sampling" in shown["cold"]
    assert "compiling" not in shown["warm"] and "sampling" in shown["warm"]


def test_a_forecast_logs_once_that_it_compiles_the_engine(model, monkeypatch, caplog):
    """A notebook's first forecast says it is compiling (minutes), through the library's logger."""
    import importlib
    import logging

    import numba

    from syriaforecast._compiling import COMPILING_NOTICE, LOGGER_NAME

    forecast_module = importlib.import_module("syriaforecast.forecast")  # the package's name is the function

    fit = forecast_module._fit

    def compiling_fit(*args, **kwargs):
        # Stands for a machine's first fit: two functions Numba has never compiled (no cache=True).
        numba.njit(lambda x: x + 1)(1)
        numba.njit(lambda x: x + 2)(1)
        return fit(*args, **kwargs)

    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    run = dict(as_of="2025-04-30", draws=30, tune=30, chains=2, seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sf.ConvergenceWarning)
        # Whatever this process has not compiled or loaded yet (a machine whose caches hold
        # only the bundled model's kernels) is compiled here, with or without a notice.
        sf.forecast(model, EVIDENCE, **run)
        caplog.clear()
        sf.forecast(model, EVIDENCE, **run)  # nothing left to compile: no notice
        assert not [r for r in caplog.records if r.name == LOGGER_NAME]
        monkeypatch.setattr(forecast_module, "_fit", compiling_fit)
        sf.forecast(model, EVIDENCE, **run)
    notices = [r for r in caplog.records if r.name == LOGGER_NAME]
    assert [(r.levelno, r.getMessage()) for r in notices] == [(logging.INFO, COMPILING_NOTICE)]


def test_the_command_line_silences_the_librarys_compile_notice(monkeypatch, capsys):
    """The command's spinner says it is compiling; the library's INFO line would say it twice."""
    import logging

    import numba

    from syriaforecast._compiling import COMPILING_NOTICE, LOGGER_NAME, announcing_compilation

    logger = logging.getLogger(LOGGER_NAME)
    level, handlers, root_handlers = logger.level, list(logger.handlers), list(logging.root.handlers)
    # As in a fresh process: no handler anywhere, so the library would print INFO to stderr.
    monkeypatch.setattr(logging.root, "handlers", [])
    monkeypatch.setattr(logger, "handlers", [])
    logger.setLevel(logging.NOTSET)
    seen = {}

    def compiling_main(argv):
        with announcing_compilation():
            numba.njit(lambda x: x + 3)(1)
        seen["level"] = logger.getEffectiveLevel()
        return 0

    monkeypatch.setattr(cli, "_main", compiling_main)
    try:
        assert cli.main(["forecast"]) == 0
        assert seen["level"] == logging.WARNING
        assert logger.level == logging.NOTSET  # restored for the rest of the process
        assert COMPILING_NOTICE not in capsys.readouterr().err
        # The same block outside the command prints the notice.
        with announcing_compilation():
            numba.njit(lambda x: x + 4)(1)
        assert COMPILING_NOTICE in capsys.readouterr().err
    finally:
        logger.setLevel(level)
        logger.handlers[:] = handlers
        logging.root.handlers[:] = root_handlers


@pytest.mark.parametrize("configured", [False, True])
def test_the_compile_notice_shows_unless_the_application_configures_logging(configured):
    """As PyMC's logger: INFO on standard error by default; an application's own set-up decides."""
    import subprocess
    import sys

    code = (
        "import logging, numba\n"
        + ("logging.basicConfig(level=logging.WARNING)\n" if configured else "")
        + "from syriaforecast._compiling import announcing_compilation\n"
        "with announcing_compilation():\n"
        "    numba.njit(lambda x: x + 1)(1)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    from syriaforecast._compiling import COMPILING_NOTICE

    assert (COMPILING_NOTICE in done.stderr) is not configured
    assert done.stdout == ""


# --------------------------------------------------------------------------- plots
def test_fan_chart_draws_the_median_inside_its_band_without_a_jump(sampled):
    fig = plot_fan_chart(sampled)
    ax = fig.axes[0]
    samples = (
        sampled.filtered.stack(sample=("chain", "draw")).transpose("sample", "time", "scenario").to_numpy()
    )
    history, projection, marker = ax.lines[:3]  # drawn in this order; the as-of and horizon lines follow
    assert all(isinstance(line, Line2D) for line in (history, projection, marker))
    np.testing.assert_allclose(history.get_ydata(), np.median(samples[:, :, 0], axis=0))
    low, high = np.quantile(samples[:, :, 0], [0.25, 0.75], axis=0)
    assert np.all((low <= history.get_ydata()) & (history.get_ydata() <= high))
    # The projection starts where the history ends: no jump at the as-of line.
    assert projection.get_xdata()[0] == history.get_xdata()[-1]
    assert projection.get_ydata()[0] == pytest.approx(history.get_ydata()[-1], abs=1e-12)
    # The diamond at the horizon is the headline mean.
    assert marker.get_marker() == "D"
    assert marker.get_ydata()[0] == pytest.approx(float(sampled.summary()["mean"].iloc[0]))
    words = " ".join(t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text")))
    words = " ".join(words.split())  # titles are wrapped
    assert "line: median" in words and "diamond: the headline mean" in words


def _texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]


def test_sensitivity_legend_says_how_count_rates_move(sampled):
    fig = plot_sensitivity(sampled, n=20, max_draws=50)
    words = " ".join(_texts(fig))
    assert "count rates moved by 1.26" in words
    assert re.search(r"rate x0\.28 or x3\.5\d", words)


def test_collection_shares_use_one_number_of_decimals(sampled):
    fig = plot_collection(sampled, max_draws=50)
    shares = [t for t in _texts(fig) if t.endswith("%") and "\n" not in t and "entropy" not in t]
    assert shares
    decimals = {len(t[:-1].partition(".")[2]) for t in shares}
    assert len(decimals) == 1, shares
    assert all(re.fullmatch(r"\d+(\.\d+)?%", t) for t in shares), shares


# --------------------------------------------------------------------------- README
def test_readme_code_uses_only_names_it_defines():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    code = "\n".join(blocks)
    assert "backtest(cases)" not in code or re.search(r"^cases\s*=", code, re.M)
    # forecast.horizon has no time dimension (filtered and smoothed do).
    for line in code.splitlines():
        if "forecast.horizon" in line and "dims" in line:
            assert "time" not in line, line
    assert "docs" in text.lower() and "make docs" in text


def test_json_carries_the_phrase_alternative_and_its_monte_carlo_error(sampled):
    payload = cli.forecast_json(sampled)
    table = sampled.summary()
    for sid, row in table.iterrows():
        assert payload["scenarios"][sid]["phrase_alternative"] == row["phrase_alternative"]
        assert payload["scenarios"][sid]["mcse"] == pytest.approx(row["mcse"], abs=1e-6)


@pytest.mark.parametrize("quiet", [False, True])
def test_cli_shows_progress_on_a_terminal_unless_quiet(quiet, monkeypatch, capsys):
    # Standard error "is" a terminal: the spinner shows while the forecast is computed.
    monkeypatch.setattr(Console, "is_terminal", property(lambda self: self.stderr))
    argv = ["forecast", "--model", str(MODEL), "--evidence", str(EVIDENCE), "--exact"]
    assert cli.main(argv + (["--quiet"] if quiet else [])) == 0
    captured = capsys.readouterr()
    assert ("computing the exact forecast" in captured.err) is not quiet
    assert "computing" not in captured.out  # results alone on standard output


def test_readme_and_docs_quote_one_and_the_same_run(monkeypatch):
    """README, getting-started and reading-the-output quote one run (tools/quoted_runs.py rewrites them)."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("quoted_runs", ROOT / "tools" / "quoted_runs.py")
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "quoted_runs", tool)  # its dataclass looks its module up
    spec.loader.exec_module(tool)
    blocks = {}
    for quote in tool.QUOTES:
        text = (ROOT / quote.path).read_text(encoding="utf-8")
        start, end = tool.block_span(text, quote.heading)
        blocks[quote.path] = text[start:end].split("\n")
        assert re.search(quote.date, text), quote.path  # the run's date, where the tool rewrites it
    readme = blocks["README.md"]
    assert readme[0] == "Russia's security return to post-Assad Syria"
    for quote in tool.QUOTES:
        assert blocks[quote.path] == tool.quoted_part(readme, quote.whole), quote.path
