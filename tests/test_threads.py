import os
import threading

import pytest

from holostim.threads import lower_current_thread_priority

pytestmark = pytest.mark.skipif(not hasattr(os, "getpriority"), reason="per-thread nice values are Linux's")


def _in_thread(fn):
    box = {}
    t = threading.Thread(target=lambda: box.update(value=fn()))
    t.start()
    t.join()
    return box["value"]


def test_lowering_is_relative_to_the_thread_and_capped():
    def run():
        tid = threading.get_native_id()
        before = os.getpriority(os.PRIO_PROCESS, tid)
        got = lower_current_thread_priority(3)
        after = os.getpriority(os.PRIO_PROCESS, tid)
        capped = lower_current_thread_priority(100)
        return before, got, after, capped

    before, got, after, capped = _in_thread(run)
    assert got == after == min(before + 3, 19)
    assert capped == 19
    # the calling (main) thread is untouched
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before
