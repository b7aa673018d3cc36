"""Strata: a self-hostable Sentinel exploitation platform with a multi-temporal InSAR chain."""

__all__ = ["__version__"]

__version__ = "0.1.0"
