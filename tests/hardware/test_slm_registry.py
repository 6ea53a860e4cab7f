"""One list of SLMs: a backend registered in holostim.hardware.registry is a session's SLM.

The new backend is one file (a class over the SLM base, which does the phase→gray pipeline and the
interlock; the backend only presents finished frames) plus one registry line, added before
holostim.config is imported, in a fresh interpreter (the schema reads the registry once, on import).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

from holostim.config import SessionConfig
from holostim.config.schema import SLM_BACKENDS
from holostim.hardware import registry
from holostim.hardware.slm import SLM, SimulatedSLM
from holostim.session.build import make_slm

BACKEND = textwrap.dedent(
    '''
    """An SLM that keeps every presented frame: the whole of a new backend."""
    from holostim.hardware.slm import SLM


    class RecordingSLM(SLM):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.presented = []

        def _present(self, record):
            self.presented.append(record.frame.copy())
            self._frame_swapped(record, self._clock())
    '''
)

SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    sys.path.insert(0, sys.argv[1])
    from holostim.hardware import registry
    registry.BACKENDS["slm"]["recording"] = "recslm:RecordingSLM"   # the one line a new backend adds

    from holostim.config import load_config
    from holostim.session.build import make_slm

    cfg = load_config(sys.argv[2])
    slm = make_slm(cfg)
    rec = slm.show_phase(np.full(cfg.slm.shape, np.pi, np.float32))
    assert type(slm).__name__ == "RecordingSLM" and slm.shape == (8, 16)
    assert len(slm.presented) == 1 and (slm.presented[0] == rec.frame).all()
    assert int(rec.frame[0, 0]) == 100, rec.frame[0, 0]   # π with two_pi_gray 200
    print("ok")
    """
)


def test_a_registered_backend_is_a_session_slm(tmp_path):
    (tmp_path / "recslm.py").write_text(BACKEND)
    session = tmp_path / "rig.yaml"
    session.write_text("slm:\n  backend: recording\n  shape: [8, 16]\n  two_pi_gray: 200\n"
                       "camera:\n  backend: opencv\n")  # a real SLM needs a real camera
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path), str(session)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "ok"


def test_config_and_builder_read_the_registry():
    assert SLM_BACKENDS == registry.names("slm")
    assert issubclass(registry.backend_class("slm", "simulated"), SLM)
    slm = make_slm(SessionConfig())
    try:
        assert isinstance(slm, SimulatedSLM) and slm.settle_ms == SessionConfig().slm.settle_tau_ms
    finally:
        slm.close()
