"""Correlator: log returns on the buffer's grid, a pairwise-complete Pearson matrix, realized vol.

Rules a reader must keep: a symbol enters the matrix with at least min_returns valid returns, a
pair with fewer than min_returns common returns (or no variance) correlates 0, and the published
matrix never holds NaN or a value outside [-1, 1]. A matrix message goes out for every window,
ready or not, so downstream gauges never lie.

Matrix message (PUB `matrix`), three frames:
  [b"matrix", header JSON, float64 little-endian bytes of the k x k matrix (empty when not ready)]
  header = {"v": 1, "ready": bool, "reason": str | null, "symbols": [k symbols in the matrix],
            "realized_vol": {symbol: annualised vol}, "points_per_symbol": {symbol: n},
            "returns_per_symbol": {symbol: n}, "cadence_s": c, "window_last_slot": s, "ts": epoch,
            "shrinkage": float, "newest_price_ts": epoch | null, "price_age_s": float | null,
            "stale_symbols": [symbols whose own newest price is older than max_price_age_s, or that have none]}
Not ready as prices_stale when the newest price the buffer accepted for the symbols in the matrix is
older than max_price_age_s: a window can hold hundreds of old returns after the ticks stopped.
"""

from __future__ import annotations

import base64
import math
import time
from types import SimpleNamespace
from typing import Any

import numpy as np
import zmq
from prometheus_client import Counter, Gauge

from actors.window_message import decode_window
from actors.correlation import correlate_window
from actors.runtime import Actor, main
from actors.message_checks import check_number, check_number_map, check_text_list
from actors.wire import decode, encode

MATRIX_TOPIC = b"matrix"
MATRIX_VERSION = 1
# With no window for this many cadences the correlator publishes not-ready (window_stale).
STALE_AFTER_CADENCES = 3.0
SNAPSHOT_ATTEMPTS = 30

FAIL_REASONS = ("too_few_symbols", "prices_stale", "window_stale", "bad_window", "snapshot_timeout", "matrix_invalid")


def make_metrics() -> SimpleNamespace:
    """This actor's Prometheus series; made once per process, by the actor that exports them."""
    return SimpleNamespace(
        corr_ready=Gauge("p27_corr_ready", "1 when at least 2 symbols are in the correlation matrix"),
        symbols_in_matrix=Gauge("p27_symbols_in_matrix", "Symbols with enough valid returns to be in the matrix"),
        symbol_in_matrix=Gauge("p27_symbol_in_matrix", "1 when the symbol is in the matrix (at least min_returns valid "
                               "returns, and a price no older than max_price_age_s), else 0", ["symbol"]),
        ready_since=Gauge("p27_corr_ready_since_timestamp_seconds",
                          "Epoch time p27_corr_ready last went to 1 (0 while not ready): readiness timed by the actor, "
                          "not by a scrape"),
        shrinkage=Gauge("p27_shrinkage_intensity", "Ledoit-Wolf shrinkage intensity towards the identity of the last "
                        "matrix (0 with shrinkage none; NaN while there is no matrix)"),
        fail_closed=Counter("p27_fail_closed", "Updates that could not be made, by reason", ["reason"]),
    )


# --------------------------------------------------------------------------- maths (pure)


def matrix_frames(result: dict[str, Any], *, cadence_s: float, window_last_slot: int | None,
                  now_s: float) -> list[bytes]:
    header = {k: v for k, v in result.items() if k != "matrix"}
    header.update({"v": MATRIX_VERSION, "cadence_s": cadence_s, "window_last_slot": window_last_slot,
                   "ts": now_s})
    body = result["matrix"].astype("<f8").tobytes() if result["ready"] else b""
    return [MATRIX_TOPIC, encode(header), body]


def decode_matrix(frames: list[bytes]) -> tuple[dict[str, Any], np.ndarray]:
    """Header and matrix of a matrix message; raise ValueError when malformed."""
    if len(frames) != 3 or frames[0] != MATRIX_TOPIC:
        raise ValueError("expected [b'matrix', header, body]")
    header = decode(frames[1])
    if not isinstance(header, dict) or header.get("v") != MATRIX_VERSION:
        raise ValueError("unknown matrix version")
    check_matrix_header(header)
    k = len(header.get("symbols") or [])
    if not header.get("ready"):
        return header, np.zeros((0, 0))
    if len(frames[2]) != k * k * 8:
        raise ValueError(f"matrix body of {len(frames[2])} bytes for {k} symbols")
    corr = np.frombuffer(frames[2], dtype="<f8").reshape(k, k)
    if k and not (np.all(np.isfinite(corr)) and np.abs(corr).max() <= 1.0):  # the correlator's matrix_invalid
        worst = corr.flat[np.argmax(np.where(np.isfinite(corr), np.abs(corr), np.inf))]
        raise ValueError(f"matrix holds {float(worst)!r}: a correlation is a finite number in [-1, 1]")
    return header, corr


