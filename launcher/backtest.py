"""clustergate backtest: replay history in event time through the live actors' maths and policy.

No wall clock, no ZeroMQ, no Redis: the grid is slotted by the prices' own timestamps, and every
run of the same inputs writes the same files. The maths and policy are the actors' own, from their
I/O-free modules: actors.jumps (JumpFilter.accepted_mask), actors.grid (latest_per_slot: the buffer's
slotting), actors.correlation (rolling_correlator: the correlator's windows, matrix membership,
shrinkage and readiness for many windows at once), actors.clustering (batch_cluster_metrics),
actors.policy (batch_gate_metrics for K, sigmas and stress; evaluate_batch, cluster_k, state_is_fresh,
validate_proposal for each decision) and actors.snapshots (read_snapshot). This module is the shell:
the command, its files, and the run's orchestration (which state a proposal sees, positions held, the
permit issuer's cooldowns and plan_id rules).

Timing, as live: the state of slot s is made from the lookback + 1 completed slots s - L .. s and
published at the end of slot s, (s + 1) x cadence_s; a proposal at time t is decided on the last
state published at or before t, the positions held at t, and the cooldowns set by earlier decisions.
Nothing from the slot a proposal falls in is used for it (no look-ahead).
"""

from __future__ import annotations

import argparse
import array
import base64
import codecs
import csv
import dataclasses
import errno
import fcntl
import hashlib
import heapq
import io
import itertools
import json
import math
import os
import signal
import sys
import tempfile
import time
import typing
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from actors.clustering import HELD_PRICES_STALE, batch_cluster_metrics, stale_held_stops_state
from actors.correlation import returns_on_grid, rolling_correlator
from actors.grid import latest_per_slot
from actors.jumps import JumpFilter
from actors.policy import (ACTIONS, FULL, HOLD, P25, P50, P75, BadRequest, PortfolioState, Position,
                           batch_gate_metrics, cluster_k, evaluate_batch, state_is_fresh, validate_proposal)
from actors.snapshots import read_snapshot
from launcher.feed_inputs import (TS_COLUMNS, PRICE_COLUMNS, ReplayColumns, csv_rows, epoch_unit,
                                  file_problem, named_twice, parse_replay_csv, parse_timestamp, price_rejection,
                                  time_order_checked, usable_prices)
from launcher.std_streams import ArgumentParser, OutputRefused, say_output_refused
from launcher.stop_signals import interrupted_a_call_of
from launcher.topology import (ClustererSettings, ClustersConfig, CorrelatorSettings, GateSettings,
                               PermitIssuerSettings, PositionsConfig, SchemaError, load_topology)

CHUNK_SLOTS = 2048  # windows computed together, at most (memory ~ k^2 / 2 x (slots + lookback) x 8 bytes per array)
# The rolling sums hold one float per pair of symbols and window column, (k (k - 1) / 2) x (slots + lookback) per
# array: fewer slots a chunk as the pairs grow (chunk_slots), so that the run's memory does not grow with k^2 x
# CHUNK_SLOTS (200 symbols took 5.1 GB for 3,000 slots with CHUNK_SLOTS for every k). 20 symbols keep CHUNK_SLOTS.
PAIR_WINDOW_FLOATS = 8_000_000
DEFAULT_PROPOSAL_EVERY = 60  # cadences between the default grid's proposals
# symbols x slots the grid may hold: 4x the year benchmark (20 symbols x 525,600 one-minute slots);
# a run takes ~75 bytes per cell at its peak, so a stray timestamp years away is refused, not a MemoryError.
MAX_GRID_CELLS = 40_000_000
# What a run writes in --out; a run removes the other kind's files so a directory never mixes two runs.
SINGLE_OUTPUTS = ("clusters.csv", "states.csv", "decisions.csv", "summary.json", "report.png", "report.html")
SWEEP_OUTPUTS = ("sweep.csv", "sweep.json", "sweep_heatmap.png")

# --set / --sweep keys: name -> (section, field). Sections: the topology's clusters, positions and
# the settings of its gate, permit issuer, correlator and clusterer.
SETTING_KEYS: dict[str, tuple[str, str]] = {
    **{f: ("clusters", f) for f in ("cadence_s", "lookback_returns", "min_returns", "corr_threshold",
                                      "max_tick_jump", "max_price_age_s")},
    "stale_after_s": ("positions", "stale_after_s"),
    **{f: ("gate", f) for f in ("sigma_source", "sigma", "heat_floor", "heat_ceiling", "weight_heat",
                                  "weight_concentration", "weight_k", "freshness_s", "cold_stress",
                                  "riskoff_stress", "kill_score_hard", "policy")},
    **{f: ("permit_issuer", f) for f in ("cooldown_ttl_s", "decision_ttl_s", "hold_decision_ttl_s",
                                                 "permitted_plan_ttl_s")},
    "shrinkage": ("correlator", "shrinkage"),
    **{f: ("clusterer", f) for f in ("linkage", "max_stale_held_weight")},
}
ALIASES = {"stress_cold": "cold_stress", "stress_riskoff": "riskoff_stress", "kill_score_limit": "kill_score_hard"}
SECTION_TYPES = {"clusters": ClustersConfig, "positions": PositionsConfig, "gate": GateSettings,
                 "permit_issuer": PermitIssuerSettings, "correlator": CorrelatorSettings,
                 "clusterer": ClustererSettings}


class InputError(ValueError):
    """Bad input: one line naming the file, row or key; the command exits 2 and writes nothing."""


# The signals that stop a run part way: what it wrote by then is removed (main), as on a full disk.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Stopped(BaseException):
    """A stop signal came during the command; raised where the run was, so that main() removes its results."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _stop(signum: int, _frame: Any) -> None:
    """Raise Stopped where the run was; a second stop signal (the terminal's SIGHUP, then a SIGTERM) while the first's
    Stopped is handled is the same stop. Raised again there, it escaped main()'s clean-up: the interpreter checks
    pending signals in that clean-up's first signal.signal call, and the run ended on a traceback, exit 1, its files
    left beside an older run's. (Not a flag set once: a Stopped the interpreter swallowed, raised in a finalizer, say,
    would then have left every later stop signal ignored.)"""
    if _stopping() or _within_a_stop(_frame):
        return
    if _FORKING:  # in the interpreter's at-fork hooks, which swallow it (the sweep went on to the end, exit 0)
        _FORKING.append(signum)
        return
    raise Stopped(signum)


def _stopping() -> bool:
    """Whether the exception being handled is a Stopped, or was raised while one was handled: a clean-up that a
    Stopped runs (a finally, an __exit__) handling an OSError of its own, say, has that OSError in sys.exc_info() and
    the Stopped only as its __context__. Read there as no stop, the second signal of two sent at once raised a Stopped
    of its own in place of the first: the run said it was stopped by the second (a clean-clone CI run, session 44:
    SIGHUP then SIGTERM, exit 143)."""
    exc = sys.exc_info()[1]
    for _ in range(64):  # a chain of contexts is short; a cycle (a context set by hand) ends here
        if exc is None:
            return False
        if isinstance(exc, Stopped):
            return True
        exc = exc.__context__
    return False


def _within_a_stop(frame: Any) -> bool:
    """Whether this handler interrupted another call of it (or what it calls) before that one raised its Stopped: the
    second of two signals sent at once, arriving while the first's handler runs, has the interpreter run its handler
    there, nested, with no Stopped handled yet; its Stopped then replaced the first's (reproduced in-process: SIGUSR1's
    handler interrupted by SIGUSR2 raised Stopped(SIGUSR2); session 44's clean-clone CI run: SIGHUP then SIGTERM said
    stopped by SIGTERM, exit 143). The first's goes on and raises its own."""
    return interrupted_a_call_of(frame, _stop)


_FORKING: list[int] = []  # [0] while a sweep worker is forked, then the stop signals that came meanwhile


class SweepWorkerDied(Exception):
    """A sweep's worker process ended without a result (killed, say by the OOM killer): exit 1, nothing written."""


# --------------------------------------------------------------------------- settings


@dataclass
class Settings:
    clusters: ClustersConfig
    positions: PositionsConfig
    gate: GateSettings
    permit_issuer: PermitIssuerSettings
    correlator: CorrelatorSettings
    clusterer: ClustererSettings
    symbols: list[str]
    book: dict[str, float]

    @property
    def max_price_age_s(self) -> float:
        c = self.clusters
        return c.max_price_age_s if c.max_price_age_s is not None else 5.0 * c.cadence_s

    @property
    def freshness_s(self) -> float:
        g = self.gate
        return g.freshness_s if g.freshness_s is not None else 2.0 * self.clusters.cadence_s

    def flat(self) -> dict[str, Any]:
        out = {key: getattr(getattr(self, sec), f) for key, (sec, f) in SETTING_KEYS.items()}
        out["max_price_age_s_effective"] = self.max_price_age_s
        out["freshness_s_effective"] = self.freshness_s
        return out


def settings_from_topology(path: str) -> Settings:
    try:
        topo = load_topology(path)
    except SchemaError as exc:
        first = exc.problems[0].render(path) if exc.problems else str(exc)
        raise InputError(f"{first}" + (f" (and {len(exc.problems) - 1} more: clustergate validate {path})"
                                        if len(exc.problems) > 1 else "")) from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: {exc}") from None

    def settings_of(kind: str, default: Any) -> Any:
        names = topo.actors_of_kind(kind)
        return topo.settings_of(names[0]) if names else default

    book_settings = settings_of("book", None)
    return Settings(topo.clusters, topo.positions, settings_of("gate", GateSettings()),
                    settings_of("permit_issuer", PermitIssuerSettings()), settings_of("correlator", CorrelatorSettings()),
                    settings_of("clusterer", ClustererSettings()), list(topo.symbols),
                    dict(book_settings.positions) if book_settings is not None else {})


