"""``python -m holostim`` is the ``holostim`` command."""

from holostim.cli import main

raise SystemExit(main())
