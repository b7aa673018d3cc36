import warnings

import numpy as np
import pytest

from strata.insar.errors import NetworkError, NetworkGapWarning
from strata.insar.network import (
    build_network,
    connectivity,
    date_baselines,
    filter_pairs,
    incidence_matrix,
    increment_matrix,
    pair_indices,
    triplets,
    warn_gaps,
)

DATES = np.datetime64("2022-01-01") + np.arange(20) * 12


def test_pair_indices_from_pair_dates():
    reference = DATES[[0, 0, 1, 3]]
    secondary = DATES[[1, 2, 3, 5]]
    index = pair_indices(reference, secondary)
    np.testing.assert_array_equal(index.dates, DATES[[0, 1, 2, 3, 5]])
    np.testing.assert_array_equal(index.pairs, [[0, 1], [0, 2], [1, 3], [3, 4]])
    with pytest.raises(NetworkError):
        pair_indices(secondary, reference)


def test_n_nearest_network():
    pairs = build_network(DATES, n_nearest=3)
    assert len(pairs) == 3 * 20 - 6
    assert np.all(pairs[:, 1] - pairs[:, 0] <= 3)
    assert connectivity(pairs, DATES).n_components == 1


def test_thresholds_and_spanning():
    rng = np.random.default_rng(0)
    bperp = rng.normal(0.0, 100.0, 20)
    bperp[10:] += 1000.0  # an orbit change: no short perpendicular baseline across date 10
    kept = build_network(
        DATES, perpendicular_baseline=bperp, max_perpendicular_baseline=150.0, spanning=False
    )
    assert np.all(np.abs(bperp[kept[:, 1]] - bperp[kept[:, 0]]) <= 150.0)
    assert connectivity(kept, DATES).n_components >= 2
    spanning = build_network(DATES, perpendicular_baseline=bperp, max_perpendicular_baseline=150.0)
    assert connectivity(spanning, DATES).n_components == 1
    added = {tuple(p) for p in spanning} - {tuple(p) for p in kept}
    # The link across the orbit change is the shortest temporal one, 9 -> 10.
    assert (9, 10) in added
    temporal = build_network(DATES, max_temporal_baseline=30.0)
    assert np.all((DATES[temporal[:, 1]] - DATES[temporal[:, 0]]).astype(int) <= 30)
    assert connectivity(temporal, DATES).n_components == 1


def test_filter_keeps_a_spanning_tree():
    pairs = build_network(DATES, n_nearest=2)
    coherence = np.full(len(pairs), 0.6)
    sequential = pairs[:, 1] - pairs[:, 0] == 1
    coherence[sequential] = 0.1  # all short pairs are poor
    coherence[np.flatnonzero(~sequential)[-1]] = 0.05
    keep = filter_pairs(pairs, 20, mean_coherence=coherence, min_coherence=0.3)
    assert connectivity(pairs[keep], DATES).n_components == 1
    assert keep[~sequential][:-1].all()
    strict = filter_pairs(pairs, 20, mean_coherence=coherence, min_coherence=0.3, keep_spanning=False)
    assert connectivity(pairs[strict], DATES).n_components > 1
    coverage = np.ones(len(pairs))
    coverage[0] = 0.1
    keep_cover = filter_pairs(pairs, 20, coverage=coverage, min_coverage=0.3, keep_spanning=False)
    assert not keep_cover[0] and keep_cover[1:].all()


def test_connectivity_reports_gaps_and_warns():
    pairs = build_network(DATES, n_nearest=2)
    split = pairs[~((pairs[:, 0] <= 7) & (pairs[:, 1] >= 8))]
    report = connectivity(split, DATES)
    assert report.n_components == 2
    np.testing.assert_array_equal(report.gap_index, [7])
    assert report.gaps == ((DATES[7], DATES[8]),)
    assert report.component[7] == 0 and report.component[8] == 1
    with pytest.warns(NetworkGapWarning, match=str(DATES[7])):
        warn_gaps(report)
    isolated = pairs[~np.any(pairs == 5, axis=1)]
    assert connectivity(isolated, DATES).isolated.tolist() == [DATES[5]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_gaps(connectivity(pairs, DATES))


def test_design_matrices():
    pairs = np.array([[0, 1], [0, 3], [1, 2]])
    incidence = incidence_matrix(pairs, 4)
    np.testing.assert_array_equal(incidence, [[-1, 1, 0, 0], [-1, 0, 0, 1], [0, -1, 1, 0]])
    increments = increment_matrix(pairs, 4)
    np.testing.assert_array_equal(increments, [[1, 0, 0], [1, 1, 1], [0, 1, 0]])
    # Both forms describe the same phases: increments are successive differences of dates.
    phases = np.array([0.0, 1.0, 3.0, 6.0])
    np.testing.assert_allclose(incidence @ phases, increments @ np.diff(phases))
    with pytest.raises(NetworkError):
        incidence_matrix([[1, 0]], 4)


def test_triplets_close_on_consistent_phases():
    pairs = build_network(DATES[:6], n_nearest=3)
    loops = triplets(pairs)
    assert len(loops) > 0
    phases = np.random.default_rng(1).normal(size=6)
    phase = phases[pairs[:, 1]] - phases[pairs[:, 0]]
    np.testing.assert_allclose(phase[loops[:, 0]] + phase[loops[:, 1]] - phase[loops[:, 2]], 0, atol=1e-12)
    for ij, jk, ik in loops:
        assert pairs[ij, 1] == pairs[jk, 0]
        assert pairs[ij, 0] == pairs[ik, 0] and pairs[jk, 1] == pairs[ik, 1]


def test_date_baselines_from_pairs():
    truth = np.random.default_rng(2).normal(0.0, 80.0, 20)
    truth -= truth[0]
    pairs = build_network(DATES, n_nearest=2)
    np.testing.assert_allclose(date_baselines(pairs, truth[pairs[:, 1]] - truth[pairs[:, 0]], 20), truth)
