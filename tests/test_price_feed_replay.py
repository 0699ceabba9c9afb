"""The replay source: long and wide CSV, bad rows skipped with their line number, and a real replay."""

from __future__ import annotations

import math

import pytest

from actors.price_feed import ReplaySchedule
from launcher.feed_inputs import ReplayRow, parse_replay_csv
from feed_helpers import TickListener, feed_topology, metric, tick_endpoint, metrics_port
from helpers import DEADLINE_SCALE, PYTHON, REPO, ActorProcess, wait_for, write_topology

ALLOW = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]

LONG_CSV = """ts,symbol,price
1700000000,BTCUSDT,64000
1700000000,ETHUSDT,3400
1700000001,BTCUSDT,64010.5
1700000001,DOGEUSDT,0.1
1700000002,ETHUSDT,3401
"""

WIDE_CSV = """ts,BTCUSDT,ETHUSDT,DOGEUSDT
2023-11-14T22:13:20Z,64000,3400,0.1
2023-11-14T22:13:21Z,64010.5,,0.11
"""


@pytest.mark.parametrize("form", ["long", "wide"])
def test_a_file_read_into_columns_gives_the_rows_in_the_order_the_row_reader_gives_them(tmp_path, form):
    """The backtest reads a CSV into columns as it goes (ReplayColumns, from an open file), the live feed into rows
    from its text: the same rows (ts, symbol, price; bad and unlisted ones alike) in the same time order, equal
    times kept in file order, whatever the order of the file."""
    import random

    from launcher.feed_inputs import ReplayColumns
    rng = random.Random(7)
    times = [1700000000 + rng.randrange(40) for _ in range(400)]  # many equal times, out of order
    if form == "long":
        lines = ["ts,symbol,price"] + [f"{t},{rng.choice(ALLOW + ['DOGEUSDT'])},{rng.choice(['1', '2.5', 'x', '-1', str(i)])}"
                                       for i, t in enumerate(times)]
    else:
        lines = ["ts," + ",".join(ALLOW)] + [f"{t}," + ",".join(rng.choice(["", str(i), "7.5", "bad"]) for _ in ALLOW)
                                             for i, t in enumerate(times)]
    text = "\ufeff" + "\r\n".join(lines) + "\r\n"
    path = tmp_path / "prices.csv"
    path.write_text(text, encoding="utf-8")
    rows = parse_replay_csv(text, ALLOW)
    with open(path, encoding="utf-8-sig", newline="\n") as fh:
        columns = parse_replay_csv(fh, ALLOW, ReplayColumns(symbols=tuple(ALLOW)))
    ts, index, price = columns.columns()
    assert columns.read_rows() == len(rows.rows) > 100
    assert [(r.ts, r.symbol, repr(r.price)) for r in rows.rows] == [
        (t, ALLOW[i], repr(p)) for t, i, p in zip(ts.tolist(), index.tolist(), price.tolist())]
    assert (columns.bad_rows, columns.not_in_allowlist, columns.form) == (rows.bad_rows, rows.not_in_allowlist, rows.form)


def test_long_form_is_read_in_time_order_and_unlisted_symbols_are_counted():
    data = parse_replay_csv(LONG_CSV, ALLOW)
    assert data.form == "long"
    assert data.rows == [ReplayRow(1700000000, "BTCUSDT", 64000), ReplayRow(1700000000, "ETHUSDT", 3400),
                         ReplayRow(1700000001, "BTCUSDT", 64010.5), ReplayRow(1700000002, "ETHUSDT", 3401)]
    assert data.not_in_allowlist == 1
    assert data.bad_rows == []


def test_wide_form_is_detected_by_its_header_and_an_empty_cell_means_no_price():
    data = parse_replay_csv(WIDE_CSV, ALLOW)
    assert data.form == "wide"
    assert data.rows == [ReplayRow(1700000000, "BTCUSDT", 64000), ReplayRow(1700000000, "ETHUSDT", 3400),
                         ReplayRow(1700000001, "BTCUSDT", 64010.5)]
    assert data.not_in_allowlist == 2


def test_bad_rows_are_skipped_and_named_by_their_line_number():
    text = "ts,symbol,price\n1,BTCUSDT,1\nyesterday,BTCUSDT,2\n3,BTCUSDT,abc\n4,BTCUSDT\n5,BTCUSDT,5\n"
    data = parse_replay_csv(text, ALLOW)
    assert [r.price for r in data.rows] == [1, 5]
    assert [line for line, _ in data.bad_rows] == [3, 4, 5]
    assert "timestamp" in data.bad_rows[0][1] and "price" in data.bad_rows[1][1] and "columns" in data.bad_rows[2][1]


def test_unusable_prices_are_kept_for_the_publisher_to_reject_and_count():
    text = "ts,symbol,price\n1,BTCUSDT,nan\n2,BTCUSDT,-5\n3,BTCUSDT,0\n4,BTCUSDT,inf\n"
    prices = [r.price for r in parse_replay_csv(text, ALLOW).rows]
    assert math.isnan(prices[0]) and prices[1:] == [-5, 0, math.inf]


def test_a_file_without_a_ts_header_is_an_error():
    with pytest.raises(ValueError, match="header"):
        parse_replay_csv("symbol,price\nBTCUSDT,1\n", ALLOW)


def test_the_schedule_divides_recorded_gaps_by_the_speed_and_loops_after_one_median_gap():
    rows = [ReplayRow(10, "A", 1), ReplayRow(12, "A", 2), ReplayRow(16, "A", 3)]
    schedule = ReplaySchedule(rows, speed=2, loop=True, loop_gap_s=99)
    due = []
    for _ in range(5):
        due.append(schedule.next_due_s())
        schedule.pop()
    # Gaps 2 s and 4 s at speed 2 are 1 s and 2 s; the loop restarts one median gap (1.5 s) after the end.
    assert due == [0, 1, 3, 4.5, 5.5]


def test_the_schedule_ends_without_loop():
    schedule = ReplaySchedule([ReplayRow(1, "A", 1)], speed=1, loop=False, loop_gap_s=1)
    assert schedule.next_due_s() == 0
    schedule.pop()
    assert schedule.next_due_s() is None


@pytest.mark.parametrize("form", ["long", "wide"])
def test_a_replayed_csv_reaches_a_real_subscriber_with_increasing_seq(tmp_path, redis_server, form):
    if form == "long":
        csv_text = ("ts,symbol,price\n0,BTCUSDT,100\n0.1,ETHUSDT,200\n0.2,BTCUSDT,101\n"
                    "0.3,XRPUSDT,1\n0.4,ETHUSDT,nan\n0.5,BTCUSDT,-5\n0.6,ETHUSDT,202\n")
    else:
        csv_text = "ts,BTCUSDT,ETHUSDT,XRPUSDT\n0,100,200,1\n0.2,101,,1\n0.4,-5,nan,1\n0.6,,202,1\n"
    (tmp_path / "prices.csv").write_text(csv_text)
    # a real Redis: with none, a replay feed first waits 10 s for its saved position (feed_helpers.feed_topology)
    path, data = feed_topology(tmp_path, redis_server.url, {
        "source": "replay", "heartbeat_s": 0.5,
        "replay": {"path": "prices.csv", "speed": 2, "loop": True}})
    listener = TickListener(tick_endpoint(data))
    feed = ActorProcess(path, "price_feed").start()
    try:
        # The good rows are BTCUSDT 100, 101 and ETHUSDT 200, 202: one pass moves both by 1.01, and pass k
        # is rebased by 1.01 ** k (issue 17 #6), so every tick is its first price times a power of 1.01.
        first = {"BTCUSDT": 100.0, "ETHUSDT": 200.0}

        def steps(tick: dict) -> float:
            return math.log(tick["price"] / first[tick["symbol"]]) / math.log(1.01)

        def a_full_pass_seen() -> bool:
            seen = {(t["symbol"], round(steps(t))) for t in listener.ticks()}
            return all(any((s, k + 1) in seen for (sym, k) in seen if sym == s) for s in first)

        # The loop replays the file every 0.3 s; a subscriber that joined late still sees a full pass.
        wait_for(a_full_pass_seen, 10, f"a full pass of the good {form} rows at the subscriber\n{feed.log()}")
        ticks = listener.ticks()
        assert {t["symbol"] for t in ticks} == set(first)
        assert all(abs(steps(t) - round(steps(t))) < 1e-6 for t in ticks), ticks
        seqs = [t["seq"] for t in ticks]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        port = metrics_port(data)
        assert metric(port, "price_feed_rejected_prices_total", symbol="ETHUSDT", reason="nan") >= 1
        assert metric(port, "price_feed_rejected_prices_total", symbol="BTCUSDT", reason="negative") >= 1
        assert metric(port, "price_feed_replay_rows_skipped_total", reason="not_in_allowlist") >= 1
    finally:
        listener.close()
        assert feed.terminate() == 0


