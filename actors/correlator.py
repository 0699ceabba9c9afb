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
            "shrinkage": float}
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

from actors.buffer import decode_window
from actors.runtime import Actor, main
from actors.wire import decode, encode

MATRIX_TOPIC = b"matrix"
MATRIX_VERSION = 1
SECONDS_PER_YEAR = 365.0 * 86400.0  # crypto trades around the clock
# With no window for this many cadences the correlator publishes not-ready (window_stale).
STALE_AFTER_CADENCES = 3.0
SNAPSHOT_ATTEMPTS = 30

FAIL_REASONS = ("too_few_symbols", "window_stale", "bad_window", "snapshot_timeout", "matrix_invalid")


def make_metrics() -> SimpleNamespace:
    """This actor's Prometheus series; made once per process, by the actor that exports them."""
    return SimpleNamespace(
        corr_ready=Gauge("p27_corr_ready", "1 when at least 2 symbols are in the correlation matrix"),
        symbols_in_matrix=Gauge("p27_symbols_in_matrix", "Symbols with enough valid returns to be in the matrix"),
        fail_closed=Counter("p27_fail_closed", "Updates that could not be made, by reason", ["reason"]),
    )


# --------------------------------------------------------------------------- maths (pure)


def log_returns(prices: np.ndarray) -> np.ndarray:
    """Log returns between consecutive grid points; NaN unless both points hold a price."""
    with np.errstate(invalid="ignore", divide="ignore"):
        logp = np.log(np.where(prices > 0, prices, np.nan))
    return np.diff(logp, axis=1)


def pairwise_pearson(returns: np.ndarray, min_common: int = 2) -> np.ndarray:
    """Pearson correlation of every pair of rows over the columns where both are finite.

    Vectorised as matrix products over the validity mask; a pair with fewer than min_common
    common values or no variance gets 0. Diagonal 1, values clipped to [-1, 1], never NaN.
    """
    k = returns.shape[0]
    if k == 0:
        return np.zeros((0, 0))
    valid = np.isfinite(returns)
    # Centre each row on its own mean first: it does not change any correlation but keeps the
    # sums small, so the one-pass formulas below do not lose precision.
    row_mean = np.where(valid, returns, 0.0).sum(axis=1) / np.maximum(valid.sum(axis=1), 1)
    centred = returns - row_mean[:, None]
    x = np.where(valid, centred, 0.0)
    if valid.all():
        n = float(returns.shape[1])
        sxy = x @ x.T
        sx = x.sum(axis=1)
        cov = sxy - np.outer(sx, sx) / n
        var = np.diag(cov).copy()
        denom = np.sqrt(np.outer(var, var))
        count = np.full((k, k), n)
        var_i = var[:, None] * np.ones((1, k))
        var_j = var_i.T
    else:
        m = valid.astype(np.float64)
        count = m @ m.T
        sxy = x @ x.T
        sx_given_j = x @ m.T          # [i, j] = sum of x_i where both i and j are valid
        sxx_given_j = (x * x) @ m.T   # [i, j] = sum of x_i^2 where both are valid
        with np.errstate(invalid="ignore", divide="ignore"):
            safe = np.where(count > 0, count, 1.0)
            cov = sxy - sx_given_j * sx_given_j.T / safe
            var_i = sxx_given_j - sx_given_j ** 2 / safe
            var_j = var_i.T
            denom = np.sqrt(np.clip(var_i, 0, None) * np.clip(var_j, 0, None))
    scale = np.maximum(np.abs(var_i), np.abs(var_j))
    usable = (count >= max(min_common, 2)) & (denom > 1e-12 * np.maximum(scale, 1e-300))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.where(usable, cov / np.where(usable, denom, 1.0), 0.0)
    corr = np.clip(np.nan_to_num(corr, nan=0.0, posinf=0.0, neginf=0.0), -1.0, 1.0)
    corr = (corr + corr.T) / 2.0
    np.fill_diagonal(corr, 1.0)
    return corr


