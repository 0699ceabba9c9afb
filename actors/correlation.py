"""Correlation maths shared by the live correlator and the backtest: log returns on the grid, a
pairwise-complete Pearson matrix, Ledoit-Wolf shrinkage, realized vol and readiness (incl.
max_price_age_s). Pure: no sockets, no Redis, no clock (the time is a parameter).

Rules a reader must keep: a symbol enters the matrix with at least min_returns valid returns, a
pair with fewer than min_returns common returns (or no variance) correlates 0, and the matrix never
holds NaN or a value outside [-1, 1].
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np


SECONDS_PER_YEAR = 365.0 * 86400.0  # crypto trades around the clock


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

# A correlation is published (and compared with corr_threshold, and averaged into a cluster's correlation) to
# this many decimals: float summation leaves returns whose correlation is exactly 0.70 at 0.6999999999999998 live
# or in the backtest (their sums differ, by up to 2e-14 measured), on the other side of SPEC's corr >= 0.70.
CORR_DECIMALS = 9
_CORR_SCALE = 10.0 ** CORR_DECIMALS


def published_corr(corr: np.ndarray) -> np.ndarray:
    """Correlations rounded to CORR_DECIMALS, in place (the live correlator's and the backtest's, the same)."""
    np.rint(corr * _CORR_SCALE, out=corr)
    corr /= _CORR_SCALE
    return corr


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
        from scipy.sparse import csr_matrix  # here: a clusterer imports this module and never needs it (0.1 s of CPU)

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
    corr = published_corr(np.array(corr, dtype=np.float64))
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
        "stale_symbols": [s for s, old in zip(symbols, stale.tolist()) if old],  # own price past max_price_age_s
    }


# --------------------------------------------------------------------------- many windows at once


def returns_on_grid(prices: np.ndarray) -> np.ndarray:
    """Log returns aligned with the grid: column s holds the return from slot s-1 to slot s (NaN in
    column 0 and wherever either price is missing), so a window of slots s-L..s holds the returns
    of columns s-L+1..s."""
    out = np.full(prices.shape, np.nan)
    for i in range(prices.shape[0]):  # a row at a time: a long history needs no second full-size copy
        out[i, 1:] = log_returns(prices[i:i + 1])[0]
    return out


def rolling_windows(returns: np.ndarray, lookback: int, min_returns: int, cadence_s: float,
                    start: int, stop: int, full: bool = True, published: bool = True) -> dict[str, np.ndarray]:
    """The correlator's window maths for every window ending at slots start..stop-1 at once.

    returns: (k, S) from returns_on_grid; the window ending at slot s holds columns s-lookback+1..s
    (columns before 0 count as missing), exactly the lookback + 1 prices the buffer publishes.
    Per window, as correlate_window: a symbol is in the matrix with >= min_returns valid returns; a
    row whose spread is below RETURN_SD_FLOOR is no information (correlates 0, no realized vol);
    a pair correlates over the returns both hold (0 with fewer than min_returns of them, or no
    variance), clipped to [-1, 1]. Computed with rolling sums: one pass over the returns, not one
    matrix product per window. Returns arrays with a leading axis of B = stop - start windows:
    pairs (B, P) the correlation of each pair i < j in np.triu_indices(k, 1) order, corr (B, k, k)
    when full, count (B, k) valid returns, in_matrix (B, k), vol (B, k) annualised (NaN: none). The pairs are
    rounded as published (published_corr) unless published is False (shrinkage comes first).
    """
    k = returns.shape[0]
    lo = start - lookback + 1
    block = np.full((k, stop - lo), np.nan)
    src_lo = max(lo, 0)
    block[:, src_lo - lo:] = returns[:, src_lo:stop]
    valid = np.isfinite(block)
    no_gaps = bool(valid.all())
    x = np.where(valid, block, 0.0)
    n_valid = valid.sum(axis=1)
    # Shift each row by its mean over the block: correlations do not change, the sums stay small.
    x -= np.where(valid, (x.sum(axis=1) / np.maximum(n_valid, 1))[:, None], 0.0)
    m = valid.astype(np.float64)
    b = stop - start

    def windowed(series: np.ndarray) -> np.ndarray:
        """Sum over each window along the last axis: (..., block) -> (..., b)."""
        c = np.cumsum(series, axis=-1)
        out = c[..., lookback - 1:].copy()
        out[..., 1:] -= c[..., :-lookback]
        return out

    # Per symbol: valid count, sum, sum of squares; then the window's own spread.
    n = np.full((k, b), lookback, dtype=np.int64) if no_gaps else np.rint(windowed(m)).astype(np.int64)
    s1 = windowed(x)
    s2 = windowed(x * x)
    with np.errstate(invalid="ignore", divide="ignore"):
        ss = np.maximum(s2 - s1 * s1 / np.maximum(n, 1), 0.0)
    flat = ss < RETURN_SD_FLOOR ** 2 * np.maximum(n - 1, 1)
    in_matrix = n >= min_returns
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.where(n >= 2, np.sqrt(np.where(flat, 0.0, ss) / np.maximum(n - 1, 1)), np.nan)
    vol = sd * math.sqrt(SECONDS_PER_YEAR / cadence_s)

    # Per pair (i < j), over the returns both hold: count, sums and squares of each side, cross sum.
    iu, ju = np.triu_indices(k, 1)
    sxy = windowed(x[iu] * x[ju]) if len(iu) else np.zeros((0, b))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if no_gaps:
            # Every pair holds the whole window: its variances are the symbols' own.
            usable_sym = in_matrix & ~flat & (n >= max(min_returns, 2))
            var = np.where(usable_sym, ss, 0.0)
            inv_sd = np.zeros_like(var)
            np.divide(1.0, np.sqrt(var), out=inv_sd, where=var > 0)
            pair = sxy - s1[iu] * (s1[ju] / lookback)
            pair *= inv_sd[iu]
            pair *= inv_sd[ju]
            tiny = (var <= 1e-20 * var.max(axis=0)) & usable_sym
            cols = np.flatnonzero(tiny.any(axis=0))
            if len(cols):  # a variance tiny next to the largest: the usable-pair rule in full there
                vi, vj = var[iu][:, cols], var[ju][:, cols]
                bad = ~(np.sqrt(vi * vj) > 1e-12 * np.maximum(np.maximum(vi, vj), 1e-300))
                pair[:, cols] = np.where(bad, 0.0, pair[:, cols])
        else:
            mm = m[iu] * m[ju]
            nij = np.rint(windowed(mm)).astype(np.int64)
            sx_i = windowed(x[iu] * m[ju])
            sx_j = windowed(x[ju] * m[iu])
            sxx_i = windowed(x[iu] * x[iu] * m[ju])
            sxx_j = windowed(x[ju] * x[ju] * m[iu])
            inv = 1.0 / np.maximum(nij, 1)
            cov = sxy - sx_i * sx_j * inv
            var_i = np.maximum(sxx_i - sx_i * sx_i * inv, 0.0)
            var_j = np.maximum(sxx_j - sx_j * sx_j * inv, 0.0)
            denom = np.sqrt(var_i * var_j)
            usable = ((nij >= max(min_returns, 2)) & ~flat[iu] & ~flat[ju] & in_matrix[iu] & in_matrix[ju]
                      & (denom > 1e-12 * np.maximum(np.maximum(var_i, var_j), 1e-300)))
            pair = np.zeros_like(cov)
            np.divide(cov, denom, out=pair, where=usable)
    np.clip(pair, -1.0, 1.0, out=pair)
    pairs = np.ascontiguousarray(pair.T)
    if published:
        published_corr(pairs)
    out = {"pairs": pairs, "count": n.T.copy(), "in_matrix": in_matrix.T.copy(), "vol": vol.T.copy(),
           "flat": flat.T.copy()}
    if full:
        out["corr"] = pairs_to_matrices(pairs, k)
    return out


def rolling_correlator(returns: np.ndarray, newest_ts: np.ndarray, now_s: np.ndarray, start: int, stop: int, *,
                       lookback: int, min_returns: int, cadence_s: float, max_price_age_s: float,
                       shrinkage: str = "none") -> dict[str, Any]:
    """correlate_window for every window ending at slots start..stop-1 at once: rolling_windows' arrays, each
    window published at now_s (B,) with newest_ts (B, k) each symbol's newest accepted tick ts up to its slot
    (-inf: none). As live: a symbol whose own newest tick is older than max_price_age_s stays out of the matrix
    (in_matrix), the matrix's symbols are shrunk with shrinkage (pairs), and a window is ready (B,) with 2 symbols
    in it and its newest price no older than max_price_age_s, else its reason (a list of B) is too_few_symbols or
    prices_stale."""
    k = returns.shape[0]
    w = rolling_windows(returns, lookback, min_returns, cadence_s, start, stop, full=False,
                        published=shrinkage != "ledoit_wolf")
    pairs = w["pairs"]
    # A symbol whose own newest accepted tick is older than max_price_age_s at publish time stays out of the
    # matrix (with enough returns, it would still be in the window).
    enough = w["in_matrix"]
    w["stale"] = own_stale = newest_ts < now_s[:, None] - max_price_age_s  # clustering.held_out_for_stale_prices
    inm = enough & ~own_stale
    w["in_matrix"] = inm
    if shrinkage == "ledoit_wolf":
        iu, ju = np.triu_indices(k, 1)
        for b in range(stop - start):
            idx = np.flatnonzero(inm[b])
            if len(idx) >= 2:
                first = start + b - lookback + 1
                win = np.full((len(idx), lookback), np.nan)  # the window's returns, as live
                win[:, max(0, -first):] = returns[idx, max(first, 0):start + b + 1]
                full = pairs_to_matrices(pairs[b:b + 1], k)[0]
                full[np.ix_(idx, idx)] = shrink_towards_identity(full[np.ix_(idx, idx)], ledoit_wolf_intensity(win))
                pairs[b] = full[iu, ju]
        published_corr(pairs)  # as live: shrunk, then rounded
    ok = inm.sum(axis=1) >= 2
    some_stale = enough.sum(axis=1) >= 2  # not ready for want of fresh symbols: prices_stale
    # prices_stale: the newest accepted price over the matrix's symbols (all symbols when none) is older than
    # max_price_age_s at publish time.
    over = np.where(inm.any(axis=1)[:, None], np.where(inm, newest_ts, -np.inf), newest_ts).max(axis=1)
    stale = ~(now_s - over <= max_price_age_s)
    w["ready"] = ok & ~stale
    w["reason"] = [None if (o and not st) else "too_few_symbols" if not (o or some) else "prices_stale"
                   for o, st, some in zip(ok.tolist(), stale.tolist(), some_stale.tolist())]
    return w


def pairs_to_matrices(pairs: np.ndarray, k: int) -> np.ndarray:
    """(B, P) pair correlations in np.triu_indices(k, 1) order -> (B, k, k) with 1 on the diagonal."""
    iu, ju = np.triu_indices(k, 1)
    corr = np.zeros((pairs.shape[0], k, k))
    corr[:, iu, ju] = pairs
    corr[:, ju, iu] = pairs
    idx = np.arange(k)
    corr[:, idx, idx] = 1.0
    return corr