def test_a_looped_replay_of_independent_symbols_makes_no_correlation_at_the_seam():
    """Issue 17 #6: at the loop seam every symbol jumped back to its first price in one slot, and
    independent symbols showed corr +-0.9 (ClusterStress 0.888) for 360 cadences after every loop."""
    import numpy as np
    from actors.correlation import correlate_window
    rng = np.random.default_rng(17)
    symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    n = 1000  # a long file: each symbol ends far from where it started
    log_p = np.cumsum(rng.normal(0.0, 0.01, (len(symbols), n)), axis=1)
    log_p -= log_p[:, :1]  # every symbol starts at 100 and random-walks away from it
    rows = [ReplayRow(float(t), s, float(100.0 * np.exp(log_p[i, t]))) for t in range(n) for i, s in enumerate(symbols)]
    schedule = ReplaySchedule(rows, speed=1, loop=True, loop_gap_s=1)
    published = np.full((len(symbols), 2 * n), np.nan)
    for _ in range(2 * n * len(symbols)):
        due = schedule.next_due_s()
        row = schedule.pop()
        published[symbols.index(row.symbol), int(round(due))] = row.price
    window = published[:, n - 30:n + 30]  # the seam in the middle of the window
    result = correlate_window(symbols, window, cadence_s=1.0, min_returns=10)
    off_diagonal = result["matrix"][~np.eye(len(symbols), dtype=bool)]
    assert np.abs(off_diagonal).max() < 0.3, result["matrix"]
    # The series continues: the first price of the second pass is the last price of the first.
    assert np.allclose(published[:, n], published[:, n - 1], rtol=0.05)


def test_a_looping_replay_whose_last_line_was_cut_mid_write_keeps_its_price_level_pass_after_pass(tmp_path, redis_server):
    """feedrev: a file still being appended to, its last line cut mid-write (43021.5 read as 43). The feed's jump
    filter refused that print, but each pass was rebased by the file's last usable price over its first (43 / 43000),
    so the next pass's first print, 43.0, agreed with the refused one and was published: the price fell 1000x at
    every seam (43019, 43, 0.043, 4.3e-05 ...), and the buffer took each fall after one refusal as a real crash. A
    pass is now rebased by the last print the feed publishes over its first."""
    rows = [f"{i},BTCUSDT,{43000 + i}" for i in range(20)]
    prices, jumps = looped_btc_prices(tmp_path, redis_server, "\n".join(rows) + "\n20,BTCUSDT,43")  # no final newline
    # Each pass moves the level up by 19/43000 (its own last print over its first): a fifth or sixth pass, read
    # here on a loaded machine, passed 43,100 (CI, session 34); a fall is 1000x
    assert all(43000 <= p < 44000 for p in prices), prices
    assert jumps >= 3


def looped_btc_prices(tmp_path, redis_server, rows: str) -> tuple[list[float], float]:
    """(the prices a subscriber saw, the jumps the feed refused) of a feed looping `rows` of BTCUSDT (ts,symbol,price
    under its header) at speed 100, once it saw four passes of 20 rows."""
    (tmp_path / "prices.csv").write_text("ts,symbol,price\n" + rows)
    path, data = feed_topology(tmp_path, redis_server.url, {
        "source": "replay", "heartbeat_s": 0.5, "interval_s": 0.01,
        "replay": {"path": "prices.csv", "speed": 100, "loop": True}}, symbols=["BTCUSDT"])
    listener = TickListener(tick_endpoint(data))
    feed = ActorProcess(path, "price_feed").start()
    try:
        wait_for(lambda: len(listener.ticks()) >= 80, 20, f"four passes at the subscriber\n{feed.log()[-2000:]}")
        return ([t["price"] for t in listener.ticks()],
                metric(metrics_port(data), "price_feed_rejected_prices_total", symbol="BTCUSDT", reason="jump"))
    finally:
        listener.close()
        assert feed.terminate() == 0


@pytest.mark.parametrize("header", ["timestamp,symbol,price", "time,symbol,price", "ts,symbol,close",
                                    "TS,Symbol,Price", "\ufeffts,symbol,price"])
def test_long_form_headers_named_otherwise_or_behind_a_byte_order_mark_are_read_as_long_form(header):
    """Issue 17 #7: these headers were taken as wide form (0 rows, feed ready), and a BOM was refused."""
    data = parse_replay_csv(f"{header}\n1700000000,BTCUSDT,100\n1700000060,ETHUSDT,200\n", ALLOW)
    assert data.form == "long"
    assert [(r.ts, r.symbol, r.price) for r in data.rows] == [(1700000000, "BTCUSDT", 100.0), (1700000060, "ETHUSDT", 200.0)]


def test_a_wide_header_whose_columns_are_not_symbols_is_refused_in_one_line():
    with pytest.raises(ValueError, match=r"line 1: header column 'symbol' is not a symbol"):
        parse_replay_csv("ts,symbol,open,close\n1,BTCUSDT,1,2\n", ALLOW)


def test_millisecond_epochs_are_read_as_seconds():
    data = parse_replay_csv("ts,BTCUSDT\n1700000000000,100\n1700000060000,101\n", ALLOW)
    assert [r.ts for r in data.rows] == [1700000000.0, 1700000060.0]
    assert data.ts_unit == "ms"


def test_a_file_without_one_usable_row_is_refused(tmp_path):
    from launcher.feed_inputs import read_replay_file
    path = tmp_path / "prices.csv"
    path.write_text("ts,BTCUSDT\n1,-5\n2,nan\n")
    with pytest.raises(ValueError, match="no usable row"):
        read_replay_file(path, ALLOW, speed=1)


def test_validate_reads_the_replay_file_and_says_what_it_holds(tmp_path, capsys):
    from launcher.cli import main as clustergate
    path, data = feed_topology(tmp_path, "redis://127.0.0.1:1/0", {
        "source": "replay", "replay": {"path": "prices.csv"}})
    (tmp_path / "prices.csv").write_text("timestamp,symbol,price\n1,BTCUSDT,100\n2,ETHUSDT,200\n3,BTCUSDT,101\n")

    def validate() -> int:
        with pytest.raises(SystemExit) as exit_info:
            clustergate(["validate", str(path)])
        return exit_info.value.code

    assert validate() == 0
    assert "3 rows, 2 symbols" in capsys.readouterr().out
    (tmp_path / "prices.csv").write_text("ts,BTCUSDT\n1,-5\n")
    assert validate() == 2
    assert "no usable row" in capsys.readouterr().out
    (tmp_path / "prices.csv").unlink()
    assert validate() == 2
    assert "prices.csv" in capsys.readouterr().out


def test_the_feed_refuses_a_print_30_percent_off_and_publishes_the_prices_around_it(tmp_path, redis_server):
    """Issue 17 #4: one bad print broke up every cluster; the feed now refuses it, counted as jump."""
    (tmp_path / "prices.csv").write_text("ts,SOLUSDT\n0,150\n0.1,195\n0.2,151\n0.3,152\n")
    # a real Redis: with none, a replay feed first waits 10 s for its saved position (feed_helpers.feed_topology)
    path, data = feed_topology(tmp_path, redis_server.url, {
        "source": "replay", "heartbeat_s": 0.5, "replay": {"path": "prices.csv", "speed": 1, "loop": True}})
    listener = TickListener(tick_endpoint(data))
    feed = ActorProcess(path, "price_feed").start()
    try:
        port = metrics_port(data)
        wait_for(lambda: metric(port, "price_feed_rejected_prices_total", symbol="SOLUSDT", reason="jump") >= 2,
                 15, f"two passes of the bad print refused\n{feed.log()}")
        prices = [t["price"] for t in listener.ticks()]
        assert len(prices) >= 3 and all(abs(b / a - 1) < 0.05 for a, b in zip(prices, prices[1:])), prices
    finally:
        listener.close()
        feed.terminate()


