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
            "shrinkage": float, "newest_price_ts": epoch | null, "price_age_s": float | null}
Not ready as prices_stale when the newest price the buffer accepted for the symbols in the matrix is
older than max_price_age_s: a window can hold hundreds of old returns after the ticks stopped.
"""

from __future__ import annotations

import base64
import math
import time
from types import SimpleNamespace
from typing import Any, Mapping

import numpy as np
import zmq
from scipy.sparse import csr_matrix
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

FAIL_REASONS = ("too_few_symbols", "prices_stale", "window_stale", "bad_window", "snapshot_timeout", "matrix_invalid")


def make_metrics() -> SimpleNamespace:
    """This actor's Prometheus series; made once per process, by the actor that exports them."""
    return SimpleNamespace(
        corr_ready=Gauge("p27_corr_ready", "1 when at least 2 symbols are in the correlation matrix"),
        symbols_in_matrix=Gauge("p27_symbols_in_matrix", "Symbols with enough valid returns to be in the matrix"),
        shrinkage=Gauge("p27_shrinkage_intensity", "Ledoit-Wolf shrinkage intensity towards the identity (0 with shrinkage none)"),
        fail_closed=Counter("p27_fail_closed", "Updates that could not be made, by reason", ["reason"]),
    )


# --------------------------------------------------------------------------- maths (pure)


