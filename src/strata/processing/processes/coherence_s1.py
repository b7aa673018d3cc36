"""``coherence_s1``: interferometric coherence of two coregistered Sentinel-1 SLC products, as a COG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from pydantic import BaseModel, ConfigDict, Field
from rasterio.errors import RasterioError

from strata.insar.interferogram import coherence
from strata.processing.errors import ProcessInputError
from strata.processing.process import Asset, PlanContext, Process, Publication, ResolvedProduct
from strata.processing.workplan import Step, StepContext

__all__ = ["CoherenceS1", "CoherenceS1Inputs", "CoherenceS1Outputs", "compute_coherence"]


class CoherenceS1Inputs(BaseModel):
    """Inputs of ``coherence_s1``."""

    model_config = ConfigDict(extra="forbid")

    first_product: str = Field(description="Catalog id of the reference SLC (a coregistered complex raster).")
    second_product: str = Field(description="Catalog id of the secondary SLC, on the reference's grid.")
    window_azimuth: int = Field(default=5, ge=1, le=101, description="Boxcar rows (azimuth), SLC pixels.")
    window_range: int = Field(default=20, ge=1, le=401, description="Boxcar columns (range), SLC pixels.")
    looks_azimuth: int = Field(default=1, ge=1, le=100, description="Multilook rows of the output grid.")
    looks_range: int = Field(default=1, ge=1, le=100, description="Multilook columns of the output grid.")


class CoherenceS1Outputs(BaseModel):
    """Outputs of ``coherence_s1``."""

    coherence: str = Field(
        description="Coherence in [0, 1] as a Cloud Optimized GeoTIFF (a link).",
        json_schema_extra={"contentMediaType": "image/tiff; application=geotiff; profile=cloud-optimized"},
    )
    mean_coherence: float = Field(description="Mean coherence over the raster.")


def _complex_raster(input_name: str, product: ResolvedProduct) -> tuple[Path, tuple[int, int]]:
    """The product's complex raster file and its shape; input errors name ``input_name``."""
    for path in product.assets.values():
        try:
            with rasterio.open(path) as src:
                if np.dtype(src.dtypes[0]).kind == "c":
                    return path, (src.height, src.width)
        except (RasterioError, OSError):
            continue
    raise ProcessInputError(input_name, f"product {product.id} has no complex SLC raster on disk")


def compute_coherence(ctx: StepContext) -> dict[str, Any]:
    """Read both SLCs, estimate the coherence and write ``coherence.tif`` (COG, float32)."""
    window = (int(ctx.inputs["window_azimuth"]), int(ctx.inputs["window_range"]))
    looks = (int(ctx.inputs["looks_azimuth"]), int(ctx.inputs["looks_range"]))
    with rasterio.open(ctx.params["first"]) as src:
        reference = src.read(1)
        profile = src.profile
        transform = src.transform
    ctx.progress(0.3, "reference read")
    with rasterio.open(ctx.params["second"]) as src:
        secondary = src.read(1)
    ctx.progress(0.6, "secondary read")
    coh = np.asarray(coherence(reference, secondary, window, looks), dtype=np.float32)
    out = ctx.workdir / "coherence.tif"
    with rasterio.open(
        out,
        "w",
        driver="COG",
        width=coh.shape[1],
        height=coh.shape[0],
        count=1,
        dtype="float32",
        crs=profile.get("crs"),
        transform=transform * transform.scale(looks[1], looks[0]),
        compress="deflate",
    ) as dst:
        dst.write(coh, 1)
    return {"coherence": out.name, "mean_coherence": float(coh.mean())}


class CoherenceS1(Process):
    """Coherence of a coregistered SLC pair (public mode: one pair)."""

    id = "coherence_s1"
    title = "Sentinel-1 coherence"
    description = (
        "Interferometric coherence of two coregistered Sentinel-1 SLC products (sliding boxcar, optional "
        "multilook), delivered as a Cloud Optimized GeoTIFF product."
    )
    product_inputs = ("first_product", "second_product")
    inputs = CoherenceS1Inputs
    outputs = CoherenceS1Outputs
    keywords = ("sentinel-1", "insar", "coherence")

    def plan(self, inputs: BaseModel, context: PlanContext) -> list[Step]:
        """Resolve both products and check they share one grid; one step computes the coherence."""
        assert isinstance(inputs, CoherenceS1Inputs)
        first = context.product("first_product", inputs.first_product)
        second = context.product("second_product", inputs.second_product)
        first_path, first_shape = _complex_raster("first_product", first)
        second_path, second_shape = _complex_raster("second_product", second)
        if first_shape != second_shape:
            raise ProcessInputError(
                "second_product", f"grid {second_shape} differs from first_product's {first_shape}"
            )
        footprint = Publication.footprint(first)
        assert footprint is not None
        footprint["start_datetime"] = min(first.start_datetime, second.start_datetime).isoformat()
        footprint["end_datetime"] = max(first.end_datetime, second.end_datetime).isoformat()
        step = Step.of(
            compute_coherence,
            "coherence",
            first=str(first_path),
            second=str(second_path),
            footprint=footprint,
        )
        return [step]

    def publish(self, inputs: BaseModel, record: dict[str, Any]) -> Publication:
        """The COG as the product's data asset, on the first product's footprint."""
        outputs = record["outputs"]
        return Publication(
            values={"mean_coherence": outputs["mean_coherence"]},
            assets={
                "coherence": Asset(
                    Path(record["dir"]) / outputs["coherence"],
                    "image/tiff; application=geotiff; profile=cloud-optimized",
                    ("data",),
                    "Coherence",
                )
            },
        ).locate(record["params"]["footprint"])