def _whole_text_read(path, symbols):
    """read_prices as it read a CSV before the columns: the whole file decoded at once (its first error naming
    its byte in the file), its text parsed as rows, its order checked, the rows split per symbol."""
    import csv

    import numpy as np

    from launcher import backtest as bt
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            text = fh.read()
    except UnicodeDecodeError as exc:
        return f"{path}: not a prices CSV ({exc})"
    try:
        data = parse_replay_csv(text, symbols)
        _time_order_read_apart(text)
    except bt.InputError as exc:
        return str(exc)
    except (ValueError, csv.Error) as exc:
        return f"{path}: {exc}"
    if not data.rows:
        return "no price row"
    index = {s: i for i, s in enumerate(symbols)}
    series = bt.by_symbol(np.array([r.ts for r in data.rows]), np.array([index[r.symbol] for r in data.rows]),
                          np.array([r.price for r in data.rows]), len(symbols))
    return ([(t.tolist(), repr(p.tolist())) for t, p in series], data.form, len(data.rows) + len(data.bad_rows),
            data.bad_rows, data.not_in_allowlist, data.ts_unit)


def _time_order_read_apart(text: str) -> None:
    """The time order checked in a read of its own, as check_time_order did before feedfix folded it into the parse
    (revfeed: the reference then called the code it checks): raise naming the first row earlier than the row above."""
    import csv
    import io

    from launcher.feed_inputs import csv_rows, parse_timestamp
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    previous, header = None, False
    for row in csv_rows(reader):
        if not row or all(not c.strip() for c in row) or row[0].lstrip().startswith("#"):
            continue
        if not header:
            header = True
            continue
        try:
            ts = parse_timestamp(row[0])
        except ValueError:
            continue
        if previous is not None and ts < previous:
            raise ValueError(f"line {reader.line_num}: timestamp {row[0].strip()} is before the row above "
                             f"(rows must be in time order)")
        previous = ts


def _read_prices(path, symbols):
    from launcher import backtest as bt
    try:
        p = bt.read_prices(str(path), symbols)
    except bt.InputError as exc:
        return "no price row" if "no price row" in str(exc) else str(exc)
    return ([(t.tolist(), repr(x.tolist())) for t, x in p.series], p.form, p.rows, p.bad_rows, p.not_in_allowlist,
            p.ts_unit)


HOSTILE_CSVS = {
    "second_bom": b"\xef\xbb\xbf\xef\xbb\xbfts,symbol,price\n1,BTCUSDT,10\n2,ETHUSDT,5\n",
    "lone_cr_line_ends": b"ts,symbol,price\r1,BTCUSDT,10\r2,BTCUSDT,11\r",
    "cr_in_a_quoted_field": b'ts,symbol,price\n1,BTCUSDT,10\n"2\r",BTCUSDT,x\n3,BTCUSDT,bad\n4,BTCUSDT,1\n',
    "truncated_utf8_at_the_end": b"ts,symbol,price\n1,BTCUSDT,1\n\xe2\x82",
    "bad_header_then_a_bad_byte": b"foo,bar\n" + b"1,BTCUSDT,1\n" * 20000 + b"\xff\n",
    "field_over_the_limit_then_a_bad_byte": b"ts,symbol,price\n1,BTCUSDT," + b"9" * 140000 + b"\n\xff\n",
    "out_of_order_then_a_bad_byte": b"ts,symbol,price\n2,BTCUSDT,1\n" + b"1,BTCUSDT,1\n" * 20000 + b"\xff\n",
    "partial_bom": b"\xef\xbb",
    "out_of_order": b"ts,symbol,price\n2,BTCUSDT,1\n1,BTCUSDT,1\n",
    "out_of_order_twice": b"ts,symbol,price\n2,BTCUSDT,1\n1,BTCUSDT,1\n3,BTCUSDT,1\n0,ETHUSDT,1\n",
}


@pytest.mark.parametrize("name", [*HOSTILE_CSVS, "bad_byte_deep_in_a_big_file", "bad_byte_deep_after_a_bom"])
def test_read_prices_gives_what_the_whole_text_read_gave_for_hostile_files(tmp_path, name):
    """read_prices reads a CSV as it goes, into columns: for every file the same Prices, or the same error with
    the same message, as the whole file decoded and parsed at once (the live feed's read): a second BOM skipped,
    lone CR line ends refused, line numbers counted alike, a bad byte named by its place in the file and reported
    before any error of the rows around it; a row out of order named once with the file's path."""
    if name.startswith("bad_byte_deep"):
        body = b"ts,symbol,price\n" + b"".join(b"%d,BTCUSDT,%d\n" % (i, i + 1) for i in range(40000))
        data = (b"\xef\xbb\xbf" if name.endswith("bom") else b"") + body[:300001] + b"\xff" + body[300001:]
    else:
        data = HOSTILE_CSVS[name]
    path = tmp_path / "prices.csv"
    path.write_bytes(data)
    assert _read_prices(path, ALLOW) == _whole_text_read(str(path), ALLOW)


def test_a_replay_file_with_a_field_over_the_csv_limit_is_refused_naming_the_file_and_line(tmp_path, capsys):
    """rev-cluster: a field over the csv module's 128 KiB limit was a _csv.Error traceback from validate (exit 1)
    and a start_failed with neither file nor line from the feed (exit 1, retried by supervisord); the backtest
    already refused the same file cleanly."""
    from launcher.cli import main as clustergate
    path, _ = feed_topology(tmp_path, "redis://127.0.0.1:1/0", {"source": "replay", "replay": {"path": "prices.csv"}})
    (tmp_path / "prices.csv").write_text("ts,symbol,price\n1,BTCUSDT,100\n2,BTCUSDT,101\n3,BTCUSDT,\""
                                         + "9" * (130 * 1024) + "\"\n4,BTCUSDT,102\n")
    with pytest.raises(SystemExit) as exit_info:
        clustergate(["validate", str(path)])
    out = capsys.readouterr().out
    assert exit_info.value.code == 2, out
    assert "actors.price_feed.settings.replay.path" in out and "prices.csv: line 4: " in out, out
    assert "field larger than field limit" in out, out
    feed = ActorProcess(path, "price_feed").start()
    try:
        assert feed.proc.wait(timeout=20 * DEADLINE_SCALE) == 2, feed.log()
        assert "event=bad_source" in feed.log() and "prices.csv: line 4: " in feed.log(), feed.log()
        assert "Traceback" not in feed.log(), feed.log()
    finally:
        feed.terminate()


def _write_hostile_replay(path, case: str) -> None:
    if case == "column_named_twice":  # a bad join of two exports: BTCUSDT's second column half the first
        path.write_text("ts,BTCUSDT,ETHUSDT,BTCUSDT\n" + "".join(f"{t / 10},{100 + t},{10 + t},{(100 + t) / 2}\n"
                                                                for t in range(10)))
    elif case == "a_row_out_of_time_order":  # a typo'd year: sorted first, the rest was due 3 years later
        path.write_text("ts,BTCUSDT\n1700000000,100\n1600000000,100.5\n1700000000.1,101\n1700000000.2,102\n")
    elif case == "not_utf8":
        path.write_bytes(b"ts,BTCUSDT\n0,100\n0.1,101\xff\n")
    elif case == "a_stray_quote":  # revfeed: lines 3-12 were read as one row, one bad row counted, 9 good rows lost
        path.write_text("ts,BTCUSDT\n0,100\n0.1,\"101\n" + "".join(f"0.{t},{100 + t}\n" for t in range(2, 10))
                        + "1.0,\"102\"\n1.1,103\n")
    else:  # a FIFO: open() blocked the feed's setup (and validate) for ever, silently
        import os
        os.mkfifo(path)


HOSTILE_REPLAYS = {"column_named_twice": "line 1: the header names column 'BTCUSDT' twice",
                   "a_row_out_of_time_order": "line 3: timestamp 1600000000 is before the row above",
                   "not_utf8": "not a prices CSV ('utf-8' codec can't decode byte 0xff in position 24",
                   "a_stray_quote": "line 3: a quoted field runs on to line 12 (10 lines read as one row: a stray "
                                    "double quote?)",
                   "a_fifo": "is not a regular file"}


