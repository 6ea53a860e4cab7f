"""Gradient-based hologram design through a realistic, differentiable model of the rig.

JAX is imported lazily, only inside this package.
"""
