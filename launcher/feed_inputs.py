"""The price feed's inputs a topology names, parsed and checked as plain functions: a replay file
and the synthetic source's pairwise correlations. No socket, Redis or clock here.

The price feed (actors/price_feed.py) publishes from them; `clustergate validate` checks them with
the same code, without importing an actor module (imports go one way: actors -> launcher).
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
from array import array
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator

import numpy as np

from actors.freshness import MAX_EPOCH_S  # noqa: F401 (re-exported: the price feed and the backtest read it here)


# --------------------------------------------------------------------------- price checks


def price_rejection(price: Any) -> str | None:
    """Why a price must not be published (nan, infinite, zero, negative, not_a_number), or None."""
    if isinstance(price, bool) or not isinstance(price, (int, float)):
        return "not_a_number"
    if math.isnan(price):
        return "nan"
    if math.isinf(price):
        return "infinite"
    if price == 0:
        return "zero"
    if price < 0:
        return "negative"
    return None


def usable_prices(price: np.ndarray) -> np.ndarray:
    """Of an array of float prices, which price_rejection passes (finite and > 0): a boolean mask."""
    return np.isfinite(price) & (price > 0)


# --------------------------------------------------------------------------- synthetic source: correlations


class NotPositiveDefinite(ValueError):
    """The configured correlation matrix cannot drive a correlated random walk."""


def correlation_matrix(symbols: list[str], pairs: dict[str, float]) -> np.ndarray:
    """Symmetric matrix in `symbols` order from 'SYM1/SYM2' -> rho; missing pairs are 0."""
    index = {s: i for i, s in enumerate(symbols)}
    matrix = np.eye(len(symbols))
    for pair, rho in pairs.items():
        a, _, b = pair.partition("/")
        if a in index and b in index and a != b:
            matrix[index[a], index[b]] = matrix[index[b], index[a]] = rho
    return matrix


def cholesky_factor(symbols: list[str], pairs: dict[str, float]) -> np.ndarray:
    """Lower Cholesky factor of the correlation matrix; raise NotPositiveDefinite naming the smallest eigenvalue."""
    matrix = correlation_matrix(symbols, pairs)
    try:
        return np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        smallest = float(np.linalg.eigvalsh(matrix).min())
        raise NotPositiveDefinite(
            f"correlation matrix over {', '.join(symbols)} is not positive definite "
            f"(smallest eigenvalue {smallest:.4f}); the pairwise correlations contradict each other") from None


def correlation_problem(symbols: list[str], pairs: dict[str, float]) -> str | None:
    """The reason the correlation settings cannot be used, or None (used by `clustergate validate`)."""
    try:
        cholesky_factor(symbols, pairs)
    except NotPositiveDefinite as exc:
        return str(exc)
    return None


# --------------------------------------------------------------------------- replay files


@dataclass(frozen=True, slots=True)
class ReplayRow:
    ts: float  # recorded epoch seconds; sets the replay schedule
    symbol: str
    price: float  # may be NaN or <= 0: the publisher rejects and counts those


@dataclass(frozen=True)
class RowGap:
    """The time between a row read and the last row read before it that the feed can publish (file order), with the
    later row's line and both timestamps."""
    gap_s: float
    line: int
    ts_text: str
    previous_ts_text: str
    previous_line: int  # not always the line above: rows of other symbols, or never published, may lie between


