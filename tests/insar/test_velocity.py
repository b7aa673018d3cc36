import numpy as np
import pytest

from strata.insar.errors import InsarError
from strata.insar.velocity import bootstrap_velocity, decimal_years, fit_velocity, time_functions

DATES = np.datetime64("2020-01-01") + np.arange(60) * 12
T = decimal_years(DATES)


def series(npix=3000, noise=2.0, seed=0, seasonal=0.0, step=0.0):
    rng = np.random.default_rng(seed)
    velocity = rng.uniform(-30.0, 30.0, npix)
    values = T[:, None] * velocity + seasonal * np.cos(2 * np.pi * T)[:, None]
    values = values + step * (DATES >= np.datetime64("2021-01-01"))[:, None]
    return values + rng.normal(0.0, noise, (DATES.size, npix)), velocity


def test_time_functions_columns():
    functions = time_functions(DATES, seasonal=True, steps=[np.datetime64("2021-01-01")])
    assert functions.names == ("velocity", "intercept", "annual_sin", "annual_cos", "step_20210101")
    np.testing.assert_allclose(functions.matrix[:, 0], T)
    assert functions.matrix[0, 0] == 0 and T[-1] == pytest.approx(59 * 12 / 365.25)
    step = functions.matrix[:, 4]
    assert step[DATES < np.datetime64("2021-01-01")].sum() == 0 and step[-1] == 1


def test_linear_fit_and_propagated_uncertainty():
    values, velocity = series()
    fit = fit_velocity(values.reshape(DATES.size, 30, 100), DATES)
    assert fit.velocity.shape == (30, 100)
    error = fit.velocity.ravel() - velocity
    # The propagated one-sigma matches the actual scatter of the estimates.
    assert np.std(error) / np.mean(fit.velocity_std) == pytest.approx(1.0, abs=0.1)
    assert np.mean(fit.residual_rms) == pytest.approx(2.0, rel=0.05)
    assert np.all(fit.epochs_used == DATES.size)
    covariance = fit_velocity(
        values, DATES, timeseries_std=np.full(DATES.size, 2.0), uncertainty="covariance"
    )
    assert np.mean(covariance.velocity_std) == pytest.approx(np.mean(fit.velocity_std), rel=0.05)
    with pytest.raises(InsarError):
        fit_velocity(values, DATES, uncertainty="covariance")
    with pytest.raises(InsarError):
        fit_velocity(values[:-1], DATES)


def test_seasonal_and_step_terms():
    values, velocity = series(seasonal=5.0, step=10.0, noise=0.5, seed=1)
    linear = fit_velocity(values, DATES)
    full = fit_velocity(values, DATES, seasonal=True, steps=[np.datetime64("2021-01-01")])
    assert np.sqrt(np.mean((full.velocity - velocity) ** 2)) < 1.2 * np.mean(full.velocity_std)
    assert np.sqrt(np.mean((linear.velocity - velocity) ** 2)) > 1.0
    np.testing.assert_allclose(full.annual_amplitude, 5.0, atol=0.5)
    step = full.parameters[full.names.index("step_20210101")]
    assert np.sqrt(np.mean((step - 10.0) ** 2)) < 0.5


def test_missing_epochs_and_weights():
    values, velocity = series(seed=2)
    values[np.random.default_rng(2).random(values.shape) < 0.2] = np.nan
    values[:, 0] = np.nan
    values[:3, 1] = 0.0
    values[3:, 1] = np.nan
    fit = fit_velocity(values, DATES)
    assert np.isnan(fit.velocity[0]) and fit.epochs_used[0] == 0
    assert fit.epochs_used[1] == 3
    ok = slice(2, None)
    assert np.sqrt(np.mean((fit.velocity[ok] - velocity[ok]) ** 2)) < 1.0
    # An epoch with a huge std (imposed by a model) does not pull the fit.
    spoiled = values.copy()
    spoiled[30] += 100.0
    std = np.ones(DATES.size)
    std[30] = 1e6
    weighted = fit_velocity(spoiled, DATES, timeseries_std=std)
    dropped = values.copy()
    dropped[30] = np.nan
    np.testing.assert_allclose(weighted.velocity[ok], fit_velocity(dropped, DATES).velocity[ok], atol=1e-3)


def test_bootstrap_is_seeded_and_matches_propagation():
    values, _ = series(npix=500, seed=3)
    first = bootstrap_velocity(values, DATES, samples=200, seed=7)
    second = bootstrap_velocity(values, DATES, samples=200, seed=7)
    np.testing.assert_array_equal(first.velocity_std, second.velocity_std)
    assert first.samples == 200
    propagated = fit_velocity(values, DATES).velocity_std
    assert np.mean(first.velocity_std) / np.mean(propagated) == pytest.approx(1.0, abs=0.15)
    with pytest.raises(InsarError):
        bootstrap_velocity(values, DATES, samples=1)
