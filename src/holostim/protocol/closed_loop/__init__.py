"""Closed loop: read activity from every camera frame, and stimulate in response through the one gate.

- :mod:`holostim.protocol.closed_loop_model`: the protocol file's ``closed_loop`` section (beside the
  protocol model, which it is part of);
- :mod:`~holostim.protocol.closed_loop.readout`: ROIs and ΔF/F;
- :mod:`~holostim.protocol.closed_loop.worker`: the readout thread fed by the camera's stream;
- :mod:`~holostim.protocol.closed_loop.trace_file`: the per-frame trace file beside the log;
- :mod:`~holostim.protocol.closed_loop.rules`: conditions, refractory, rate and duty-cycle limits;
- :mod:`~holostim.protocol.closed_loop.run`: a closed-loop run on a session.
"""
