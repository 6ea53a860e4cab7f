"""Mask libraries: thousands of target sets computed on Dask, stored in Zarr, played back by protocols.

- :mod:`~holostim.library.spec`: the library spec file (sets listed or generated, compute, output).
- :mod:`~holostim.library.sets`: the spec's target sets read from their files.
- :mod:`~holostim.library.build`: the plan checked against the session, the Dask build, resumable.
- :mod:`~holostim.library.worker`: one chunk on a worker, with its worker-local engine.
- :mod:`~holostim.library.store`: the Zarr store, its chunk records and its manifest.
- :mod:`~holostim.library.playback`: one set's frame for a protocol, through the session's gate.

Nothing is imported here: dask, distributed and zarr are imported only inside the leaf modules, when a
library is built or read.
"""