def parse_value(key: str, text: str) -> Any:
    """The value of KEY=VALUE checked against the topology's type and bounds; InputError naming the key."""
    name = ALIASES.get(key, key)
    if name not in SETTING_KEYS:
        raise InputError(f"unknown settings key {key!r}; known: {', '.join(sorted(SETTING_KEYS))}")
    section, fname = SETTING_KEYS[name]
    f = {x.name: x for x in dataclasses.fields(SECTION_TYPES[section])}[fname]
    hint = typing.get_type_hints(SECTION_TYPES[section])[fname]
    args = typing.get_args(hint)
    if typing.get_origin(hint) is typing.Literal:
        if text not in args:
            raise InputError(f"settings key {key}: {text!r} is not one of {', '.join(args)}")
        return text
    if text.lower() in ("null", "none") and type(None) in args:
        return None
    base = int if (hint is int or int in args) else float
    try:
        value = base(text)
    except ValueError:
        raise InputError(f"settings key {key}: {text!r} is not {'an integer' if base is int else 'a number'}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(f"settings key {key}: {text!r} is not a finite number")
    m = f.metadata
    for bound, ok, word in (("ge", lambda v, b: v >= b, ">="), ("gt", lambda v, b: v > b, ">"),
                            ("le", lambda v, b: v <= b, "<="), ("lt", lambda v, b: v < b, "<")):
        if m.get(bound) is not None and not ok(value, m[bound]):
            raise InputError(f"settings key {key}: {text} is out of range (must be {word} {m[bound]})")
    return value


def apply_settings(base: Settings, values: dict[str, Any]) -> Settings:
    changes: dict[str, dict[str, Any]] = {}
    for key, value in values.items():
        section, fname = SETTING_KEYS[ALIASES.get(key, key)]
        changes.setdefault(section, {})[fname] = value
    out = dataclasses.replace(base)
    for section, fields in changes.items():
        setattr(out, section, dataclasses.replace(getattr(base, section), **fields))
    g = out.gate
    if g.heat_ceiling <= g.heat_floor:
        raise InputError(f"settings: heat_ceiling {g.heat_ceiling} must be above heat_floor {g.heat_floor}")
    if g.freshness_s is not None and g.freshness_s < out.clusters.cadence_s:  # launcher.topology's rule
        raise InputError(f"settings: freshness_s {g.freshness_s} is shorter than one cadence (cadence_s "
                         f"{out.clusters.cadence_s}): the state would always look stale")
    pi = out.permit_issuer
    if pi.permitted_plan_ttl_s < pi.decision_ttl_s:  # launcher.topology's rule
        raise InputError(f"settings: permitted_plan_ttl_s {pi.permitted_plan_ttl_s} is shorter than decision_ttl_s "
                         f"{pi.decision_ttl_s}: a permitted plan_id would be decided again, with a second permit")
    if out.clusters.min_returns > out.clusters.lookback_returns:
        raise InputError(f"settings: min_returns {out.clusters.min_returns} is above lookback_returns "
                         f"{out.clusters.lookback_returns}")
    return out


# --------------------------------------------------------------------------- inputs


@dataclass
class Prices:
    """Per symbol (in the topology's order), its ticks in time order: (ts epoch s, price); and how
    the file read."""

    series: list[tuple[np.ndarray, np.ndarray]]
    form: str
    rows: int
    bad_rows: list[tuple[int, str]] = field(default_factory=list)
    not_in_allowlist: int = 0
    ts_unit: str = "s"
    bad_count: int | None = None  # every bad row (bad_rows may list only the first few); None: len(bad_rows)

    @property
    def bad(self) -> int:
        return len(self.bad_rows) if self.bad_count is None else self.bad_count

    @property
    def ticks(self) -> int:
        return sum(len(ts) for ts, _ in self.series)

    @property
    def first_ts(self) -> float:
        return min(float(ts[0]) for ts, _ in self.series if len(ts))


def by_symbol(ts: np.ndarray, sym: np.ndarray, price: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Long-form ticks (time order) split per symbol, each keeping time order (a stable radix sort)."""
    order = np.argsort(sym.astype(np.int16), kind="stable")
    bounds = np.searchsorted(sym[order], np.arange(k + 1))
    return [(ts[order[bounds[i]:bounds[i + 1]]], price[order[bounds[i]:bounds[i + 1]]]) for i in range(k)]


def sha256_of(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def utf8_error(path: str, block: int = 1 << 20) -> str | None:
    """Why the file is not UTF-8 (a BOM skipped), as decoding it whole says it (the byte's place counted from after
    the BOM), or None; read a block at a time."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    fed = 0  # bytes given to the decoder so far
    with open(path, "rb") as fh:
        bom = fh.read(3) == codecs.BOM_UTF8
        fh.seek(0)
        while True:
            chunk = fh.read(block)
            held = len(decoder.getstate()[0])
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:  # its places count from the held bytes (after the BOM: from there)
                shift = max(fed - held - (3 if bom else 0), 0)
                start, end = exc.start + shift, exc.end + shift
                if exc.end == exc.start + 1:
                    return (f"'{exc.encoding}' codec can't decode byte 0x{exc.object[exc.start]:02x} in position "
                            f"{start}: {exc.reason}")
                return f"'{exc.encoding}' codec can't decode bytes in position {start}-{end - 1}: {exc.reason}"
            if not chunk:
                return None
            fed += len(chunk)


def read_prices(path: str, symbols: list[str]) -> Prices:
    if (problem := file_problem(path)) is not None:
        raise InputError(f"{path}: {problem} (--prices)")
    if path.endswith((".parquet", ".pq")):
        return read_prices_parquet(path, symbols)
    # Read as it goes, twice (its UTF-8, then its rows, their order checked as they are read), into columns: never the
    # whole text at once, nor an object per row (a 3 M-row CSV peaked at 1.07 GB so; bench/bench_backtest.py --csv
    # measures a read). The same Prices and errors as the whole text read at once: a bad byte anywhere is the error,
    # named by its place in the file; lines end at LF alone (newline="\n", as the live feed splits its text).
    try:
        not_utf8 = utf8_error(path)
        if not_utf8 is not None:
            raise InputError(f"{path}: not a prices CSV ({not_utf8})")
        with open(path, encoding="utf-8-sig", newline="\n") as fh:
            data = parse_replay_csv(fh, symbols, ReplayColumns(symbols=tuple(symbols)))
        file_rows = time_order_checked(data)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a prices CSV ({exc})") from None
    except InputError:
        raise
    except (ValueError, csv.Error) as exc:  # csv.Error: a field over the csv module's limit (128 KiB)
        raise InputError(f"{path}: {exc}") from None
    rows = data.read_rows()
    if not rows:
        raise InputError(f"{path}: no price row for the topology's symbols ({len(data.bad_rows)} unreadable, "
                         f"{data.not_in_allowlist} outside the allowlist); expected ts,symbol,price or ts,SYM1,SYM2,...")
    ts, sym, price = data.columns()
    return Prices(by_symbol(ts, sym, price, len(symbols)), data.form, file_rows, data.bad_rows,
                  data.not_in_allowlist, data.ts_unit)


def read_prices_parquet(path: str, symbols: list[str]) -> Prices:
    """Long (ts, symbol, price|close) or wide (ts, SYM1, SYM2, ...) Parquet; ts as epoch (s, ms, us,
    ns: detected as for CSV) or a timestamp column."""
    try:
        import pyarrow.parquet as pq
        table = ColumnReader(pq.ParquetFile(path))
    except ImportError:
        raise InputError(f"{path}: reading Parquet needs pyarrow (pip install 'clustergate[backtest]')") from None
    except Exception as exc:  # pyarrow raises its own types for a file that is not Parquet
        raise InputError(f"{path}: not a Parquet file ({str(exc).splitlines()[0][:200]})") from None
    names = table.column_names
    if (twice := named_twice(names)) is not None:
        raise InputError(f"{path}: the file names column {twice!r} twice")
    lowered = [n.lower() for n in names]
    if not names or lowered[0] not in TS_COLUMNS:
        raise InputError(f"{path}: first column must be ts (or timestamp, time), got {names[:3]}")
    ts_col = table.column(0)
    import pyarrow as pa
    if pa.types.is_timestamp(ts_col.type):
        ts_raw = ts_col.cast(pa.timestamp("ns")).to_numpy().astype("datetime64[ns]").astype(np.int64) / 1e9
        ts_raw[ts_col.is_null().to_numpy(zero_copy_only=False)] = np.nan  # a null (NaT) is a bad timestamp, not 1677
        unit = "ns"
    else:
        if pa.types.is_floating(ts_col.type) and ts_col.type.bit_width < 64:  # float32 epochs: steps of 128 s
            raise InputError(f"{path}: column {names[0]!r} holds {ts_col.type.bit_width}-bit floats, too coarse for "
                             f"epochs (today's epoch seconds in 32 bits are multiples of 128 s): store ts as int64, "
                             f"double or a timestamp")
        ts_raw = table.numbers(0, path, "numeric epochs or timestamps")
        finite = ts_raw[np.isfinite(ts_raw)]
        unit = epoch_unit(float(finite[0])) if len(finite) else "s"
        ts_raw = ts_raw / 10 ** (3 * ("s", "ms", "us", "ns").index(unit))
    index = {s: i for i, s in enumerate(symbols)}
    timed = np.flatnonzero(np.isfinite(ts_raw))  # rows with a timestamp; a row without one is a bad row
    order_bad = np.flatnonzero(np.diff(ts_raw[timed]) < 0)
    if len(order_bad):  # named by its own row of the file (1-based), rows without a timestamp counted
        raise InputError(f"{path}: row {int(timed[order_bad[0] + 1]) + 1}: timestamp is before the row above "
                         f"(rows must be in time order)")
    bad_ts = ~np.isfinite(ts_raw)
    n_bad = int(bad_ts.sum())
    bad: list[tuple[int, str]] = [(int(i) + 1, "bad timestamp") for i in np.flatnonzero(bad_ts)[:20]]
    n_rows = len(ts_raw)
    k = len(symbols)
    if len(names) == 3 and lowered[1] == "symbol" and lowered[2] in PRICE_COLUMNS:
        form = "long"
        sym_names = table.column(1).to_numpy(zero_copy_only=False)
        price = table.numbers(2, path, "prices")
        uniq, inv = np.unique(sym_names, return_inverse=True)
        codes = np.array([index.get(str(u), -1) for u in uniq])
        sym = codes[inv]
        outside = int((sym < 0).sum())
        keep = (sym >= 0) & ~bad_ts
        series = by_symbol(ts_raw[keep], sym[keep], price[keep], k)
    else:
        form = "wide"
        for name in names[1:]:
            if name.upper() != name or not name.replace("_", "").isalnum():
                raise InputError(f"{path}: column {name!r} is not a symbol: the long form is ts,symbol,price "
                                 f"(or close), the wide form ts,SYM1,SYM2,...")
        columns = {n: j + 1 for j, n in enumerate(names[1:])}
        outside = sum(int((~np.isnan(table.numbers(j, path, "prices"))).sum()) for n, j in columns.items() if n not in index)
        series = []
        for symbol in symbols:
            if symbol not in columns:
                series.append((np.zeros(0), np.zeros(0)))
                continue
            values = table.numbers(columns[symbol], path, "prices")
            present = ~np.isnan(values) & ~bad_ts  # an empty cell: no price for that symbol at that time
            if present.all():
                series.append((ts_raw, values))  # every row: the symbols share one time column
            else:
                series.append((ts_raw[present], values[present]))
    if not any(len(ts) for ts, _ in series):
        raise InputError(f"{path}: no price row for the topology's symbols; expected ts,symbol,price or ts,SYM1,SYM2,...")
    return Prices(series, form, n_rows, bad, outside, unit, n_bad)


class ColumnReader:
    """A Parquet file read one column at a time (the whole table at once would double the peak)."""

    def __init__(self, pf: Any):
        self.pf = pf
        self.column_names = list(pf.schema_arrow.names)

    def column(self, j: int) -> Any:
        return self.pf.read(columns=[self.column_names[j]]).column(0)

    def numbers(self, j: int, path: str, what: str) -> np.ndarray:
        """Column j as float64 (null: NaN); InputError naming it unless its type is a number (an integer,
        float or decimal: a text, boolean or list column is not what a prices file claims to hold)."""
        import pyarrow as pa
        col = self.column(j)
        if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type) or pa.types.is_decimal(col.type)):
            raise InputError(f"{path}: column {self.column_names[j]!r} holds {col.type}, not {what}")
        if pa.types.is_decimal(col.type):
            col = col.cast(pa.float64())  # Decimal objects, and None for a null, would not convert
        return col.to_numpy(zero_copy_only=False).astype(np.float64)


