"""Payment scenarios run the stack with the Vipps and Stripe simulators; the Vipps simulator validates
every request it gets and every answer it gives against Vipps' published specs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra.simulators.vipps import VALIDATE_ENV


@pytest.fixture(scope="module")
def payment_simulators() -> Iterator[bool]:
    """Turn the simulators on for these modules, with the Vipps simulator's spec validation."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(VALIDATE_ENV, "1")
        yield True
