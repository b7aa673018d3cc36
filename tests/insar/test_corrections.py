import numpy as np
import pytest

from strata.insar.corrections import (
    apply_reference,
    deramp,
    estimate_dem_error,
    phase_elevation,
    pixel_of,
    select_reference,
)
from strata.insar.errors import InsarError

ROWS, COLS = 40, 50
YY, XX = np.mgrid[0:ROWS, 0:COLS].astype(np.float64)
DATES = np.datetime64("2020-01-01") + np.arange(30) * 12


def test_deramp_removes_planes_and_quadratics():
    rng = np.random.default_rng(0)
    signal = rng.normal(0.0, 0.1, (3, ROWS, COLS))
    planes = np.stack([0.3 * YY - 0.2 * XX + 1.0, 0.05 * XX, -0.1 * YY])
    data = signal + planes
    data[0, :5, :5] = np.nan
    mask = np.ones((ROWS, COLS), dtype=bool)
    mask[20:30, 20:30] = False  # a deforming area, excluded from the fit
    data[:, 20:30, 20:30] += 50.0
    result = deramp(data, mask=mask)
    residual = result.corrected - signal
    residual[:, 20:30, 20:30] -= 50.0
    assert np.nanmax(np.abs(residual - np.nanmean(residual, axis=(1, 2), keepdims=True))) < 0.05
    assert np.isnan(result.corrected[0, 0, 0])
    quadratic = signal + 1e-3 * (XX - 20) ** 2
    assert np.abs(deramp(quadratic, order=2).corrected - signal).std() < 0.01
    assert np.abs(deramp(quadratic, order=1).corrected - signal).std() > 0.05
    with pytest.raises(InsarError):
        deramp(data, order=3)


def test_phase_elevation_removes_stratified_delay_but_not_deformation():
    rng = np.random.default_rng(1)
    height = 2000.0 + 400.0 * np.sin(XX / 9.0) * np.cos(YY / 7.0)
    slopes = rng.normal(0.0, 0.005, DATES.size)
    t = (DATES - DATES[0]).astype(float) / 365.25
    # Deformation correlated with height (uplift of the high ground), growing in time.
    deformation = t[:, None, None] * 0.01 * (height - 2000.0)
    data = deformation + slopes[:, None, None] * height + rng.normal(0.0, 0.1, (DATES.size, ROWS, COLS))
    result = phase_elevation(data, height, dates=DATES)

    # Detrending in time leaves out the part of the slopes that is linear in time.
    def detrended(values):
        return values - np.polyval(np.polyfit(t, values, 1), t)

    np.testing.assert_allclose(detrended(result.slope), detrended(slopes), atol=5e-4)
    assert np.abs(detrended(slopes)).max() > 5e-3
    flat = result.corrected.reshape(DATES.size, -1)
    # The height-correlated deformation is kept: the velocity is unchanged by the correction...
    velocity = np.polyfit(t, flat, 1)[0]
    np.testing.assert_allclose(velocity, np.polyfit(t, data.reshape(DATES.size, -1), 1)[0], atol=0.05)
    # ...while the delay that is random in time is gone, down to the noise (up to a constant per
    # date, which referencing removes).
    centred = flat - flat.mean(axis=1, keepdims=True)
    scatter = centred - np.polynomial.polynomial.polyval(t, np.polynomial.polynomial.polyfit(t, centred, 1)).T
    assert scatter.std() < 0.15
    # Without the dates, the fit mistakes the height-correlated deformation for troposphere.
    naive = phase_elevation(data, height).corrected.reshape(DATES.size, -1)
    true_velocity = (0.01 * (height - 2000.0)).ravel()
    assert np.abs(np.polyfit(t, naive, 1)[0] - true_velocity).mean() > 1.0
    with pytest.raises(InsarError):
        phase_elevation(data, height[:-1])


def test_dem_error_is_recovered():
    rng = np.random.default_rng(2)
    baseline = rng.normal(0.0, 150.0, DATES.size)
    dz = rng.normal(0.0, 20.0, (ROWS, COLS))
    t = (DATES - DATES[0]).astype(float) / 365.25
    velocity = rng.normal(0.0, 10.0, (ROWS, COLS))
    slant_range, incidence = 850_000.0, 38.0
    factor = 1000.0 / (slant_range * np.sin(np.radians(incidence)))
    series = t[:, None, None] * velocity + factor * (baseline - baseline[0])[:, None, None] * dz
    series = series + rng.normal(0.0, 0.5, series.shape)
    series[3, 0, 0] = np.nan
    result = estimate_dem_error(
        series, DATES, baseline, slant_range=slant_range, incidence_angle=np.full((ROWS, COLS), incidence)
    )
    error = result.dem_error - dz
    assert np.sqrt(np.mean(error**2)) < 3.0
    assert 0.5 < np.std(error) / np.mean(result.dem_error_std) < 2.0
    linear = t[:, None, None] * velocity
    assert np.nanstd(result.corrected - linear) < 0.8
    with pytest.raises(InsarError):
        estimate_dem_error(series, DATES, baseline[:-1], slant_range=slant_range, incidence_angle=incidence)


def test_select_reference_prefers_coherent_stable_interior():
    rng = np.random.default_rng(3)
    coherence = rng.uniform(0.2, 0.6, (ROWS, COLS))
    coherence[10:16, 30:36] = 0.95  # a coherent patch
    coherence[0:6, 0:6] = 0.99  # more coherent, but at the edge
    variability = np.ones((ROWS, COLS))
    variability[12, 33] = 0.1
    point = select_reference(coherence, variability=variability)
    assert (point.row, point.col) == (12, 33)
    assert point.candidates > 0
    masked = np.ones((ROWS, COLS), dtype=bool)
    masked[10:16, 30:36] = False
    other = select_reference(coherence, mask=masked)
    assert not (10 <= other.row < 16 and 30 <= other.col < 36)
    with pytest.raises(InsarError):
        select_reference(coherence, mask=np.zeros((ROWS, COLS), dtype=bool))


def test_apply_reference_and_pixel_of():
    data = np.stack([YY + XX, 2 * XX])
    data[1, 5, 6] = np.nan
    referenced = apply_reference(data, 5, 7, radius=1)
    assert referenced[0, 5, 7] == pytest.approx(0.0)
    assert referenced[1, 5, 7] == pytest.approx(2 * 7 - np.mean([12, 14, 16, 14, 16, 12, 14, 16]))
    transform = [-99.2, 0.001, 0.0, 19.5, 0.0, -0.001]
    assert pixel_of(-99.1995, 19.4985, transform, shape=(ROWS, COLS)) == (1, 0)
    utm = [480000.0, 100.0, 0.0, 2160000.0, 0.0, -100.0]
    row, col = pixel_of(-99.18, 19.53, utm, shape=(200, 400), crs="EPSG:32614")
    assert 0 <= row < 200 and 0 <= col < 400
    with pytest.raises(InsarError):
        pixel_of(0.0, 0.0, transform, shape=(ROWS, COLS))
