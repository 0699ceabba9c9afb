"""The synthetic source: correlated GBM that is reproducible from its seed."""

from __future__ import annotations

import numpy as np
import pytest

from actors.price_feed import SECONDS_PER_YEAR, CorrelatedGBM
from launcher.feed_inputs import NotPositiveDefinite, correlation_matrix
from helpers import demo_topology_data
from launcher.topology import SyntheticSource, validate_data

SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
DEMO_CORRELATION = {"BTCUSDT/ETHUSDT": 0.85, "BTCUSDT/SOLUSDT": 0.35, "ETHUSDT/SOLUSDT": 0.40}
DT_YEARS = 0.25 * 3600 / SECONDS_PER_YEAR  # the demo: a tick every 0.25 s at time_scale 3600


def gbm(seed: int, correlation: dict[str, float] | None = None) -> CorrelatedGBM:
    source = SyntheticSource(seed=seed, correlation=DEMO_CORRELATION if correlation is None else correlation,
                             volatility={"BTCUSDT": 0.6, "ETHUSDT": 0.8, "SOLUSDT": 1.1},
                             start_prices={"BTCUSDT": 64000, "ETHUSDT": 3400})
    return CorrelatedGBM(SYMBOLS, source, DT_YEARS)


def test_the_same_seed_gives_the_same_prices():
    assert np.array_equal(gbm(7).path(200), gbm(7).path(200))


def test_a_different_seed_gives_different_prices():
    assert not np.allclose(gbm(7).path(200), gbm(8).path(200))


def test_prices_start_near_the_configured_start_prices_and_default_to_100():
    first = gbm(7).step()
    assert first["BTCUSDT"] == pytest.approx(64000, rel=0.01)
    assert first["ETHUSDT"] == pytest.approx(3400, rel=0.01)
    assert first["SOLUSDT"] == pytest.approx(100, rel=0.01)


def test_log_returns_have_the_configured_correlation():
    prices = gbm(11).path(5000)
    returns = np.diff(np.log(prices), axis=0)
    sample = np.corrcoef(returns, rowvar=False)
    expected = correlation_matrix(SYMBOLS, DEMO_CORRELATION)
    # The standard error of a sample correlation over n = 4999 returns is (1 - rho^2) / sqrt(n):
    # 0.004 for rho 0.85 and 0.012 for rho 0.35. A tolerance of 0.05 is four or more standard
    # errors for every pair, so the check is not flaky across seeds yet catches a wrong Cholesky
    # (transposed or missing, which gives errors of 0.1 and more here).
    assert np.abs(sample - expected).max() < 0.05


def test_log_returns_have_the_configured_volatility():
    prices = gbm(11).path(5000)
    annualised = np.diff(np.log(prices), axis=0).std(axis=0) / np.sqrt(DT_YEARS)
    # Relative standard error of a sample std over n returns is 1 / sqrt(2n) = 1 %; allow 5 %.
    assert annualised == pytest.approx([0.6, 0.8, 1.1], rel=0.05)


def test_a_correlation_matrix_that_is_not_positive_definite_is_refused_with_the_reason():
    contradictory = {"BTCUSDT/ETHUSDT": 0.9, "BTCUSDT/SOLUSDT": 0.9, "ETHUSDT/SOLUSDT": -0.9}
    with pytest.raises(NotPositiveDefinite, match="not positive definite"):
        gbm(7, contradictory)


def test_validate_reports_a_correlation_matrix_that_is_not_positive_definite_at_its_yaml_path():
    data = demo_topology_data()
    data["actors"]["price_feed"]["settings"]["synthetic"]["correlation"] = {
        "BTCUSDT/ETHUSDT": 0.9, "BTCUSDT/SOLUSDT": 0.9, "ETHUSDT/SOLUSDT": -0.9}
    _, problems = validate_data(data)
    rendered = [p.render() for p in problems]
    assert any(r.startswith("actors.price_feed.settings.synthetic.correlation: ") and "not positive definite" in r
               for r in rendered), rendered


def test_validate_accepts_the_demo_correlation_matrix():
    _, problems = validate_data(demo_topology_data())
    assert problems == []