@pytest.mark.parametrize("case", HOSTILE_REPLAYS)
def test_a_replay_file_the_backtest_refuses_stops_the_feed_and_validate_naming_the_file_and_what_is_wrong(
        tmp_path, case):
    """feeddup: a header naming BTCUSDT twice was replayed as one series interleaving both columns (100, 50, 101,
    50.5: every other print off by half); a row out of time order was sorted first, so the feed published that one
    price and then waited three years; a byte that is not UTF-8 stopped it with the codec's message and no file; a
    FIFO hung its setup (and validate) with no line at all. The backtest refuses each; the feed now exits 2 with one
    bad_source line naming the file and what is wrong, and validate says the same."""
    import subprocess

    from launcher.backtest import InputError, read_prices
    _write_hostile_replay(tmp_path / "prices.csv", case)
    path, data = feed_topology(tmp_path, "redis://127.0.0.1:1/0", {
        "source": "replay", "heartbeat_s": 0.5, "replay": {"path": "prices.csv", "speed": 1, "loop": True}})
    expected = f"{tmp_path / 'prices.csv'}: {HOSTILE_REPLAYS[case]}"
    with pytest.raises(InputError) as refused:
        read_prices(str(tmp_path / "prices.csv"), ALLOW)
    assert str(refused.value).startswith(expected), str(refused.value)  # the backtest's own words
    validate = subprocess.run([PYTHON, "-m", "launcher", "validate", str(path)], capture_output=True, text=True,
                              cwd=REPO, timeout=20 * DEADLINE_SCALE)
    assert validate.returncode == 2 and expected in validate.stdout, (validate.stdout, validate.stderr[-800:])
    listener = TickListener(tick_endpoint(data))
    feed = ActorProcess(path, "price_feed").start()
    try:
        assert feed.proc.wait(timeout=20 * DEADLINE_SCALE) == 2, feed.log()
        assert "event=bad_source" in feed.log() and expected in feed.log(), feed.log()
        assert "Traceback" not in feed.log(), feed.log()
        assert listener.ticks() == []
    finally:
        listener.close()
        feed.terminate()


@pytest.mark.parametrize("stop", ["SIGTERM", "SIGKILL"])
def test_a_restarted_replay_feed_continues_where_it_stopped_instead_of_jumping_back_to_the_first_prices(
        tmp_path, redis_server, stop):
    """rev-cluster: a replay feed restarted (a crash, `up` of a changed feed, the warm-restart proof) began the file
    again: every symbol jumped back to its first price in one slot, a return shared by all that made independent
    symbols correlate at +0.60/-0.46 for a whole lookback window (measured: 3 walks each 2-4% from their start)."""
    import signal

    rows = 4000  # BTCUSDT 1000 + i, ETHUSDT 5000 - i: a restart from row 0 reads 1000 / 5000 again
    (tmp_path / "prices.csv").write_text("ts,BTCUSDT,ETHUSDT\n" + "".join(
        f"{i * 0.01:.2f},{1000 + i},{5000 - i}\n" for i in range(rows)))
    path, data = feed_topology(tmp_path, redis_server.url, {
        "source": "replay", "heartbeat_s": 0.5, "replay": {"path": "prices.csv", "speed": 1}})
    listener = TickListener(tick_endpoint(data))
    feed = ActorProcess(path, "price_feed").start()
    try:
        wait_for(lambda: len([t for t in listener.ticks() if t["symbol"] == "BTCUSDT"]) >= 100, 20 * DEADLINE_SCALE,
                 f"100 BTCUSDT ticks\n{feed.log()}")
        feed.proc.send_signal(getattr(signal, stop))
        feed.proc.wait(10)
        feed.terminate()
        last = max(t["price"] for t in listener.ticks() if t["symbol"] == "BTCUSDT")
        seen = len(listener.messages)
        feed = ActorProcess(path, "price_feed").start()

        def after_restart() -> list[dict]:
            listener.drain()
            return [b for topic, b in listener.messages[seen:] if topic == b"tick.BTCUSDT"]

        wait_for(after_restart, 20 * DEADLINE_SCALE, f"a BTCUSDT tick after the restart\n{feed.log()}")
        first_after = after_restart()[0]["price"]
        # SIGTERM saves the position at shutdown: no row again; SIGKILL loses at most its last save (a quarter second,
        # 25 rows here). Either way never the file's start. The feed closes its socket with linger 0, so the last
        # few ticks it sent may never reach the listener: the first tick after the restart may lie a few rows on.
        lowest = last - 50 if stop == "SIGKILL" else last + 1
        assert lowest <= first_after <= last + 25, (last, first_after)
        assert "event=replay_resumed" in feed.log(), feed.log()
    finally:
        listener.close()
        assert feed.terminate() == 0


# --------------------------------------------------------------------------- rev-replay: the saved position attacked


def _numbers_replaced(saved: dict, value) -> str:
    import json

    return json.dumps({k: (value if type(v) in (int, float) else v) for k, v in saved.items()})


def _passes_replaced(saved: dict, value) -> str:
    import json

    return json.dumps({**saved, "passes": value})


HOSTILE_POSITIONS = {
    "every_number_past_float_range": lambda saved: _numbers_replaced(saved, 10 ** 400),
    "every_number_infinite": lambda saved: _numbers_replaced(saved, float("inf")),
    "nested_past_the_parsers_depth": lambda saved: "[" * 100_000 + "]" * 100_000,
    "bytes_that_are_not_utf8": lambda saved: b"\xff\xfe{\x80",
    "a_million_loops_of_a_rising_file": lambda saved: _passes_replaced(saved, 10 ** 6),
}


def looping_replay(tmp_path, redis_server) -> tuple:
    """(topology path, data, replay position key) of a feed looping a 40 s file of two symbols at speed 1."""
    (tmp_path / "prices.csv").write_text("ts,BTCUSDT,ETHUSDT\n" + "".join(
        f"{i * 0.01:.2f},{1000 + i},{5000 - i}\n" for i in range(4000)))
    path, data = feed_topology(tmp_path, redis_server.url, {
        "source": "replay", "heartbeat_s": 0.5, "replay": {"path": "prices.csv", "speed": 1, "loop": True}})
    return path, data, f"clustergate:price_feed:{data['name']}:price_feed:replay_position"


@pytest.mark.parametrize("hostile", sorted(HOSTILE_POSITIONS))
def test_a_saved_replay_position_holding_garbage_starts_the_file_again_and_never_stops_the_feed(
        tmp_path, redis_server, hostile):
    """rev-replay: a replay_position key past float's range, infinite, nested 100,000 deep or not UTF-8 stopped the
    feed in its setup (OverflowError, RecursionError: start_failed, exit 1; UnicodeDecodeError: bad_source, exit 2,
    naming the replay source), retried by supervisord until FATAL; a million loops of a file that rises made the
    first row's price overflow, and the replay stopped for good behind its heartbeats."""
    import json

    path, data, key = looping_replay(tmp_path, redis_server)
    r = redis_server.client()
    feed = ActorProcess(path, "price_feed").start()
    try:
        wait_for(lambda: r.get(key), 20, f"a saved position\n{feed.log()}")
        assert feed.terminate() == 0
        r.set(key, HOSTILE_POSITIONS[hostile](json.loads(r.get(key))))
        listener = TickListener(tick_endpoint(data))
        try:
            feed = ActorProcess(path, "price_feed").start()
            wait_for(lambda: len(listener.ticks()) >= 200 or feed.proc.poll() is not None, 20,
                     f"200 ticks after the restart\n{feed.log()}")
            assert feed.proc.poll() is None and len(listener.ticks()) >= 200, feed.log()
        finally:
            listener.close()
        assert "event=replay_from_start" in feed.log() and "Traceback" not in feed.log(), feed.log()
    finally:
        assert feed.terminate() == 0, feed.log()


def test_a_replay_position_key_of_another_type_starts_the_file_at_once_and_is_overwritten(tmp_path, redis_server):
    """A hash at the replay position key: its WRONGTYPE was taken for Redis being down, the feed published nothing for
    10 s, logging a bare 'server:ResponseError', then started the file."""
    path, data, key = looping_replay(tmp_path, redis_server)
    r = redis_server.client()
    r.hset(key, "by", "hand")
    feed = ActorProcess(path, "price_feed").start()
    try:
        wait_for(lambda: r.type(key) == "string", 20, f"the position saved over the hash\n{feed.log()}")
        line = next(x for x in feed.log().splitlines() if "event=replay_from_start" in x)
        assert "the saved position is unreadable" in line and "WRONGTYPE" in line and key in line, line
        assert "redis_error" not in feed.log(), feed.log()
    finally:
        assert feed.terminate() == 0, feed.log()


def _btc_prices(listener: TickListener, since: int = 0) -> list[float]:
    return [body["price"] for topic, body in listener.drain()[since:] if topic == b"tick.BTCUSDT"]


def _assert_resumed_after(listener: TickListener, seen: int, last: float, feed: ActorProcess) -> None:
    """The restarted feed's first BTCUSDT price follows `last`: on by at most the ticks a feed closing with linger 0
    may not deliver (25), never a step back."""
    wait_for(lambda: _btc_prices(listener, seen), 20, f"a BTCUSDT tick after the restart\n{feed.log()}")
    assert last + 1 <= _btc_prices(listener, seen)[0] <= last + 25, (last, _btc_prices(listener, seen)[:3])
    assert "event=replay_resumed" in feed.log(), feed.log()


