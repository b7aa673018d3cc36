"""Network inversion of interferograms into time series: NSBAS (Doin et al. 2011) and plain SBAS.

Signatures
----------
``invert_nsbas(phase, pairs, dates, *, weight=None, seasonal=False, steps=(), gamma=1e-4,
robust=False, robust_iterations=10, min_interferograms=1, return_residual=False, threads=None) -> Inversion``

``invert_sbas(phase, pairs, dates, *, weight=None, robust=False, robust_iterations=10,
min_interferograms=1, return_residual=False, threads=None) -> Inversion``

``coherence_to_weight(coherence, looks=20.0) -> array`` (inverse Cramér-Rao phase variance)

- ``phase``: (n_pair, *spatial) unwrapped phase in radians referenced to a common pixel, NaN
  where missing (that equation is dropped for that pixel).
- ``pairs``: (n_pair, 2) integer indices into ``dates`` of (reference, secondary), reference <
  secondary; :func:`strata.insar.network.pair_indices` builds them from pair dates.
- ``dates``: (n_date,) sorted ``datetime64`` acquisition dates.
- ``weight``: (n_pair, *spatial) or (n_pair,) inverse phase variance (see
  :func:`coherence_to_weight`); ``None`` gives equal weights. Zero or NaN drops the equation.

Method
------
The unknowns are the phases of dates 1..n-1 (date 0 is the origin, phase 0), which is the
increment formulation of NSBAS after the change of variables phi = L·delta. Data equations
``phi_j - phi_i = phase_ij`` with their weights give a weighted graph Laplacian as normal matrix,
whose envelope (profile) is set by the network, so each pixel is solved by an envelope Cholesky in
O(n_date · b²) (b: the longest pair in dates) instead of O(n_date³) — compiled with numba
(``nogil``) and run in threads over blocks of pixels, with per-pixel weights and missing data at
no extra cost.

NSBAS adds for every date i the pseudo-observation ``gamma · (phi_i - F_i · m) = 0``, where F is
the temporal model (:func:`strata.insar.velocity.time_functions`: linear, optional annual sin/cos
and steps) and m its parameters, also unknowns. ``gamma`` is relative to the pixel's mean data
weight, so the model only decides what the data leave undetermined: it ties disconnected subsets
and fills dates with no data. Plain SBAS (MintPy-like) instead adds a vanishing penalty on the
velocity between consecutive dates, which yields the minimum-norm-velocity solution of Berardino et
al. (2002) (zero velocity across a network gap, as MintPy's SVD).

Robust mode (``robust=True``) solves the weighted L1 problem by iteratively reweighted least
squares (weights ``sqrt(w) / max(|residual|, eps)``).

Per pixel and epoch, ``model_share`` is ``1 - R_ii`` with ``R = N⁻¹ N_data`` the resolution
matrix of the phases: ~0 where the data determine the epoch, ~1 where only the model does (dates
in a network gap, or with no data at that pixel). Both ``model_share`` and ``timeseries_std``
come from a selected inversion (Takahashi recurrence) within the envelope.

Uncertainty
-----------
``timeseries_std`` is ``sqrt(sigma0² · diag(N⁻¹))`` with sigma0² the a posteriori variance factor
of the weighted residuals, where the data determine every direction of the solution. Where the
model imposes one — the summed model shares ``n - trace(R)`` exceed 0.5: a network gap, dates
without data — the constraint's ``gamma`` only says how firmly the estimate follows the model, not
how well the model predicts the ground: propagated as is it gives an epoch after a gap the std
``~ sigma0 / gamma`` of the constraint (thousands of mm). There the constraint equations
``phi_i - F_i m = 0`` are treated as observations whose variance is that of the model misfit,
``s² = sum (phi_i - F_i m)² / (n_d - n_param)`` over the ``n_d`` data-determined epochs (model
share < 0.5), floored at the variance ``sigma0² / mean(w)`` of one interferogram (the model cannot
predict an epoch better than one interferogram measures it), and the covariance is
``sigma0² · (N_data + (sigma0² / s²) BᵀB)⁻¹`` (B: the constraint rows): the covariance of the
least-squares estimate with prior information of known variance (Koch 1999, *Parameter
Estimation and Hypothesis Testing in Linear Models*, estimation with prior information; here the
NSBAS constraint of Doin et al. 2011 is that prior). An epoch imposed by the model then has the
model's prediction uncertainty (misfit plus the uncertainty of the fitted model), and the offset
of a subset after a gap the uncertainty of the model fitted over that subset. The epochs the data
determine also gain the model's information there: their std is a few percent to ~10 % smaller
than the data alone give. Plain SBAS has no model misfit to weight: its regularised epochs keep
the std of the penalty.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import numba
import numpy as np
import numpy.typing as npt

from strata.insar.errors import NetworkError
from strata.insar.velocity import decimal_years, time_functions

__all__ = [
    "Inversion",
    "coherence_to_weight",
    "invert_nsbas",
    "invert_sbas",
]

F32 = npt.NDArray[np.float32]
NSBAS, SBAS = 0, 1
SBAS_PENALTY = 1e-6
"""Relative weight of the consecutive-velocity penalty of plain SBAS (vanishing: min-norm limit)."""
DETERMINED = 0.5
"""An epoch whose model share is below this is determined by the data (feeds the model misfit)."""
IMPOSED_RANK = 0.5
"""The model imposes a direction of the solution where the summed model shares exceed this."""


class Inversion(NamedTuple):
    """Result of a network inversion; spatial arrays keep the input's ``*spatial`` shape."""

    timeseries: F32
    """(n_date, *spatial) phase of each date relative to the first date (input units)."""
    timeseries_std: F32
    """(n_date, *spatial) one-sigma uncertainty of each epoch (0 at the first date; module docstring)."""
    model_share: F32
    """(n_date, *spatial) share of each epoch imposed by the model rather than the data, in [0, 1]."""
    model_parameters: F32
    """(n_param, *spatial) NSBAS temporal-model parameters (see ``parameter_names``); n_param = 0 for SBAS."""
    parameter_names: tuple[str, ...]
    """Names of the model parameters (``velocity``, ``intercept``, ...), per input unit and year."""
    residual_rms: F32
    """(*spatial) root mean square of the interferogram residuals (unweighted)."""
    temporal_coherence: F32
    """(*spatial) ``|mean(exp(j·residual))|`` over the interferograms used (Pepe & Lanari 2006)."""
    interferograms_used: npt.NDArray[np.int32]
    """(*spatial) number of interferograms that entered the inversion."""
    residual: F32 | None
    """(n_pair, *spatial) residual phase (NaN where unused) when ``return_residual``, else None."""


