"""Checks of the internal messages (window, matrix, state), shared by their decoders: each is checked whole before an
actor uses it, and a field of another shape than its sender writes is a bad message (counted and named), never a
handler error or a value taken as it came. Pure and import-free (the I/O-free message modules use it)."""

from __future__ import annotations

import json
import math
from typing import Any


def finite_float(value: Any) -> float | None:
    """A JSON number as a finite float; None for anything else (a bool, text, NaN, infinity, or an integer
    beyond float's range, which math.isfinite would raise OverflowError on)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def shown_json(value: Any) -> str:
    """A received JSON value for an error message, cut short (NaN as NaN)."""
    return json.dumps(value)[:40]


def check_number(value: Any, what: str, *, optional: bool = False) -> None:
    """Raise ValueError unless value is a finite JSON number (or null, where optional)."""
    if not (optional and value is None) and finite_float(value) is None:
        raise ValueError(f"{what} {shown_json(value)} is not a finite number")


def check_number_map(value: Any, what: str, *, optional_values: bool = False) -> None:
    """Raise ValueError unless value is a JSON object whose values are finite numbers (or null, where
    optional_values)."""
    if not isinstance(value, dict):
        raise ValueError(f"{what} {shown_json(value)} is not an object")
    for key, number in value.items():
        check_number(number, f"{what}[{shown_json(key)}]", optional=optional_values)


def check_text_list(value: Any, what: str, *, unique: bool = False) -> None:
    """Raise ValueError unless value is a JSON list of strings (each once, where unique)."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{what} {shown_json(value)} is not a list of strings")
    if unique and len(set(value)) != len(value):
        raise ValueError(f"{what} {shown_json(value)} names a symbol twice")
