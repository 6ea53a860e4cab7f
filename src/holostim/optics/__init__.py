"""Wave-optics simulation core: fields, sources, elements, propagation and sensors.

Pure functions over a small immutable :class:`Field`; backend-generic (numpy, CuPy, any array-API
library); thick samples (a refractive-index volume) go through :func:`multislice`.  Units are
micrometres; grids are centred with the optical axis at index ``N//2``.  ``fourier_lens`` is the
single definition of holostim's SLM -> sample Fourier model; ``vectorial_focus`` / ``debye_focus`` are
the high-NA objective (Richards–Wolf / scalar Debye).
"""

from __future__ import annotations

from holostim.optics.elements import (
    amplitude_mask,
    circular_aperture,
    phase_mask,
    quantize_phase,
    rectangular_aperture,
    slm,
    thin_lens,
    zernike,
)
from holostim.optics.field import (
    Field,
    FieldError,
    SamplingWarning,
    coordinates,
    frequencies,
    grid,
    intensity,
    power,
    resize,
)
from holostim.optics.multislice import (
    multislice,
    random_volume,
    scattering_length,
    slab_volume,
    sphere_volume,
    split_step,
)
from holostim.optics.propagation import (
    clear_kernel_cache,
    focal_stack,
    fourier_lens,
    fresnel_critical_distance,
    propagate,
    transfer_function,
)
from holostim.optics.sensors import CameraModel, add_camera_noise, resample_to_camera
from holostim.optics.sources import gaussian_beam, gaussian_beam_parameters, plane_wave, point_source
from holostim.optics.system import OpticalSystem, Step, free_space, objective, relay_4f, step
from holostim.optics.vectorial import (
    POLARIZATIONS,
    VectorialField,
    debye_focus,
    focal_sampling,
    jones_vector,
    vectorial_focus,
    vectorial_focus_xz,
)
from holostim.optics.zernike import (
    ansi_to_nm,
    ansi_to_noll,
    nm_to_ansi,
    nm_to_noll,
    noll_to_ansi,
    noll_to_nm,
    radial_polynomial,
    zernike_phase,
    zernike_polynomial,
)

__all__ = [
    "CameraModel",
    "POLARIZATIONS",
    "OpticalSystem",
    "Step",
    "VectorialField",
    "Field",
    "FieldError",
    "SamplingWarning",
    "add_camera_noise",
    "amplitude_mask",
    "ansi_to_nm",
    "ansi_to_noll",
    "circular_aperture",
    "clear_kernel_cache",
    "coordinates",
    "debye_focus",
    "focal_sampling",
    "focal_stack",
    "free_space",
    "fourier_lens",
    "frequencies",
    "fresnel_critical_distance",
    "gaussian_beam",
    "gaussian_beam_parameters",
    "grid",
    "intensity",
    "jones_vector",
    "nm_to_ansi",
    "nm_to_noll",
    "noll_to_ansi",
    "noll_to_nm",
    "multislice",
    "objective",
    "phase_mask",
    "plane_wave",
    "point_source",
    "power",
    "propagate",
    "quantize_phase",
    "radial_polynomial",
    "random_volume",
    "rectangular_aperture",
    "relay_4f",
    "resize",
    "resample_to_camera",
    "scattering_length",
    "slab_volume",
    "slm",
    "sphere_volume",
    "split_step",
    "step",
    "thin_lens",
    "transfer_function",
    "vectorial_focus",
    "vectorial_focus_xz",
    "zernike",
    "zernike_phase",
    "zernike_polynomial",
]