def coherence_to_weight(coherence: npt.ArrayLike, looks: float = 20.0) -> F32:
    """Inverse Cramér-Rao phase variance ``2 L γ² / (1 - γ²)`` of a coherence ``γ`` over ``L`` looks.

    Coherence is clipped to [0.05, 0.995]; NaN coherence gives NaN weight (equation dropped).
    """
    gamma = np.clip(np.asarray(coherence, dtype=np.float32), 0.05, 0.995)
    return np.asarray(2.0 * looks * gamma**2 / (1.0 - gamma**2), dtype=np.float32)


def _envelope(pairs: npt.NDArray[np.int64], n_date: int, kind: int) -> tuple[Any, Any, Any]:
    """Envelope of the reduced normal matrix (unknowns = dates 1..n-1) and its column structure.

    ``first[r]`` is the first column of row r inside the envelope; ``col_ptr``/``col_rows`` list,
    for each column j, the rows k > j whose envelope reaches j (the structure of L[:, j]).
    """
    n1 = n_date - 1
    first = np.arange(n1, dtype=np.int64)
    for ref, sec in pairs:
        if ref >= 1:
            first[sec - 1] = min(first[sec - 1], ref - 1)
    if kind == SBAS:
        first[1:] = np.minimum(first[1:], np.arange(n1 - 1))
    rows: list[list[int]] = [[] for _ in range(n1)]
    for k in range(n1):
        for j in range(int(first[k]), k):
            rows[j].append(k)
    col_ptr = np.zeros(n1 + 1, dtype=np.int64)
    col_ptr[1:] = np.cumsum([len(r) for r in rows])
    col_rows = np.array([k for r in rows for k in r], dtype=np.int64)
    return first, col_ptr, col_rows


