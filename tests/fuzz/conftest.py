"""Hypothesis profiles: `suite` (deterministic, a few seconds, what `make test` runs) and `fuzz` (random,
FUZZ_EXAMPLES examples per property, what `make fuzz` runs). FUZZ_PROFILE picks one."""

import os

from hypothesis import HealthCheck, settings

_SLOW_INPUTS_ARE_THE_POINT = [
    HealthCheck.function_scoped_fixture,  # the fixtures hold the gateway; examples must share it
    HealthCheck.too_slow,
    HealthCheck.data_too_large,
    HealthCheck.large_base_example,
]
settings.register_profile(
    "suite",
    max_examples=60,
    derandomize=True,  # the same examples on every run and every machine
    database=None,
    deadline=None,
    suppress_health_check=_SLOW_INPUTS_ARE_THE_POINT,
)
settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "2000")),
    database=None,
    deadline=None,
    print_blob=True,  # a failure prints the @reproduce_failure line to replay it
    suppress_health_check=_SLOW_INPUTS_ARE_THE_POINT,
)
settings.load_profile(os.environ.get("FUZZ_PROFILE", "suite"))