def test_a_replay_restarted_with_another_allowlist_continues_at_the_same_recorded_time(tmp_path, redis_server):
    """rev-replay: the saved position was a row number in the rows of the allowed symbols; `up` of a topology with
    one symbol more restarted the feed at that row number of a longer list, a third earlier in the file: every
    symbol stepped back at once (real `up`: BTCUSDT 1402 -> 1300, one common return), and the further the replay
    had gone, the further back (one symbol fewer skipped forward)."""
    (tmp_path / "prices.csv").write_text("ts,BTCUSDT,ETHUSDT,SOLUSDT\n" + "".join(
        f"{i * 0.01:.2f},{1000 + i},{5000 - i},{200 + i % 7}\n" for i in range(20000)))
    settings = {"source": "replay", "heartbeat_s": 0.5, "replay": {"path": "prices.csv", "speed": 1}}
    path, data = feed_topology(tmp_path, redis_server.url, settings, symbols=["BTCUSDT", "ETHUSDT"])
    listener = TickListener(tick_endpoint(data))
    feed = ActorProcess(path, "price_feed").start()
    try:
        wait_for(lambda: max(_btc_prices(listener), default=0) >= 1300, 30, f"BTCUSDT 1300\n{feed.log()}")
        assert feed.terminate() == 0
        last, seen = max(_btc_prices(listener)), len(listener.drain())
        data["symbols"] = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
        write_topology(path, data)
        feed = ActorProcess(path, "price_feed").start()
        _assert_resumed_after(listener, seen, last, feed)
    finally:
        listener.close()
        assert feed.terminate() == 0


def _two_symbol_prices(first_btc: int) -> str:
    return "ts,BTCUSDT,ETHUSDT\n" + "".join(f"{i * 0.01:.2f},{first_btc + i},{5000 - i}\n" for i in range(4000))


def _replayed_to_btc_1200_and_stopped(tmp_path, redis_url: str) -> tuple:
    """A replay feed of prices.csv (_two_symbol_prices(1000)) run until BTCUSDT 1200, then stopped (SIGTERM):
    (topology path, its data, the listener that saw it)."""
    (tmp_path / "prices.csv").write_text(_two_symbol_prices(1000))
    path, data = feed_topology(tmp_path, redis_url, {
        "source": "replay", "heartbeat_s": 0.5, "replay": {"path": "prices.csv", "speed": 1}})
    listener = TickListener(tick_endpoint(data))
    feed = ActorProcess(path, "price_feed").start()
    try:
        wait_for(lambda: max(_btc_prices(listener), default=0) >= 1200, 30, f"BTCUSDT 1200\n{feed.log()}")
    except BaseException:
        listener.close()
        raise
    finally:
        assert feed.terminate() == 0, feed.log()
    return path, data, listener


def test_a_replay_started_while_its_last_line_is_cut_in_its_timestamp_skips_that_line_not_the_file(
        tmp_path, redis_server):
    """feedrev2: a feed started while a recorder's buffered write had left the file's last line cut in its timestamp
    ("1" of "120,BTCUSDT,1020") refused the whole file as out of time order: exit 2, 'bad input; restarting will not
    fix it', so supervisord left it down, though a read a moment later finds the line whole. An unterminated last line
    earlier than the row above is a line still being written: skipped as a bad row."""
    (tmp_path / "prices.csv").write_text("ts,symbol,price\n" + "".join(f"{100 + i},BTCUSDT,{1000 + i}\n"
                                                                       for i in range(20)) + "1")
    path, data = feed_topology(tmp_path, redis_server.url, {
        "source": "replay", "heartbeat_s": 0.5, "replay": {"path": "prices.csv", "speed": 100}}, symbols=["BTCUSDT"])
    listener = TickListener(tick_endpoint(data))
    feed = ActorProcess(path, "price_feed").start()
    try:
        wait_for(lambda: feed.proc.poll() is not None or "event=replay_finished" in feed.log(), 20, "the replay's end")
        assert feed.proc.poll() is None, feed.log()
        assert "event=replay_bad_row" in feed.log() and "row=22" in feed.log(), feed.log()
    finally:
        listener.close()
        feed.terminate()


def test_a_replay_file_appended_to_between_two_runs_continues_where_it_stopped(tmp_path, redis_server):
    """feedrev: a file a recorder keeps appending to was known by the SHA-256 of its bytes alone, so a feed restarted
    after rows were added took the saved position for another file's and began the file again: BTCUSDT 1200 -> 1000,
    every symbol back to its first price in one slot (the common return the saved position exists to prevent). A
    file whose first bytes are the ones the position was saved for is that file, appended to."""
    path, data, listener = _replayed_to_btc_1200_and_stopped(tmp_path, redis_server.url)
    feed = None
    try:
        last, seen = max(_btc_prices(listener)), len(listener.drain())
        with open(tmp_path / "prices.csv", "a") as csv:
            csv.write("".join(f"{i * 0.01:.2f},{1000 + i},{5000 - i}\n" for i in range(4000, 4100)))
        feed = ActorProcess(path, "price_feed").start()
        _assert_resumed_after(listener, seen, last, feed)
    finally:
        listener.close()
        assert feed is None or feed.terminate() == 0


def test_a_finished_replay_whose_file_was_appended_to_publishes_the_new_rows_not_the_file_again(tmp_path, redis_server):
    """feedrev: a replay that had published its file's last row (no loop) and was restarted once the recorder had
    appended rows began the file again (its first price, 1000, after 1019), rather than go on with the new rows."""
    (tmp_path / "prices.csv").write_text("ts,symbol,price\n" + "".join(f"{i},BTCUSDT,{1000 + i}\n" for i in range(20)))
    path, data = feed_topology(tmp_path, redis_server.url, {
        "source": "replay", "heartbeat_s": 0.5, "replay": {"path": "prices.csv", "speed": 100}}, symbols=["BTCUSDT"])
    listener = TickListener(tick_endpoint(data))
    feed = ActorProcess(path, "price_feed").start()
    try:
        wait_for(lambda: "event=replay_finished" in feed.log(), 20, f"the file replayed\n{feed.log()}")
        assert feed.terminate() == 0
        seen = len(listener.drain())
        with open(tmp_path / "prices.csv", "a") as csv:
            csv.write("".join(f"{i},BTCUSDT,{1000 + i}\n" for i in range(20, 40)))
        feed = ActorProcess(path, "price_feed").start()
        wait_for(lambda: feed.log().count("event=replay_finished") >= 2, 20, f"the new rows replayed\n{feed.log()}")
        # Counted by the feed itself: a subscriber reconnecting to the new feed may miss its first ticks (at 100x a row
        # goes out every 10 ms; a bound of 10 missed rows failed 2 runs in 12). It published the 20 new rows alone,
        # and nothing the subscriber saw was from the file's start.
        assert metric(metrics_port(data), "price_feed_ticks_total", symbol="BTCUSDT") == 20, feed.log()[-2000:]
        assert all(price >= 1020 for price in _btc_prices(listener, seen)), _btc_prices(listener, seen)[:3]
        assert "event=replay_resumed" in feed.log(), feed.log()
    finally:
        listener.close()
        assert feed.terminate() == 0


def test_a_finished_replay_publishes_a_row_appended_for_another_symbol_at_the_time_of_its_last_row(
        tmp_path, redis_server):
    """pricefix: a recorder writes one print per symbol per time, and a finished replay restarted on its appended file
    went on with the first row recorded after the last row it published: ETHUSDT's row for that time, appended after
    BTCUSDT's, was never published. Counted by the feed itself (price_feed_ticks_total), not by a subscriber that may
    miss the first ticks of a restarted feed; BTCUSDT's row for that time is not published twice either."""
    rows = "".join(f"{i},BTCUSDT,{1000 + i}\n{i},ETHUSDT,{5000 - i}\n" for i in range(19))
    (tmp_path / "prices.csv").write_text("ts,symbol,price\n" + rows + "19,BTCUSDT,1019\n")
    path, data = feed_topology(tmp_path, redis_server.url, {
        "source": "replay", "heartbeat_s": 0.5, "replay": {"path": "prices.csv", "speed": 100}})
    feed = ActorProcess(path, "price_feed").start()
    try:
        wait_for(lambda: "event=replay_finished" in feed.log(), 20, f"the file replayed\n{feed.log()}")
        assert feed.terminate() == 0
        with open(tmp_path / "prices.csv", "a") as csv:
            csv.write("19,ETHUSDT,4981\n20,BTCUSDT,1020\n20,ETHUSDT,4980\n")
        feed = ActorProcess(path, "price_feed").start()
        wait_for(lambda: feed.log().count("event=replay_finished") >= 2, 20, f"the new rows replayed\n{feed.log()}")
        port = metrics_port(data)
        published = {s: metric(port, "price_feed_ticks_total", symbol=s) for s in ("BTCUSDT", "ETHUSDT")}
        assert published == {"BTCUSDT": 1, "ETHUSDT": 2}, (published, feed.log()[-2000:])
        assert "event=replay_resumed" in feed.log(), feed.log()
    finally:
        assert feed.terminate() == 0


