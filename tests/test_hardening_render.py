"""User text is shown as written by every renderer: rich tables and messages, plots, the report."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

import syriaforecast as sf
from syriaforecast.cli import main

from .conftest import DATA

HOSTILE = {
    "title": "Tiny [/x] model :smile: [bold]",
    "calm": "Oil [above] 100",
    "storm": "$\\frac{1$ costs $5",
}


def hostile_model(tmp_path: Path) -> Path:
    text = (DATA / "tiny" / "model.toml").read_text()
    text = text.replace('title = "Tiny test model"', f"title = {_toml(HOSTILE['title'])}")
    text = text.replace('name = "Calm"', f"name = {_toml(HOSTILE['calm'])}")
    text = text.replace('name = "Storm"', f"name = {_toml(HOSTILE['storm'])}")
    text = text.replace('group = "politics"', 'group = "[red]pol$x$"')
    path = tmp_path / "model.toml"
    path.write_text(text)
    return path


def _toml(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def test_validate_prints_names_as_written(tmp_path, capsys):
    model = hostile_model(tmp_path)
    assert main(["validate", str(model), str(DATA / "tiny" / "evidence.csv")]) == 0
    out = capsys.readouterr().out
    for text in (*HOSTILE.values(), "[red]pol$x$"):
        assert text in out


def test_error_messages_with_markup_print_as_written(tmp_path, capsys):
    bad = tmp_path / "e.csv"
    bad.write_text("date,indicator,value\n2025-01-06,[/x],1\n")
    assert main(["validate", str(DATA / "tiny" / "model.toml"), str(bad)]) == 2
    err = capsys.readouterr().err
    assert "'[/x]'" in err and "Traceback" not in err


def test_forecast_table_plots_and_report_keep_user_text(tmp_path, capsys):
    model = hostile_model(tmp_path)
    out = tmp_path / "out"
    code = main(
        ["forecast", "--model", str(model), "--evidence", str(DATA / "tiny" / "evidence.csv"),
         "--exact", "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert HOSTILE["calm"] in printed and "[exact mode]" in printed
    assert HOSTILE["storm"].split()[0] in printed
    names = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert names == sorted(
        ["forecast.nc", "report.html", "fan_chart.png", "contributions.png", "collection.png",
         "sensitivity.png", "diagnosticity.png"]
    )  # fmt: skip
    assert (out / ".syriaforecast-output").is_file()  # swapped in whole, nothing temporary left beside
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.toml", "out"]
    html = (out / "report.html").read_text()
    assert "Oil [above] 100" in html and "$\\frac{1$" in html
    assert "[/x]" in html


def test_plot_text_artists_show_dollars_literally(tmp_path):
    from matplotlib.text import Text

    from syriaforecast.report.plots import plot_fan_chart

    model = sf.load_model(hostile_model(tmp_path))
    result = sf.forecast(model, sf.load_evidence(DATA / "tiny" / "evidence.csv", model), exact=True)
    fig = plot_fan_chart(result)
    fig.savefig(io.BytesIO(), format="png")  # outside any context: still no mathtext
    texts = [t.get_text() for t in fig.findobj(Text)]
    assert any(HOSTILE["storm"] in t for t in texts)
    assert not any(t.get_parse_math() for t in fig.findobj(Text) if "$" in t.get_text())


@pytest.mark.parametrize("name", ["[/x]", "Oil [above] 100", "$\\frac{1$", ":warning: [link=x]y"])
def test_styled_text_is_never_parsed(name):
    from syriaforecast._render import console, styled

    plain = console()
    with plain.capture() as captured:
        plain.print(name)
        plain.print(styled(("error:", "bold red"), f" {name}"))
    assert captured.get().splitlines() == [name, f"error: {name}"]
