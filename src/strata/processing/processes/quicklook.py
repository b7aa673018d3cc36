"""``quicklook``: a PNG preview of a catalog product's raster or of a raster file."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

import numpy as np
import rasterio
from pydantic import BaseModel, ConfigDict, Field, model_validator
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.warp import transform_bounds

from strata.processing.errors import ProcessInputError
from strata.processing.process import Asset, PlanContext, Process, Publication
from strata.processing.workplan import Step, StepContext

__all__ = ["Quicklook", "QuicklookInputs", "QuicklookOutputs", "render_quicklook"]


class QuicklookInputs(BaseModel):
    """Inputs of ``quicklook``: a catalog product or a raster file."""

    model_config = ConfigDict(extra="forbid")

    product: str | None = Field(default=None, description="Id of a catalog product to preview.")
    raster: str | None = Field(
        default=None, description="Path of a raster file on the server (instead of a product)."
    )
    asset: str | None = Field(
        default=None, description="Asset of the product to preview (default: its first raster asset)."
    )
    band: int = Field(default=1, ge=1, description="Band to preview (complex bands show amplitude).")
    max_size: int = Field(default=1024, ge=16, le=8192, description="Longest side of the PNG, pixels.")

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.product is None) == (self.raster is None):
            raise ValueError("give exactly one of product or raster")
        return self


class QuicklookOutputs(BaseModel):
    """Outputs of ``quicklook``."""

    quicklook: str = Field(
        description="The PNG preview (a link).", json_schema_extra={"contentMediaType": "image/png"}
    )
    width: int = Field(description="Width of the PNG in pixels.")
    height: int = Field(description="Height of the PNG in pixels.")


def _footprint(path: Path) -> dict[str, Any] | None:
    """WGS84 bbox and polygon of a georeferenced raster, or None."""
    with rasterio.open(path) as src:
        if src.crs is None or src.transform.is_identity:
            return None
        west, south, east, north = transform_bounds(src.crs, "EPSG:4326", *src.bounds)
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"bbox": [west, south, east, north], "geometry": {"type": "Polygon", "coordinates": [ring]}}


def render_quicklook(ctx: StepContext) -> dict[str, Any]:
    """Read a decimated band, stretch it between its 2nd and 98th percentiles, write ``quicklook.png``."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    path = Path(ctx.params["path"])
    band = int(ctx.inputs["band"])
    with rasterio.open(path) as src:
        if band > src.count:
            raise ValueError(f"{path.name} has {src.count} bands, not {band}")
        scale = max(src.width, src.height) / int(ctx.inputs["max_size"])
        shape = (max(1, round(src.height / max(scale, 1))), max(1, round(src.width / max(scale, 1))))
        data = src.read(band, out_shape=shape, resampling=Resampling.nearest, masked=True)
    values = np.abs(data.astype(np.complex64 if np.iscomplexobj(data) else np.float64))
    image = np.ma.masked_invalid(np.ma.asarray(values, dtype=np.float64))
    valid = image.compressed()
    low, high = np.percentile(valid, [2, 98]) if valid.size else (0.0, 1.0)
    stretched = np.clip((image.filled(low) - low) / ((high - low) or 1.0), 0, 1)
    rgba = plt.get_cmap("gray")(stretched)
    rgba[..., 3] = np.where(np.ma.getmaskarray(image), 0.0, 1.0)
    plt.imsave(ctx.workdir / "quicklook.png", rgba)
    return {
        "quicklook": "quicklook.png",
        "width": int(shape[1]),
        "height": int(shape[0]),
    }


class Quicklook(Process):
    """PNG preview of a raster (public mode: one product)."""

    id = "quicklook"
    title = "Quicklook"
    description = "PNG preview of a catalog product's raster asset or of a raster file, contrast-stretched."
    product_inputs = ("product",)
    inputs = QuicklookInputs
    outputs = QuicklookOutputs
    keywords = ("preview", "png")

    def plan(self, inputs: BaseModel, context: PlanContext) -> list[Step]:
        """Resolve the raster (and its footprint) now; render it in one step."""
        assert isinstance(inputs, QuicklookInputs)
        footprint: dict[str, Any] | None
        if inputs.raster is not None:
            path = context.file("raster", inputs.raster)
            footprint = _open_footprint("raster", path)
        else:
            assert inputs.product is not None
            product = context.product("product", inputs.product)
            keys = [inputs.asset] if inputs.asset else list(product.assets)
            if inputs.asset and inputs.asset not in product.assets:
                raise ProcessInputError("asset", f"product {product.id} has no asset {inputs.asset!r}")
            path = next((product.assets[k] for k in keys if _is_raster(product.assets[k])), Path())
            if path == Path():
                raise ProcessInputError("product", f"product {product.id} has no raster asset on disk")
            footprint = Publication.footprint(product)
        return [Step.of(render_quicklook, "render", path=str(path), footprint=footprint)]

    def publish(self, inputs: BaseModel, record: dict[str, Any]) -> Publication:
        """The PNG as the product's overview asset, with the source's footprint."""
        outputs = record["outputs"]
        return Publication(
            values={"width": outputs["width"], "height": outputs["height"]},
            assets={
                "quicklook": Asset(
                    Path(record["dir"]) / outputs["quicklook"], "image/png", ("overview",), "Quicklook"
                )
            },
        ).locate(record["params"]["footprint"])


def _is_raster(path: Path) -> bool:
    try:
        with rasterio.open(path):
            return True
    except (RasterioError, OSError):
        return False


def _open_footprint(input_name: str, path: Path) -> dict[str, Any] | None:
    try:
        return _footprint(path)
    except (RasterioError, OSError) as exc:
        raise ProcessInputError(input_name, f"{path.name} is not a raster GDAL reads ({exc})") from None
