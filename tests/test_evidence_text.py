"""Evidence text and digests: the fast writer gives the bytes pandas gave (#14).

``evidence_sha256`` is recorded in every saved forecast and recomputed by
``load_forecast``, and ``to_csv_text`` is the evidence a saved forecast carries:
both must stay byte for byte what the pandas implementation they replaced
wrote (kept here verbatim as the reference), on every kind of text a log can hold.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io

import numpy as np
import pandas as pd
import pytest

import syriaforecast as sf
from syriaforecast.spec import evidence as ev

NASTY = [
    "",
    "plain",
    'says "no"',
    "a, b",
    "two\nlines",
    "cr\r\nlf",
    " padded ",
    "=1+1",
    "ü ß 中文",
    "'",
    '"',
    ",",
]


def pandas_hash(table: pd.DataFrame) -> str:
    """The digest as written before #14 (pandas to_csv)."""
    columns = ["date", "indicator", "value", "reliability", "credibility", "source", "note"]
    columns += [c for c in ev.PROVENANCE_COLUMNS if c in table and ev._filled(table, c).any()]
    return hashlib.sha256(table[columns].to_csv(index=False).encode()).hexdigest()


def pandas_csv_text(table: pd.DataFrame, columns, newline: str = "\n") -> str:
    """The evidence text as written before #14 (pandas to_csv)."""
    out = io.StringIO()
    frame = table[list(ev.ALL_COLUMNS)].copy()
    frame["published"] = [
        "" if p == d else p.isoformat() for p, d in zip(frame["published"], frame["date"], strict=True)
    ]
    frame["date"] = frame["date"].map(lambda d: d.isoformat())
    frame["credibility"] = frame["credibility"].map(lambda c: str(c) if c else "")
    frame[list(columns)].to_csv(out, index=False, lineterminator=newline)
    return out.getvalue()


def random_frame(model, seed: int, n: int, *, provenance: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    first = model.first_period.start_time.date()
    binary = [i for i in model.indicators if i.type == "binary"]
    rows = []
    for k in range(n):
        date = first + dt.timedelta(days=int(rng.integers(300)))
        row = {
            "date": date.isoformat(),
            "indicator": binary[k % len(binary)].id,
            "value": str(rng.integers(2)),
            "reliability": str(rng.choice(list("ABCDEF"))),
            "credibility": str(rng.choice(["", "1", "4", "6"])),
            "source": str(rng.choice(NASTY)),
            "note": str(rng.choice(NASTY)) + str(rng.choice(NASTY)),
        }
        if provenance:
            row |= {
                "published": str(rng.choice(["", (date + dt.timedelta(days=3)).isoformat()])),
                "report": f"r{k}",
                "url": str(rng.choice(["", "https://example.org/a?b=1,2"])),
                "coder": str(rng.choice(["", "ann", 'bo "b"'])),
            }
        rows.append(row)
    return pd.DataFrame(rows)


def cases():
    model = sf.load_model(sf.bundled_model())
    yield sf.load_evidence(sf.bundled_evidence(), model)
    yield sf.load_evidence(pd.DataFrame(columns=["date", "indicator", "value"]), model)
    for seed in range(6):
        yield sf.load_evidence(random_frame(model, seed, 60, provenance=bool(seed % 2)), model)


@pytest.mark.parametrize("k", range(8))
def test_digest_and_text_are_the_bytes_pandas_wrote(k):
    evidence = list(cases())[k]
    table = evidence._table
    assert ev._hash_table(table) == pandas_hash(table)
    columns = ev._written_columns(table)
    assert evidence.to_csv_text() == pandas_csv_text(table, columns)
    assert ev._csv_text(table, columns, "\r\n") == pandas_csv_text(table, columns, "\r\n")
    # The text reads back to the same reports, with the same digest.
    again = sf.load_evidence(
        pd.read_csv(io.StringIO(evidence.to_csv_text()), dtype=str, keep_default_na=False),
        sf.load_model(sf.bundled_model()),
    )
    assert again.sha256 == evidence.up_to(dt.date.max).sha256


def test_a_file_forecasts_with_its_rows_digest_computed_once(tmp_path):
    model = sf.load_model(sf.bundled_model())
    path = tmp_path / "log.csv"
    path.write_bytes(sf.bundled_evidence().read_bytes())
    read = sf.load_evidence(path, model)
    assert read.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()  # the file's digest
    seen = read.up_to(read.last_published)
    assert seen.sha256 == pandas_hash(read._table)  # the rows' digest, as a forecast records it
    assert seen.raw == b"" and seen.to_csv_text() == pandas_csv_text(
        read._table, ev._written_columns(read._table)
    )
    cut = read.up_to(read.last_published - dt.timedelta(days=60))
    assert len(cut) < len(read) and cut.sha256 == pandas_hash(cut._table)
