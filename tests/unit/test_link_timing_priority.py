"""The writer's timing priority: real-time scheduling only while it is asked for, per thread."""

from __future__ import annotations

import os
import threading

import pytest

from ial_resilience.agent._link_sock import TimingPriority


def _policy_after(steps: list[bool]) -> list[int]:
    """Run ``TimingPriority.set`` with each step in a fresh thread; the policy after each."""
    seen: list[int] = []

    def body() -> None:
        priority = TimingPriority()
        for realtime in steps:
            priority.set(realtime)
            seen.append(os.sched_getscheduler(0))

    thread = threading.Thread(target=body)
    thread.start()
    thread.join(10)
    return seen


@pytest.mark.skipif(not TimingPriority.available, reason="no SCHED_FIFO on this platform")
def test_realtime_while_asked_then_normal_again() -> None:
    try:  # permission is a property of the machine (CAP_SYS_NICE or RLIMIT_RTPRIO)
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    except OSError:
        pytest.skip("cannot change the scheduling policy here")
    seen = _policy_after([True, True, False, False])
    if not TimingPriority.available:
        pytest.skip("real-time scheduling is not permitted here (no CAP_SYS_NICE)")
    assert seen == [os.SCHED_FIFO, os.SCHED_FIFO, os.SCHED_OTHER, os.SCHED_OTHER]
    assert os.sched_getscheduler(0) == os.SCHED_OTHER  # other threads never changed


def test_staying_normal_never_touches_the_policy() -> None:
    before = os.sched_getscheduler(0)
    assert _policy_after([False, False]) == [before, before]
