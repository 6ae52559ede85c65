"""The circuit breaker with an injectable clock: opening, the one half-open probe, recovery."""

from lib.routing.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breaker(clock, changes=None, **options):
    settings = {"failure_rate": 0.3, "window_s": 600, "min_calls": 10, "cooldown_s": 30, **options}
    return CircuitBreaker(
        "r",
        clock=clock,
        on_change=lambda *change: changes.append(change) if changes is not None else None,
        **settings,
    )


def test_it_stays_closed_below_the_minimum_number_of_calls():
    subject = breaker(Clock())
    for _ in range(9):
        subject.record(ok=False)
    assert subject.state == CLOSED and subject.try_acquire()


def test_it_opens_at_the_failure_rate_over_the_window():
    changes: list = []
    subject = breaker(Clock(), changes)
    for _ in range(7):
        subject.record(ok=True)
    for _ in range(2):
        subject.record(ok=False)
    assert subject.state == CLOSED  # 2 of 9, and too few calls
    subject.record(ok=False)  # 3 of 10 = 30%
    assert subject.state == OPEN and not subject.try_acquire()
    assert changes == [("r", CLOSED, OPEN)]


def test_old_failures_leave_the_window():
    clock = Clock()
    subject = breaker(clock)
    for _ in range(5):
        subject.record(ok=False)
    clock.now += 700  # past the 10-minute window
    for _ in range(9):
        subject.record(ok=True)
    subject.record(ok=False)
    assert subject.state == CLOSED  # 1 of 10 in the window


def test_after_the_cool_down_exactly_one_probe_goes_through_and_success_closes():
    clock = Clock()
    changes: list = []
    subject = breaker(clock, changes, min_calls=1)
    subject.record(ok=False)
    assert subject.retry_after_s() == 30
    clock.now += 30
    assert subject.state == HALF_OPEN
    assert subject.try_acquire() and not subject.try_acquire()  # one probe at a time
    subject.record(ok=True)
    assert subject.state == CLOSED and subject.try_acquire()
    assert changes == [("r", CLOSED, OPEN), ("r", OPEN, HALF_OPEN), ("r", HALF_OPEN, CLOSED)]


def test_a_failed_probe_opens_it_for_another_cool_down():
    clock = Clock()
    subject = breaker(clock, min_calls=1)
    subject.record(ok=False)
    clock.now += 31
    assert subject.try_acquire()
    subject.record(ok=False)
    assert subject.state == OPEN and subject.retry_after_s() == 30


def test_a_released_probe_can_be_taken_again():
    clock = Clock()
    subject = breaker(clock, min_calls=1)
    subject.record(ok=False)
    clock.now += 31
    granted = subject.try_acquire()
    subject.release(granted)
    assert subject.try_acquire()


def test_a_call_that_was_not_the_probe_cannot_free_it():
    clock = Clock()
    subject = breaker(clock, min_calls=1)
    before = subject.try_acquire()  # admitted while closed
    subject.record(ok=False)  # another call's failure opens it
    clock.now += 31
    assert subject.try_acquire()  # the half-open probe is out
    subject.release(before)  # the first call's request was refused: it says nothing of the route
    assert not subject.try_acquire()  # still one probe at a time