def ledoit_wolf_intensity(returns: np.ndarray) -> float:
    """Ledoit-Wolf shrinkage intensity towards the identity for the standardised returns.

    Missing returns count as 0 after standardisation (the pairwise-complete analogue).
    """
    valid = np.isfinite(returns)
    n = valid.sum(axis=1)
    if returns.shape[0] < 2 or returns.shape[1] < 2:
        return 0.0
    mean = np.where(n > 0, np.nansum(np.where(valid, returns, 0.0), axis=1) / np.maximum(n, 1), 0.0)
    dev = np.where(valid, returns - mean[:, None], 0.0)
    sd = np.sqrt((dev ** 2).sum(axis=1) / np.maximum(n - 1, 1))
    z = np.where(sd[:, None] > 0, dev / np.where(sd > 0, sd, 1.0)[:, None], 0.0).T  # T x p
    t, p = z.shape
    s = z.T @ z / t
    mu = np.trace(s) / p
    delta = (np.sum(s * s) - 2 * mu * np.trace(s) + mu * mu * p) / p
    if delta <= 0:
        return 0.0
    beta = (np.sum(np.sum(z * z, axis=1) ** 2) - t * np.sum(s * s)) / (t * t * p)
    return float(min(max(beta, 0.0), delta) / delta)


def shrink_towards_identity(corr: np.ndarray, intensity: float) -> np.ndarray:
    out = (1.0 - intensity) * corr + intensity * np.eye(corr.shape[0])
    np.fill_diagonal(out, 1.0)
    return out


def realized_vol(returns: np.ndarray, cadence_s: float) -> np.ndarray:
    """Annualised standard deviation of each row's valid log returns (NaN with fewer than 2)."""
    valid = np.isfinite(returns)
    n = valid.sum(axis=1)
    x = np.where(valid, returns, 0.0)
    mean = x.sum(axis=1) / np.maximum(n, 1)
    ss = (np.where(valid, returns - mean[:, None], 0.0) ** 2).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.where(n >= 2, np.sqrt(ss / np.maximum(n - 1, 1)), np.nan)
    return sd * math.sqrt(SECONDS_PER_YEAR / cadence_s)


def correlate_window(symbols: list[str], prices: np.ndarray, *, cadence_s: float, min_returns: int,
                     shrinkage: str = "none") -> dict[str, Any]:
    """Everything the correlator publishes for one window, as plain values (matrix as ndarray)."""
    returns = log_returns(prices)
    counts = np.isfinite(returns).sum(axis=1)
    inside = np.flatnonzero(counts >= min_returns)
    matrix_symbols = [symbols[i] for i in inside]
    sub = returns[inside]
    corr = pairwise_pearson(sub, min_common=min_returns)
    intensity = 0.0
    if shrinkage == "ledoit_wolf" and len(inside) >= 2:
        intensity = ledoit_wolf_intensity(sub)
        corr = shrink_towards_identity(corr, intensity)
    vol = realized_vol(sub, cadence_s)
    ready = len(inside) >= 2
    return {
        "ready": ready,
        "reason": None if ready else "too_few_symbols",
        "symbols": matrix_symbols,
        "matrix": corr,
        "realized_vol": {s: float(v) for s, v in zip(matrix_symbols, vol) if math.isfinite(v)},
        "points_per_symbol": {s: int(n) for s, n in zip(symbols, np.isfinite(prices).sum(axis=1))},
        "returns_per_symbol": {s: int(n) for s, n in zip(symbols, counts)},
        "shrinkage": intensity,
    }


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
    k = len(header.get("symbols") or [])
    if not header.get("ready"):
        return header, np.zeros((0, 0))
    if len(frames[2]) != k * k * 8:
        raise ValueError(f"matrix body of {len(frames[2])} bytes for {k} symbols")
    return header, np.frombuffer(frames[2], dtype="<f8").reshape(k, k)


