"""The ``holostim`` command: GUI by default, plus compute, bench, calibrate, slm-check, check-config.

:mod:`~holostim.cli.main` parses and dispatches; each verb group lives in its own module
(:mod:`~holostim.cli.gui`, :mod:`~holostim.cli.compute`, :mod:`~holostim.cli.session_cmds`,
:mod:`~holostim.cli.slm`). ``holostim.cli:main`` is the console script's entry point.
"""

from holostim.cli.errors import EXIT_FAIL, EXIT_OK, EXIT_USAGE, CLIError
from holostim.cli.main import build_parser, main
from holostim.cli.progress import Progress

__all__ = [
    "EXIT_FAIL",
    "EXIT_OK",
    "EXIT_USAGE",
    "CLIError",
    "Progress",
    "build_parser",
    "main",
]
