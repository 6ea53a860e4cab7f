"""The OpenGL SLM backend: a full-screen Qt/OpenGL window on the SLM's display output.

This package is the only place outside the GUI that imports Qt and OpenGL: the rest of
:mod:`holostim.hardware.slm` (the phase→gray pipeline, the interlock, the simulated panel, test
patterns) is Qt-free, so the core runs on machines without a display. Import the modules directly
(``holostim.hardware.slm.opengl.window``); this package file imports nothing.

- :mod:`.window`: :class:`OpenGLSLM` and its ``QOpenGLWindow`` (1:1 texel fetch, read-back);
- :mod:`.screens`: finding the SLM's screen by name, serial or geometry;
- :mod:`.stacking`: XCB window-stacking queries (is the SLM window covered?), ctypes only;
- :mod:`.qt_loop`: a Qt application and event loop for commands outside the GUI;
- :mod:`.check`: ``holostim slm-check`` (test patterns, checked by read-back).
"""