@dataclass
class ReplayData:
    rows: list[ReplayRow] = field(default_factory=list)
    bad_rows: list[tuple[int, str]] = field(default_factory=list)  # (line number in the file, reason)
    not_in_allowlist: int = 0
    form: str = "long"
    ts_unit: str = "s"  # "ms", "us" or "ns" when the file's epochs were read in those units
    # between a row read and the last row read before it with a usable price (or the first row read), in file
    # order (the time order, once it is checked): read_at
    widest_gap: RowGap | None = None
    file_rows: int = 0  # rows under the header (blank and # lines not counted), readable or not
    out_of_order: str | None = None  # the first row earlier than the row above, named by its line; raised by callers
    sha256: str = ""  # of the bytes parsed (read_replay_file), so a saved position names exactly what was replayed
    bytes_parsed: int = 0  # how many bytes sha256 covers (read_replay_file): a file appended to since starts with them
    # The last row (in file order) was read from an unterminated last line, perhaps still being written (read_replay_file)
    last_row_unterminated: bool = False
    last_row_line: int = 0  # the line the last row read came from
    _last_read: tuple[float, str, int] | None = field(default=None, repr=False)  # (ts, its text, its line)
    _last_timed: float | None = field(default=None, repr=False)

    def timed_at(self, ts: float, ts_text: str, line: int) -> None:
        """A row whose timestamp reads (whatever its other cells): note the first row earlier than the row above."""
        if self.out_of_order is None and self._last_timed is not None and ts < self._last_timed:
            self.out_of_order = (f"line {line}: timestamp {ts_text.strip()} is before the row above "
                                 f"(rows must be in time order)")
        self._last_timed = ts

    def read_at(self, ts: float, ts_text: str, line: int, price: float) -> None:
        """A row was read (ts from the text ts_text, on `line`): keep the widest gap between it and the last row
        read with a usable price (or the first row read, where the replay starts). A NaN, zero, negative or
        infinite price is never published, so it does not shorten the wait: measured from the row before it."""
        if self._last_read is not None:
            gap_s = ts - self._last_read[0]
            if self.widest_gap is None or gap_s > self.widest_gap.gap_s:
                self.widest_gap = RowGap(gap_s, line, ts_text, self._last_read[1], self._last_read[2])
        if self._last_read is None or 0.0 < price < math.inf:  # price_rejection(price) is None, for a float
            self._last_read = (ts, ts_text, line)
        self.last_row_line = line

    def add(self, ts: float, symbol: str, price: float) -> None:
        self.rows.append(ReplayRow(ts, symbol, price))

    def read_rows(self) -> int:
        return len(self.rows)

    def finish(self) -> None:
        """Put the rows in time order (stable for equal times)."""
        self.rows.sort(key=lambda r: r.ts)


