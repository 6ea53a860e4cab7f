"""Mask libraries: thousands of target sets computed on Dask, stored in Zarr, played back by protocols."""
