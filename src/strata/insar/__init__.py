"""The multi-temporal InSAR engine: pure kernels on arrays, readers/writers, and workflows.

This package never imports ``strata.catalog``, ``strata.processing`` or ``strata.api``.
"""
