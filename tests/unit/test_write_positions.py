"""WriteConflictError names failed items in the order they were added, whatever order PynamoDB sends."""

from __future__ import annotations

from chalicelib.store.transaction import in_added_order, send_order


def test_positions_map_back_to_the_order_added() -> None:
    # Given write(creates=2, replaces=1, conditions=2, updates=1, deletes=1), added in that order
    kinds = ["Put", "Put", "Put", "ConditionCheck", "ConditionCheck", "Update", "Delete"]
    # When PynamoDB sends [cond0, cond1, del0, create0, create1, replace0, update0]
    sent = send_order(kinds)
    assert sent == [3, 4, 6, 0, 1, 2, 5]
    # Then the reasons DynamoDB gives in send order land on the writes they belong to
    received = ["cond0", "cond1", "del0", "create0", "create1", "replace0", "update0"]
    assert in_added_order(received, sent) == [
        "create0",
        "create1",
        "replace0",
        "cond0",
        "cond1",
        "update0",
        "del0",
    ]