@numba.njit(cache=True)
def _cholesky_envelope(a: Any, first: Any, n1: int) -> bool:
    """In-place envelope Cholesky (lower triangle of ``a`` becomes L); False if not positive."""
    for i in range(n1):
        fi = first[i]
        for j in range(fi, i + 1):
            s = a[i, j]
            for kk in range(max(fi, first[j]), j):
                s -= a[i, kk] * a[j, kk]
            if j < i:
                a[i, j] = s / a[j, j]
            elif s > 0.0:
                a[i, i] = np.sqrt(s)
            else:
                return False
    return True


@numba.njit(cache=True)
def _solve_envelope(lower: Any, first: Any, n1: int, x: Any) -> None:
    """Solve ``L Lᵀ x = b`` in place (``x`` holds b on entry)."""
    for i in range(n1):
        s = x[i]
        for kk in range(first[i], i):
            s -= lower[i, kk] * x[kk]
        x[i] = s / lower[i, i]
    for i in range(n1 - 1, -1, -1):
        x[i] /= lower[i, i]
        xi = x[i]
        for kk in range(first[i], i):
            x[kk] -= lower[i, kk] * xi


@numba.njit(cache=True)
def _selected_inverse(lower: Any, first: Any, col_ptr: Any, col_rows: Any, n1: int, z: Any) -> None:
    """Entries of ``(L Lᵀ)⁻¹`` inside the envelope (Takahashi recurrence), into ``z`` (lower)."""
    for j in range(n1 - 1, -1, -1):
        ljj = lower[j, j]
        # Rows i > j of column j first (descending), then the diagonal.
        for idx in range(col_ptr[j + 1] - 1, col_ptr[j] - 1, -1):
            i = col_rows[idx]
            s = 0.0
            for kidx in range(col_ptr[j], col_ptr[j + 1]):
                k = col_rows[kidx]
                s += lower[k, j] * (z[i, k] if i >= k else z[k, i])
            z[i, j] = -s / ljj
        s = 0.0
        for kidx in range(col_ptr[j], col_ptr[j + 1]):
            k = col_rows[kidx]
            s += lower[k, j] * z[k, j]
        z[j, j] = (1.0 / ljj - s) / ljj


@numba.njit(cache=True)
def _phasor(angle: float) -> tuple[float, float]:
    """``(cos, sin)`` of an angle, 3x faster than libm: Taylor series at a quarter angle, doubled twice.

    Absolute error below 1e-7 (temporal coherence needs far less).
    """
    r = angle - 2.0 * np.pi * np.floor(angle / (2.0 * np.pi) + 0.5)
    y = 0.25 * r
    y2 = y * y
    c = 1.0 - y2 * (1.0 / 2.0 - y2 * (1.0 / 24.0 - y2 * (1.0 / 720.0 - y2 * (1.0 / 40320.0))))
    s = y * (1.0 - y2 * (1.0 / 6.0 - y2 * (1.0 / 120.0 - y2 * (1.0 / 5040.0 - y2 / 362880.0))))
    c, s = c * c - s * s, 2.0 * c * s
    return c * c - s * s, 2.0 * c * s


@numba.njit(cache=True)
def _small_inverse(s: Any, inverse: Any, n: int) -> bool:
    """Inverse of the small SPD matrix ``s`` by Cholesky (``s`` is overwritten); False if singular."""
    for i in range(n):
        for j in range(i + 1):
            acc = s[i, j]
            for k in range(j):
                acc -= s[i, k] * s[j, k]
            if j < i:
                s[i, j] = acc / s[j, j]
            elif acc > 1e-12 * max(s[i, i], 1e-300) and acc > 0.0:
                s[i, i] = np.sqrt(acc)
            else:
                return False
    for col in range(n):
        for i in range(n):
            acc = 1.0 if i == col else 0.0
            for k in range(i):
                acc -= s[i, k] * inverse[k, col]
            inverse[i, col] = acc / s[i, i]
        for i in range(n - 1, -1, -1):
            acc = inverse[i, col]
            for k in range(i + 1, n):
                acc -= s[k, i] * inverse[k, col]
            inverse[i, col] = acc / s[i, i]
    return True


