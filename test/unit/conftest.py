"""pytest configuration shared by the unit tests.

Hypothesis runs derandomized (the same examples on every run, so CI cannot flake on a
newly drawn case) and without deadlines (machines here are shared and noisy); property
tests still explore hundreds of examples each.
"""

from hypothesis import settings

settings.register_profile("rapid", derandomize=True, deadline=None, print_blob=True)
settings.load_profile("rapid")
