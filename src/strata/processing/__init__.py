"""Processing: named processes, durable jobs and work plans executed on Dask."""