@numba.njit(cache=True)
def _normal_matrix(
    phase: Any,
    w: Any,
    pairs: Any,
    first: Any,
    n1: int,
    kind: int,
    path_coef: Any,
    reg: float,
    a: Any,
    x: Any,
) -> None:
    """Normal matrix (envelope, lower) of the data and the constraint into ``a``, right side into ``x``."""
    for i in range(n1):
        for jj in range(first[i], i + 1):
            a[i, jj] = 0.0
        x[i] = 0.0
    for p in range(pairs.shape[0]):
        wp = w[p]
        if wp > 0.0:
            r = pairs[p, 0] - 1
            c = pairs[p, 1] - 1
            wd = wp * phase[p]
            a[c, c] += wp
            x[c] += wd
            if r >= 0:
                a[r, r] += wp
                a[c, r] -= wp
                x[r] -= wd
    if kind == NSBAS:
        for i in range(n1):
            a[i, i] += reg
    else:
        for i in range(n1):
            cpath = reg * path_coef[i]
            a[i, i] += cpath
            if i >= 1:
                a[i - 1, i - 1] += cpath
                a[i, i - 1] -= cpath


@numba.njit(cache=True)
def _model_block(a: Any, first: Any, n1: int, model: Any, reg: float, y: Any, s: Any, sinv: Any) -> bool:
    """Model block of the factored phase block ``a``: ``y = A⁻¹ F[1:]``, ``sinv = (FᵀF - reg F[1:]ᵀ y)⁻¹``."""
    n_date, n_param = model.shape
    for q in range(n_param):
        for i in range(n1):
            y[i, q] = model[i + 1, q]
        _solve_envelope(a, first, n1, y[:, q])
    for q in range(n_param):
        for q2 in range(n_param):
            acc = 0.0
            for i in range(n_date):
                acc += model[i, q] * model[i, q2]
            for i in range(n1):
                acc -= reg * model[i + 1, q] * y[i, q2]
            s[q, q2] = acc
    return _small_inverse(s, sinv, n_param)


@numba.njit(cache=True)
def _phase_covariance(
    a: Any, first: Any, col_ptr: Any, col_rows: Any, n1: int, reg: float, y: Any, sinv: Any, ys: Any, z: Any
) -> None:
    """Phase block of the inverse of the full normal matrix, within the envelope, into ``z``.

    Selected inverse of the factored phase block ``a``, plus the model term ``reg · y S'⁻¹ yᵀ``
    (Schur complement of the model parameters).
    """
    n_param = y.shape[1]
    _selected_inverse(a, first, col_ptr, col_rows, n1, z)
    for i in range(n1):
        for q in range(n_param):
            acc = 0.0
            for q2 in range(n_param):
                acc += y[i, q2] * sinv[q2, q]
            ys[i, q] = acc
    for i in range(n1):
        for jj in range(first[i], i + 1):
            for q in range(n_param):
                z[i, jj] += reg * ys[i, q] * y[jj, q]