def not_ready(reason: str, points: dict[str, int] | None = None) -> dict[str, Any]:
    return {"ready": False, "reason": reason, "symbols": [], "matrix": np.zeros((0, 0)), "realized_vol": {},
            "points_per_symbol": points or {}, "returns_per_symbol": {}, "shrinkage": 0.0}


# --------------------------------------------------------------------------- the actor


class CorrelatorActor(Actor):
    kind = "correlator"

    def setup(self) -> None:
        self.m = make_metrics()
        self.cadence_s = self.topology.clusters.cadence_s
        self.min_returns = self.topology.clusters.min_returns
        for reason in FAIL_REASONS:
            self.m.fail_closed.labels(reason=reason)
        self.m.corr_ready.set(0)
        self.m.symbols_in_matrix.set(0)
        self.last_window_at = time.monotonic()
        self.last_points: dict[str, int] = {}
        self.have_window = False
        self.socket("matrix")
        self.on_message("windows", self.on_window)
        # Lazy Pirate: ask the buffer for its current window, re-opening the REQ socket on timeout.
        self.snapshot_attempts = 0
        self.snapshot_sent_at: float | None = None
        self.request_snapshot()
        timeout_s = self.settings.snapshot_timeout_ms / 1000.0
        # The REQ socket is polled here, not by the runtime's drain loop: a REQ may recv only once.
        self.every(min(timeout_s, self.cadence_s, 0.5) / 10, self.check_snapshot, name="snapshot_poll")
        self.every(self.cadence_s, self.check_stale, name="stale_check")
        self.set_ready(True)

    # ----------------------------------------------------------------- snapshot (Lazy Pirate)

    def request_snapshot(self) -> None:
        self.open_socket("snapshot")
        self.sockets["snapshot"].send(encode({"op": "snapshot"}))
        self.snapshot_sent_at = time.monotonic()
        self.snapshot_attempts += 1

    def check_snapshot(self) -> None:
        if self.snapshot_sent_at is None:
            return
        sock = self.sockets["snapshot"]
        if sock.poll(0, zmq.POLLIN):
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
        reply = decode(frames[0])
        if not isinstance(reply, dict) or reply.get("status") != "ok":
            self.m.fail_closed.labels(reason="bad_window").inc()
            self.log.warning("snapshot_refused", reply=reply)
            return
        body = base64.b64decode(reply.get("prices_b64", ""))
        if self.have_window:
            return  # a live window already superseded it
        self.log.info("snapshot_received", attempts=self.snapshot_attempts)
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
        self.have_window = True
        self.handle_window(header, frames[2])

    def handle_window(self, header: Any, body: bytes) -> None:
        try:
            symbols, prices = decode_window(header, body)
        except ValueError as exc:
            self.m.fail_closed.labels(reason="bad_window").inc()
            self.log.warning("bad_window", error=str(exc))
            return
        self.last_window_at = time.monotonic()
        result = correlate_window(symbols, prices, cadence_s=self.cadence_s, min_returns=self.min_returns,
                                  shrinkage=self.settings.shrinkage)
        matrix = result["matrix"]
        if result["ready"] and (not np.all(np.isfinite(matrix)) or np.abs(matrix).max() > 1.0):
            result = not_ready("matrix_invalid", result["points_per_symbol"])
        self.last_points = result["points_per_symbol"]
        self.emit(result, header.get("last_slot"))

    def check_stale(self) -> None:
        if time.monotonic() - self.last_window_at > STALE_AFTER_CADENCES * self.cadence_s:
            self.emit(not_ready("window_stale", self.last_points), None)

    def emit(self, result: dict[str, Any], last_slot: int | None) -> None:
        if not result["ready"]:
            self.m.fail_closed.labels(reason=result["reason"]).inc()
        self.m.corr_ready.set(1 if result["ready"] else 0)
        self.m.symbols_in_matrix.set(len(result["symbols"]))
        self.sockets["matrix"].send_multipart(
            matrix_frames(result, cadence_s=self.cadence_s, window_last_slot=last_slot, now_s=time.time()))


if __name__ == "__main__":
    main(CorrelatorActor)