def check_matrix_header(header: dict[str, Any]) -> None:
    """Raise ValueError unless the header's fields that the clusterer reads have the shapes matrix_frames writes:
    symbols each once (a symbol twice was a cluster of two BTC), stale_symbols a list (text was read letter by
    letter), the rest numbers (a handler error each)."""
    check_text_list(header.get("symbols") or [], "matrix symbols", unique=True)
    check_text_list(header.get("stale_symbols") or [], "matrix stale_symbols")
    check_number(header.get("newest_price_ts"), "matrix newest_price_ts", optional=True)
    check_number_map(header.get("realized_vol") or {}, "matrix realized_vol")
    check_number_map(header.get("points_per_symbol") or {}, "matrix points_per_symbol")


def not_ready(reason: str, points: dict[str, int] | None = None) -> dict[str, Any]:
    return {"ready": False, "reason": reason, "symbols": [], "matrix": np.zeros((0, 0)), "realized_vol": {},
            "points_per_symbol": points or {}, "returns_per_symbol": {}, "shrinkage": 0.0,
            "newest_price_ts": None, "price_age_s": None}


# --------------------------------------------------------------------------- the actor


class CorrelatorActor(Actor):
    kind = "correlator"

    def setup(self) -> None:
        self.m = make_metrics()
        self.cadence_s = self.topology.clusters.cadence_s
        self.min_returns = self.topology.clusters.min_returns
        self.max_price_age_s = self.topology.max_price_age_s
        for reason in FAIL_REASONS:
            self.m.fail_closed.labels(reason=reason)
        self.m.corr_ready.set(0)
        self.m.ready_since.set(0)
        self.ready = False
        self.m.symbols_in_matrix.set(0)
        for symbol in self.topology.symbols:
            self.m.symbol_in_matrix.labels(symbol=symbol).set(0)
        # No matrix, no intensity: a 0 here was the floor of P27ShrinkageJump's 30-minute minimum, so the first matrices
        # of every cold start (intensity about 0.5 at 10 returns) fired it (alrev); NaN is skipped by min_over_time.
        self.m.shrinkage.set(math.nan)
        self.last_window_at = time.monotonic()
        self.last_points: dict[str, int] = {}
        self.have_window = False
        self.socket("matrix")
        self.on_message("windows", self.on_window)
        # Lazy Pirate: ask the buffer for its current window, re-opening the REQ socket on timeout.
        self.snapshot_attempts = 0
        self.snapshot_sent_at: float | None = None
        self.snapshot_unsent = False  # the request waits for a buffer to connect to a `snapshot` socket that binds
        self.request_snapshot()
        timeout_s = self.settings.snapshot_timeout_ms / 1000.0
        # The REQ socket is polled here, not by the runtime's drain loop: a REQ may recv only once.
        self.every(min(timeout_s, self.cadence_s, 0.5) / 10, self.check_snapshot, name="snapshot_poll")
        self.every(self.cadence_s, self.check_stale, name="stale_check")
        self.set_ready(True)

    # ----------------------------------------------------------------- snapshot (Lazy Pirate)

    def request_snapshot(self) -> None:
        """Send the request without blocking: a `snapshot` socket that binds has no peer until a buffer
        connects, and a blocking send would wait for one (no timers, no SIGTERM). Unsent, it is sent again at
        each check_snapshot until a buffer connects, and the attempt times out like an unanswered one."""
        self.open_socket("snapshot")
        self.snapshot_sent_at = time.monotonic()
        self.snapshot_attempts += 1
        self.snapshot_unsent = not self.send_snapshot_request()
        if self.snapshot_unsent:
            self.log.warning("snapshot_unsent", reason="no buffer connected yet",
                             endpoint=self.spec.sockets["snapshot"].endpoint)

    def send_snapshot_request(self) -> bool:
        try:
            self.sockets["snapshot"].send(encode({"op": "snapshot"}), zmq.NOBLOCK)
        except zmq.Again:
            return False
        return True

    def check_snapshot(self) -> None:
        if self.snapshot_sent_at is None:
            return
        sock = self.sockets["snapshot"]
        if self.snapshot_unsent:
            self.snapshot_unsent = not self.send_snapshot_request()
        if not self.snapshot_unsent and sock.poll(0, zmq.POLLIN):
            self.on_snapshot_reply(sock.recv_multipart())
            return
        if time.monotonic() - self.snapshot_sent_at < self.settings.snapshot_timeout_ms / 1000.0:
            return
        self.m.fail_closed.labels(reason="snapshot_timeout").inc()
        if self.have_window or self.snapshot_attempts >= SNAPSHOT_ATTEMPTS:
            self.log.warning("snapshot_abandoned", attempts=self.snapshot_attempts, have_window=self.have_window)
            self.snapshot_sent_at = None
            self.open_socket("snapshot")  # drop the pending request
            return
        self.log.info("snapshot_retry", attempt=self.snapshot_attempts + 1)
        self.request_snapshot()

    def on_snapshot_reply(self, frames: list[bytes]) -> None:
        self.snapshot_sent_at = None
        try:
            reply = decode(frames[0])
        except ValueError as exc:  # not JSON: counted and named, not a handler error
            self.m.fail_closed.labels(reason="bad_window").inc()
            self.log.warning("bad_window", error=f"snapshot reply: {exc}")
            return
        if not isinstance(reply, dict) or reply.get("status") != "ok":
            self.m.fail_closed.labels(reason="bad_window").inc()
            self.log.warning("snapshot_refused", reply=reply)
            return
        try:
            body = base64.b64decode(reply.get("prices_b64", ""), validate=True)
        except (ValueError, TypeError) as exc:  # not base64, or not text: a handler error before
            self.m.fail_closed.labels(reason="bad_window").inc()
            self.log.warning("bad_window", error=f"snapshot prices_b64: {exc}")
            return
        # Logged either way: an operator reading a restart sees the buffer answered (a live window that
        # came first supersedes the snapshot, as on a loaded box after every actor restarts).
        self.log.info("snapshot_received", attempts=self.snapshot_attempts, used=not self.have_window)
        if self.have_window:
            return
        self.handle_window(reply.get("header"), body)

    # ----------------------------------------------------------------- windows

    def on_window(self, frames: list[bytes]) -> None:
        if len(frames) != 3:
            self.m.fail_closed.labels(reason="bad_window").inc()
            return
        try:
            header = decode(frames[1])
        except ValueError:
            self.m.fail_closed.labels(reason="bad_window").inc()
            return
        # Only a window used: a bad one left the snapshot reply unused, and the next window came a cadence later.
        if self.handle_window(header, frames[2]):
            self.have_window = True

    def handle_window(self, header: Any, body: bytes) -> bool:
        """Correlate one window and publish the matrix; False (counted bad_window) when it cannot be read."""
        try:
            symbols, prices = decode_window(header, body)
        except ValueError as exc:
            self.m.fail_closed.labels(reason="bad_window").inc()
            self.log.warning("bad_window", error=str(exc))
            return False
        self.last_window_at = time.monotonic()
        result = correlate_window(symbols, prices, cadence_s=self.cadence_s, min_returns=self.min_returns,
                                  shrinkage=self.settings.shrinkage, newest_tick_ts=header.get("newest_tick_ts") or {},
                                  now_s=time.time(), max_price_age_s=self.max_price_age_s)
        matrix = result["matrix"]
        if result["ready"] and (not np.all(np.isfinite(matrix)) or np.abs(matrix).max() > 1.0):
            result = not_ready("matrix_invalid", result["points_per_symbol"])
        self.last_points = result["points_per_symbol"]
        self.emit(result, header.get("last_slot"))
        return True

    def check_stale(self) -> None:
        if time.monotonic() - self.last_window_at > STALE_AFTER_CADENCES * self.cadence_s:
            self.emit(not_ready("window_stale", self.last_points), None)

    def emit(self, result: dict[str, Any], last_slot: int | None) -> None:
        if not result["ready"]:
            self.m.fail_closed.labels(reason=result["reason"]).inc()
        if result["ready"] and not self.ready:
            self.m.ready_since.set(time.time())
        elif not result["ready"]:
            self.m.ready_since.set(0)
        self.ready = bool(result["ready"])
        self.m.corr_ready.set(1 if result["ready"] else 0)
        self.m.symbols_in_matrix.set(len(result["symbols"]))
        for symbol in self.topology.symbols:
            self.m.symbol_in_matrix.labels(symbol=symbol).set(1 if symbol in result["symbols"] else 0)
        self.m.shrinkage.set(result["shrinkage"] if result["ready"] else math.nan)
        self.sockets["matrix"].send_multipart(
            matrix_frames(result, cadence_s=self.cadence_s, window_last_slot=last_slot, now_s=time.time()))


if __name__ == "__main__":
    main(CorrelatorActor)
