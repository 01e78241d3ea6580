"""A backtest runs unchanged on a Dask cluster and gives the local executor's numbers, bit for bit."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import xarray as xr

import syriaforecast.backtest as bt
from syriaforecast.errors import ConvergenceWarning

distributed = pytest.importorskip("distributed")

CASES = Path(__file__).parent / "data" / "cases"
HIER = {"method": "hierarchical", "draws": 200, "tune": 200, "chains": 2}
# Loopback only, dashboard off. The scheduler serves a few HTTP routes even then,
# on port 8787 by default: a random port keeps concurrent clusters from colliding.
CLUSTER = {
    "host": "127.0.0.1",
    "dashboard_address": None,
    "scheduler_kwargs": {"dashboard_address": "127.0.0.1:0"},
    "threads_per_worker": 1,
}


def comparable(result: xr.Dataset) -> xr.Dataset:
    """The result without wall-clock timings and the executor's name."""
    out = result.drop_vars(["seconds", "fit_seconds", "reweight_seconds"])
    out.attrs = {k: v for k, v in out.attrs.items() if k != "executor"}
    return out


def run(cases, executor, **kwargs):
    with warnings.catch_warnings():
        # Small draws fail the ESS threshold by design; that is tested in test_backtest.py.
        warnings.simplefilter("ignore", ConvergenceWarning)
        return bt.backtest(cases, executor=executor, progress=False, **kwargs)


@pytest.fixture(scope="module")
def threaded_client():
    # An in-process cluster on loopback: one worker thread, no dashboard.
    cluster = distributed.LocalCluster(processes=False, n_workers=1, protocol="tcp", **CLUSTER)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_dask_exact_backtest_is_identical_to_serial(threaded_client):
    serial = run(CASES, "serial", cutoffs=[9, 6, 3, 0], method="exact")
    on_dask = run(CASES, threaded_client, cutoffs=[9, 6, 3, 0], method="exact")
    assert on_dask.attrs["executor"].startswith("dask (tcp://127.0.0.1:")
    xr.testing.assert_identical(comparable(serial), comparable(on_dask))


def test_dask_hierarchical_replay_is_identical_to_serial(threaded_client):
    cases = [CASES / "war_escalates", CASES / "late_war_surprise"]
    serial = run(cases, "serial", cutoffs=[8, 5, 2], seed=11, **HIER)
    on_dask = run(cases, threaded_client, cutoffs=[8, 5, 2], seed=11, **HIER)
    assert not serial["fitted"].values.all()  # some cutoffs were reweighted, not refitted
    xr.testing.assert_identical(comparable(serial), comparable(on_dask))


def test_two_process_cluster_gives_the_same_numbers():
    serial = run(CASES, "serial", cutoffs=[6, 0], method="exact")
    with (
        distributed.LocalCluster(n_workers=2, processes=True, **CLUSTER) as cluster,
        distributed.Client(cluster) as client,
    ):
        client.wait_for_workers(2)
        assert len(client.scheduler_info()["workers"]) == 2
        on_dask = run(CASES, client, cutoffs=[6, 0], method="exact")
    xr.testing.assert_identical(comparable(serial), comparable(on_dask))