def timed_rows(path: str, option: str, header: list[str], copy: str | None = None
               ) -> Iterator[tuple[int, float, list[str]]]:
    """(line, ts, cells) of each row of a CSV input (UTF-8, a BOM dropped; blank and # lines skipped) with exactly
    `header`'s columns and its rows in time order, read a line at a time (a file of millions of proposals is never
    held whole) from `copy` of it when given; InputError naming the file, option and line."""
    try:
        fh = open(copy or path, encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror} ({option})") from None
    try:
        with fh:
            yield from _timed_rows(path, option, header, csv.reader(fh))
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text ({_first_bad_utf8(copy or path)}; save it as UTF-8 CSV) "
                         f"({option})") from None
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror} ({option})") from None


def _first_bad_utf8(path: str) -> str:
    """Why and where (a byte offset in the file) a file is not UTF-8: read whole, on that error's path only."""
    try:
        with open(path, "rb") as fh:
            fh.read().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return f"{exc.reason} at byte {exc.start}"
    return "changed while read"


def _timed_rows(path: str, option: str, header: list[str], reader: Any) -> Iterator[tuple[int, float, list[str]]]:
    try:
        first = next(reader, None)
    except csv.Error as exc:  # a field over the csv module's limit (128 KiB)
        raise InputError(f"{path}: line {reader.line_num}: {exc} ({option})") from None
    if first is None or [h.strip().lower() for h in first] != header:
        got = "an empty file" if first is None else repr(first)
        raise InputError(f"{path}: line 1: header must be {','.join(header)}, got {got} ({option})")
    previous = -math.inf
    rows = csv_rows(reader)
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except ValueError as exc:  # csv_rows': a field over the csv module's limit, naming the line
            raise InputError(f"{path}: {exc} ({option})") from None
        line = reader.line_num
        if not row or row[0].lstrip().startswith("#"):
            continue
        if len(row) != len(header):
            raise InputError(f"{path}: line {line}: expected {len(header)} columns, got {len(row)}")
        try:
            ts = parse_timestamp(row[0])
        except ValueError:
            raise InputError(f"{path}: line {line}: bad timestamp {row[0]!r}") from None
        if ts < previous:
            raise InputError(f"{path}: line {line}: timestamp {row[0].strip()} is before the row above "
                             f"(rows must be in time order)")
        previous = ts
        yield line, ts, row


@dataclass
class PositionRows:
    ts: np.ndarray        # per row
    sym: np.ndarray
    value: np.ndarray     # signed notional (read_snapshot's rule), NaN when unusable


def read_positions(path: str, symbols: list[str], stale_after_s: float) -> PositionRows:
    """CSV ts,symbol,position_amt,mark_price; each row holds until the next row for its symbol, for at most
    stale_after_s (signed_notionals_at)."""
    index = {s: i for i, s in enumerate(symbols)}
    # typed arrays as read (24 bytes a row), not lists of a float object per value (about 90 bytes a row)
    ts_l, sym_l, val_l = array.array("d"), array.array("q"), array.array("d")
    for line, ts, row in timed_rows(path, "--positions", ["ts", "symbol", "position_amt", "mark_price"]):
        symbol = row[1].strip()
        if symbol not in index:
            raise InputError(f"{path}: line {line}: symbol {symbol!r} is not in the topology's symbols")
        value, _ = read_snapshot(row[2].strip(), row[3].strip(), ts, None, ts, stale_after_s)
        if value is None:
            raise InputError(f"{path}: line {line}: position_amt {row[2]!r} and mark_price {row[3]!r} "
                             f"must be finite numbers")
        ts_l.append(ts)
        sym_l.append(index[symbol])
        val_l.append(value)
    return PositionRows(np.asarray(ts_l, dtype=np.float64), np.asarray(sym_l, dtype=np.int64),
                        np.asarray(val_l, dtype=np.float64))  # views of the arrays' buffers


@dataclass
class ProposalRow:
    ts: float
    raw: dict[str, Any]
    line: int


PROPOSAL_HEADER = ["ts", "plan_id", "symbol", "action_proposed", "kill_score"]


class ProposalFile:
    """--proposals, read as it is used: its bytes are copied once to a private file (hashed on the way), every
    row of that copy is checked once at start-up (InputError naming the first bad one, before anything runs) and
    each run reads the copy again a row at a time, so memory does not grow with the file (2 M proposals held as
    rows took 3.4 GB). Read twice, the file itself would be an empty pipe the second time (/dev/stdin, <(...)),
    or other rows than the ones checked and hashed if it changed meanwhile."""

    def __init__(self, path: str):
        self.path = path
        self.copy, self.sha256 = private_copy(path, "--proposals")
        _COPIES.append(weakref.finalize(self, _remove_copy, self.copy, os.getpid()))
        self.rows = sum(1 for _ in self)

    def __iter__(self) -> Iterator[ProposalRow]:
        for line, ts, row in timed_rows(self.path, "--proposals", PROPOSAL_HEADER, copy=self.copy):
            try:
                kill_score: Any = float(row[4]) if row[4].strip() else 0.0
            except ValueError:
                kill_score = row[4]  # validate_proposal names it
            yield ProposalRow(ts, {"plan_id": row[1].strip(), "symbol": row[2].strip(),
                                   "action_proposed": row[3].strip(), "kill_score": kill_score}, line)

    def __len__(self) -> int:
        return self.rows


def read_proposals(path: str) -> ProposalFile:
    return ProposalFile(path)


def private_copy(path: str, option: str) -> tuple[str, str]:
    """(a temporary copy of the file at path, the sha256 of its bytes), the file read once; InputError naming it."""
    h = hashlib.sha256()
    try:
        src = open(path, "rb")
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror} ({option})") from None
    with src:
        try:
            dst = tempfile.NamedTemporaryFile(prefix="clustergate-backtest-", suffix=".csv", delete=False)
        except OSError as exc:
            raise InputError(f"{path}: cannot copy it to {tempfile.gettempdir()}: {exc.strerror} ({option})") from None
        with dst:
            try:
                for block in iter(lambda: src.read(1 << 20), b""):
                    h.update(block)
                    dst.write(block)
            except BaseException as exc:
                os.unlink(dst.name)
                if not isinstance(exc, OSError):
                    raise
                where = f"cannot copy it to {tempfile.gettempdir()}: " if exc.filename is None and exc.errno in (
                    errno.ENOSPC, errno.EDQUOT) else ""
                raise InputError(f"{path}: {where}{exc.strerror} ({option})") from None
    return dst.name, h.hexdigest()


# The removals of the copies this process made, run by main() before it restores the stop signals' handlers: a
# sweep's inputs held the copy to the interpreter's exit, and a SIGTERM then (the default's again) left it in $TMPDIR.
_COPIES: list[weakref.finalize] = []


def _remove_copy(copy: str, pid: int) -> None:
    if os.getpid() == pid:  # a forked sweep worker inherits the finalizer, not the copy
        try:
            os.unlink(copy)
        except OSError:
            pass


