"""The design module's own errors: a model file, a target or an option the design cannot use."""

from __future__ import annotations

from holostim.config.messages import ConfigError
from holostim.errors import HolostimError

__all__ = ["DesignError", "DesignModelFileError"]


class DesignError(HolostimError, ValueError):
    """A design that cannot run: spots too close for their discs, an objective not available, no JAX."""


class DesignModelFileError(ConfigError, DesignError):
    """The model file itself: bad YAML or not a design model (``file:line: key: message`` per problem)."""
