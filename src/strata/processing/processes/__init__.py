"""The processes shipped with Strata (registered in :data:`strata.processing.registry.BUILTIN_PROCESSES`)."""