@dataclass
class ReplayColumns(ReplayData):
    """ReplayData that keeps its rows as three columns in file order (ts, the symbol's index in `symbols`, price),
    not as one object each: about 20 bytes a row instead of about 180, for a backtest's millions of rows (a 3 M-row
    CSV peaked at 1.07 GB read as rows). `rows` stays empty; columns() gives them in time order."""
    symbols: tuple[str, ...] = ()
    ts: array = field(default_factory=lambda: array("d"))
    symbol_index: array = field(default_factory=lambda: array("i"))
    price: array = field(default_factory=lambda: array("d"))

    def __post_init__(self) -> None:
        self._index = {symbol: i for i, symbol in enumerate(self.symbols)}

    def add(self, ts: float, symbol: str, price: float) -> None:
        self.ts.append(ts)
        self.symbol_index.append(self._index[symbol])
        self.price.append(price)

    def read_rows(self) -> int:
        return len(self.ts)

    def finish(self) -> None:
        """Nothing to do: the columns stay in file order, and time_order() gives the time order."""

    def columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ts, symbol index, price) in time order, stable for equal times (as ReplayData.finish orders rows)."""
        ts = np.frombuffer(self.ts, dtype=np.float64)
        symbol_index, price = np.frombuffer(self.symbol_index, dtype=np.int32), np.frombuffer(self.price, dtype=np.float64)
        if not np.any(ts[1:] < ts[:-1]):  # in time order already (a replay file must be): the columns, no copy
            return ts, symbol_index, price
        order = np.argsort(ts, kind="stable")
        return ts[order], symbol_index[order], price[order]


TS_COLUMNS = ("ts", "timestamp", "time")
PRICE_COLUMNS = ("price", "close")


def parse_timestamp(text: str) -> float:
    """Epoch seconds, or an ISO 8601 time (a trailing Z or no zone means UTC). An epoch above
    MAX_EPOCH_S is read as milliseconds (then micro-, nanoseconds): see epoch_unit."""
    return timestamp_and_unit(text)[0]


def timestamp_and_unit(text: str) -> tuple[float, str | None]:
    """(parse_timestamp(text), the epoch's unit as epoch_unit names it, or None for an ISO 8601 time)."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=timezone.utc)
        return stamp.timestamp(), None
    if not math.isfinite(value):
        raise ValueError(f"timestamp {text!r} is not finite")
    unit = epoch_unit(value)
    return value / 10 ** (3 * EPOCH_UNITS.index(unit)), unit


EPOCH_UNITS = ("s", "ms", "us", "ns")


def epoch_unit(value: float) -> str:
    """The unit of a numeric epoch: s up to MAX_EPOCH_S, then ms, us, ns by factors of 1000."""
    for unit in EPOCH_UNITS:
        if abs(value) <= MAX_EPOCH_S:
            return unit
        value /= 1000.0
    return EPOCH_UNITS[-1]


def _cell_price(text: str) -> float:
    """The CSV cell as a float; NaN, inf, 0 and negatives pass through to be rejected and counted."""
    return float(text.strip())


def csv_lines(text: str | Iterable[str]) -> Iterable[str]:
    """The lines a CSV reader reads of a file's text, or of the file read as it goes (opened with encoding
    utf-8-sig and newline="\\n", as io.StringIO splits a text: a lone CR is no line end): the same lines either
    way, a BOM left after the one utf-8-sig skips skipped too."""
    if isinstance(text, str):
        return _text_lines(text.removeprefix("\ufeff"))
    return _second_bom_skipped(iter(text))


def _text_lines(text: str) -> Iterator[str]:
    """The lines of a text, each with its LF, as io.StringIO reads them (a lone CR is no line end), without
    io.StringIO's copy of the text at 4 bytes a character (130 MB for a 33 MB file)."""
    start, end_of_text = 0, len(text)
    while start < end_of_text:
        end = text.find("\n", start) + 1 or end_of_text
        yield text[start:end]
        start = end


def _second_bom_skipped(lines: Iterator[str]) -> Iterator[str]:
    for line in lines:
        yield line.removeprefix("\ufeff")
        break
    yield from lines


def parse_replay_csv(text: str | Iterable[str], allowlist: Iterable[str], data: ReplayData | None = None) -> ReplayData:
    """Read long form `ts,symbol,price` or wide form `ts,SYM1,SYM2,...`, chosen by the header.

    The time column may be named ts, timestamp or time, the long form's price column price or close
    (any case); a UTF-8 byte-order mark is ignored; a wide-form column that is not an upper-case
    symbol, a column the header names twice, or a quoted field running over more than one line (a stray double
    quote: the lines up to the next quote were read as one bad row, the good rows among them lost uncounted), is
    refused with a one-line error. Epochs in milliseconds (or finer)
    are read as such.
    `text` is the file's text, or its lines (a file opened with encoding utf-8-sig and newline="\\n", read as it
    goes: csv_lines). Rows are returned in time order (stable for equal times), into `data` when given
    (ReplayColumns: as columns, for a backtest). A row that cannot be read is skipped
    and listed with its line number; a symbol outside the allowlist is skipped and counted; an
    empty wide-form cell means no price for that symbol at that time.
    """
    allowed = set(allowlist)
    reader = csv.reader(csv_lines(text))
    data = ReplayData() if data is None else data
    header: list[str] | None = None
    for row in csv_rows(reader):
        line_no = reader.line_num
        if (spanned := sum(cell.count("\n") for cell in row)) > 0:
            raise ValueError(f"line {line_no - spanned}: a quoted field runs on to line {line_no} ({spanned + 1} lines "
                             f"read as one row: a stray double quote?)")
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        if header is None:
            header = [c.strip() for c in row]
            while len(header) > 1 and not header[-1]:  # a trailing comma (spreadsheet export): no column
                header.pop()
            if not header or header[0].lower() not in TS_COLUMNS:
                raise ValueError(f"line {line_no}: header must start with ts (or timestamp, time), got {row!r}")
            lowered = [h.lower() for h in header]
            long_form = len(header) == 3 and lowered[1] == "symbol" and lowered[2] in PRICE_COLUMNS
            data.form = "long" if long_form else "wide"
            if data.form == "wide":
                for sym in header[1:]:
                    if not sym:
                        raise ValueError(f"line {line_no}: empty column name in the header")
                    if sym.upper() != sym or not sym.replace("_", "").isalnum():
                        raise ValueError(
                            f"line {line_no}: header column {sym!r} is not a symbol: the long form is "
                            f"ts,symbol,price (or close), the wide form ts,SYM1,SYM2,...")
            if (twice := named_twice(header)) is not None:
                raise ValueError(f"line {line_no}: the header names column {twice!r} twice")
            continue
        data.file_rows += 1
        try:
            ts, unit = timestamp_and_unit(row[0])
        except ValueError:
            ts = unit = None
        else:
            data.timed_at(ts, row[0], line_no)
        if len(row) > len(header) and not "".join(row[len(header):]).strip():
            row = row[:len(header)]
        if len(row) != len(header):
            data.bad_rows.append((line_no, f"expected {len(header)} columns, got {len(row)}"))
            continue
        if ts is None:
            data.bad_rows.append((line_no, f"bad timestamp {row[0]!r}"))
            continue
        if data.ts_unit == "s" and unit is not None:
            data.ts_unit = unit
        if data.form == "long":
            symbol = row[1].strip()
            if symbol not in allowed:
                data.not_in_allowlist += 1
                continue
            try:
                price = _cell_price(row[2])
            except ValueError:
                data.bad_rows.append((line_no, f"bad price {row[2]!r}"))
                continue
            data.add(ts, symbol, price)
            data.read_at(ts, row[0].strip(), line_no, price)
            continue
        for symbol, cell in zip(header[1:], row[1:]):
            if not cell.strip():
                continue
            if symbol not in allowed:
                data.not_in_allowlist += 1
                continue
            try:
                price = _cell_price(cell)
            except ValueError:
                data.bad_rows.append((line_no, f"bad price {cell!r} for {symbol}"))
                continue
            data.add(ts, symbol, price)
            data.read_at(ts, row[0].strip(), line_no, price)
    if header is None:
        raise ValueError("the file is empty: expected a header line starting with ts")
    data.finish()
    return data


def named_twice(names: Iterable[str]) -> str | None:
    """The first column name a header repeats (spaces around a name ignored), or None: a wide file with a symbol's
    column twice would be read as one series interleaving both."""
    seen: set[str] = set()
    for name in names:
        if name.strip() in seen:
            return name.strip()
        seen.add(name.strip())
    return None


def time_order_checked(data: ReplayData) -> int:
    """Raise ValueError when the parsed file had a row earlier than the row above; else its rows under the header."""
    if data.out_of_order is not None:
        raise ValueError(data.out_of_order)
    return data.file_rows


def file_problem(path: Any) -> str | None:
    """Why `path` cannot be a prices file (a directory, not a regular file: a FIFO would block its reader for ever,
    a device never end; not there), or None."""
    if os.path.isfile(path):
        return None
    return ("is a directory, not a prices file" if os.path.isdir(path) else
            "is not a regular file" if os.path.exists(path) else "no such file")


def csv_rows(reader: Any) -> Iterator[list[str]]:
    """The reader's rows; a csv.Error (a field over the csv module's limit, 128 KiB) is a ValueError naming
    the line, so every caller refuses the file in one line rather than with a traceback."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ValueError(f"line {reader.line_num}: {exc}") from None
        yield row


def loop_growth(symbol_index: np.ndarray, price: np.ndarray, published: np.ndarray | None = None) -> dict[int, float]:
    """Per symbol index, log(last published price / first published price) of the rows (in time order): how far one
    pass moves it. `published`: the rows the feed publishes that set it (default: the usable ones)."""
    usable = np.flatnonzero(usable_prices(price) if published is None else published)
    symbols = symbol_index[usable]
    present, first = np.unique(symbols, return_index=True)
    last = len(symbols) - 1 - np.unique(symbols[::-1], return_index=True)[1]
    return {int(s): math.log(float(price[usable[b]]) / float(price[usable[a]])) for s, a, b in zip(present, first, last)}


def usable_rows(data: ReplayData) -> int:
    if isinstance(data, ReplayColumns):
        price = np.frombuffer(data.price, dtype=np.float64)
        return int(np.count_nonzero(usable_prices(price)))
    return sum(1 for r in data.rows if price_rejection(r.price) is None)


# A replay never waits longer than this (wall time, after dividing by its speed) between two rows it publishes:
# a row further on is a stray timestamp (a typo'd year, nanoseconds among seconds), not a pause worth keeping.
MAX_REPLAY_WAIT_S = 86400.0


def replay_wait_problem(data: ReplayData, speed: float) -> str | None:
    """Why the replay of `data` (rows in time order) at `speed` would wait more than MAX_REPLAY_WAIT_S between two
    rows, naming the row after the widest gap by its line; or None. A feed ready on heartbeats alone for days (or
    for ever, behind a row 485 years on) is a broken replay that looks alive."""
    gap = data.widest_gap
    if gap is None or gap.gap_s / speed <= MAX_REPLAY_WAIT_S:
        return None
    return (f"line {gap.line}: timestamp {gap.ts_text} is {gap.gap_s:.15g} s after the row on line "
            f"{gap.previous_line} ({gap.previous_ts_text}): at speed {speed:g} the feed would publish only heartbeats "
            f"for {gap.gap_s / speed:.6g} s, more than the {MAX_REPLAY_WAIT_S:.0f} s (one day) a replay may wait between "
            f"rows (remove the stray row, or split the file at the gap)")


def read_replay_file(path: Any, allowlist: Iterable[str], *, speed: float) -> ReplayColumns:
    """Read and parse a replay file in one read (its SHA-256 is that of the bytes parsed); raise ValueError (or
    OSError) with a one-line reason naming the file when it cannot be used, as the backtest refuses it
    (launcher/backtest.py read_prices): not a regular file, not UTF-8, no header, a column named twice, rows out of
    time order, or no usable row (a feed with nothing to publish); and, for the live feed alone, two rows further
    apart than MAX_REPLAY_WAIT_S of wall time at `speed` (replay_wait_problem)."""
    if (problem := file_problem(path)) is not None:
        raise ValueError(f"{path}: {problem}")
    with open(path, "rb") as fh:
        raw = fh.read()
    sha256, bytes_parsed = hashlib.sha256(raw).hexdigest(), len(raw)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not a prices CSV ({exc})") from None
    del raw  # the text alone while it is parsed: a 1 M-row file is 33 MB of either
    symbols = tuple(dict.fromkeys(allowlist))
    try:
        data = parse_replay_csv(text, symbols, ReplayColumns(symbols=symbols))
        if data.out_of_order is not None and not text.endswith("\n") and "\n" in text:
            data = _without_a_line_still_being_written(text, symbols, data)
        time_order_checked(data)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    if usable_rows(data) == 0:
        raise ValueError(f"{path}: no usable row ({data.read_rows()} rows for the allowlist, "
                         f"{len(data.bad_rows)} unreadable, {data.not_in_allowlist} outside the allowlist; "
                         f"form {data.form}); expected ts,symbol,price or ts,SYM1,SYM2,...")
    if (problem := replay_wait_problem(data, speed)) is not None:
        raise ValueError(f"{path}: {problem}")
    data.sha256, data.bytes_parsed = sha256, bytes_parsed
    data.last_row_unterminated = not text.endswith("\n") and data.last_row_line == text.count("\n") + 1
    return data


def _without_a_line_still_being_written(text: str, symbols: tuple[str, ...], data: ReplayColumns) -> ReplayColumns:
    """`data` parsed from all of `text`, or, when only its unterminated last line is out of time order (a recorder's
    write cut in its timestamp: "1" of "120,..."), from the lines before it, that line a bad row: refused, the feed
    exited 2 ('restarting will not fix it') though a read a moment later finds the line whole."""
    complete = text[:text.rindex("\n") + 1]
    cut = parse_replay_csv(complete, symbols, ReplayColumns(symbols=symbols))
    if cut.out_of_order is not None:
        return data
    cut.bad_rows.append((complete.count("\n") + 1, "unterminated last line before the row above (still being written)"))
    return cut


def prefix_sha256(path: Any, lengths: tuple[int, ...]) -> tuple[str, ...] | None:
    """The SHA-256 of the file's first n bytes for each n of `lengths` (ascending), in one read; None when the file is
    shorter than the last of them or cannot be read."""
    digest, done, out = hashlib.sha256(), 0, []
    try:
        with open(path, "rb") as fh:
            for n in lengths:
                while done < n:
                    chunk = fh.read(min(1 << 20, n - done))
                    if not chunk:
                        return None
                    digest.update(chunk)
                    done += len(chunk)
                out.append(digest.hexdigest())
    except OSError:
        return None
    return tuple(out)