def test_a_looping_replay_whose_first_print_is_bad_keeps_its_price_level_pass_after_pass(tmp_path, redis_server):
    """pricefix: a looping file whose first line is a stray print (43 among 43,000s). A fresh jump filter has nothing
    to check a first print against, so the feed published it and each pass was rebased by the last print over it
    (43,019 / 43): every later pass rose 1000x (4.3e7 after one seam, 4.3e10 after two) until the factor passed 1e12
    and the file's own prices came back, 1e12x down. A pass is rebased from the first print the next one agrees with;
    every later pass refuses the stray print as a jump."""
    rows = [f"{i},BTCUSDT,{43000 + i}" for i in range(1, 20)]
    prices, jumps = looped_btc_prices(tmp_path, redis_server, "0,BTCUSDT,43\n" + "\n".join(rows) + "\n")
    # The stray print goes out at most once, in the first pass (a fresh filter); the level stays where the file's
    # good prints take it, 17/43,002 up a pass.
    assert all(43000 <= p < 44000 for p in prices if p != 43), prices
    assert prices.count(43) <= 1, prices
    assert jumps >= 3


def test_a_replay_file_replaced_by_another_of_the_same_size_and_mtime_starts_from_its_first_row(tmp_path, redis_server):
    """rev-replay: the file was known by its size and mtime, and another file of the same size given the same mtime
    (`cp -p`, `rsync -t`, `touch -r`) was resumed at the old file's row number: file B began at its row 412."""
    import os

    path, data, listener = _replayed_to_btc_1200_and_stopped(tmp_path, redis_server.url)
    csv, feed = tmp_path / "prices.csv", None
    try:
        before = csv.stat()
        csv.write_text(_two_symbol_prices(3000))
        os.utime(csv, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert (csv.stat().st_size, csv.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
        seen = len(listener.drain())
        feed = ActorProcess(path, "price_feed").start()
        wait_for(lambda: _btc_prices(listener, seen), 20, f"a BTCUSDT tick after the restart\n{feed.log()}")
        # The first row, less what a subscriber reconnecting to the new feed may miss (its row 412 before).
        assert 3000 <= _btc_prices(listener, seen)[0] <= 3025, _btc_prices(listener, seen)[:3]
        assert "event=replay_from_start" in feed.log() and "another file" in feed.log(), feed.log()
    finally:
        listener.close()
        assert feed is None or feed.terminate() == 0


def test_a_replay_feed_started_while_redis_is_down_resumes_once_redis_answers(tmp_path, redis_server):
    """rev-replay: a feed that found Redis down when it started (a host reboot: Redis still loading its AOF) began
    the file again, and its saves then overwrote the position it could not read: the jump back the position is for."""
    path, data, listener = _replayed_to_btc_1200_and_stopped(tmp_path, redis_server.url)
    feed = None
    try:
        last, seen = max(_btc_prices(listener)), len(listener.drain())
        redis_server.stop()
        feed = ActorProcess(path, "price_feed").start()
        wait_for(lambda: "position not read" in feed.log(), 20, f"the feed to find Redis down\n{feed.log()}")
        redis_server.start()
        _assert_resumed_after(listener, seen, last, feed)
    finally:
        listener.close()
        assert feed is None or feed.terminate() == 0


def test_a_redis_that_hangs_does_not_hold_up_a_replays_ticks(tmp_path, redis_server):
    """rev-replay: the position was saved on the feed's own loop, and a Redis that stopped answering (SIGSTOP, a
    partition) held every tick up for the whole Redis timeout every 5 s (measured: longest gap between ticks 2,016
    ms with timeout_ms 2000, 36 ms with Redis running); a replay needs no Redis to publish. With timeout_ms 60000
    the old feed published nothing for a minute."""
    import os
    import signal

    (tmp_path / "prices.csv").write_text("ts,BTCUSDT,ETHUSDT\n" + "".join(
        f"{i * 0.01:.2f},{1000 + i % 50},{5000 - i % 50}\n" for i in range(10000)))
    path, data = feed_topology(tmp_path, redis_server.url, {
        "source": "replay", "heartbeat_s": 0.5, "replay": {"path": "prices.csv", "speed": 1, "loop": True}})
    data["redis"]["timeout_ms"] = 60000
    write_topology(path, data)
    listener = TickListener(tick_endpoint(data))
    feed = ActorProcess(path, "price_feed").start()
    stopped = False
    try:
        wait_for(lambda: "event=replay_from_start" in feed.log() and listener.ticks(), 20,
                 f"ticks\n{feed.log()}")
        os.kill(redis_server.proc.pid, signal.SIGSTOP)
        stopped = True
        seen = len(listener.ticks())
        # 1,000 ticks are 5 s of this file (a save tried every quarter second). The deadline (wait_for scales it) stays
        # inside the 60 s Redis timeout: once a save held up by the hung Redis fails, the replay catches up in a burst.
        wait_for(lambda: len(listener.ticks()) >= seen + 1000, min(15, 50 / DEADLINE_SCALE),
                 f"1000 ticks while Redis hangs\n{feed.log()}")
    finally:
        if stopped:
            os.kill(redis_server.proc.pid, signal.SIGCONT)
        listener.close()
        assert feed.terminate() == 0, feed.log()


# --------------------------------------------------------------------------- feedfix: far-future rows, one read


FAR_FUTURE_ROWS = {  # the row after 1700000001 that the feed waited on for ever, ready all along
    "a_row_485_years_on": ("17000000000", "15299999999 s after the row on line 3"),
    "a_timestamp_of_1e300": ("1e300", "1e+291 s after the row on line 3"),  # read as nanoseconds: 1e291 s
}


@pytest.mark.parametrize("case", FAR_FUTURE_ROWS)
def test_a_replay_row_far_after_the_row_above_stops_the_feed_and_validate_naming_the_file_line_and_gap(
        tmp_path, case):
    """feedfix: a row in time order but 485 years (or 1e291 s) after the row above was accepted: the feed published
    the rows before it, then waited on it for ever while it reported ready (heartbeats only), and validate said ok.
    Both now refuse the file at start, exit 2, with one line naming the file, the row's line and the gap."""
    import subprocess

    row, gap = FAR_FUTURE_ROWS[case]
    (tmp_path / "prices.csv").write_text(f"ts,symbol,price\n1700000000,BTCUSDT,100\n1700000001,BTCUSDT,101\n"
                                         f"{row},BTCUSDT,102\n")
    path, data = feed_topology(tmp_path, "redis://127.0.0.1:1/0", {
        "source": "replay", "heartbeat_s": 0.5, "replay": {"path": "prices.csv", "speed": 1}})
    expected = f"{tmp_path / 'prices.csv'}: line 4: timestamp {row} is {gap}"
    validate = subprocess.run([PYTHON, "-m", "launcher", "validate", str(path)], capture_output=True, text=True,
                              cwd=REPO, timeout=20 * DEADLINE_SCALE)
    assert validate.returncode == 2 and expected in validate.stdout, (validate.stdout, validate.stderr[-800:])
    assert "more than the 86400 s (one day)" in validate.stdout, validate.stdout
    listener = TickListener(tick_endpoint(data))
    feed = ActorProcess(path, "price_feed").start()
    try:
        assert feed.proc.wait(timeout=20 * DEADLINE_SCALE) == 2, feed.log()
        refusals = [line for line in feed.log().splitlines() if "event=bad_source" in line]
        assert len(refusals) == 1 and expected in refusals[0], feed.log()
        assert "Traceback" not in feed.log() and "event=ready" not in feed.log(), feed.log()
        assert listener.ticks() == []
    finally:
        listener.close()
        feed.terminate()


@pytest.mark.parametrize("speed, refused", [(1, True), (4, False), (2, False), (1.999, True)])
def test_a_replay_gap_is_refused_when_its_wall_time_at_the_speed_passes_one_day(tmp_path, speed, refused):
    """The bound is on the wall time the feed would wait, gap / speed: two days between rows is refused at speed 1
    (and just under 2), replayed at speed 2 (exactly one day) or 4. The widest gap is named, wherever it is."""
    from launcher.feed_inputs import read_replay_file
    path = tmp_path / "prices.csv"
    path.write_text("ts,BTCUSDT,ETHUSDT\n1700000000,100,\n1700003600,,200\n1700176400,101,201\n1700176401,102,\n")
    if not refused:
        assert read_replay_file(path, ALLOW, speed=speed).read_rows() == 5
        return
    with pytest.raises(ValueError) as refusal:
        read_replay_file(path, ALLOW, speed=speed)
    assert str(refusal.value).startswith(f"{path}: line 4: timestamp 1700176400 is 172800 s after the row on line 3 "
                                         f"(1700003600): at speed {speed:g} the feed would publish only heartbeats "
                                         f"for {172800 / speed:.6g} s, more than the 86400 s (one day)"), refusal.value


def test_a_replay_gap_counts_only_the_rows_the_feed_publishes(tmp_path):
    """Rows of a symbol outside the allowlist are never published, so they do not shorten the feed's wait: two days
    between BTCUSDT rows with DOGEUSDT rows between them are refused, named at the BTCUSDT row after the gap, and
    at the BTCUSDT row before it by its line (revfeed: it said "after the row above (1700000000)", where the row
    above, line 49, is DOGEUSDT at 1700169200)."""
    from launcher.feed_inputs import read_replay_file
    path = tmp_path / "prices.csv"
    path.write_text("ts,symbol,price\n1700000000,BTCUSDT,100\n" + "".join(
        f"{1700000000 + h * 3600},DOGEUSDT,0.1\n" for h in range(1, 48)) + "1700172800,BTCUSDT,101\n")
    with pytest.raises(ValueError, match=r"prices.csv: line 50: timestamp 1700172800 is 172800 s after the row on "
                                         r"line 2 \(1700000000\)"):
        read_replay_file(path, ALLOW, speed=1)



GAPS_ACROSS_UNPUBLISHED_PRICES = {  # (file, the refusal's line and gap): rows whose price the feed never publishes
    "a_nan_price_between": ("ts,symbol,price\n1700000000,BTCUSDT,100\n1700086400,BTCUSDT,nan\n1700172800,BTCUSDT,101\n",
                            "line 4: timestamp 1700172800 is 172800 s after the row on line 2 (1700000000)"),
    "a_zero_cell_between_wide": ("ts,BTCUSDT,ETHUSDT\n1700000000,100,\n1700086400,,0\n1700172800,101,\n",
                                 "line 4: timestamp 1700172800 is 172800 s after the row on line 2 (1700000000)"),
    "negative_then_inf_between": ("ts,symbol,price\n1700000000,BTCUSDT,100\n1700057600,ETHUSDT,-1\n"
                                  "1700115200,BTCUSDT,inf\n1700172800,BTCUSDT,101\n",
                                  "line 5: timestamp 1700172800 is 172800 s after the row on line 2 (1700000000)"),
    "a_nan_first_row": ("ts,symbol,price\n1700000000,BTCUSDT,nan\n1700172800,BTCUSDT,100\n",
                        "line 3: timestamp 1700172800 is 172800 s after the row on line 2 (1700000000)"),
    "a_nan_last_row": ("ts,symbol,price\n1700000000,BTCUSDT,100\n1700172800,BTCUSDT,nan\n",
                       "line 3: timestamp 1700172800 is 172800 s after the row on line 2 (1700000000)"),
}


@pytest.mark.parametrize("case", GAPS_ACROSS_UNPUBLISHED_PRICES)
def test_a_replay_gap_is_not_shortened_by_rows_whose_price_is_never_published(tmp_path, case):
    """revfeed: a NaN, zero, negative or infinite price is never published, yet it counted as a row between two
    published rows: BTCUSDT at 1700000000, NaN one day on, BTCUSDT two days on was accepted by the feed and validate
    (exit 0), and the feed then sent heartbeats alone for two days. The wait is measured from the replay's first row
    or the last row with a usable price; an unusable first or last row still counts (the feed waits for it)."""
    import subprocess

    from launcher.feed_inputs import read_replay_file
    text, expected = GAPS_ACROSS_UNPUBLISHED_PRICES[case]
    (tmp_path / "prices.csv").write_text(text)
    with pytest.raises(ValueError) as refusal:
        read_replay_file(tmp_path / "prices.csv", ALLOW, speed=1)
    assert str(refusal.value).startswith(f"{tmp_path / 'prices.csv'}: {expected}: at speed 1"), refusal.value
    if case == "a_nan_price_between":
        path, _ = feed_topology(tmp_path, "redis://127.0.0.1:1/0", {
            "source": "replay", "replay": {"path": "prices.csv", "speed": 1}})
        validate = subprocess.run([PYTHON, "-m", "launcher", "validate", str(path)], capture_output=True, text=True,
                                  cwd=REPO, timeout=20 * DEADLINE_SCALE)
        assert validate.returncode == 2 and expected in validate.stdout, (validate.stdout, validate.stderr[-800:])


def test_a_file_without_one_usable_row_is_refused_counting_the_rows_it_read_for_the_allowlist(tmp_path):
    """revfeed: since the feed keeps its rows as columns, the refusal said "0 rows for the allowlist" for a file of
    three BTCUSDT rows priced -5, 0 and nan (before: 3 rows), pointing at the allowlist instead of the prices."""
    from launcher.feed_inputs import read_replay_file
    path = tmp_path / "prices.csv"
    path.write_text("ts,symbol,price\n1,BTCUSDT,-5\n2,BTCUSDT,0\n3,DOGEUSDT,1\n4,BTCUSDT,nan\n5,ETHUSDT,x\n")
    with pytest.raises(ValueError) as refusal:
        read_replay_file(path, ALLOW, speed=1)
    assert str(refusal.value) == (f"{path}: no usable row (3 rows for the allowlist, 1 unreadable, 1 outside the "
                                  f"allowlist; form long); expected ts,symbol,price or ts,SYM1,SYM2,..."), refusal.value


SWAP_HOOK = '''
import builtins, io, os
_target, _other = os.environ["FEEDFIX_SWAP_FILE"], os.environ["FEEDFIX_SWAP_WITH"]
_open = builtins.open


def _open_then_swap(file, *args, **kwargs):
    """The first open of the prices file reads it as it is; the file is then replaced (a rename, as an editor or
    rsync does), so any later read of it reads the other file."""
    global _target
    fh = _open(file, *args, **kwargs)
    if _target and isinstance(file, (str, os.PathLike)) and os.path.abspath(os.fspath(file)) == _target:
        _target = None
        os.replace(_other, file)
    return fh


builtins.open = io.open = _open_then_swap
'''


def test_the_saved_replay_position_names_the_bytes_the_feed_parsed_even_if_the_file_is_replaced_while_it_reads(
        tmp_path, redis_server, monkeypatch):
    """feedfix: the feed parsed its file, then opened it again to hash it: a file replaced in between (a deploy
    writing the next day's prices) was saved under the new file's hash, and a restart on the new file resumed the
    old file's position in it. The hash now comes from the bytes parsed, in one read: a hook in the feed's process
    replaces the file just after the feed first opens it, and the position saved must still be the first file's."""
    import hashlib
    import json
    import os

    first = _two_symbol_prices(1000).encode()
    (tmp_path / "prices.csv").write_bytes(first)
    (tmp_path / "next.csv").write_text(_two_symbol_prices(3000))
    (tmp_path / "hook").mkdir()
    (tmp_path / "hook" / "sitecustomize.py").write_text(SWAP_HOOK)
    monkeypatch.setenv("FEEDFIX_SWAP_FILE", str(tmp_path / "prices.csv"))
    monkeypatch.setenv("FEEDFIX_SWAP_WITH", str(tmp_path / "next.csv"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path / "hook"), os.environ.get("PYTHONPATH", "")]))
    path, data = feed_topology(tmp_path, redis_server.url, {
        "source": "replay", "heartbeat_s": 0.5, "replay": {"path": "prices.csv", "speed": 1}})
    key = f"clustergate:price_feed:{data['name']}:price_feed:replay_position"
    listener = TickListener(tick_endpoint(data))
    feed = ActorProcess(path, "price_feed").start()
    try:
        wait_for(lambda: _btc_prices(listener) and redis_server.client().get(key), 20, f"ticks, a position\n{feed.log()}")
        assert not (tmp_path / "next.csv").exists(), "the hook did not replace the file"
        assert 1000 <= _btc_prices(listener)[0] < 2000, _btc_prices(listener)[:3]  # the first file's prices
        saved = json.loads(redis_server.client().get(key))
        assert saved["sha256"] == hashlib.sha256(first).hexdigest() != hashlib.sha256(
            (tmp_path / "prices.csv").read_bytes()).hexdigest(), saved
    finally:
        listener.close()
        assert feed.terminate() == 0, feed.log()


