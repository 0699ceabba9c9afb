"""A multi-host topology for tests: configs/multihost.yaml with its keys in a temp dir, short cadences
and freshness windows (fallback within seconds), addresses of the netns test hosts."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from helpers import REPO
from launcher.curve import generate_keypair

KEY_NAMES = ("price_feed", "buffer", "book", "gate", "proofs", "desk", "outsider")


def shipped_multihost() -> dict:
    return yaml.safe_load((REPO / "configs" / "multihost.yaml").read_text())


def make_keys(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    for name in KEY_NAMES:
        if not (directory / f"{name}.key").exists():
            generate_keypair(directory, name)
    return directory


def multihost_data(tmp_path: Path, addresses: dict[str, str] | None = None, *, fast: bool = True) -> dict:
    """The shipped 3-host topology, keys made in tmp_path/keys, addresses replaced by `addresses`."""
    data = copy.deepcopy(shipped_multihost())
    make_keys(tmp_path / "keys")
    data["security"]["curve"]["keys_dir"] = str(tmp_path / "keys")
    if addresses:
        old = {name: spec["address"] for name, spec in data["hosts"].items()}
        text = yaml.safe_dump(data, sort_keys=False)
        for name, new in addresses.items():
            text = text.replace(old[name], new)
        data = yaml.safe_load(text)
    if fast:
        data["clusters"].update(cadence_s=0.5, min_returns=5, lookback_returns=60)
        data["actors"]["gate"]["settings"] = {"freshness_s": 1.5, "state_refresh_ms": 50, "refresh_s": 0.5}
        data["actors"]["price_feed"]["settings"]["interval_s"] = 0.1
        data["redis"]["timeout_ms"] = 250
    return data


def write_topology(tmp_path: Path, data: dict, name: str = "multihost.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