def log_returns(prices: np.ndarray) -> np.ndarray:
    """Log returns between consecutive grid points; NaN unless both points hold a price."""
    logp = np.full(prices.shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        np.log(prices, out=logp, where=prices > 0)
    return np.diff(logp, axis=1)


# Below this fraction of missing returns the gap corrections are a sparse product over the gaps
# (exact float64, cost grows with the number of gaps); above it, dense float64 products.
SPARSE_GAP_FRACTION = 0.15


# A row of returns whose standard deviation is below this (in log-return units; an exchange's
# price tick is ~1e-7 of the price) holds rounding noise, not information: exactly constant growth
# gives sd ~5e-16, and that noise read as correlations (0.015 to 0.08 measured, 0.30 reported). Such a row is zeroed: it
# correlates 0 with every other and has no realized vol.
RETURN_SD_FLOOR = 1e-10


def centre_rows(returns: np.ndarray, valid: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, valid, n): each row minus the mean of its valid values, 0 where invalid; n valid per row.
    A row whose spread is below RETURN_SD_FLOOR is all 0 (no information)."""
    if valid is None:
        valid = np.isfinite(returns)
    n = valid.sum(axis=1)
    x = np.where(valid, returns, 0.0)
    mean = x.sum(axis=1) / np.maximum(n, 1)
    x -= mean[:, None]
    x[~valid] = 0.0
    flat = np.einsum("ij,ij->i", x, x) < RETURN_SD_FLOOR ** 2 * np.maximum(n - 1, 1)
    if flat.any():
        x[flat] = 0.0
    return x, valid, n


def _gap_sums(x: np.ndarray, gaps: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(s1, s2), C-ordered, with s1[j, i] = sum of x_i and s2[j, i] = sum of x_i^2 over the points
    where row j is valid (row i's own invalid points already hold 0 in x)."""
    k, t = x.shape
    if (t * k - int(n.sum())) <= SPARSE_GAP_FRACTION * t * k:
        # s1 = (row sum of x_i) - sum of x_i over row j's gaps; the gaps are few, so a sparse product
        # (gaps x [x | x^2], with the right factor laid out points-major so the product streams rows).
        cols = np.nonzero(gaps)[1]
        indptr = np.zeros(k + 1, dtype=np.int64)
        np.cumsum(t - n, out=indptr[1:])
        g = csr_matrix((np.ones(len(cols)), cols, indptr), shape=(k, t))  # row j: row j's gaps
        xt = np.empty((t, 2 * k))
        xt[:, :k] = x.T
        np.multiply(xt[:, :k], xt[:, :k], out=xt[:, k:])
        on_gaps = g @ xt  # [j, i]: sum of x_i (then x_i^2) on j's gaps
        totals = xt.sum(axis=0)
        s1 = np.subtract(totals[None, :k], on_gaps[:, :k])
        s2 = np.subtract(totals[None, k:], on_gaps[:, k:])
        return s1, s2
    x2 = x * x
    gap_rows = np.flatnonzero(n < t)
    s1 = np.repeat(x.sum(axis=1)[None, :], k, axis=0)
    s2 = np.repeat(x2.sum(axis=1)[None, :], k, axis=0)
    if len(gap_rows):
        m = (~gaps[gap_rows]).astype(np.float64)
        s1[gap_rows] = m @ x.T
        s2[gap_rows] = m @ x2.T
    return s1, s2


def pearson_centred(x: np.ndarray, valid: np.ndarray, n: np.ndarray, min_common: int = 2) -> np.ndarray:
    """pairwise_pearson on rows already centred by centre_rows (x, valid, n)."""
    k, t = x.shape
    if k == 0:
        return np.zeros((0, 0))
    min_common = max(min_common, 2)
    sxy = x @ x.T  # numpy takes the symmetric (syrk) path: exactly symmetric
    if int(n.sum()) == k * t:
        corr = _pearson_no_gaps(sxy, t, min_common)
    else:
        corr = _pearson_gaps(x, valid, n, sxy, min_common)
    if not math.isfinite(float(corr.sum())):
        np.nan_to_num(corr, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    np.clip(corr, -1.0, 1.0, out=corr)
    np.fill_diagonal(corr, 1.0)
    return corr


def _pearson_no_gaps(sxy: np.ndarray, t: int, min_common: int) -> np.ndarray:
    k = sxy.shape[0]
    if t < min_common:
        return np.zeros((k, k))
    var = np.diag(sxy).copy()  # centred rows: sum x = 0 up to rounding, so cov = sxy
    inv = np.zeros(k)
    np.divide(1.0, np.sqrt(var), out=inv, where=var > 0)
    corr = sxy
    corr *= np.outer(inv, inv)
    # A pair is usable when sqrt(var_i var_j) > 1e-12 max(var_i, var_j); only rows with a tiny
    # variance can fail that, so check those rows alone.
    tiny = np.flatnonzero(var <= max(1e-20 * float(var.max()), 1e-280))
    if len(tiny):
        vi = var[tiny][:, None]
        with np.errstate(invalid="ignore", over="ignore", under="ignore"):
            bad = ~(np.sqrt(vi * var[None, :]) > 1e-12 * np.maximum(np.maximum(vi, var[None, :]), 1e-300))
        rows = np.broadcast_to(tiny[:, None], bad.shape)[bad]
        cols = np.nonzero(bad)[1]
        corr[rows, cols] = 0.0
        corr[cols, rows] = 0.0
    return corr


def _pearson_gaps(x: np.ndarray, valid: np.ndarray, n: np.ndarray, sxy: np.ndarray,
                  min_common: int) -> np.ndarray:
    m = valid.astype(np.float32)
    count32 = m @ m.T  # 0/1 products summed in float32 are exact integers (t < 2**24)
    usable = count32 >= min_common
    inv_count = 1.0 / np.maximum(count32.astype(np.float64), 1.0)
    # sx[j, i], sxx[j, i]: sums of x_i, x_i^2 where both i and j are valid. Every matrix below is
    # then indexed [j, i] (the transpose of the textbook layout); the results are symmetric.
    sx, sxx = _gap_sums(x, ~valid, n)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        cov = sxy
        p = sx * sx.T
        p *= inv_count
        cov -= p                            # symmetric: every factor is
        var = sx                            # var[j, i]: variance of x_i given j, clipped at 0
        var *= sx
        var *= inv_count
        np.subtract(sxx, var, out=var)
        np.maximum(var, 0.0, out=var)
        denom = var * var.T
        np.sqrt(denom, out=denom)
        # A pair is usable when sqrt(var_i var_j) > 1e-12 max(var_i, var_j) (so both > 0): that can
        # only fail where a variance is tiny next to the largest, so test it in full only then.
        tiny = var <= max(1e-20 * float(var.max()), 1e-280)
        if np.any(tiny & usable):
            scale = np.maximum(var, var.T)
            np.maximum(scale, 1e-300, out=scale)
            scale *= 1e-12
            usable &= denom > scale
        if usable.all():
            cov /= denom
            return cov
        corr = np.zeros_like(cov)
        np.divide(cov, denom, out=corr, where=usable)
    return corr


def pairwise_pearson(returns: np.ndarray, min_common: int = 2) -> np.ndarray:
    """Pearson correlation of every pair of rows over the columns where both are finite.

    Vectorised as matrix products over the validity mask; a pair with fewer than min_common
    common values or no variance gets 0. Diagonal 1, values clipped to [-1, 1], never NaN.
    Rows are centred on their own mean first: it does not change any correlation but keeps the
    sums small, so the one-pass formulas do not lose precision.
    """
    if returns.shape[0] == 0:
        return np.zeros((0, 0))
    return pearson_centred(*centre_rows(returns), min_common=min_common)


# Returns beyond this many robust standard deviations (1.4826 x MAD) from their row's median are
# clipped to it before the Ledoit-Wolf intensity is estimated: its beta term sums fourth powers, so
# one bad print (two returns of +-26%) on any symbol would otherwise set the shrinkage of every pair.
LEDOIT_WOLF_CLIP_ROBUST_SD = 5.0


def clip_at_robust_scale(returns: np.ndarray, robust_sd: float) -> np.ndarray:
    """Each row clipped to median +- robust_sd x 1.4826 x MAD of its finite values (NaN stays NaN);
    a row whose MAD is 0 (more than half its returns equal) is set to its median: no information for
    the intensity (one 20% print on a stablecoin took it from 0.05 to 0.36 unclipped)."""
    out = returns.copy()
    valid = np.isfinite(returns)
    for i in np.flatnonzero(valid.sum(axis=1) >= 3):
        row = returns[i, valid[i]]
        median = float(np.median(row))
        scale = 1.4826 * float(np.median(np.abs(row - median)))
        if scale == 0:  # most returns equal (a stablecoin, a coarse tick): its spikes would set the intensity
            out[i, valid[i]] = median
        else:
            np.clip(out[i], median - robust_sd * scale, median + robust_sd * scale, out=out[i],
                    where=valid[i])
    return out


def ledoit_wolf_intensity(returns: np.ndarray, clip_robust_sd: float | None = LEDOIT_WOLF_CLIP_ROBUST_SD) -> float:
    """Ledoit-Wolf shrinkage intensity towards the identity for the standardised returns.

    Missing returns count as 0 after standardisation (the pairwise-complete analogue). Returns are
    first clipped at clip_robust_sd robust standard deviations (None: not clipped), so that one
    outlier cannot move the intensity of the whole matrix.
    """
    if returns.shape[0] < 2 or returns.shape[1] < 2:
        return 0.0
    if clip_robust_sd is not None:
        returns = clip_at_robust_scale(returns, clip_robust_sd)
    valid = np.isfinite(returns)
    n = valid.sum(axis=1)
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
    x, _, n = centre_rows(returns)
    return vol_centred(x, n, cadence_s)


def vol_centred(x: np.ndarray, n: np.ndarray, cadence_s: float) -> np.ndarray:
    """realized_vol on rows already centred by centre_rows."""
    ss = np.einsum("ij,ij->i", x, x)
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.where(n >= 2, np.sqrt(ss / np.maximum(n - 1, 1)), np.nan)
    return sd * math.sqrt(SECONDS_PER_YEAR / cadence_s)


def newest_price(newest_tick_ts: Mapping[str, float | None], symbols: list[str]) -> float | None:
    """The newest accepted tick time over `symbols`, None when none of them has one."""
    times = [t for t in (newest_tick_ts.get(s) for s in symbols) if t is not None and math.isfinite(t)]
    return max(times) if times else None


def correlate_window(symbols: list[str], prices: np.ndarray, *, cadence_s: float, min_returns: int,
                     shrinkage: str = "none", newest_tick_ts: Mapping[str, float | None] | None = None,
                     now_s: float | None = None, max_price_age_s: float | None = None) -> dict[str, Any]:
    """Everything the correlator publishes for one window, as plain values (matrix as ndarray).

    With newest_tick_ts and now_s, the result carries the age of its newest input price, and with
    max_price_age_s too it is not ready (prices_stale) when that price is older than the limit."""
    returns = log_returns(prices)
    valid = np.isfinite(returns)
    counts = valid.sum(axis=1)
    # A symbol whose own newest tick is older than max_price_age_s stays out of the matrix: with the
    # age taken over the newest symbol, one live symbol kept a stopped one's old correlations "fresh".
    stale = np.zeros(len(symbols), dtype=bool)
    if newest_tick_ts is not None and now_s is not None and max_price_age_s is not None:
        stale = np.array([(newest_tick_ts.get(s) or -math.inf) < now_s - max_price_age_s for s in symbols], dtype=bool)
    inside = np.flatnonzero((counts >= min_returns) & ~stale)
    matrix_symbols = [symbols[i] for i in inside]
    if len(inside) == len(symbols):
        sub, sub_valid = returns, valid
    else:
        sub, sub_valid = returns[inside], valid[inside]
    x, sub_valid, n = centre_rows(sub, sub_valid)
    corr = pearson_centred(x, sub_valid, n, min_common=min_returns)
    intensity = 0.0
    if shrinkage == "ledoit_wolf" and len(inside) >= 2:
        intensity = ledoit_wolf_intensity(sub)
        corr = shrink_towards_identity(corr, intensity)
    vol = vol_centred(x, n, cadence_s)
    ready = len(inside) >= 2
    reason = None if ready else ("prices_stale" if np.sum(counts >= min_returns) >= 2 else "too_few_symbols")
    newest_ts = price_age_s = None
    if newest_tick_ts is not None and now_s is not None:
        newest_ts = newest_price(newest_tick_ts, matrix_symbols or symbols)
        price_age_s = None if newest_ts is None else now_s - newest_ts
        if ready and max_price_age_s is not None and (price_age_s is None or price_age_s > max_price_age_s):
            ready, reason = False, "prices_stale"
    return {
        "ready": ready,
        "reason": reason,
        "newest_price_ts": newest_ts,
        "price_age_s": price_age_s,
        "symbols": matrix_symbols,
        "matrix": corr,
        "realized_vol": {s: v for s, v in zip(matrix_symbols, vol.tolist()) if math.isfinite(v) and v > 0},
        "points_per_symbol": dict(zip(symbols, np.isfinite(prices).sum(axis=1).tolist())),
        "returns_per_symbol": dict(zip(symbols, counts.tolist())),
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
        self.m.symbols_in_matrix.set(0)
        self.m.shrinkage.set(0)
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
                                  shrinkage=self.settings.shrinkage, newest_tick_ts=header.get("newest_tick_ts") or {},
                                  now_s=time.time(), max_price_age_s=self.max_price_age_s)
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
        self.m.shrinkage.set(result["shrinkage"])
        self.sockets["matrix"].send_multipart(
            matrix_frames(result, cadence_s=self.cadence_s, window_last_slot=last_slot, now_s=time.time()))


if __name__ == "__main__":
    main(CorrelatorActor)
