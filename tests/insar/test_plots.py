import numpy as np
from matplotlib.image import imread
from rasterio.crs import CRS

from strata.insar.io.products import ProductGrid
from strata.insar.plots import plot_network, plot_timeseries, plot_velocity

GRID = ProductGrid(80, 100, (-99.2, 0.001, 0.0, 19.5, 0.0, -0.001), CRS.from_epsg(4326).to_wkt())


def _red_shade(image):
    """Pixels of the gap shading: red at alpha 0.2 over white."""
    rgb = image[..., :3]
    return np.sum(
        (np.abs(rgb[..., 0] - 1.0) < 0.02)
        & (np.abs(rgb[..., 1] - 0.8) < 0.03)
        & (np.abs(rgb[..., 2] - 0.8) < 0.03)
    )


def test_velocity_map(tmp_path):
    yy, xx = np.mgrid[:80, :100]
    velocity = -150 * np.exp(-((yy - 40) ** 2 + (xx - 50) ** 2) / 400.0)
    velocity[:5] = np.nan
    path = plot_velocity(tmp_path / "velocity.png", velocity, GRID, reference_pixel=(70, 10))
    image = imread(path)
    assert image.shape[0] > 400 and image.shape[1] > 400
    rgb = image[..., :3]
    strong_red = (rgb[..., 0] > 0.35) & (rgb[..., 1] < 0.1) & (rgb[..., 2] < 0.15)
    assert strong_red.sum() > 100  # the subsidence bowl shows in the red end of the colour bar


def test_network_highlights_gaps(tmp_path):
    dates = np.arange(np.datetime64("2019-01-01"), np.datetime64("2019-07-01"), 12)
    ref, sec = [], []
    for i in range(dates.size - 1):
        for j in range(i + 1, min(i + 3, dates.size)):
            ref.append(dates[i])
            sec.append(dates[j])
    ref, sec = np.array(ref), np.array(sec)
    bperp = np.random.default_rng(0).normal(0, 40, ref.size)
    connected = imread(plot_network(tmp_path / "connected.png", ref, sec, bperp))
    cut = dates[7]
    keep = ~((ref <= cut) & (sec > cut))
    split = imread(plot_network(tmp_path / "split.png", ref[keep], sec[keep], bperp[keep]))
    assert _red_shade(connected) == 0
    assert _red_shade(split) > 200


def test_timeseries_with_error_bars(tmp_path):
    dates = np.arange(np.datetime64("2019-01-01"), np.datetime64("2020-01-01"), 12)
    t = np.arange(dates.size)
    series = np.stack([-2.0 * t, 0.1 * t])
    path = plot_timeseries(
        tmp_path / "ts.png", dates, series, np.ones_like(series), labels=["bowl", "stable"]
    )
    image = imread(path)
    assert image.shape[1] > 800
    assert np.std(image[..., :3]) > 0.05
