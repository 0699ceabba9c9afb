"""Numeric options of the CLI's commands (argparse types and hooks), shared by `positions` and `propose`: kept in a
module of their own, which loads nothing, so that building `propose`'s parser loads no Redis client."""

from __future__ import annotations

import argparse
import math


def finite_number(text: str) -> float:
    """An option's number (argparse type): refused, argparse naming the option (exit 2), when it is not finite (nan, inf, 1e400)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


class _FloatLike:
    """Stands in for argparse's negative-number matcher, which takes only -2 and -2.5 for numbers: "--amount -1e3"
    failed "expected one argument". Any string float() reads (the options' own parse) that starts with "-" (-1e3,
    -1E+3, -.5e2, -1., -1_000, -inf, -nan) is a value. A real option name stays an option: argparse looks option
    names up before it asks this, and none of them is a number."""

    @staticmethod
    def match(text: str) -> bool:
        if not text.startswith("-"):
            return False
        try:
            float(text)
        except ValueError:
            return False
        return True


def takes_negative_numbers(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Let parser's numeric options take a negative number in any notation float() reads, not only as --opt=-1e3."""
    parser._negative_number_matcher = _FloatLike()  # argparse's hook, private: tests run each notation
    return parser
