"""`make bench` pairs each gateway request with a direct one made right before it."""

from bench.overhead import PAIRS, WARMUP_PAIRS, paired_differences_ms, percentile


class Machine:
    """A clock that only the calls move: direct calls cost 1 ms, the gateway 1 ms plus its own time."""

    def __init__(self, own_ms):
        self.now, self.calls, self._own = 0.0, [], iter(own_ms)

    def clock(self):
        return self.now

    def direct(self):
        self.calls.append("direct")
        self.now += 0.001

    def through(self):
        self.calls.append("through")
        self.now += 0.001 + next(self._own) / 1000


def test_each_difference_is_one_request_minus_the_direct_call_right_before_it():
    own = [0.5] * WARMUP_PAIRS + [0.2, 0.9, 0.4]
    machine = Machine(own)
    direct_ms, through_ms, differences = paired_differences_ms(
        machine.direct, machine.through, 3, machine.clock
    )
    assert machine.calls == ["direct", "through"] * (WARMUP_PAIRS + 3)  # strictly alternating
    assert [round(value, 6) for value in differences] == [0.2, 0.9, 0.4]  # warm-up pairs left out
    assert [round(value, 6) for value in direct_ms] == [1.0, 1.0, 1.0]
    assert [round(value, 6) for value in through_ms] == [1.2, 1.9, 1.4]


def test_percentiles_are_taken_over_the_differences_and_the_bench_uses_at_least_2000_pairs():
    differences = [float(value) for value in range(1, 101)]
    assert (percentile(differences, 0.5), percentile(differences, 0.99)) == (51.0, 99.0)
    assert PAIRS >= 2000


def test_the_cold_import_ratio_is_taken_round_by_round_not_from_two_medians():
    from bench.cold_import import paired_ratio

    floor = [100.0, 300.0, 100.0]  # the machine slowed down threefold in the second round
    handler = [140.0, 420.0, 300.0]  # one round disturbed on its own
    assert paired_ratio(handler, floor) == 1.4  # the ratio of the two medians would say 3.0
