"""Compose a rig from elements: laser -> SLM -> relay -> objective -> sample planes.

An :class:`OpticalSystem` is an ordered list of named :class:`Step` s, each a function
``Field -> Field``.  It keeps the physics in the element functions and only adds what a rig model
needs on top: names for the planes, the field at every plane (:meth:`OpticalSystem.trace`) and
building blocks for the usual parts of a holographic microscope (:func:`relay_4f`, :func:`objective`).

Example
-------
>>> from holostim.optics import gaussian_beam, slm, circular_aperture
>>> from holostim.optics.system import OpticalSystem, step, relay_4f, objective
>>> rig = OpticalSystem([
...     step(slm, phase, pitch=9.2, fill_factor=0.95, supersample=2, name="SLM"),
...     relay_4f(100_000.0, 200_000.0),
...     objective(3000.0, na=0.8, n_immersion=1.33),
... ])                                                                       # doctest: +SKIP
>>> focus = rig(gaussian_beam((256, 256), 4.6, 1.04, 400.0))               # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from holostim.checks import positive
from holostim.optics.elements import circular_aperture
from holostim.optics.field import Field, FieldError, resize
from holostim.optics.propagation import fourier_lens, propagate

__all__ = ["OpticalSystem", "Step", "free_space", "objective", "relay_4f", "step"]


@dataclass(frozen=True)
class Step:
    """One named stage of a system: ``apply(field) -> field``."""

    name: str
    apply: Callable[[Field], Field]

    def __call__(self, field: Field) -> Field:
        """Apply the step, checking that it returned a Field."""
        out = self.apply(field)
        if not isinstance(out, Field):
            raise FieldError(f"step {self.name!r} returned {type(out).__name__}, not a Field")
        return out


def step(element: Callable[..., Field], *args: Any, name: str | None = None, **kwargs: Any) -> Step:
    """Bind parameters: ``step(thin_lens, 5000.0)`` is the stage ``u -> thin_lens(u, 5000.0)``."""

    def apply(field: Field) -> Field:
        return element(field, *args, **kwargs)

    return Step(name or getattr(element, "__name__", "step"), apply)


def relay_4f(f1: float, f2: float, *, iris_radius: float | None = None, name: str = "relay") -> Step:
    """A 4f relay (lens f1, Fourier plane, lens f2): the image is inverted and magnified ``f2/f1``.

    ``iris_radius`` (µm) puts an iris in the intermediate Fourier plane, e.g. to block high orders.
    Modelled as two :func:`fourier_lens` transforms, so it is exact for the sampled field.
    """
    f1 = positive(f1, "relay focal length f1", FieldError)
    f2 = positive(f2, "relay focal length f2", FieldError)
    if iris_radius is not None:
        iris_radius = positive(iris_radius, "iris radius", FieldError)

    def apply(field: Field) -> Field:
        mid = fourier_lens(field, f1)
        if iris_radius is not None:
            mid = circular_aperture(mid, iris_radius)
        return fourier_lens(mid, f2)

    return Step(name, apply)


def objective(f: float, na: float, *, n_immersion: float = 1.0, pad_to: tuple[int, int] | None = None,
              name: str = "objective") -> Step:
    """Objective focusing its back-aperture field into the sample.

    The back aperture is a pupil of radius ``NA · f`` (Abbe sine condition); the focal field is its
    Fourier transform (:func:`fourier_lens`, pitch ``λ f / (N d)``), handed on in the immersion medium
    so that later :func:`~holostim.optics.propagation.propagate` uses ``λ / n``.  ``pad_to`` zero-pads
    the pupil first, which samples the focal plane more finely.  This is the scalar Debye picture
    without the apodisation factor; at high NA it is an approximation, good for spot positions and
    relative powers.
    """
    f = positive(f, "objective focal length f", FieldError)
    na = positive(na, "numerical aperture", FieldError)
    n_immersion = positive(n_immersion, "immersion index", FieldError)
    if na >= n_immersion:
        raise FieldError(f"NA={na} must be below the immersion index n={n_immersion}")

    def apply(field: Field) -> Field:
        pupil = resize(field, pad_to) if pad_to is not None else field
        pupil = circular_aperture(pupil, na * f)
        return fourier_lens(pupil, f).with_medium(n_immersion)

    return Step(name, apply)


class OpticalSystem:
    """An ordered list of steps applied to a field (plain callables are wrapped as steps)."""

    def __init__(self, steps: Iterable[Step | Callable[[Field], Field]]):
        wrapped = []
        for s in steps:
            if isinstance(s, Step):
                wrapped.append(s)
            elif callable(s):
                wrapped.append(Step(getattr(s, "__name__", "step"), s))
            else:
                raise FieldError(f"{s!r} is not a step: give Step objects or functions Field -> Field")
        self.steps: tuple[Step, ...] = tuple(wrapped)

    def __call__(self, field: Field) -> Field:
        """Run ``field`` through every step."""
        for s in self.steps:
            field = s(field)
        return field

    def trace(self, field: Field) -> list[tuple[str, Field]]:
        """The field after every step, ``[("input", field), (name, field), ...]``."""
        planes = [("input", field)]
        for s in self.steps:
            field = s(field)
            planes.append((s.name, field))
        return planes

    def then(self, *steps: Step | Callable[[Field], Field]) -> OpticalSystem:
        """A new system with ``steps`` appended."""
        return OpticalSystem(self.steps + tuple(steps))

    @property
    def names(self) -> Sequence[str]:
        """Step names in order."""
        return [s.name for s in self.steps]

    def __repr__(self) -> str:
        return f"OpticalSystem({' -> '.join(self.names)})"


def free_space(z: float, method: str = "asm", *, pad: float = 2.0, name: str | None = None,
               band_limit: bool = True, evanescent: str = "drop") -> Step:
    """Propagation over ``z`` µm as a step (options as in :func:`~holostim.optics.propagate`)."""
    return Step(name or f"propagate {z:g} µm",
                lambda field: propagate(field, z, method, pad=pad, band_limit=band_limit,
                                        evanescent=evanescent))
