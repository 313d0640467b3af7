"""WriteConflictError names failed items in write()'s argument order, whatever order PynamoDB sends."""

from __future__ import annotations

from chalicelib.store.documents import _our_position


def test_positions_map_back_to_argument_order() -> None:
    # write(creates=2, replaces=1, conditions=2, updates=1, deletes=1) is sent as
    # [cond0, cond1, del0, create0, create1, replace0, update0]
    sizes = (2, 1, 2, 1, 1)
    sent_to_ours = [_our_position(p, sizes) for p in range(7)]
    # ours: create0=0, create1=1, replace0=2, cond0=3, cond1=4, update0=5, del0=6
    assert sent_to_ours == [3, 4, 6, 0, 1, 2, 5]