def test_a_schedule_of_the_files_columns_publishes_what_a_schedule_of_its_rows_publishes(tmp_path):
    """feedfix: the feed keeps a file's rows as columns (20 bytes a row, not a 300-byte object): the same rows, due
    at the same times, with the same rebased prices over three loops, the same positions, and the same resumption."""
    import random

    from launcher.feed_inputs import read_replay_file
    rng = random.Random(11)
    t, lines = 1700000000.0, ["ts,symbol,price"]
    for i in range(600):
        t += rng.choice([0, 0, 0.25, 1, 7.5])
        lines.append(f"{t},{rng.choice(ALLOW + ['DOGEUSDT'])},{rng.choice(['nan', '-1', '0', str(100 + i)])}")
    path = tmp_path / "prices.csv"
    path.write_text("\n".join(lines) + "\n")
    columns = ReplaySchedule(read_replay_file(path, ALLOW, speed=3), 3, True, 1.0)
    rows = ReplaySchedule(parse_replay_csv(path.read_text(), ALLOW).rows, 3, True, 1.0)

    def published(schedule: ReplaySchedule, count: int) -> list:
        out = []
        for _ in range(count):
            out.append((schedule.next_due_s(), schedule.position()))
            row = schedule.pop()
            out.append((row.ts, row.symbol, repr(row.price)))
        return out

    assert columns.n == rows.n > 400 and columns.loop_gap_s == rows.loop_gap_s
    assert published(columns, 3 * columns.n + 5) == published(rows, 3 * columns.n + 5)
    for ts in (1700000100.0, 1700000100.1, 0, 2e9):
        position = {"ts": ts, "passes": 2}
        assert columns.resume(position) == rows.resume(position)
        assert published(columns, 50) == published(rows, 50)