@numba.njit(cache=True, nogil=True)
def _invert_pixels(
    phase: Any,
    weight: Any,
    pairs: Any,
    first: Any,
    col_ptr: Any,
    col_rows: Any,
    model: Any,
    kind: int,
    path_coef: Any,
    gamma2: float,
    robust_iterations: int,
    robust_eps: float,
    min_used: int,
    out_ts: Any,
    out_var: Any,
    out_share: Any,
    out_params: Any,
    out_rms: Any,
    out_tcoh: Any,
    out_used: Any,
    out_resid: Any,
    write_resid: bool,
    start: int,
    stop: int,
) -> None:
    """Invert pixels ``start:stop`` (rows of ``phase``) into the ``out_*`` arrays; releases the GIL."""
    npix, n_pair = phase.shape
    n_date = model.shape[0]
    n_param = model.shape[1]
    n1 = n_date - 1
    a = np.zeros((n1, n1))
    z = np.zeros((n1, n1))
    x = np.zeros(n1)
    y = np.zeros((n1, n_param))
    ys = np.zeros((n1, n_param))
    s = np.zeros((n_param, n_param))
    sinv = np.zeros((n_param, n_param))
    m = np.zeros(n_param)
    ts = np.zeros(n_date)
    w0 = np.zeros(n_pair)
    w = np.zeros(n_pair)
    res = np.zeros(n_pair)
    share = np.zeros(n1)
    for pix in range(start, stop):
        used = 0
        wsum = 0.0
        for p in range(n_pair):
            d = phase[pix, p]
            wp = weight[pix, p]
            if np.isfinite(d) and np.isfinite(wp) and wp > 0.0:
                w0[p] = wp
                used += 1
                wsum += wp
            else:
                w0[p] = 0.0
            w[p] = w0[p]
        out_used[pix] = used
        ok = used >= max(min_used, 1)
        iterations = robust_iterations if robust_iterations > 0 else 0
        reg = 0.0
        for it in range(iterations + 1):
            if not ok:
                break
            if it > 0:
                wsum = 0.0
                for p in range(n_pair):
                    if w0[p] > 0.0:
                        w[p] = np.sqrt(w0[p]) / max(abs(res[p]), robust_eps)
                        wsum += w[p]
            reg = gamma2 * wsum / used
            _normal_matrix(phase[pix], w, pairs, first, n1, kind, path_coef, reg, a, x)
            ok = _cholesky_envelope(a, first, n1)
            if not ok:
                break
            _solve_envelope(a, first, n1, x)
            if n_param > 0:
                # m = S'⁻¹ F[1:]ᵀ x, then the phases x + reg·y m.
                ok = _model_block(a, first, n1, model, reg, y, s, sinv)
                if not ok:
                    break
                for q in range(n_param):
                    acc = 0.0
                    for q2 in range(n_param):
                        for i in range(n1):
                            acc += sinv[q, q2] * model[i + 1, q2] * x[i]
                    m[q] = acc
                for i in range(n1):
                    for q in range(n_param):
                        x[i] += reg * y[i, q] * m[q]
            ts[0] = 0.0
            for i in range(n1):
                ts[i + 1] = x[i]
            for p in range(n_pair):
                if w0[p] > 0.0:
                    res[p] = phase[pix, p] - (ts[pairs[p, 1]] - ts[pairs[p, 0]])
        if not ok:
            for i in range(n_date):
                out_ts[pix, i] = np.nan
                out_var[pix, i] = np.nan
                out_share[pix, i] = np.nan
            for q in range(n_param):
                out_params[pix, q] = np.nan
            out_rms[pix] = np.nan
            out_tcoh[pix] = np.nan
            if write_resid:
                for p in range(n_pair):
                    out_resid[pix, p] = np.nan
            continue
        _phase_covariance(a, first, col_ptr, col_rows, n1, reg, y, sinv, ys, z)
        for i in range(n1):
            share[i] = 0.0
        sq = 0.0
        wr2 = 0.0
        cre = 0.0
        cim = 0.0
        for p in range(n_pair):
            if w0[p] > 0.0:
                r = pairs[p, 0] - 1
                c = pairs[p, 1] - 1
                rp = res[p]
                sq += rp * rp
                wr2 += w[p] * rp * rp
                cos_rp, sin_rp = _phasor(rp)
                cre += cos_rp
                cim += sin_rp
                if write_resid:
                    out_resid[pix, p] = rp
                if r >= 0:
                    share[r] += w[p] * (z[r, r] - z[c, r])
                    share[c] += w[p] * (z[c, c] - z[c, r])
                else:
                    share[c] += w[p] * z[c, c]
            elif write_resid:
                out_resid[pix, p] = np.nan
        trace = 0.0
        for i in range(n1):
            trace += share[i]
        sigma2 = wr2 / max(used - trace, 1.0)
        out_ts[pix, 0] = 0.0
        out_var[pix, 0] = 0.0
        out_share[pix, 0] = 0.0
        for i in range(n1):
            out_ts[pix, i + 1] = ts[i + 1]
            out_var[pix, i + 1] = sigma2 * z[i, i]
            out_share[pix, i + 1] = min(max(1.0 - share[i], 0.0), 1.0)
        for q in range(n_param):
            out_params[pix, q] = m[q]
        if n_param > 0 and sigma2 > 0.0 and n1 - trace > IMPOSED_RANK:
            # The model imposes a direction (a gap): covariance with the constraint weighted by the
            # inverse variance of the model misfit over the data-determined epochs.
            misfit = 0.0
            determined = 0
            for i in range(n_date):
                if out_share[pix, i] < DETERMINED:
                    predicted = 0.0
                    for q in range(n_param):
                        predicted += model[i, q] * m[q]
                    misfit += (ts[i] - predicted) ** 2
                    determined += 1
            floor = sigma2 * used / wsum
            reg_model = sigma2 / max(misfit / max(determined - n_param, 1), floor)
            _normal_matrix(phase[pix], w, pairs, first, n1, kind, path_coef, reg_model, a, x)
            if _cholesky_envelope(a, first, n1) and _model_block(a, first, n1, model, reg_model, y, s, sinv):
                _phase_covariance(a, first, col_ptr, col_rows, n1, reg_model, y, sinv, ys, z)
                for i in range(n1):
                    out_var[pix, i + 1] = sigma2 * z[i, i]
        for i in range(n_date):
            out_var[pix, i] = np.sqrt(max(out_var[pix, i], 0.0))
        out_rms[pix] = np.sqrt(sq / used)
        out_tcoh[pix] = np.sqrt(cre * cre + cim * cim) / used


