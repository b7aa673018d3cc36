"""The HTTP adapter: one FastAPI application built by :func:`strata.api.app.create_app`."""
