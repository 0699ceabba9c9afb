"""`clustergate proof`'s options do what their help says, or are refused (exit 2) before the proof touches anything:
`--all-programs` is warm-restart's and `--warm-up-timeout-s` readiness's (each was taken silently by the other proofs),
and a warm-up timeout is a finite number of seconds, 0 or more, 0 meaning no wait (docs review: 0 waited the default
40 s, `nan` never ended a warm-up wait, `-5` was taken)."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from helpers import REPO


def proof(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "launcher", "proof", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=60)


@pytest.mark.parametrize("name,option", [("readiness", "--all-programs"), ("fallback", "--all-programs"),
                                         ("fallback", "--warm-up-timeout-s=5"), ("warm-restart", "--warm-up-timeout-s=5")])
def test_an_option_of_another_proof_is_refused_naming_the_proof_it_belongs_to(tmp_path, name, option):
    result = proof(name, option, "--home", str(tmp_path))
    assert result.returncode == 2, result.stdout + result.stderr
    flag = option.split("=")[0]
    belongs = "warm-restart" if flag == "--all-programs" else "readiness"
    assert flag in result.stderr and f"proof {belongs}" in result.stderr, result.stderr
    assert not (tmp_path / "run").exists() and result.stdout == ""


@pytest.mark.parametrize("value", ["nan", "inf", "-5", "soon"])
def test_a_warm_up_timeout_that_is_not_a_finite_number_of_seconds_is_refused(tmp_path, value):
    result = proof("readiness", f"--warm-up-timeout-s={value}", "--home", str(tmp_path))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--warm-up-timeout-s" in result.stderr and result.stdout == "", result.stderr


def test_a_warm_up_timeout_of_0_waits_0_seconds_and_none_given_waits_the_default():
    from proofs.readiness import WARM_UP_TIMEOUT_S, warm_up_timeout_s

    assert warm_up_timeout_s(argparse.Namespace(warm_up_timeout_s=0.0)) == 0.0
    assert warm_up_timeout_s(argparse.Namespace(warm_up_timeout_s=None)) == WARM_UP_TIMEOUT_S
    assert warm_up_timeout_s(argparse.Namespace()) == WARM_UP_TIMEOUT_S  # a proof body called with another proof's args
