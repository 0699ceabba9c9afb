"""A new operator's first minutes, against real processes: what `make demo` (and `clustergate up`) tells them to
type next must work typed as printed, in the shell they ran it from."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from helpers import REPO, demo_topology_data, retarget, write_topology


def _path_without_the_venv() -> str:
    """PATH as on a fresh machine after `make demo`: the venv's bin is not on it (nobody activated it)."""
    venv_bin = Path(sys.executable).parent.resolve()
    kept = [p for p in os.environ.get("PATH", "").split(os.pathsep)
            if p and Path(p).resolve() != venv_bin and not (Path(p) / "clustergate").exists()]
    return os.pathsep.join(kept)


def _up_and_type_its_hint(tmp_path: Path, home: Path) -> None:
    topo_path = write_topology(tmp_path / "demo.yaml", retarget(demo_topology_data()))
    env = {**os.environ, "PATH": _path_without_the_venv(), "PYTHONPATH": str(REPO)}
    env.pop("CLUSTERGATE_HOME", None)
    # A checkout whose venv nobody activated, as after `make demo`: its .venv is this test's venv (the launcher
    # imported from REPO through PYTHONPATH), the console script run by its relative path, as the Makefile does.
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / ".venv").symlink_to(Path(sys.executable).parent.parent)
    script = Path(".venv") / "bin" / "clustergate"
    assert (checkout / script).exists()
    try:
        up = subprocess.run([str(script), "up", str(topo_path), "--home", str(home)], cwd=checkout, env=env,
                            capture_output=True, text=True, timeout=180)
        assert up.returncode == 0, up.stdout + up.stderr
        line = next(line for line in up.stdout.splitlines() if " is up: `" in line)
        hint = line.split("`")[1]
        assert shlex.split(hint)[-2:] == ["--home", str(home.resolve())], line
        typed = subprocess.run(hint, shell=True, cwd=checkout, env=env, capture_output=True, text=True, timeout=60)
        assert typed.returncode == 0, f"{line!r}: typed as printed: {typed.stdout}{typed.stderr}"
        assert "supervisord: running" in typed.stdout, typed.stdout
    finally:
        down = subprocess.run([sys.executable, "-m", "launcher", "down", "--home", str(home)], cwd=REPO,
                              capture_output=True, text=True, timeout=120)
        assert down.returncode == 0, down.stdout + down.stderr


def test_the_hint_up_prints_works_typed_as_printed_without_an_activated_venv(tmp_path: Path) -> None:
    """`make demo` runs `.venv/bin/clustergate up`, which printed "`clustergate status` shows it": on a fresh
    clone nothing named clustergate is on PATH, so the hint, typed as printed, was `command not found`.
    The hint names the command the way it was run when `clustergate` on PATH is not this one."""
    _up_and_type_its_hint(tmp_path, tmp_path / "home")


def test_the_hint_up_prints_works_typed_as_printed_for_a_home_with_a_space(tmp_path: Path) -> None:
    """A home may hold spaces (operating.md): the hint printed `--home /tmp/x/a home`, two arguments typed as printed."""
    _up_and_type_its_hint(tmp_path, tmp_path / "a home")


def test_make_down_and_status_in_a_checkout_never_set_up_say_so(tmp_path: Path) -> None:
    """`make down` (or `make status`) in a fresh clone, before any `make demo`, ended in `make: .venv/bin/clustergate:
    No such file or directory` and Error 127. Nothing of that checkout can run: `down` says so and exits 0, `status`
    says so and exits 1 (as `clustergate status` does with nothing running)."""
    checkout = tmp_path / "fresh clone"
    checkout.mkdir()
    (checkout / "Makefile").write_text((REPO / "Makefile").read_text())
    down = subprocess.run(["make", "-s", "down"], cwd=checkout, capture_output=True, text=True, timeout=60)
    assert down.returncode == 0, down.stdout + down.stderr
    assert "nothing running" in down.stdout and "make demo" in down.stdout, down.stdout + down.stderr
    status = subprocess.run(["make", "-s", "status"], cwd=checkout, capture_output=True, text=True, timeout=60)
    assert status.returncode != 0 and "No such file" not in status.stderr, status.stdout + status.stderr
    assert "not running" in status.stdout and "make demo" in status.stdout, status.stdout + status.stderr
    assert not (checkout / ".venv").exists()  # neither installed anything