def grid_proposals(symbols: list[str], first_ts: float, last_ts: float, every_s: float,
                   kill_score_hard: float) -> Iterator[ProposalRow]:
    """Without a proposals file: every `every_s`, one proposal per symbol; the action cycles through
    PARTIAL_25, PARTIAL_50, PARTIAL_75, FULL_CLOSE_PROPOSED (so every action is seen in every state
    over time), kill_score alternating 0 and kill_score_hard. Made as they are decided, as a proposals file's rows
    are read: a list of them (--proposal-every 1) took about 250 bytes a proposal for the whole run."""
    actions = (P25, P50, P75, FULL)
    start = math.ceil(first_ts / every_s) * every_s
    # np.arange(start, last_ts, every_s)'s times (its length and its start + n x delta), a chunk at a time
    count, delta = max(0, math.ceil((last_ts - start) / every_s)), (start + every_s) - start
    for lo in range(0, count, DECIDE_CHUNK):
        for n, t in enumerate((start + np.arange(lo, min(lo + DECIDE_CHUNK, count)) * delta).tolist(), lo):
            for i, symbol in enumerate(symbols):
                action = actions[(n + i) % len(actions)]
                ks = kill_score_hard if (n // len(actions)) % 2 else 0.0
                yield ProposalRow(t, {"plan_id": f"grid-{n}-{symbol}", "symbol": symbol,
                                      "action_proposed": action, "kill_score": ks}, 0)


# --------------------------------------------------------------------------- the grid


@dataclass
class Grid:
    first_slot: int
    prices: np.ndarray       # (k, S) the latest accepted price per slot, NaN where none
    newest_ts: np.ndarray    # (k, S) newest accepted tick ts up to and including the slot (-inf: none)
    rejected: dict[str, int]


def check_grid_size(prices: Prices, k: int, cadence: float, tail_slots: int = 0) -> None:
    """InputError when the prices span more slots than MAX_GRID_CELLS allows (k symbols; tail_slots after the
    last price's counted), naming the span and its widest gap between consecutive ticks (where a stray timestamp
    usually is)."""
    spans = [(float(ts[0]), float(ts[-1])) for ts, _ in prices.series if len(ts)]
    if not spans:
        return
    lo, hi = min(a for a, _ in spans), max(b for _, b in spans)
    n_slots = math.floor(hi / cadence) - math.floor(lo / cadence) + 1 + tail_slots
    if n_slots * k <= MAX_GRID_CELLS:
        return
    gap = (0.0, lo, lo)
    for ts, _ in prices.series:
        if len(ts) >= 2:
            d = np.diff(ts)
            j = int(np.argmax(d))
            if d[j] > gap[0]:
                gap = (float(d[j]), float(ts[j]), float(ts[j + 1]))
    shown_slots = f"{n_slots:,}" if n_slots < 10**12 else f"{n_slots:.3g}"  # 1e300 (ns) spans 292 digits
    raise InputError(f"timestamps {lo!r} .. {hi!r} span {shown_slots} slots of cadence_s {cadence} for {k} symbols, "
                     f"more than the backtest's {MAX_GRID_CELLS} symbol-slots; widest gap {gap[0]:.3g} s "
                     f"from {gap[1]!r} to {gap[2]!r} (a stray timestamp?)")


def build_grid(prices: Prices, symbols: list[str], clusters: ClustersConfig, tail_slots: int = 0) -> Grid:
    """The prices on the buffer's grid, a symbol at a time: unusable prices (price_rejection) and jumps
    (JumpFilter.accepted_mask) are refused and counted, the rest placed by actors.grid.latest_per_slot (NaN
    where a slot has none); newest_ts is then each symbol's newest accepted tick up to and including a slot.
    tail_slots: slots without a price after the last tick's (the live buffer goes on publishing a window every
    cadence when the prices stop, and the correlator stays ready on the held prices until max_price_age_s)."""
    k = len(symbols)
    cadence = clusters.cadence_s
    rejected: dict[str, int] = {}
    jumps = JumpFilter.from_clusters(clusters)
    spans = [(math.floor(ts[0] / cadence), math.floor(ts[-1] / cadence)) for ts, _ in prices.series if len(ts)]
    if not spans:
        raise InputError("no price for the topology's symbols")
    first = min(a for a, _ in spans)
    n_slots = max(b for _, b in spans) - first + 1 + tail_slots
    check_grid_size(prices, k, cadence, tail_slots)
    grid = np.full((k, n_slots), np.nan)
    newest = np.full((k, n_slots), -np.inf)
    any_usable = False
    for i, (symbol, (ts, price)) in enumerate(zip(symbols, prices.series)):
        usable = usable_prices(price)
        for j in np.flatnonzero(~usable)[:100_000]:
            reason = price_rejection(float(price[j])) or "bad_price"
            rejected[reason] = rejected.get(reason, 0) + 1
        if not usable.all():
            ts, price = ts[usable], price[usable]
        ok = jumps.accepted_mask(symbol, price)
        if not ok.all():
            rejected["jump"] = rejected.get("jump", 0) + int((~ok).sum())
            ts, price = ts[ok], price[ok]
        latest_per_slot(ts, price, cadence, first, grid[i], newest[i])
        any_usable = any_usable or len(ts) > 0
    if not any_usable:
        raise InputError("no usable price: every price was refused (not a positive number, or a jump)")
    np.maximum.accumulate(newest, axis=1, out=newest)
    return Grid(first, grid, newest, rejected)


def chunk_slots(k: int, lookback: int) -> int:
    """Slots whose windows are computed together: CHUNK_SLOTS, or fewer (one at least) so that the pairs' rolling
    sums, (k (k - 1) / 2) x (slots + lookback) floats an array, stay within PAIR_WINDOW_FLOATS."""
    pairs = max(k * (k - 1) // 2, 1)
    return max(1, min(CHUNK_SLOTS, PAIR_WINDOW_FLOATS // pairs - lookback))


def forward_fill(values: np.ndarray) -> np.ndarray:
    """Each row's last non-NaN value up to each column (NaN before the first)."""
    out = np.empty_like(values)
    columns = np.arange(values.shape[1])
    for i, row in enumerate(values):  # a row at a time: no (k, n) index arrays
        idx = np.where(np.isnan(row), 0, columns)
        np.maximum.accumulate(idx, out=idx)
        out[i] = row[idx]
    return out


# --------------------------------------------------------------------------- one run


@dataclass
class ChunkClusters:
    """The clusters holding notional of a run of slots from `lo`, kept compact (one entry per slot
    and cluster): slot offset b, label c, and their SPEC metrics; pattern/members name them."""

    lo: int
    count: np.ndarray        # (B,) clusters holding notional (0 when not ready)
    pattern: np.ndarray      # (B,)
    members: list[Any]
    b: np.ndarray
    c: np.ndarray
    weight: np.ndarray
    concentration: np.ndarray
    correlation: np.ndarray
    stress: np.ndarray

    @classmethod
    def of(cls, lo: int, bc: Any, ready: np.ndarray) -> "ChunkClusters":
        live = (bc.n_held > 0) & ready[:, None]
        b, c = np.nonzero(live)
        return cls(lo, live.sum(axis=1).astype(np.int16), bc.pattern.astype(np.int32), bc.members,
                   b.astype(np.int32), c.astype(np.int16), bc.weight[b, c], bc.concentration[b, c],
                   bc.correlation[b, c], bc.stress[b, c])


@dataclass
class Run:
    settings: Settings
    slots: np.ndarray            # (S,) slot numbers
    publish_ts: np.ndarray       # (S,) (slot + 1) x cadence_s
    ready: np.ndarray            # (S,) bool
    reason: list[str | None]
    symbols_in_matrix: np.ndarray
    cluster_stress: np.ndarray   # (S,) NaN when not ready
    clusters: list[Any]          # per chunk: (offset, BatchClusters)
    vol: np.ndarray              # (S, k)
    in_matrix: np.ndarray        # (S, k)
    signed: np.ndarray           # (S, k) signed notionals the clusterer saw
    gate_rows: dict[str, np.ndarray]
    decisions: list[dict[str, Any]]  # empty when they went to a decision_sink as the run went
    prices_info: dict[str, Any]
    clusters_streamed: bool = False  # the cluster rows went to a cluster_sink as the run went
    tally: "DecisionTally" = field(default_factory=lambda: DecisionTally())
    decisions_streamed: bool = False


def signed_notionals_at(times: np.ndarray, k: int, positions: PositionRows | None, book: dict[str, float],
                        symbols: list[str], marks: np.ndarray | None, stale_after_s: float) -> np.ndarray:
    """(len(times), k) signed notionals held at each time: the positions file's last row per symbol
    at or before it while no older than stale_after_s (a row is a snapshot stamped ts, judged as the gate
    judges one), or the topology's book positions marked to the last price (NaN: none)."""
    out = np.full((len(times), k), np.nan)
    if positions is not None:
        for i in range(k):
            rows = np.flatnonzero(positions.sym == i)
            if not len(rows):
                continue
            at = np.searchsorted(positions.ts[rows], times, side="right") - 1
            have = at >= 0
            have[have] = times[have] - positions.ts[rows[at[have]]] <= stale_after_s
            out[have, i] = positions.value[rows[at[have]]]
        return out
    for i, s in enumerate(symbols):
        amt = book.get(s)
        if amt is None or marks is None:
            continue
        out[:, i] = amt * marks[i]  # read_snapshot: sign(amt) x |amt x mark|
    return out


def progress(done: int, total: int, started: float, label: str, enabled: bool) -> None:
    if not enabled or total <= 0:
        return
    width = 30
    filled = int(width * done / total)
    sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {100 * done / total:5.1f}% "
                     f"{done}/{total} slots, {time.monotonic() - started:6.1f} s")
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def run_backtest(settings: Settings, prices: Prices, positions: PositionRows | None,
                 proposals: Iterable[ProposalRow] | None, *, proposal_every: int = DEFAULT_PROPOSAL_EVERY,
                 show_progress: bool = False, label: str = "backtest", cluster_sink: Any = None,
                 decision_sink: Any = None) -> Run:
    """One run. cluster_sink(chunk, slots, publish), when given, takes each chunk's cluster rows as
    they are made (ClusterWriter: clusters.csv), and the run keeps only the counts and memberships;
    decision_sink(decision) likewise takes each decision (DecisionWriter: decisions.csv), and the run keeps
    only their tally."""
    symbols = settings.symbols
    k = len(symbols)
    c = settings.clusters
    cadence = c.cadence_s
    # As live when the prices stop: states go on until every price is older than max_price_age_s (the last of
    # these slots is never ready: its publish time is more than max_price_age_s after any tick).
    tail = math.ceil(settings.max_price_age_s / cadence)
    grid = build_grid(prices, symbols, c, tail)
    n_slots = grid.prices.shape[1]
    last_priced_publish = float((grid.first_slot + n_slots - tail) * cadence)
    slots = grid.first_slot + np.arange(n_slots)
    publish = (slots + 1) * cadence
    returns = returns_on_grid(grid.prices)
    marks = forward_fill(grid.prices) if positions is None else None
    grid.prices = np.zeros((k, 0))  # not needed any more: returns and marks hold what is
    signed_all = signed_notionals_at(publish, k, positions, settings.book, symbols, marks,
                                     settings.positions.stale_after_s)
    ready = np.zeros(n_slots, dtype=bool)
    reason: list[str | None] = [None] * n_slots
    n_in = np.zeros(n_slots, dtype=np.int64)
    stress = np.full(n_slots, np.nan)
    vol = np.full((n_slots, k), np.nan)
    in_matrix = np.zeros((n_slots, k), dtype=bool)
    chunks: list[Any] = []
    started = time.monotonic()
    per_chunk = chunk_slots(k, c.lookback_returns)
    for lo in range(0, n_slots, per_chunk):
        hi = min(lo + per_chunk, n_slots)
        w = rolling_correlator(returns, grid.newest_ts[:, lo:hi].T, publish[lo:hi], lo, hi, lookback=c.lookback_returns,
                               min_returns=c.min_returns, cadence_s=cadence, max_price_age_s=settings.max_price_age_s,
                               shrinkage=settings.correlator.shrinkage)
        pairs, inm = w["pairs"], w["in_matrix"]
        # As the live clusterer (clustering.stale_held_stops_state): held symbols out of the matrix for their stale
        # price, weighing more than max_stale_held_weight of the book, leave the state not ready, nothing written,
        # and the gate on the proxy.
        held_stale = w["ready"] & stale_held_stops_state(w["stale"], signed_all[lo:hi],
                                                         settings.clusterer.max_stale_held_weight)
        reason[lo:hi] = [HELD_PRICES_STALE if h else r for h, r in zip(held_stale.tolist(), w["reason"])]
        ready[lo:hi] = w["ready"] & ~held_stale
        count_in = inm.sum(axis=1)
        n_in[lo:hi] = np.where(count_in >= 2, count_in, 0)
        vol[lo:hi] = w["vol"]
        in_matrix[lo:hi] = inm
        signed = signed_all[lo:hi]
        # The clusterer sees fresh snapshots only: the rows held here are always fresh.
        bc = batch_cluster_metrics(symbols, pairs, inm, np.nan_to_num(signed, nan=0.0), c.corr_threshold,
                                   settings.clusterer.linkage)
        stress[lo:hi] = np.where(ready[lo:hi], bc.cluster_stress, np.nan)
        chunk = ChunkClusters.of(lo, bc, ready[lo:hi])
        if cluster_sink is not None:
            cluster_sink(chunk, slots, publish)
            none = np.zeros(0)  # new empty arrays: a [:0] view would keep the chunk's rows alive
            chunk = dataclasses.replace(chunk, b=none.astype(np.int32), c=none.astype(np.int16), weight=none,
                                        concentration=none, correlation=none, stress=none)
        chunks.append(chunk)
        progress(hi, n_slots, started, label, show_progress)
    del returns, grid.newest_ts  # the windows are done
    gate_rows = gate_view(settings, publish, ready, stress, vol, in_matrix, signed_all)
    decisions: list[dict[str, Any]] = []
    tally = DecisionTally()
    keep = decisions.append if decision_sink is None else decision_sink
    for decision in decisions_of(settings, proposals if proposals is not None else grid_proposals(
            symbols, prices.first_ts, last_priced_publish, proposal_every * cadence, settings.gate.kill_score_hard),
            grid.first_slot, publish, ready, stress, vol, in_matrix, positions, marks,
            plan_ids_unique=proposals is None):
        tally.add(decision)
        keep(decision)
    info = {"file_rows": prices.rows, "form": prices.form, "ts_unit": prices.ts_unit,
            "bad_rows": prices.bad, "bad_rows_first": [f"line {n}: {r}" for n, r in prices.bad_rows[:10]],
            "not_in_allowlist": prices.not_in_allowlist, "ticks": prices.ticks,
            "rejected": grid.rejected, "slots": int(n_slots), "first_slot": int(grid.first_slot),
            "symbols": symbols}
    return Run(settings, slots, publish, ready, reason, n_in, stress, chunks, vol, in_matrix, signed_all, gate_rows,
               decisions, info, clusters_streamed=cluster_sink is not None, tally=tally,
               decisions_streamed=decision_sink is not None)


def last_ready_index(ready: np.ndarray) -> np.ndarray:
    """For each slot, the index of the last ready slot at or before it (-1: none yet)."""
    idx = np.where(ready, np.arange(len(ready)), -1)
    return np.maximum.accumulate(idx)


def gate_view(settings: Settings, publish: np.ndarray, ready: np.ndarray, stress: np.ndarray, vol: np.ndarray,
              in_matrix: np.ndarray, signed: np.ndarray) -> dict[str, np.ndarray]:
    """The gate's metrics at each slot's publish time (actors.policy.batch_gate_metrics), on the last ready state
    published at or before it."""
    return batch_gate_metrics(publish, last_ready_index(ready), publish, stress, vol, in_matrix, signed, settings.gate,
                              settings.freshness_s)


DECIDE_CHUNK = 65536  # proposals whose times and held positions are looked up at once


def decide_all(settings: Settings, proposals: Iterable[ProposalRow], first_slot: int, publish: np.ndarray,
               ready: np.ndarray, stress: np.ndarray, vol: np.ndarray, in_matrix: np.ndarray,
               positions: PositionRows | None, marks: np.ndarray | None) -> list[dict[str, Any]]:
    """decisions_of(...) as a list."""
    return list(decisions_of(settings, proposals, first_slot, publish, ready, stress, vol, in_matrix, positions, marks))


def decisions_of(settings: Settings, proposals: Iterable[ProposalRow], first_slot: int, publish: np.ndarray,
                 ready: np.ndarray, stress: np.ndarray, vol: np.ndarray, in_matrix: np.ndarray,
                 positions: PositionRows | None, marks: np.ndarray | None,
                 plan_ids_unique: bool = False) -> Iterator[dict[str, Any]]:
    """Every proposal in time order through actors.policy.evaluate_batch, with the state published
    at or before its time, the positions held then, the cooldowns earlier decisions set (for
    cooldown_ttl_s), and the plan_id rules of the permit issuer (same plan_id and proposal within its
    decision TTL: the recorded decision again, replayed; other values: plan_id_conflict; a plan_id that got a permit,
    after its decision TTL and within permitted_plan_ttl_s: plan_id_expired, no decision). One decision at a
    time, DECIDE_CHUNK proposals read ahead; a recorded decision is forgotten once its TTL has passed, as the
    issuer's key expires, so memory follows the proposals within a decision TTL, not the file, and the permitted
    plan_ids within permitted_plan_ttl_s (one a permit: a cooldown steps a proposal down one step, so a symbol
    can get several permits within cooldown_ttl_s). plan_ids_unique (the grid's proposals, grid-N-SYMBOL: none comes
    twice) keeps no permitted plan_id: none can come back, and a month of them was most of a grid run's memory
    (test_backtest_counts: 17.4 against 6.7 MB, session 43)."""
    g, pi = settings.gate, settings.permit_issuer
    symbols = settings.symbols
    k = len(symbols)
    cadence = settings.clusters.cadence_s
    allowed = frozenset(symbols)
    last = last_ready_index(ready)
    cooldown_until: dict[str, float] = {}
    recorded: dict[str, tuple[tuple, dict[str, Any], float]] = {}
    expiries: list[tuple[float, str]] = []  # (when a recorded decision expires, its plan_id), a heap
    permitted: dict[str, float] = {}  # plan_id -> when its marker expires (the issuer's permitted_plan)
    permitted_expiries: list[tuple[float, str]] = []  # (when a marker expires, its plan_id), a heap
    rows = iter(proposals)
    while chunk := list(itertools.islice(rows, DECIDE_CHUNK)):
        times = np.array([p.ts for p in chunk], dtype=np.float64)
        # The state a proposal at t sees: the last slot whose state was published at or before t.
        idx = np.searchsorted(publish, times, side="right") - 1
        held = signed_notionals_at(times, k, positions, settings.book, symbols, None, settings.positions.stale_after_s)
        if positions is None and marks is not None:
            # marked to the last completed slot's price before t
            mark_idx = np.clip(np.floor(times / cadence).astype(np.int64) - 1 - first_slot, -1, marks.shape[1] - 1)
            for i, s in enumerate(symbols):
                amt = settings.book.get(s)
                if amt is not None:
                    held[:, i] = np.where(mark_idx >= 0, amt * marks[i, np.maximum(mark_idx, 0)], np.nan)
        for n, row in enumerate(chunk):
            t = row.ts
            while expiries and expiries[0][0] <= t:
                until, plan_id = heapq.heappop(expiries)
                if recorded.get(plan_id, (None, None, None))[2] == until:
                    del recorded[plan_id]
            while permitted_expiries and permitted_expiries[0][0] <= t:
                until, plan_id = heapq.heappop(permitted_expiries)
                if permitted.get(plan_id) == until:
                    del permitted[plan_id]
            base = {"ts": t, "plan_id": row.raw.get("plan_id"), "symbol": row.raw.get("symbol"),
                    "action_proposed": row.raw.get("action_proposed"), "kill_score": row.raw.get("kill_score")}
            try:
                proposal = validate_proposal(row.raw)
            except BadRequest as exc:
                yield {**base, "final_action": "", "gate_reason": exc.reason, "error": exc.detail}
                continue
            identity = (proposal.symbol, proposal.action_proposed, proposal.kill_score)
            prior = recorded.get(proposal.plan_id)
            if prior is not None and t < prior[2]:
                if prior[0] != identity:
                    yield {**base, "final_action": "", "gate_reason": "plan_id_conflict",
                           "error": "plan_id already decided with other values"}
                else:
                    # the recorded decision again, and no new permit (the issuer: permit_issued false)
                    yield {**prior[1], "ts": t, "replayed": True, "permit": False}
                continue
            if proposal.plan_id in permitted:  # its decision expired after it got a permit: never decided again
                yield {**base, "final_action": "", "gate_reason": "plan_id_expired",
                       "error": "plan_id got a permit and its decision expired: a new plan_id is needed"}
                continue
            s = int(idx[n])
            r = int(last[s]) if s >= 0 else -1
            k_value = sigmas = None
            sigma_source = "constant"
            if r >= 0:
                updated, updated_ms = math.floor(publish[r]), int(publish[r] * 1000)  # the state writer's stamps
                k_value = cluster_k(updated, stress[r], t, settings.freshness_s, updated_ms)
                if g.sigma_source == "realized":
                    sigma_source = "constant_fallback"
                    if state_is_fresh(updated, updated_ms, t, settings.freshness_s):  # realized vol's own, the same
                        sigmas = {symbols[i]: float(vol[r, i]) for i in range(k)
                                  if in_matrix[r, i] and math.isfinite(vol[r, i]) and vol[r, i] > 0}
                        # None at all: the state writer leaves no realized vol hash, and the gate falls back
                        if sigmas:
                            sigma_source = "realized"
                        else:
                            sigmas = None
            elif g.sigma_source == "realized":
                sigma_source = "constant_fallback"
            pos = [Position(symbols[i], float(held[n, i])) for i in range(k) if math.isfinite(held[n, i])]
            cooldowns = {proposal.symbol: t < cooldown_until.get(proposal.symbol, -math.inf)}
            state = PortfolioState(pos, {}, k_value, sigmas, cooldowns[proposal.symbol], cooldowns=cooldowns,
                                   sigma_source=sigma_source)
            items, _ = evaluate_batch([proposal], state, allowed=allowed, settings=g, now=t)
            decision = dict(items[0].decision)
            decision["ts"] = t
            decision["cooldown"] = items[0].cooldown_seen
            if decision["final_action"] != HOLD:
                cooldown_until[proposal.symbol] = t + pi.cooldown_ttl_s
                decision["permit"] = True
                if not plan_ids_unique:
                    permitted[proposal.plan_id] = t + pi.permitted_plan_ttl_s
                    heapq.heappush(permitted_expiries, (t + pi.permitted_plan_ttl_s, proposal.plan_id))
            ttl = pi.decision_ttl_s if decision["final_action"] != HOLD else pi.hold_decision_ttl_s
            recorded[proposal.plan_id] = (identity, decision, t + ttl)
            heapq.heappush(expiries, (t + ttl, proposal.plan_id))
            yield decision


class DecisionTally:
    """What summary.json and the report take from the decisions, counted one decision at a time, with at most
    PLOT_POINTS of each reason kept to plot (every other one dropped, and then every other one taken, each time
    that fills): memory flat however many decisions."""

    PLOT_POINTS = 4_000

    def __init__(self) -> None:
        self.decisions = self.replayed = self.refused = 0
        self.by_action: dict[str, int] = {a: 0 for a in ACTIONS}
        self.by_reason: dict[str, int] = {}
        self.points: dict[str, list[tuple[float, int]]] = {}  # reason -> (ts, index of the final action)
        self._seen: dict[str, int] = {}
        self._every: dict[str, int] = {}

    def add(self, d: dict[str, Any]) -> None:
        self.decisions += 1
        reason = d["gate_reason"]
        if d.get("final_action"):  # plotted, a replay included
            seen, every = self._seen.get(reason, 0), self._every.get(reason, 1)
            self._seen[reason] = seen + 1
            if seen % every == 0:
                points = self.points.setdefault(reason, [])
                points.append((d["ts"], ACTIONS.index(d["final_action"])))
                if len(points) >= self.PLOT_POINTS:
                    del points[1::2]
                    self._every[reason] = 2 * every
        if d.get("replayed"):  # the recorded decision again: counted once, where it was decided
            self.replayed += 1
            return
        if d.get("final_action"):
            self.by_action[d["final_action"]] += 1
        else:  # refused (invalid_proposal, plan_id_conflict, plan_id_expired): no decision
            self.refused += 1
        self.by_reason[reason] = self.by_reason.get(reason, 0) + 1


class DecisionWriter:
    """decisions.csv written a decision at a time while the run goes (2 M decisions kept for the end took
    gigabytes). Opened with the first decision, which comes after every chunk of states: a run refused before
    then writes nothing; close() of a run that made none writes the header alone."""

    def __init__(self, path: Path):
        self.path = path
        self.fh: Any = None
        self.writer: Any = None

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(self.path, "w", newline="")
        self.writer = csv.writer(self.fh, lineterminator="\n")
        self.writer.writerow(DECISION_COLUMNS)

    def __call__(self, d: dict[str, Any]) -> None:
        if self.fh is None:
            self._open()
        self.writer.writerow([fmt(d.get(c)) for c in DECISION_COLUMNS])

    def close(self) -> None:
        if self.fh is None:
            self._open()
        self.fh.close()


# --------------------------------------------------------------------------- outputs


def fmt(x: Any) -> str:
    if x is None:
        return ""
    if isinstance(x, (float, np.floating)):
        return "" if not math.isfinite(x) else repr(float(x))
    return str(x)


def write_states(path: Path, run: Run) -> None:
    gv = run.gate_rows
    cols = ["slot", "ts", "corr_ready", "reason", "symbols_in_matrix", "clusters_count", "cluster_stress", "K",
            "k_source", "stress", "heat", "concentration", "corr_proxy", "fail_closed"]
    counts = np.concatenate([ch.count for ch in run.clusters])

    def col(a: np.ndarray) -> list[str]:
        return ["" if not math.isfinite(v) else repr(v) for v in a.tolist()]

    with open(path, "w", newline="") as fh:
        fh.write(",".join(cols) + "\n")
        for lo in range(0, len(run.slots), 65536):  # a block of rows at a time: memory stays flat
            sl = slice(lo, lo + 65536)
            columns = [list(map(str, run.slots[sl].tolist())), list(map(repr, run.publish_ts[sl].tolist())),
                       ["1" if r else "0" for r in run.ready[sl].tolist()], [r or "" for r in run.reason[sl]],
                       list(map(str, run.symbols_in_matrix[sl].tolist())), list(map(str, counts[sl].tolist())),
                       col(run.cluster_stress[sl]), col(gv["K"][sl]), list(gv["k_source"][sl]), col(gv["stress"][sl]),
                       col(gv["heat"][sl]), col(gv["concentration"][sl]), col(gv["corr_proxy"][sl]),
                       ["0" if ok else "1" for ok in gv["state_ok"][sl].tolist()]]
            fh.writelines(",".join(r) + "\n" for r in zip(*columns))


CLUSTERS_HEADER = "slot,ts,id,members,weight,concentration,correlation,stress\n"


class ClusterWriter:
    """clusters.csv written chunk by chunk while the run goes (a year holds ~10 M rows: kept in memory
    they would take ~400 MB)."""

    def __init__(self, path: Path):
        self.path = path
        self.fh: Any = None  # opened with the first chunk: a run refused before it writes nothing
        self.rows = 0
        self.seconds = 0.0

    def __call__(self, ch: "ChunkClusters", slots: np.ndarray, publish: np.ndarray) -> None:
        started = time.perf_counter()
        if self.fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.fh = open(self.path, "w", newline="")
            self.fh.write(CLUSTERS_HEADER)
        bs, cs = ch.b, ch.c
        values = zip(slots[ch.lo + bs].tolist(), publish[ch.lo + bs].tolist(), ch.pattern[bs].tolist(), cs.tolist(),
                     ch.weight.tolist(), ch.concentration.tolist(), ch.correlation.tolist(), ch.stress.tolist())
        lines = []
        for slot, t, pat, cl, w, conc, corr, st in values:
            members, cid = ch.members[pat][cl]
            lines.append(f"{slot},{t!r},{cid},{' '.join(members)},{w!r},{conc!r},{corr!r},{st!r}\n")
        self.fh.writelines(lines)
        self.rows += len(lines)
        self.seconds += time.perf_counter() - started

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()


DECISION_COLUMNS = ["ts", "plan_id", "symbol", "action_proposed", "kill_score", "final_action", "gate_reason",
                    "stress", "heat", "concentration", "corr_proxy", "K", "k_source", "sigma_source", "cooldown",
                    "permit", "replayed", "error"]


def write_decisions(path: Path, run: Run) -> None:
    """decisions.csv of a run that kept its decisions (no decision_sink), as DecisionWriter writes it."""
    sink = DecisionWriter(path)
    for d in run.decisions:
        sink(d)
    sink.close()


def summarise(run: Run, inputs: dict[str, str]) -> dict[str, Any]:
    g = run.settings.gate
    cadence = run.settings.clusters.cadence_s
    st = run.gate_rows["stress"]
    tally = run.tally
    n = len(st)
    proxy = run.gate_rows["k_source"] == "proxy"
    # Without a fresh position the gate fails closed: that time is neither cold nor in risk-off.
    has_state = run.gate_rows["state_ok"]
    cold = has_state & (st < g.cold_stress)
    riskoff = has_state & (st >= g.riskoff_stress)
    return {
        "slots": n, "cadence_s": cadence,
        "first_ts": float(run.publish_ts[0] - cadence) if n else None,
        "last_ts": float(run.publish_ts[-1]) if n else None,
        "decisions": tally.decisions,
        "replayed": tally.replayed,
        "refused": tally.refused,
        "by_final_action": dict(tally.by_action),
        "by_reason": dict(sorted(tally.by_reason.items())),
        "time_cold_s": float(cold.sum() * cadence),
        "time_riskoff_s": float(riskoff.sum() * cadence),
        "time_fail_closed_s": float((~has_state).sum() * cadence),
        "time_on_proxy_s": float(proxy.sum() * cadence),
        "share_cold": float(cold.mean()) if n else 0.0,
        "share_riskoff": float(riskoff.mean()) if n else 0.0,
        "share_fail_closed": float((~has_state).mean()) if n else 0.0,
        "share_on_proxy": float(proxy.mean()) if n else 0.0,
        "share_corr_ready": float(run.ready.mean()) if n else 0.0,
        "prices": run.prices_info,
        "settings": run.settings.flat(),
        "inputs": inputs,
    }


REASON_COLOURS = {"pass": "#2ca02c", "cooldown_downgrade": "#9467bd", "forbid_full_close_portfolio_cold": "#1f77b4",
                  "forbid_full_close_portfolio_cold_ks_hard": "#17becf", "riskoff_accelerate": "#d62728",
                  "fail_closed_portfolio_state": "#7f7f7f", "not_allowed": "#bcbd22"}


def plot_report(path: Path, run: Run) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    g = run.settings.gate
    t = (run.publish_ts - run.publish_ts[0]) / 86400.0
    step = max(1, len(t) // 20000)  # plotted points: bounded, every slot is in states.csv
    fig, axes = plt.subplots(3, 1, figsize=(12, 9), sharex=True)
    ax = axes[0]
    ax.plot(t[::step], run.cluster_stress[::step], lw=0.8, label="ClusterStress")
    gate_stress = np.where(run.gate_rows["state_ok"], run.gate_rows["stress"], np.nan)  # none when fail closed
    ax.plot(t[::step], gate_stress[::step], lw=0.8, label="portfolio stress")
    ax.axhline(g.cold_stress, color="#1f77b4", ls="--", lw=0.8, label=f"cold {g.cold_stress}")
    ax.axhline(g.riskoff_stress, color="#d62728", ls="--", lw=0.8, label=f"risk-off {g.riskoff_stress}")
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("stress")
    ax.legend(loc="upper right", fontsize=8)
    ax = axes[1]
    by = {reason: [((ts - run.publish_ts[0]) / 86400.0, a) for ts, a in pts] for reason, pts in run.tally.points.items()}
    for reason, pts in sorted(by.items()):
        xs, ys = zip(*pts)
        ax.scatter(xs, ys, s=6, label=reason, color=REASON_COLOURS.get(reason))
    ax.set_yticks(range(len(ACTIONS)), ACTIONS, fontsize=7)
    ax.set_ylabel("final action")
    if by:  # no decision: no legend (matplotlib warns on stderr about an empty one)
        ax.legend(loc="upper right", fontsize=7, markerscale=2)
    ax = axes[2]
    counts = np.zeros(len(t))
    changes = np.zeros(len(t), dtype=bool)
    prev = None
    for bc in run.clusters:
        lo, m = bc.lo, len(bc.count)
        counts[lo:lo + m] = bc.count
        pat = bc.pattern
        ch = np.ones(m, dtype=bool)
        ch[1:] = pat[1:] != pat[:-1]
        if prev is not None:
            ch[0] = bc.members[pat[0]] != prev
        changes[lo:lo + m] = ch
        prev = bc.members[pat[-1]] if m else prev
    counts = np.where(run.ready, counts, np.nan)
    ax.step(t[::step], counts[::step], where="post", lw=0.8, label="clusters holding notional")
    ch_t = t[changes]
    ax.vlines(ch_t[:: max(1, len(ch_t) // 2000)], 0, 0.3, color="#ff7f0e", lw=0.5, label="membership change")
    ax.set_ylabel("clusters")
    ax.set_xlabel("days since the first slot")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write_html(path: Path, png: Path, summary: dict[str, Any]) -> None:
    """One file: the figure inlined as base64, the summary's tables, no external resources."""
    img = base64.b64encode(png.read_bytes()).decode()

    def table(d: dict[str, Any]) -> str:
        rows = "".join(f"<tr><td>{_esc(k)}</td><td>{_esc(v)}</td></tr>" for k, v in d.items())
        return f"<table>{rows}</table>"

    top = {k: summary[k] for k in ("slots", "cadence_s", "decisions", "replayed", "refused", "time_cold_s",
                                   "time_riskoff_s", "time_fail_closed_s", "time_on_proxy_s", "share_corr_ready")}
    html = ("<!doctype html><html><head><meta charset='utf-8'><title>clustergate backtest</title>"
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
            "td{border:1px solid #ccc;padding:2px 8px}</style></head><body>"
            "<h1>clustergate backtest</h1>"
            f"<img alt='stress, decisions and clusters over time' src='data:image/png;base64,{img}' style='max-width:100%'>"
            f"<h2>Run</h2>{table(top)}<h2>Final actions</h2>{table(summary['by_final_action'])}"
            f"<h2>Reasons</h2>{table(summary['by_reason'])}<h2>Prices</h2>"
            f"{table({k: v for k, v in summary['prices'].items() if k != 'symbols'})}"
            f"<h2>Settings</h2>{table(summary['settings'])}<h2>Inputs (sha256)</h2>{table(summary['inputs'])}"
            "</body></html>")
    path.write_text(html)


def _esc(v: Any) -> str:
    s = json.dumps(v) if isinstance(v, (dict, list)) else str(v)
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def remove_outputs(out: Path, names: tuple[str, ...]) -> None:
    for name in names:
        (out / name).unlink(missing_ok=True)


def write_outputs(out: Path, run: Run, inputs: dict[str, str]) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    remove_outputs(out, SWEEP_OUTPUTS)  # an older sweep's files are not this run's
    if not run.clusters_streamed:  # else the run's cluster_sink (ClusterWriter) wrote clusters.csv
        sink = ClusterWriter(out / "clusters.csv")
        for ch in run.clusters:
            sink(ch, run.slots, run.publish_ts)
        sink.close()
    write_states(out / "states.csv", run)
    if not run.decisions_streamed:  # else the run's decision_sink (DecisionWriter) wrote decisions.csv
        write_decisions(out / "decisions.csv", run)
    summary = summarise(run, inputs)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    plot_report(out / "report.png", run)
    write_html(out / "report.html", out / "report.png", summary)
    return summary


# --------------------------------------------------------------------------- sweeps


def parse_sweeps(items: list[str], set_keys: Iterable[str] = ()) -> list[tuple[str, list[Any]]]:
    """The --sweep keys and values; InputError for a setting swept twice or also in --set (set_keys), under any of its
    names: one would replace the other's values without a word (rows labelled with values never run)."""
    out: list[tuple[str, list[Any]]] = []
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not values:
            raise InputError(f"--sweep {item!r}: expected KEY=V1,V2,...")
        key = key.strip()
        parsed = [parse_value(key, v.strip()) for v in values.split(",")]
        name = ALIASES.get(key, key)
        swept = [k for k, _ in out if ALIASES.get(k, k) == name]
        if swept:
            raise InputError(f"--sweep {key}: given twice" + (f" (as {swept[0]} too)" if swept[0] != key else ""))
        set_as = [k for k in set_keys if ALIASES.get(k, k) == name]
        if set_as:
            raise InputError(f"--sweep {key}: also given in --set {set_as[0]} (the swept values would replace it)")
        out.append((key, parsed))
    return out


_SWEEP_INPUTS: dict[str, Any] = {}


def _sweep_one(combo: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    base, prices, positions, proposals, every, inputs = (_SWEEP_INPUTS[k] for k in
                                                         ("base", "prices", "positions", "proposals", "every", "inputs"))
    settings = apply_settings(base, dict(combo))
    run = run_backtest(settings, prices, positions, proposals, proposal_every=every,  # a sweep keeps the counts,
                       cluster_sink=lambda *_: None, decision_sink=lambda _: None)  # not the rows
    s = summarise(run, inputs)
    row: dict[str, Any] = dict(combo)
    row.update({f"action_{a}": n for a, n in s["by_final_action"].items()})
    row.update({f"reason_{r}": n for r, n in s["by_reason"].items()})
    row.update({k: s[k] for k in ("decisions", "replayed", "refused", "time_cold_s", "time_riskoff_s",
                                  "time_fail_closed_s", "time_on_proxy_s", "share_cold", "share_riskoff",
                                  "share_fail_closed", "share_on_proxy")})
    return row


def _die_with_parent(parent: int) -> None:
    """Have the kernel SIGKILL this worker when the sweep's process ends (Linux PR_SET_PDEATHSIG): a sweep SIGKILLed
    left its workers running their combinations to the end, a result no one would take."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the worker ends with its combination
        return
    if os.getppid() != parent:  # it ended before the prctl
        os._exit(1)


def _sweep_worker(combo: tuple[tuple[str, Any], ...], result: Any, parent: int) -> None:
    """One combination in a forked process: sends ("row", row) or ("raise", the exception) on result."""
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the parent ends its workers
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # blocked by the parent across the fork
    try:
        outcome: tuple[str, Any] = ("row", _sweep_one(combo))
    except Exception as exc:  # re-raised in the parent, as Pool did (an InputError is still one line, exit 2)
        outcome = ("raise", exc)
    result.send(outcome)
    result.close()


def _sweep_rows(combos: list[tuple[tuple[str, Any], ...]], workers: int, out: Path, started: float,
                show_progress: bool) -> list[dict[str, Any]]:
    """Each combination in a process of its own, at most workers at once. Not multiprocessing.Pool: it replaces a
    worker that was killed mid-task and then waits for that task's result for ever (the sweep hung)."""
    import multiprocessing
    import multiprocessing.connection
    ctx = multiprocessing.get_context("fork")
    rows: list[dict[str, Any] | None] = [None] * len(combos)
    todo = list(enumerate(combos))
    running: dict[Any, tuple[int, Any]] = {}  # the result's read end -> (index of the combination, process)
    done = 0
    try:
        while todo or running:
            while todo and len(running) < workers:
                i, combo = todo.pop(0)
                receive, send = ctx.Pipe(duplex=False)
                proc = ctx.Process(target=_sweep_worker, args=(combo, send, os.getpid()), daemon=True)
                # A stop signal across the fork is raised after it: its handler ran in the interpreter's at-fork
                # hooks, which swallow the Stopped, or in the child before the child set its own.
                _FORKING[:] = [0]
                signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
                try:
                    proc.start()
                    send.close()  # the worker's alone: its death reads as EOF here
                    running[receive] = (i, proc)
                finally:
                    came = _FORKING[1:]
                    _FORKING.clear()
                    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # one still pending is raised here
                if came:
                    raise Stopped(came[0])
            for receive in multiprocessing.connection.wait(list(running)):
                i, proc = running.pop(receive)
                try:
                    kind, value = receive.recv()
                except EOFError:
                    kind, value = "died", None
                receive.close()
                proc.join()
                if kind == "raise":
                    raise value
                if kind == "died":
                    code = proc.exitcode or 0
                    how = (f"was killed by {signal.Signals(-code).name}" if code < 0
                           else f"exited with status {code}")
                    what = " ".join(f"{k}={v}" for k, v in combos[i])
                    raise SweepWorkerDied(f"sweep {what}: its worker process {how}; nothing was written in {out}")
                rows[i] = value
                done += 1
                progress(done, len(combos), started, "sweep", show_progress)
    finally:  # stopped, or a worker failed: the others are not left running
        for receive, (_, proc) in running.items():
            proc.kill()
            proc.join()
            receive.close()
    return typing.cast(list[dict[str, Any]], rows)


def run_sweep(out: Path, base: Settings, sweeps: list[tuple[str, list[Any]]], prices: Prices,
              positions: PositionRows | None, proposals: Iterable[ProposalRow] | None, every: int,
              inputs: dict[str, str], show_progress: bool) -> list[dict[str, Any]]:
    combos = [tuple(zip([k for k, _ in sweeps], values)) for values in itertools.product(*[v for _, v in sweeps])]
    for combo in combos:
        apply_settings(base, dict(combo))  # every combination is checked before anything runs
    _SWEEP_INPUTS.update(base=base, prices=prices, positions=positions, proposals=proposals, every=every,
                         inputs=inputs)
    workers = min(len(combos), os.cpu_count() or 1)
    started = time.monotonic()
    rows: list[dict[str, Any]] = []
    if workers > 1:
        rows = _sweep_rows(combos, workers, out, started, show_progress)
    else:
        for combo in combos:
            rows.append(_sweep_one(combo))
            progress(len(rows), len(combos), started, "sweep", show_progress)
    out.mkdir(parents=True, exist_ok=True)
    remove_outputs(out, SINGLE_OUTPUTS + SWEEP_OUTPUTS)  # an older run's files are not this sweep's
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    with open(out / "sweep.csv", "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(columns)
        for row in rows:
            w.writerow([fmt(row.get(c, 0)) for c in columns])
    record = {"inputs": inputs, "settings": base.flat(), "sweep": {k: v for k, v in sweeps}, "combinations": len(rows)}
    (out / "sweep.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    if len(sweeps) == 2:
        plot_heatmap(out / "sweep_heatmap.png", sweeps, rows)
    return rows


def permitted_share(row: dict[str, Any]) -> float:
    """Share of a sweep row's proposals that got a permit: a final action other than HOLD, decided (not
    a refused proposal, which has none; not a replay, which issues no second permit)."""
    permits = sum(row.get(f"action_{a}", 0) for a in ACTIONS if a != HOLD)
    return permits / max(row["decisions"], 1)


def plot_heatmap(path: Path, sweeps: list[tuple[str, list[Any]]], rows: list[dict[str, Any]]) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    (kx, vx), (ky, vy) = sweeps
    grid = np.zeros((len(vy), len(vx)))
    for row in rows:
        grid[vy.index(row[ky]), vx.index(row[kx])] = permitted_share(row)
    fig, ax = plt.subplots(figsize=(1.2 * len(vx) + 3, 0.8 * len(vy) + 2))
    im = ax.imshow(grid, origin="lower", cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(vx)), [str(v) for v in vx])
    ax.set_yticks(range(len(vy)), [str(v) for v in vy])
    ax.set_xlabel(kx)
    ax.set_ylabel(ky)
    for (y, x), v in np.ndenumerate(grid):
        ax.text(x, y, f"{v:.2f}", ha="center", va="center", color="w", fontsize=8)
    fig.colorbar(im, ax=ax, label="share of proposals permitted (final action not HOLD)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


# --------------------------------------------------------------------------- the command


def prepare(args: argparse.Namespace) -> tuple[Settings, Prices, PositionRows | None, ProposalFile | None,
                                              list[tuple[str, list[Any]]], dict[str, str]]:
    base = settings_from_topology(args.topology)
    values: dict[str, Any] = {}
    set_as: dict[str, str] = {}  # setting -> the name its last --set gave
    for item in args.set_values:
        key, sep, value = item.partition("=")
        if not sep:
            raise InputError(f"--set {item!r}: expected KEY=VALUE")
        key = key.strip()
        values[ALIASES.get(key, key)] = parse_value(key, value.strip())  # the last given, under any of its names
        set_as[ALIASES.get(key, key)] = key
    settings = apply_settings(base, values)
    sweeps = parse_sweeps(args.sweep, set_as.values())
    if args.proposal_every is not None and args.proposals:  # it sets the grid made without a file: ignored, it said nothing
        raise InputError(f"--proposal-every {args.proposal_every}: it spaces the grid of proposals made without "
                         f"--proposals; give one or the other")
    if args.proposal_every is None:
        args.proposal_every = DEFAULT_PROPOSAL_EVERY
    if args.proposal_every < 1:
        raise InputError(f"--proposal-every {args.proposal_every}: must be >= 1")
    prices = read_prices(args.prices, settings.symbols)
    cadences = [settings.clusters.cadence_s] + [v for key, vs in sweeps if key == "cadence_s" for v in vs]
    try:
        check_grid_size(prices, len(settings.symbols), min(cadences))
    except InputError as exc:
        raise InputError(f"{args.prices}: {exc}") from None
    positions = read_positions(args.positions, settings.symbols, settings.positions.stale_after_s) if args.positions else None
    proposals = read_proposals(args.proposals) if args.proposals else None
    check_out_dir(Path(args.out))
    inputs = {"topology": sha256_of(args.topology), "prices": sha256_of(args.prices)}
    if args.positions:
        inputs["positions"] = sha256_of(args.positions)
    if args.proposals:
        inputs["proposals"] = proposals.sha256  # of the bytes decided: the file may be a pipe, or change
    return settings, prices, positions, proposals, sweeps, inputs


def check_out_dir(out: Path) -> None:
    """InputError unless --out is a directory, or can be made one (its nearest existing parent is a
    directory this process may write), checked before the run, writing nothing."""
    if out.is_symlink() and not out.exists():  # mkdir: "File exists", once the run was done (exit 1)
        raise InputError(f"--out {out}: a symbolic link to {os.readlink(out)}, which does not exist")
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"--out {out}: {existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"--out {out}: {existing} is not writable")


def hold_out_dir(out: Path) -> tuple[int | None, list[Path]]:
    """(a descriptor of --out holding flock's exclusive lock on it, the directories made for it, deepest first): a
    second backtest into the same --out while this one runs gets InputError. Two at once each truncated and wrote the
    other's files, both exiting 0: OUT held one run's report.png beside the other's summary.json, or a clusters.csv of
    neither (revbt). The descriptor is None where the file system has no flock (the run goes on, unlocked)."""
    made: list[Path] = []
    missing = out
    while not os.path.lexists(missing) and missing != missing.parent:
        made.append(missing)
        missing = missing.parent
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise InputError(f"--out {out}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        release_out_dir(None, made)
        raise InputError(f"--out {out}: another backtest is writing its results there; wait for it to end, "
                         f"or give another --out") from None
    except OSError:  # no flock there (ENOLCK, an NFS mount's EBADF on a read-only descriptor)
        os.close(fd)
        return None, made
    return fd, made


def release_out_dir(fd: int | None, made: list[Path]) -> None:
    """Drop hold_out_dir's lock, and remove the directories it made that nothing was written in."""
    if fd is not None:
        os.close(fd)
    for d in made:
        try:
            d.rmdir()
        except OSError:  # written in (or made meanwhile by another process): kept
            break


def cmd_backtest(args: argparse.Namespace) -> int:
    try:
        settings, prices, positions, proposals, sweeps, inputs = prepare(args)
        _HELD.append(hold_out_dir(Path(args.out)))  # released by main(), after its clean-up of OUT
    except InputError as exc:
        print(f"clustergate backtest: {exc}", file=sys.stderr)
        return 2
    return run_held(args, settings, prices, positions, proposals, sweeps, inputs)


# hold_out_dir's lock of this process's --out, held until main() has removed what a failed or stopped run wrote there
# (released before, a second run could start there and have its files removed).
_HELD: list[tuple[int | None, list[Path]]] = []


def run_held(args: argparse.Namespace, settings: Settings, prices: Prices, positions: PositionRows | None,
             proposals: ProposalFile | None, sweeps: list[tuple[str, list[Any]]], inputs: dict[str, str]) -> int:
    """The run (or sweep) of cmd_backtest, --out held by hold_out_dir."""
    out = Path(args.out)
    show = sys.stderr.isatty()
    if sweeps:
        try:
            rows = run_sweep(out, settings, sweeps, prices, positions, proposals, args.proposal_every, inputs, show)
        except InputError as exc:
            print(f"clustergate backtest: {exc}", file=sys.stderr)
            return 2
        except SweepWorkerDied as exc:
            print(f"clustergate backtest: {exc}", file=sys.stderr)
            return 1
        return say(f"{out}/sweep.csv: {len(rows)} combinations", out)
    sink, decided = ClusterWriter(out / "clusters.csv"), DecisionWriter(out / "decisions.csv")
    try:
        run = run_backtest(settings, prices, positions, proposals, proposal_every=args.proposal_every,
                           show_progress=show, cluster_sink=sink, decision_sink=decided)
    except InputError as exc:  # every price refused: before the first chunk, so nothing was written
        print(f"clustergate backtest: {args.prices}: {exc}", file=sys.stderr)
        return 2
    finally:
        sink.close()
    decided.close()
    summary = write_outputs(out, run, inputs)
    # every decision in the parentheses: the final actions, then the refused and the replays (summary.json's sum)
    actions = ", ".join(f"{a} {n}" for a, n in [*summary["by_final_action"].items(), ("refused", summary["refused"]),
                                                ("replayed", summary["replayed"])] if n)
    return say(f"{out}: {summary['slots']} slots, {summary['decisions']} decisions"
               f"{f' ({actions})' if actions else ''}; "
               f"cold {summary['share_cold']:.1%}, risk-off {summary['share_riskoff']:.1%}, "
               f"fail closed {summary['share_fail_closed']:.1%}, "
               f"on the proxy {summary['share_on_proxy']:.1%} of the time", out)


def say(line: str, out: Path) -> int:
    """Print the command's line, once the results are written: 0, or 128 + SIGPIPE when stdout's reader went away
    (`| head -0`), or 1 and a line on stderr when stdout refused it (`> /dev/full`), the results left whole either way
    (not an OSError of the results, which main() removes)."""
    try:
        print(line, flush=True)
    except OSError as exc:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's last flush says nothing
        os.close(devnull)
        if isinstance(exc, BrokenPipeError):
            return 128 + signal.SIGPIPE
        print(f"clustergate backtest: the results in {out} are written, but the line saying so could not be printed: "
              f"{exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    """`clustergate backtest ARGS`: the launcher runs `python -m launcher.backtest ARGS` as a process."""
    p = ArgumentParser(prog="clustergate backtest",
                       description="replay history in event time through the gate's maths and policy; "
                       "write states, clusters, decisions, a summary and a report")
    p.add_argument("topology")
    p.add_argument("--prices", required=True, help="replay CSV (long ts,symbol,price or wide ts,SYM1,...) or Parquet")
    p.add_argument("--positions", help="CSV ts,symbol,position_amt,mark_price (default: the book's positions)")
    p.add_argument("--proposals", help="CSV ts,plan_id,symbol,action_proposed,kill_score (default: a grid)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="set_values",
                   help="override a setting for this run (repeatable)")
    p.add_argument("--sweep", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="run every combination of these values (repeatable); writes sweep.csv")
    p.add_argument("--proposal-every", type=int, default=None,
                   help=f"without --proposals: cadences between the grid's proposals (default {DEFAULT_PROPOSAL_EVERY})")
    return p


def result_files(out: Path) -> dict[str, tuple[int, int, int]]:
    """The result files in out, each as (inode, mtime in ns, size): what a run wrote there changes it."""
    found = {}
    for name in SINGLE_OUTPUTS + SWEEP_OUTPUTS:
        try:
            st = (out / name).lstat()
        except OSError:
            continue
        found[name] = (st.st_ino, st.st_mtime_ns, st.st_size)
    return found


def remove_if_written(out: Path, before: dict[str, tuple[int, int, int]]) -> str:
    """Remove every result file in out if this run wrote any (what it wrote beside what an older run left, its
    report.html say, would pass for one run's results); the words saying so, or "" (an older run's stay whole)."""
    try:
        if result_files(out) != before:
            remove_outputs(out, SINGLE_OUTPUTS + SWEEP_OUTPUTS)
            return "; the results there were removed (no run's whole set was left)"
    except OSError:
        pass
    return ""


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except OutputRefused as exc:  # `--help > /dev/full`
        return say_output_refused("clustergate backtest", exc)
    before = result_files(Path(args.out))
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    copies = len(_COPIES)
    for signum, handler in previous.items():
        if handler is not signal.SIG_IGN:  # nohup: stays ignored
            signal.signal(signum, _stop)
    try:
        return cmd_backtest(args)
    except OSError as exc:  # the inputs were read and checked in prepare(): this is a result the disk did not take
        where = f" ({exc.filename})" if exc.filename else ""
        removed = remove_if_written(Path(args.out), before)
        print(f"clustergate backtest: cannot write the results in {args.out}: {exc.strerror or exc}{where}{removed}",
              file=sys.stderr)
        return 1
    except Stopped as exc:  # SIGTERM, SIGHUP, Ctrl-C: a cut clusters.csv beside an older summary.json passed for a run
        for signum in previous:
            signal.signal(signum, signal.SIG_IGN)  # a second one does not cut the clean-up short
        name = signal.Signals(exc.signum).name
        removed = remove_if_written(Path(args.out), before)
        print(f"clustergate backtest: stopped by {name} while writing the results in {args.out}{removed}"
              if removed else f"clustergate backtest: stopped by {name}; nothing was written in {args.out}",
              file=sys.stderr)
        return 128 + exc.signum
    finally:
        while _HELD:
            release_out_dir(*_HELD.pop())
        while len(_COPIES) > copies:  # this run's: a caller's own ProposalFile keeps its copy
            _COPIES.pop()()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


if __name__ == "__main__":
    sys.exit(main())