def _invert(
    phase: npt.ArrayLike,
    pairs: npt.ArrayLike,
    dates: npt.ArrayLike,
    *,
    kind: int,
    weight: npt.ArrayLike | None,
    seasonal: bool,
    steps: Sequence[np.datetime64],
    gamma: float,
    robust: bool,
    robust_iterations: int,
    robust_eps: float,
    min_interferograms: int,
    return_residual: bool,
    threads: int | None,
) -> Inversion:
    data = np.asarray(phase)
    index = np.asarray(pairs, dtype=np.int64)
    days = np.asarray(dates, dtype="datetime64[D]")
    n_date = days.shape[0]
    if n_date < 2:
        raise NetworkError("an inversion needs at least 2 dates")
    if np.any(np.diff(days) <= np.timedelta64(0, "D")):
        raise NetworkError("dates must be sorted and unique")
    if index.ndim != 2 or index.shape[1] != 2 or index.shape[0] != data.shape[0]:
        raise NetworkError(f"pairs must be (n_pair, 2) with n_pair = {data.shape[0]}, got {index.shape}")
    if np.any(index[:, 0] >= index[:, 1]) or index.min() < 0 or index.max() >= n_date:
        raise NetworkError("pairs must index dates with reference < secondary")
    spatial = data.shape[1:]
    n_pair = index.shape[0]
    flat = np.ascontiguousarray(data.reshape(n_pair, -1).T, dtype=np.float32)
    npix = flat.shape[0]
    if weight is None:
        weights = np.ones_like(flat)
    else:
        w = np.asarray(weight, dtype=np.float32)
        if w.shape == (n_pair,):
            weights = np.ascontiguousarray(np.broadcast_to(w, flat.shape))
        elif w.shape == data.shape:
            weights = np.ascontiguousarray(w.reshape(n_pair, -1).T)
        else:
            raise NetworkError(f"weight shape {w.shape} matches neither (n_pair,) nor {data.shape}")
    if kind == NSBAS:
        functions = time_functions(days, seasonal=seasonal, steps=steps)
        model, names = functions.matrix, functions.names
    else:
        model, names = np.zeros((n_date, 0)), ()
    # Penalty of plain SBAS on the velocity between consecutive dates (1 / dt², dt in years).
    path_coef = 1.0 / np.diff(decimal_years(days)) ** 2
    first, col_ptr, col_rows = _envelope(index, n_date, kind)
    n_param = model.shape[1]
    out_ts = np.empty((npix, n_date), dtype=np.float32)
    out_var = np.empty((npix, n_date), dtype=np.float32)
    out_share = np.empty((npix, n_date), dtype=np.float32)
    out_params = np.empty((npix, n_param), dtype=np.float32)
    out_rms = np.empty(npix, dtype=np.float32)
    out_tcoh = np.empty(npix, dtype=np.float32)
    out_used = np.empty(npix, dtype=np.int32)
    out_resid = np.empty((npix, n_pair) if return_residual else (0, n_pair), dtype=np.float32)
    relative = gamma**2 if kind == NSBAS else SBAS_PENALTY * np.mean(np.diff(decimal_years(days))) ** 2
    arguments = (
        flat,
        weights,
        index,
        first,
        col_ptr,
        col_rows,
        np.ascontiguousarray(model, dtype=np.float64),
        kind,
        path_coef,
        float(relative),
        robust_iterations if robust else 0,
        float(robust_eps),
        int(min_interferograms),
        out_ts,
        out_var,
        out_share,
        out_params,
        out_rms,
        out_tcoh,
        out_used,
        out_resid,
        return_residual,
    )
    # The compiled kernel releases the GIL: blocks of pixels run in parallel threads.
    workers = max(1, min(threads or os.cpu_count() or 1, npix // 64))
    bounds = np.linspace(0, npix, workers + 1).astype(np.int64)
    if workers == 1:
        _invert_pixels(*arguments, 0, npix)
    else:
        with ThreadPoolExecutor(workers) as pool:
            for future in [
                pool.submit(_invert_pixels, *arguments, int(bounds[b]), int(bounds[b + 1]))
                for b in range(workers)
            ]:
                future.result()

    def cube(values: F32, count: int) -> F32:
        return np.ascontiguousarray(values.T).reshape((count, *spatial))

    return Inversion(
        timeseries=cube(out_ts, n_date),
        timeseries_std=cube(out_var, n_date),
        model_share=cube(out_share, n_date),
        model_parameters=cube(out_params, n_param),
        parameter_names=names,
        residual_rms=out_rms.reshape(spatial),
        temporal_coherence=out_tcoh.reshape(spatial),
        interferograms_used=out_used.reshape(spatial),
        residual=cube(out_resid, n_pair) if return_residual else None,
    )


def invert_nsbas(
    phase: npt.ArrayLike,
    pairs: npt.ArrayLike,
    dates: npt.ArrayLike,
    *,
    weight: npt.ArrayLike | None = None,
    seasonal: bool = False,
    steps: Sequence[np.datetime64] = (),
    gamma: float = 1e-4,
    robust: bool = False,
    robust_iterations: int = 10,
    robust_eps: float = 1e-2,
    min_interferograms: int = 1,
    return_residual: bool = False,
    threads: int | None = None,
) -> Inversion:
    """NSBAS inversion of a stack of unwrapped interferograms, per pixel.

    Parameters
    ----------
    phase
        (n_pair, *spatial) unwrapped phase (rad) referenced to a common pixel; NaN = missing.
    pairs
        (n_pair, 2) date indices (reference, secondary) of each interferogram.
    dates
        (n_date,) sorted acquisition dates.
    weight
        (n_pair, *spatial) or (n_pair,) inverse phase variance (:func:`coherence_to_weight`);
        ``None`` for equal weights.
    seasonal
        Add annual sin/cos terms to the temporal model of the constraint.
    steps
        Dates of steps (e.g. earthquakes) in the temporal model.
    gamma
        Weight of the temporal constraint relative to the mean data weight of the pixel (LiCSBAS
        and GIAnT use 1e-4).
    robust
        Solve the weighted L1 problem by IRLS (resists outlier interferograms).
    robust_iterations
        IRLS iterations when ``robust``.
    robust_eps
        Floor of ``|residual|`` in the IRLS weights (input units).
    min_interferograms
        Pixels with fewer usable interferograms are NaN.
    return_residual
        Also return the (n_pair, *spatial) residuals.
    threads
        Threads over blocks of pixels (default: the CPU count); use 1 inside an outer parallel
        map (e.g. dask workers).

    Returns
    -------
    Inversion
        Time series, uncertainty, model share per epoch, model parameters, residual RMS, temporal
        coherence, interferograms used.
    """
    return _invert(
        phase,
        pairs,
        dates,
        kind=NSBAS,
        weight=weight,
        seasonal=seasonal,
        steps=steps,
        gamma=gamma,
        robust=robust,
        robust_iterations=robust_iterations,
        robust_eps=robust_eps,
        min_interferograms=min_interferograms,
        return_residual=return_residual,
        threads=threads,
    )


def invert_sbas(
    phase: npt.ArrayLike,
    pairs: npt.ArrayLike,
    dates: npt.ArrayLike,
    *,
    weight: npt.ArrayLike | None = None,
    robust: bool = False,
    robust_iterations: int = 10,
    robust_eps: float = 1e-2,
    min_interferograms: int = 1,
    return_residual: bool = False,
    threads: int | None = None,
) -> Inversion:
    """Plain weighted SBAS (MintPy-like minimum-norm velocity), for comparison with NSBAS.

    Same parameters and result as :func:`invert_nsbas`, without temporal model: across a network
    gap the velocity is minimum-norm (zero), as MintPy's SVD solution, and ``model_share`` then
    reports how much of each epoch this regularisation imposed.
    """
    return _invert(
        phase,
        pairs,
        dates,
        kind=SBAS,
        weight=weight,
        seasonal=False,
        steps=(),
        gamma=0.0,
        robust=robust,
        robust_iterations=robust_iterations,
        robust_eps=robust_eps,
        min_interferograms=min_interferograms,
        return_residual=return_residual,
        threads=threads,
    )
