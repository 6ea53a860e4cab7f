"""Gradient-based hologram design through a realistic, differentiable model of the rig (JAX, imported lazily)."""
