"""Small-baseline interferogram networks: selection, quality filters, connectivity, design matrices.

A network is an (n_pair, 2) integer array of date indices ``(reference, secondary)`` with
reference < secondary, into a sorted array of unique dates. Public functions:

- :func:`pair_indices` — dates and index pairs from the reference/secondary dates of a stack;
- :func:`build_network` — pairs from dates (and perpendicular baselines per date): n-nearest
  sequential, temporal and perpendicular thresholds, always spanning (the shortest connecting
  pairs are added when the thresholds leave several components);
- :func:`filter_pairs` — drop pairs of low mean coherence or coverage, keeping a
  maximum-coherence spanning tree so that filtering never disconnects the network;
- :func:`connectivity` — components and temporal gaps (:class:`Connectivity`);
  :func:`warn_gaps` turns gaps into a :class:`~strata.insar.errors.NetworkGapWarning`;
- :func:`incidence_matrix` (pairs × dates, -1/+1) and :func:`increment_matrix` (pairs × date
  increments, the SBAS/NSBAS form); :func:`triplets` lists closed loops of three pairs;
- :func:`date_baselines` — per-date perpendicular baselines from per-pair ones.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from strata.insar.errors import NetworkError, NetworkGapWarning

__all__ = [
    "Connectivity",
    "PairIndex",
    "build_network",
    "connectivity",
    "date_baselines",
    "filter_pairs",
    "incidence_matrix",
    "increment_matrix",
    "pair_indices",
    "triplets",
    "warn_gaps",
]

IntArray = npt.NDArray[np.int64]
DateArray = npt.NDArray[np.datetime64]


class PairIndex(NamedTuple):
    """Dates of a stack and its pairs as indices into them."""

    dates: DateArray
    """(n_date,) sorted unique dates (``datetime64[D]``)."""
    pairs: IntArray
    """(n_pair, 2) indices of (reference, secondary) in ``dates``."""


class Connectivity(NamedTuple):
    """Connectivity report of a network."""

    n_components: int
    """Number of connected components (1 for a connected network)."""
    component: IntArray
    """(n_date,) component label of each date, numbered in order of their first date."""
    gap_index: IntArray
    """Indices i such that no pair spans the interval from date i to date i + 1."""
    gaps: tuple[tuple[np.datetime64, np.datetime64], ...]
    """Each temporal gap as (last date before, first date after)."""
    isolated: DateArray
    """Dates that appear in no pair."""


def pair_indices(reference: npt.ArrayLike, secondary: npt.ArrayLike) -> PairIndex:
    """Sorted unique dates and (n_pair, 2) index pairs from per-pair reference and secondary dates."""
    ref = np.asarray(reference, dtype="datetime64[D]")
    sec = np.asarray(secondary, dtype="datetime64[D]")
    if ref.shape != sec.shape or ref.ndim != 1:
        raise NetworkError("reference and secondary must be 1-D arrays of the same length")
    if np.any(sec <= ref):
        raise NetworkError("every pair needs its secondary date after its reference date")
    dates = np.unique(np.concatenate([ref, sec]))
    pairs = np.stack([np.searchsorted(dates, ref), np.searchsorted(dates, sec)], axis=1).astype(np.int64)
    return PairIndex(dates, pairs)


def _check_pairs(pairs: npt.ArrayLike, n_date: int) -> IntArray:
    index = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if index.size and (np.any(index[:, 0] >= index[:, 1]) or index.min() < 0 or index.max() >= n_date):
        raise NetworkError(f"pairs must index {n_date} dates with reference < secondary")
    return index


class _UnionFind:
    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, item: int) -> int:
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def union(self, a: int, b: int) -> bool:
        root_a, root_b = self.find(a), self.find(b)
        if root_a == root_b:
            return False
        self.parent[max(root_a, root_b)] = min(root_a, root_b)
        return True


def _span(selected: IntArray, candidates: IntArray, n_date: int) -> IntArray:
    """Add candidates, in their order, that join different components of ``selected`` (Kruskal)."""
    groups = _UnionFind(n_date)
    for ref, sec in selected:
        groups.union(int(ref), int(sec))
    added = [pair for pair in candidates if groups.union(int(pair[0]), int(pair[1]))]
    if not added:
        return selected
    return np.concatenate([selected, np.asarray(added, dtype=np.int64).reshape(-1, 2)])


def build_network(
    dates: npt.ArrayLike,
    *,
    perpendicular_baseline: npt.ArrayLike | None = None,
    max_temporal_baseline: float | None = None,
    max_perpendicular_baseline: float | None = None,
    n_nearest: int | None = None,
    spanning: bool = True,
) -> IntArray:
    """Select small-baseline pairs among dates.

    A pair (i, j) is kept when every given criterion holds: ``j - i <= n_nearest`` (sequential
    neighbours), temporal baseline ``<= max_temporal_baseline`` days, ``|B⊥_j - B⊥_i| <=
    max_perpendicular_baseline`` metres. With ``spanning``, when the kept pairs leave several
    components, the shortest connecting pairs (temporal baseline first, then perpendicular) are
    added until the network is connected.

    Parameters
    ----------
    dates
        (n_date,) sorted unique acquisition dates.
    perpendicular_baseline
        (n_date,) perpendicular baseline of each date relative to a common reference (m).
    max_temporal_baseline
        Longest temporal baseline in days.
    max_perpendicular_baseline
        Longest perpendicular baseline in metres (needs ``perpendicular_baseline``).
    n_nearest
        Each date pairs with its ``n_nearest`` following dates.
    spanning
        Add the shortest connecting pairs when the selection is disconnected.

    Returns
    -------
    numpy.ndarray
        (n_pair, 2) date indices sorted by reference then secondary.
    """
    days = np.asarray(dates, dtype="datetime64[D]")
    n_date = days.shape[0]
    if n_date < 2 or np.any(np.diff(days) <= np.timedelta64(0, "D")):
        raise NetworkError("a network needs at least 2 sorted unique dates")
    ref, sec = np.triu_indices(n_date, k=1)
    temporal = (days[sec] - days[ref]).astype(np.float64)
    if perpendicular_baseline is None:
        if max_perpendicular_baseline is not None:
            raise NetworkError("max_perpendicular_baseline needs perpendicular_baseline")
        perpendicular = np.zeros_like(temporal)
    else:
        bperp = np.asarray(perpendicular_baseline, dtype=np.float64)
        if bperp.shape != (n_date,):
            raise NetworkError(f"perpendicular_baseline must have one value per date ({n_date})")
        perpendicular = np.abs(bperp[sec] - bperp[ref])
    keep = np.ones(temporal.shape, dtype=bool)
    if n_nearest is not None:
        keep &= (sec - ref) <= n_nearest
    if max_temporal_baseline is not None:
        keep &= temporal <= max_temporal_baseline
    if max_perpendicular_baseline is not None:
        keep &= perpendicular <= max_perpendicular_baseline
    candidates = np.stack([ref, sec], axis=1).astype(np.int64)
    selected = candidates[keep]
    if spanning:
        rest = np.flatnonzero(~keep)
        order = rest[np.lexsort((perpendicular[rest], temporal[rest]))]
        selected = _span(selected, candidates[order], n_date)
    return selected[np.lexsort((selected[:, 1], selected[:, 0]))]


def filter_pairs(
    pairs: npt.ArrayLike,
    n_date: int,
    *,
    mean_coherence: npt.ArrayLike | None = None,
    coverage: npt.ArrayLike | None = None,
    min_coherence: float = 0.0,
    min_coverage: float = 0.0,
    keep_spanning: bool = True,
) -> npt.NDArray[np.bool_]:
    """Mask of the pairs that pass the quality filters.

    Parameters
    ----------
    pairs
        (n_pair, 2) date indices.
    n_date
        Number of dates.
    mean_coherence
        (n_pair,) spatial mean coherence of each interferogram.
    coverage
        (n_pair,) share of pixels with unwrapped data, in [0, 1].
    min_coherence, min_coverage
        Pairs below either threshold are dropped (LiCSBAS defaults are 0.05 and 0.3).
    keep_spanning
        Keep the pairs of a maximum-coherence spanning forest of the input network (as MintPy
        keeps its minimum spanning tree), so filtering never disconnects what was connected.

    Returns
    -------
    numpy.ndarray
        (n_pair,) boolean, True for pairs kept.
    """
    index = _check_pairs(pairs, n_date)
    n_pair = index.shape[0]
    keep = np.ones(n_pair, dtype=bool)
    quality = np.ones(n_pair)
    if mean_coherence is not None:
        quality = np.nan_to_num(np.asarray(mean_coherence, dtype=np.float64), nan=0.0)
        if quality.shape != (n_pair,):
            raise NetworkError("mean_coherence needs one value per pair")
        keep &= quality >= min_coherence
    if coverage is not None:
        cover = np.nan_to_num(np.asarray(coverage, dtype=np.float64), nan=0.0)
        if cover.shape != (n_pair,):
            raise NetworkError("coverage needs one value per pair")
        keep &= cover >= min_coverage
        quality = quality * np.maximum(cover, 1e-6)
    if keep_spanning and not keep.all():
        groups = _UnionFind(n_date)
        for ref, sec in index[keep]:
            groups.union(int(ref), int(sec))
        for p in np.flatnonzero(~keep)[np.argsort(-quality[~keep], kind="stable")]:
            if groups.union(int(index[p, 0]), int(index[p, 1])):
                keep[p] = True
    return keep


def connectivity(pairs: npt.ArrayLike, dates: npt.ArrayLike) -> Connectivity:
    """Components and temporal gaps of a network.

    A temporal gap is an interval between consecutive dates that no pair spans; it disconnects
    the network. Components may also interleave in time without a gap.
    """
    days = np.asarray(dates, dtype="datetime64[D]")
    n_date = days.shape[0]
    index = _check_pairs(pairs, n_date)
    groups = _UnionFind(n_date)
    for ref, sec in index:
        groups.union(int(ref), int(sec))
    roots = np.array([groups.find(i) for i in range(n_date)])
    _, label = np.unique(roots, return_inverse=True)
    # Relabel components in order of their first date (roots are the smallest index already).
    component = label.astype(np.int64)
    coverage = np.zeros(n_date + 1, dtype=np.int64)
    np.add.at(coverage, index[:, 0], 1)
    np.add.at(coverage, index[:, 1], -1)
    spanned = np.cumsum(coverage)[: n_date - 1]
    gap_index = np.flatnonzero(spanned == 0).astype(np.int64)
    used = np.zeros(n_date, dtype=bool)
    used[index.ravel()] = True
    return Connectivity(
        n_components=int(component.max()) + 1 if n_date else 0,
        component=component,
        gap_index=gap_index,
        gaps=tuple((days[i], days[i + 1]) for i in gap_index),
        isolated=days[~used],
    )


def warn_gaps(report: Connectivity) -> None:
    """Issue a :class:`NetworkGapWarning` naming the gap dates when the network is disconnected."""
    if report.n_components <= 1:
        return
    gaps = ", ".join(f"{before}..{after}" for before, after in report.gaps) or "none (interleaved)"
    warnings.warn(
        f"interferogram network has {report.n_components} disconnected subsets; "
        f"temporal gaps between dates: {gaps}",
        NetworkGapWarning,
        stacklevel=2,
    )


def incidence_matrix(pairs: npt.ArrayLike, n_date: int) -> npt.NDArray[np.float64]:
    """(n_pair, n_date) matrix with -1 at the reference date and +1 at the secondary date."""
    index = _check_pairs(pairs, n_date)
    matrix = np.zeros((index.shape[0], n_date))
    rows = np.arange(index.shape[0])
    matrix[rows, index[:, 0]] = -1.0
    matrix[rows, index[:, 1]] = 1.0
    return matrix


def increment_matrix(pairs: npt.ArrayLike, n_date: int) -> npt.NDArray[np.float64]:
    """(n_pair, n_date - 1) matrix of the increments between consecutive dates each pair spans."""
    index = _check_pairs(pairs, n_date)
    steps = np.arange(n_date - 1)
    return ((steps >= index[:, :1]) & (steps < index[:, 1:])).astype(np.float64)


def triplets(pairs: npt.ArrayLike) -> IntArray:
    """(n_triplet, 3) pair indices (ij, jk, ik) of every closed loop of three pairs i < j < k.

    The closure phase of a triplet is ``phase[ij] + phase[jk] - phase[ik]``.
    """
    index = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    lookup = {(int(r), int(s)): p for p, (r, s) in enumerate(index)}
    by_reference: dict[int, list[tuple[int, int]]] = {}
    for p, (r, s) in enumerate(index):
        by_reference.setdefault(int(r), []).append((int(s), p))
    loops = [
        (ij, jk, lookup[(i, k)])
        for (i, j), ij in lookup.items()
        for k, jk in by_reference.get(j, [])
        if (i, k) in lookup
    ]
    return np.asarray(loops, dtype=np.int64).reshape(-1, 3)


def date_baselines(
    pairs: npt.ArrayLike, perpendicular_baseline: npt.ArrayLike, n_date: int
) -> npt.NDArray[np.float64]:
    """Per-date perpendicular baselines (first date = 0) from per-pair ones ``B[sec] - B[ref]``.

    Least squares over the network; in a disconnected network each later subset gets the
    minimum-norm offset.
    """
    index = _check_pairs(pairs, n_date)
    values = np.asarray(perpendicular_baseline, dtype=np.float64)
    if values.shape != (index.shape[0],):
        raise NetworkError("perpendicular_baseline needs one value per pair")
    solution = np.linalg.lstsq(incidence_matrix(index, n_date)[:, 1:], values, rcond=None)[0]
    return np.concatenate([[0.0], solution])
