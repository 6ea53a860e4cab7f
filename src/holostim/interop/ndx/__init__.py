"""Vendored NWB extension specs, loaded from their YAML (never installed as packages).

``patterned_ogen/`` is ndx-patterned-ogen 0.1.0 (BSD-3, © 2024 Alessandra Trapani; its LICENSE beside
the YAML), the NWB community's extension for patterned (holographic) optogenetics. Its PyPI package pins
``numpy<2``, which this project cannot take, but an NWB extension *is* its namespace spec: pynwb
generates the classes from the YAML (``load_namespaces`` + ``get_class``), and a file written with them
is read by anyone who has the extension (or by pynwb alone, the spec being cached in the file).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["PATTERNED_OGEN", "PATTERNED_OGEN_NAMESPACE", "PATTERNED_OGEN_VERSION"]

PATTERNED_OGEN = "ndx-patterned-ogen"
PATTERNED_OGEN_VERSION = "0.1.0"
PATTERNED_OGEN_NAMESPACE = Path(__file__).parent / "patterned_ogen" / "ndx-patterned-ogen.namespace.yaml"
