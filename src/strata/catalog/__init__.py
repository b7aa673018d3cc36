"""The catalog: Sentinel products and collections, their ingest, storage and search."""
