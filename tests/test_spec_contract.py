"""SPEC's contract with dashboards and the execution layer: Redis key names and defaults.

Every literal here is copied from SPEC.md, never from the code, so a rename in launcher/keys.py or a
changed default fails a test.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from launcher import keys
from helpers import REPO, write_topology
from launcher.topology import GateSettings, PermitIssuerSettings, PositionsConfig, load_topology

PRODUCTION = REPO / "configs" / "production.yaml"


# --------------------------------------------------------------------------- Redis keys


def test_cluster_state_keys_are_specs():
    assert keys.CLUSTER_STATE == "quantum:portfolio:cluster_state"
    assert keys.CLUSTERS == "quantum:portfolio:clusters"
    assert keys.cluster_state_of("c0123456789") == "quantum:portfolio:cluster_state:c0123456789"
    assert keys.cluster_state_pattern() == "quantum:portfolio:cluster_state:*"
    assert keys.CLUSTER_STATE_STREAM == "quantum:stream:portfolio.cluster_state"


def test_gate_stream_permit_and_cooldown_keys_are_specs():
    assert keys.GATE_STREAM == "quantum:stream:portfolio.gate"
    assert keys.permit("plan-42") == "quantum:permit:p26:plan-42"
    assert keys.cooldown("ETHUSDT") == "quantum:p26:cooldown:ETHUSDT"


def test_position_snapshot_key_follows_the_pattern_with_specs_default():
    assert PositionsConfig().key_pattern == "quantum:position:snapshot:{symbol}"
    assert keys.position_snapshot("ETHUSDT") == "quantum:position:snapshot:ETHUSDT"
    assert keys.position_snapshot("ETHUSDT", "quantum:state:positions:{symbol}") == "quantum:state:positions:ETHUSDT"


# --------------------------------------------------------------------------- defaults


def test_permit_and_cooldown_ttls_default_to_60_s():
    settings = PermitIssuerSettings()
    assert settings.permit_ttl_s == 60
    assert settings.cooldown_ttl_s == 60


def test_snapshots_go_stale_after_300_s_by_default():
    assert PositionsConfig().stale_after_s == 300.0


def test_cluster_state_freshness_defaults_to_two_cadences_120_s_in_production():
    topo = load_topology(PRODUCTION)
    assert topo.clusters.cadence_s == 60
    assert topo.freshness_default_s == 120.0
    gate = next(spec for spec in topo.actors.values() if spec.kind == "gate")
    assert gate.settings.freshness_s is None  # so the gate uses the default


def test_cluster_state_freshness_default_follows_the_cadence(tmp_path: Path):
    data = yaml.safe_load(PRODUCTION.read_text())
    data["clusters"]["cadence_s"] = 45
    topo = load_topology(write_topology(tmp_path / "cadence45.yaml", data))
    assert topo.freshness_default_s == 90.0


def test_p27_defaults_are_specs_when_the_topology_gives_none(tmp_path: Path):
    """configs/production.yaml spells every P2.7 setting out, so it cannot show the defaults: a topology without
    symbols or clusters gets SPEC's."""
    data = yaml.safe_load(PRODUCTION.read_text())
    del data["symbols"], data["clusters"]
    topo = load_topology(write_topology(tmp_path / "defaults.yaml", data))
    assert topo.symbols == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    c = topo.clusters
    assert (c.cadence_s, c.lookback_returns, c.min_returns, c.corr_threshold) == (60.0, 360, 10, 0.70)
    assert topo.freshness_default_s == 120.0


def test_gate_defaults_are_specs_and_production_keeps_them():
    for settings in (GateSettings(), load_topology(PRODUCTION).settings_of("gate")):
        assert (settings.sigma, settings.heat_floor, settings.heat_ceiling) == (1.0, 0.05, 0.35)
        assert (settings.weight_heat, settings.weight_concentration, settings.weight_k) == (0.60, 0.25, 0.15)
        assert (settings.cold_stress, settings.riskoff_stress, settings.kill_score_hard) == (0.55, 0.80, 0.85)
        assert settings.policy == "spec"


def test_production_exports_p27_metrics_on_8048_and_p26_metrics_on_8047():
    topo = load_topology(PRODUCTION)
    assert topo.actors["state_writer"].metrics_port == 8048  # the writer mirrors every p27_* gauge
    assert topo.actors["gate"].metrics_port == 8047
