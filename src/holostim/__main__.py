"""``python -m holostim`` (and the PyInstaller app's entry script) is the ``holostim`` command."""

from holostim.cli import main

if __name__ == "__main__":  # importing this module (e.g. a tool walking the package) runs nothing
    raise SystemExit(main())
