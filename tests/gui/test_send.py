"""The send flow on its own: auto and manual mode, the set last sent, refusals, pause for calibration."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import numpy as np
import pytest

from holostim.errors import HolostimError
from holostim.gui.send import SendController
from holostim.gui.target_store import TargetStore
from holostim.session import Target as T


class FakeSession:
    """The session's compute path only: records what was shown (apply) and previewed (compute)."""

    def __init__(self):
        self.applied, self.computed = [], []
        self.refuse = False
        self.shown_next = None
        self.slm = SimpleNamespace(last_frame=None, phase_to_gray=lambda phase: np.zeros((4, 4), np.uint8))
        self.lock = threading.Lock()

    def _result(self, targets, request_time):
        return SimpleNamespace(targets=list(targets), phase=np.zeros((4, 4)), frame=np.ones((4, 4), np.uint8),
                               metrics=SimpleNamespace(efficiency=0.8, uniformity=0.9), click_to_swap_ms=12.0,
                               t_request=request_time)

    def apply(self, targets, request_time=None):
        if self.refuse:
            raise HolostimError("3 spots exceed safety.max_spots = 2")
        with self.lock:
            self.applied.append(list(targets))
        r = self._result(targets, request_time)
        # Like an SLM: it shows the result's frame, unless something else is shown right after it.
        self.slm.last_frame = r.frame if self.shown_next is None else self.shown_next
        return r

    def compute(self, targets, request_time=None):
        with self.lock:
            self.computed.append(list(targets))
        return self._result(targets, request_time)

    def predicted_intensity(self, phase):
        return np.ones_like(phase)


@pytest.fixture
def flow(qtbot):
    store = TargetStore(make_target=T)
    s = FakeSession()
    c = SendController(store)
    store.changed.connect(c.targets_changed)
    c.attach(s)
    messages, unsent, shown = [], [], []
    c.message.connect(lambda text, error, t_request: messages.append((text, error)))
    c.unsentChanged.connect(unsent.append)
    c.resultShown.connect(shown.append)
    yield SimpleNamespace(store=store, session=s, c=c, messages=messages, unsent=unsent, shown=shown)
    c.detach()


def settled(qtbot, f):
    qtbot.waitUntil(lambda: f.c.worker.idle, timeout=5000)
    qtbot.wait(0)  # queued results reach the GUI thread


def test_auto_mode_shows_each_new_set_once(qtbot, flow):
    f = flow
    f.store.add(10, 20)
    qtbot.waitUntil(lambda: len(f.shown) == 1, timeout=5000)
    assert f.session.applied == [[T(10, 20, id=1)]] and f.c.last_result.targets == [T(10, 20, id=1)]
    assert f.messages[-1] == ("sent 1 spots: efficiency 80.0 %, uniformity 90.0 %, click→swap 12 ms", False)
    assert f.c.on_slm == (T(10, 20, id=1),)
    f.store.update(0, x=10.0)  # a change signal, but the same accepted set: nothing to compute
    f.c.targets_changed()
    settled(qtbot, f)
    assert len(f.session.applied) == 1 and f.c.shown_count == 1
    f.c.slm_replaced()  # e.g. a test pattern replaced it on the SLM
    assert f.c.on_slm == () and f.unsent[-1] is True  # Send would put it back, even in auto mode
    f.c.targets_changed()
    qtbot.waitUntil(lambda: len(f.shown) == 2, timeout=5000)
    assert f.session.applied == [[T(10, 20, id=1)], [T(10, 20, id=1)]]
    assert f.c.on_slm == (T(10, 20, id=1),) and f.unsent[-1] is False


def test_manual_mode_computes_nothing_until_send(qtbot, flow):
    f = flow
    f.c.set_auto(False)
    assert f.unsent == [False]  # nothing placed yet: nothing to send
    f.store.add(10, 20)
    settled(qtbot, f)
    # No preview either: the docks and the status keep describing what the SLM shows.
    assert f.session.applied == [] and f.session.computed == []
    assert f.unsent[-1] is True and f.c.last_result is None and f.c.on_slm == ()
    f.c.send()
    assert f.unsent[-1] is False
    qtbot.waitUntil(lambda: len(f.shown) == 1, timeout=5000)
    assert f.session.applied == [[T(10, 20, id=1)]] and f.c.on_slm == (T(10, 20, id=1),)
    f.c.set_auto(True)  # back to auto: the set on the SLM is current, nothing is recomputed
    settled(qtbot, f)
    assert len(f.session.applied) == 1


def test_a_refused_pattern_is_reported_and_sent_again_on_the_next_change(qtbot, flow):
    f = flow
    f.session.refuse = True
    f.store.add(10, 20)
    qtbot.waitUntil(lambda: bool(f.messages), timeout=5000)
    assert f.messages[-1] == ("pattern refused: 3 spots exceed safety.max_spots = 2", True)
    assert f.shown == [] and f.c.last_result is None
    f.session.refuse = False
    f.c.targets_changed()  # the same set: it never reached the SLM, so it is computed again
    qtbot.waitUntil(lambda: len(f.shown) == 1, timeout=5000)


def test_paused_flow_computes_nothing_until_resumed(qtbot, flow):
    f = flow
    f.c.pause()
    assert f.c.worker is None
    f.store.add(10, 20)
    assert f.session.applied == [] and f.session.computed == []
    f.c.resume()
    f.c.targets_changed()
    qtbot.waitUntil(lambda: len(f.shown) == 1, timeout=5000)
    assert f.session.applied == [[T(10, 20, id=1)]]


def test_a_report_of_a_pattern_the_slm_no_longer_shows_changes_nothing_on_screen(qtbot, flow):
    f = flow
    f.store.add(10, 20)
    qtbot.waitUntil(lambda: len(f.shown) == 1, timeout=5000)
    # The next pattern is replaced on the SLM (a test pattern) before its queued report is read.
    f.session.shown_next = np.full((4, 4), 7, np.uint8)
    f.store.add(30, 40)
    qtbot.waitUntil(lambda: f.c.shown_count == 2, timeout=5000)
    settled(qtbot, f)
    assert len(f.shown) == 1 and f.c.on_slm == (T(10, 20, id=1),)  # status and markers keep the truth
    assert not f.messages[-1][0].startswith("sent 2 spots")