def test_a_replay_stopped_in_the_middle_of_a_timestamp_does_not_publish_that_timestamps_rows_out_again(
        tmp_path, redis_server):
    """feedrev3: a replay publishes at most 1000 rows a turn, and a feed stopped after a turn that ended inside a
    timestamp (BTCUSDT's row out, ETHUSDT's and SOLUSDT's of that time not yet) saved the position of the next row,
    at that time: the restart went on with the first row recorded at that time, and published BTCUSDT's row twice.
    The position, as the feed saves it there (ReplaySchedule.position() after that row), is written to Redis; the
    restarted feed must publish every row once: counted by the feed itself (price_feed_ticks_total)."""
    published = published_after_a_restart_inside_a_timestamp(tmp_path, redis_server, lambda named: named)
    assert published == {"BTCUSDT": 9, "ETHUSDT": 10, "SOLUSDT": 10}, published


HOSTILE_AFTER_SYMBOLS = {"a_string": "BTCUSDT", "a_number": 7, "null": None, "a_list_of_nulls": [None],
                         "a_symbol_not_in_the_topology": ["DOGEUSDT"], "a_map": {"BTCUSDT": 1},
                         "two_hundred_thousand_names": [f"S{i}USDT" for i in range(200_000)] + ["BTCUSDT"]}


@pytest.mark.parametrize("hostile", sorted(HOSTILE_AFTER_SYMBOLS))
def test_a_position_inside_a_timestamp_whose_symbols_out_are_garbage_skips_no_row(tmp_path, redis_server, hostile):
    """feedrev3 (held): a position inside a timestamp whose after_symbols is not a list of names, names a symbol the
    topology does not hold, or 200,000 of them: the feed resumes (no traceback), publishes every row not out, and at
    most that time's rows out again (as a position without after_symbols, an older feed's, does)."""
    published = published_after_a_restart_inside_a_timestamp(tmp_path, redis_server,
                                                              lambda named: HOSTILE_AFTER_SYMBOLS[hostile])
    assert published["BTCUSDT"] in (9, 10) and published["ETHUSDT"] == published["SOLUSDT"] == 10, published


def published_after_a_restart_inside_a_timestamp(tmp_path, redis_server, after_symbols) -> dict[str, float]:
    """Per symbol, the ticks a replay feed published from a position saved inside ts 10 of a file of ts 0 to 19 of
    three symbols (BTCUSDT's row of 10 out), its after_symbols replaced by after_symbols(the saved ones)."""
    import hashlib
    import json

    from launcher.feed_inputs import read_replay_file

    rows = "".join(f"{i},BTCUSDT,{1000 + i}\n{i},ETHUSDT,{5000 - i}\n{i},SOLUSDT,{200 + i}\n" for i in range(20))
    (tmp_path / "prices.csv").write_text("ts,symbol,price\n" + rows)
    raw = (tmp_path / "prices.csv").read_bytes()
    path, data = feed_topology(tmp_path, redis_server.url, {
        "source": "replay", "heartbeat_s": 0.5, "replay": {"path": "prices.csv", "speed": 100}}, symbols=ALLOW)
    schedule = ReplaySchedule(read_replay_file(tmp_path / "prices.csv", ALLOW, speed=100), 100, False, 1.0)
    for _ in range(31):  # ts 0 to 9, and BTCUSDT's row at 10
        schedule.pop()
    position = schedule.position()
    assert (position["ts"], position["after_ts"], position["after_symbols"]) == (10.0, 10.0, ["BTCUSDT"]), position
    position["after_symbols"] = after_symbols(position["after_symbols"])
    key = f"clustergate:price_feed:{data['name']}:price_feed:replay_position"
    redis_server.client().set(key, json.dumps({"file": str(tmp_path / "prices.csv"),
                                               "sha256": hashlib.sha256(raw).hexdigest(), "bytes": len(raw),
                                               **position}))
    feed = ActorProcess(path, "price_feed").start()
    try:
        wait_for(lambda: "event=replay_finished" in feed.log(), 20, f"the file replayed\n{feed.log()}")
        assert "event=replay_resumed" in feed.log() and "Traceback" not in feed.log(), feed.log()
        port = metrics_port(data)
        return {s: metric(port, "price_feed_ticks_total", symbol=s) for s in ALLOW}
    finally:
        assert feed.terminate() == 0


def test_a_finished_replay_whose_last_line_was_cut_mid_write_publishes_that_line_once_the_recorder_completes_it(
        tmp_path, redis_server):
    """feedrev3: a recorder's write cut the file's last line in its price ("19,ETHUSDT,49" of "19,ETHUSDT,4981"): the
    feed refused 49 (a jump) and finished, its position naming ETHUSDT out at 19. The recorder completed the line and
    appended more; the restarted feed went on after ETHUSDT's row at 19, so that print was never published. A row
    read from an unterminated last line is still being written: it is not named out, and its completion goes out."""
    rows = "".join(f"{i},BTCUSDT,{1000 + i}\n{i},ETHUSDT,{5000 - i}\n" for i in range(19))
    (tmp_path / "prices.csv").write_text("ts,symbol,price\n" + rows + "19,BTCUSDT,1019\n19,ETHUSDT,49")
    path, data = feed_topology(tmp_path, redis_server.url, {
        "source": "replay", "heartbeat_s": 0.5, "replay": {"path": "prices.csv", "speed": 100}})
    port = metrics_port(data)
    feed = ActorProcess(path, "price_feed").start()
    try:
        wait_for(lambda: "event=replay_finished" in feed.log(), 20, f"the file replayed\n{feed.log()}")
        assert metric(port, "price_feed_rejected_prices_total", symbol="ETHUSDT", reason="jump") == 1
        assert feed.terminate() == 0
        with open(tmp_path / "prices.csv", "a") as csv:
            csv.write("81\n20,BTCUSDT,1020\n20,ETHUSDT,4980\n")
        feed = ActorProcess(path, "price_feed").start()
        wait_for(lambda: feed.log().count("event=replay_finished") >= 2, 20, f"the new rows replayed\n{feed.log()}")
        assert "event=replay_file_appended" in feed.log(), feed.log()
        published = {s: metric(port, "price_feed_ticks_total", symbol=s) for s in ("BTCUSDT", "ETHUSDT")}
        assert published == {"BTCUSDT": 1, "ETHUSDT": 2}, (published, feed.log()[-2000:])
    finally:
        assert feed.terminate() == 0
