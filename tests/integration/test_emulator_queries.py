"""The local engine's Query fast path (infra/emulator.py) answers exactly as moto does.

A seeded random sequence of writes goes through every write path (PutItem, UpdateItem, DeleteItem,
BatchWriteItem, TransactWriteItems with and without a failing condition, PartiQL); between them, random
queries (every key condition, both directions, Limit with LastEvaluatedKey/ExclusiveStartKey, projections,
filters) are answered once by the fast path and once by moto itself, page by page, and must be identical.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.models.table import Table

from infra.emulator import fast_query_counts, moto_queries
from tests.support.aws import REGION

Client = Any
PKS = ["p0", "p1", "p2", "p3"]
SKS = ["a", "ab", "abc", "b", "ba", "c", "é", "Z", "0"]
GROUPS = ["G0", "G1", "G2"]
RANGES = ["a", "ab", "abc", "abd", "b", "ba", "bab", "c", "ca", "d", "é", "Z", "0"]
NUMBERS = ["-3", "-0.5", "0", "1", "1.5", "2", "10", "100"]


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: str) -> dict[str, str]:
    return {"N": value}


@pytest.fixture
def dynamodb(moto_endpoint: str) -> Client:
    return boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name=REGION)


@pytest.fixture
def tables(dynamodb: Client) -> Iterator[tuple[str, str]]:
    """A table with a range key, two GSIs (KEYS_ONLY on strings, ALL on numbers), an INCLUDE GSI and an
    LSI; and a hash-only table with one GSI."""
    suffix = uuid.uuid4().hex[:8]
    ranged, hashed = f"ranged-{suffix}", f"hashed-{suffix}"
    dynamodb.create_table(
        TableName=ranged,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": kind}
            for name, kind in [("pk", "S"), ("sk", "S"), ("g", "S"), ("r", "S"), ("n", "N")]
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "keys",
                "KeySchema": [
                    {"AttributeName": "g", "KeyType": "HASH"},
                    {"AttributeName": "r", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
            {
                "IndexName": "all",
                "KeySchema": [
                    {"AttributeName": "g", "KeyType": "HASH"},
                    {"AttributeName": "n", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": "incl",
                "KeySchema": [
                    {"AttributeName": "r", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["doc"]},
            },
        ],
        LocalSecondaryIndexes=[
            {
                "IndexName": "local",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "n", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    dynamodb.create_table(
        TableName=hashed,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name in ("pk", "g", "r")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "byg",
                "KeySchema": [
                    {"AttributeName": "g", "KeyType": "HASH"},
                    {"AttributeName": "r", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    yield ranged, hashed
    for name in (ranged, hashed):
        dynamodb.delete_table(TableName=name)


# ---- random writes ---------------------------------------------------------------------------------------


def _key(rng: random.Random, hashed: bool) -> dict[str, Any]:
    return (
        {"pk": _s(rng.choice([*PKS, "q0", "q1"]))}
        if hashed
        else {
            "pk": _s(rng.choice(PKS)),
            "sk": _s(rng.choice(SKS)),
        }
    )


def _item(rng: random.Random, hashed: bool) -> dict[str, Any]:
    item = _key(rng, hashed)
    if rng.random() < 0.85:
        item["g"] = _s(rng.choice(GROUPS))
    if rng.random() < 0.8:
        item["r"] = _s(rng.choice(RANGES))
    if not hashed and rng.random() < 0.7:
        item["n"] = _n(rng.choice(NUMBERS))
    roll = rng.random()
    if roll < 0.4:
        item["doc"] = _s("x" * rng.randrange(0, 200))
    elif roll < 0.5:
        item["doc"] = {"M": {"a": _n("1"), "b": {"L": [_s("y"), {"BOOL": True}]}}}
    elif roll < 0.6:
        item["doc"] = _n(rng.choice(NUMBERS))
    return item


def _update(rng: random.Random) -> tuple[str, dict[str, Any], dict[str, str] | None]:
    roll = rng.randrange(5)
    if roll == 0:
        return "SET g = :g, r = :r", {":g": _s(rng.choice(GROUPS)), ":r": _s(rng.choice(RANGES))}, None
    if roll == 1:
        return "REMOVE r", {}, None
    if roll == 2:
        return "SET #n = :n", {":n": _n(rng.choice(NUMBERS))}, {"#n": "n"}
    if roll == 3:
        return "SET doc = :d REMOVE g", {":d": _s("updated")}, None
    return "SET r = :r", {":r": _s(rng.choice(RANGES))}, None


def _write(dynamodb: Client, rng: random.Random, ranged: str, hashed: str) -> None:
    table, is_hashed = (hashed, True) if rng.random() < 0.25 else (ranged, False)
    op = rng.choices(["put", "update", "delete", "batch", "transact", "partiql"], [5, 4, 2, 2, 3, 1])[0]
    try:
        if op == "put":
            condition = {"ConditionExpression": "attribute_not_exists(pk)"} if rng.random() < 0.2 else {}
            dynamodb.put_item(TableName=table, Item=_item(rng, is_hashed), **condition)
        elif op == "update":
            expression, values, names = _update(rng)
            extra: dict[str, Any] = {"ExpressionAttributeValues": values} if values else {}
            if names:
                extra["ExpressionAttributeNames"] = names
            dynamodb.update_item(
                TableName=table, Key=_key(rng, is_hashed), UpdateExpression=expression, **extra
            )
        elif op == "delete":
            dynamodb.delete_item(TableName=table, Key=_key(rng, is_hashed))
        elif op == "batch":
            requests: dict[str, Any] = {}
            for _ in range(rng.randrange(1, 12)):
                if rng.random() < 0.7:
                    item = _item(rng, is_hashed)
                    requests[repr(_key_of(item))] = {"PutRequest": {"Item": item}}
                else:
                    key = _key(rng, is_hashed)
                    requests[repr(key)] = {"DeleteRequest": {"Key": key}}
            dynamodb.batch_write_item(RequestItems={table: list(requests.values())})
        elif op == "transact":
            _transact(dynamodb, rng, table, is_hashed)
        else:
            _partiql(dynamodb, rng, table, is_hashed)
    except ClientError as error:
        assert error.response["Error"]["Code"] in {
            "ConditionalCheckFailedException",
            "TransactionCanceledException",
            "ValidationException",
            "DuplicateItemException",
        }, error


def _key_of(item: dict[str, Any]) -> dict[str, Any]:
    return {name: item[name] for name in ("pk", "sk") if name in item}


def _transact(dynamodb: Client, rng: random.Random, table: str, is_hashed: bool) -> None:
    operations: dict[str, Any] = {}
    for _ in range(rng.randrange(1, 6)):
        kind = rng.choice(["Put", "Update", "Delete", "ConditionCheck"])
        if kind == "Put":
            item = _item(rng, is_hashed)
            operations[repr(_key_of(item))] = {"Put": {"TableName": table, "Item": item}}
            continue
        key = _key(rng, is_hashed)
        if kind == "Update":
            expression, values, names = _update(rng)
            update: dict[str, Any] = {"TableName": table, "Key": key, "UpdateExpression": expression}
            if values:
                update["ExpressionAttributeValues"] = values
            if names:
                update["ExpressionAttributeNames"] = names
            operations[repr(key)] = {"Update": update}
        elif kind == "Delete":
            operations[repr(key)] = {"Delete": {"TableName": table, "Key": key}}
        else:  # sometimes fails: the whole transaction is then undone
            operations[repr(key)] = {
                "ConditionCheck": {
                    "TableName": table,
                    "Key": key,
                    "ConditionExpression": "attribute_exists(pk)",
                }
            }
    dynamodb.transact_write_items(TransactItems=list(operations.values()))


def _partiql(dynamodb: Client, rng: random.Random, table: str, is_hashed: bool) -> None:
    key = _key(rng, is_hashed)
    where = " AND ".join(f"{name} = '{value['S']}'" for name, value in key.items())
    roll = rng.randrange(3)
    if roll == 0:
        attr, value = rng.choice([("g", rng.choice(GROUPS)), ("r", rng.choice(RANGES))])
        statement = f"UPDATE \"{table}\" SET {attr} = '{value}' WHERE {where}"
    elif roll == 1:
        statement = f'DELETE FROM "{table}" WHERE {where}'
    else:
        fields = ", ".join(f"'{name}': '{value['S']}'" for name, value in key.items())
        statement = f"INSERT INTO \"{table}\" VALUE {{{fields}, 'g': '{rng.choice(GROUPS)}', 'r': 'abd'}}"
    dynamodb.execute_statement(Statement=statement)


# ---- random queries --------------------------------------------------------------------------------------

INDEXES: dict[str | None, tuple[str, str | None, str]] = {  # hash attribute, sort attribute, its type
    None: ("pk", "sk", "S"),
    "keys": ("g", "r", "S"),
    "all": ("g", "n", "N"),
    "incl": ("r", "sk", "S"),
    "local": ("pk", "n", "N"),
}
HASHED_INDEXES: dict[str | None, tuple[str, str | None, str]] = {
    None: ("pk", None, "S"),
    "byg": ("g", "r", "S"),
}


def _sort_value(rng: random.Random, kind: str) -> dict[str, str]:
    return (
        _n(rng.choice([*NUMBERS, "5", "-10"])) if kind == "N" else _s(rng.choice([*RANGES, *SKS, "aa", "bb"]))
    )


def _random_query(rng: random.Random, table: str, is_hashed: bool) -> dict[str, Any]:
    indexes = HASHED_INDEXES if is_hashed else INDEXES
    index = rng.choice(list(indexes))
    hash_attr, sort_attr, kind = indexes[index]
    domain = {"pk": [*PKS, "q0", "zz"], "g": [*GROUPS, "G9"], "r": RANGES[:6]}[hash_attr]
    names = {"#h": hash_attr}
    values = {":h": _s(rng.choice(domain))}
    condition = "#h = :h"
    if sort_attr is not None and rng.random() < 0.7:
        names["#s"] = sort_attr
        comparison = rng.choice(
            ["=", "<", "<=", ">", ">=", "between"] + (["begins_with"] if kind == "S" else [])
        )
        values[":a"] = _sort_value(rng, kind)
        if comparison == "between":
            values[":b"] = _sort_value(rng, kind)
            low, high = sorted(
                [values[":a"], values[":b"]], key=lambda v: float(v["N"]) if "N" in v else v["S"]
            )
            values[":a"], values[":b"] = low, high
            condition += " AND #s BETWEEN :a AND :b"
        elif comparison == "begins_with":
            values[":a"] = _s(rng.choice(["a", "ab", "b", "ba", "c", "z", "é"]))
            condition += " AND begins_with(#s, :a)"
        else:
            condition += f" AND #s {comparison} :a"
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ScanIndexForward": rng.random() < 0.5,
    }
    if index is not None:
        request["IndexName"] = index
    if rng.random() < 0.8:
        request["Limit"] = rng.choice([1, 2, 3, 5])
    roll = rng.random()
    if roll < 0.15:
        request["FilterExpression"] = "attribute_exists(doc)"
    elif roll < 0.25 and not is_hashed:
        request["FilterExpression"] = "#n > :zero"
        request["ExpressionAttributeNames"]["#n"] = "n"
        request["ExpressionAttributeValues"][":zero"] = _n("0")
    if rng.random() < 0.15:
        request["ProjectionExpression"] = "pk, #h, doc"
    if rng.random() < 0.1 and index is None:
        request["ConsistentRead"] = True
    if rng.random() < 0.2:
        start = {"pk": _s(rng.choice(PKS))}
        if not is_hashed:
            start["sk"] = _s(rng.choice(SKS))
        if index is not None:
            start[hash_attr] = values[":h"]
            if sort_attr is not None:
                start[sort_attr] = _sort_value(rng, kind)
        request["ExclusiveStartKey"] = start
    return request


def _pages(dynamodb: Client, request: dict[str, Any]) -> list[Any]:
    """Every page of ``request`` (following LastEvaluatedKey), or the error."""
    pages: list[Any] = []
    request = dict(request)
    while len(pages) < 100:
        try:
            response = dynamodb.query(**request)
        except ClientError as error:
            pages.append(("error", error.response["Error"]["Code"]))
            return pages
        pages.append(
            {key: response.get(key) for key in ("Items", "Count", "ScannedCount", "LastEvaluatedKey")}
        )
        if "LastEvaluatedKey" not in response:
            return pages
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    raise AssertionError(f"no end to the pages of {request}")


def _compare(dynamodb: Client, request: dict[str, Any]) -> int:
    fast = _pages(dynamodb, request)
    with moto_queries():
        moto = _pages(dynamodb, request)
    assert fast == moto, request
    return sum(len(page["Items"]) for page in fast if isinstance(page, dict))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_queries_answer_as_moto_does_after_random_writes_through_every_path(
    dynamodb: Client, tables: tuple[str, str], seed: int
) -> None:
    ranged, hashed = tables
    rng = random.Random(seed)
    answered_before, _ = fast_query_counts()
    found = 0
    for round_ in range(6):
        for _ in range(60 if round_ else 120):
            _write(dynamodb, rng, ranged, hashed)
        for _ in range(30):
            is_hashed = rng.random() < 0.25
            found += _compare(dynamodb, _random_query(rng, hashed if is_hashed else ranged, is_hashed))
    scan = dynamodb.scan(TableName=ranged)
    with moto_queries():
        assert dynamodb.scan(TableName=ranged)["Items"] == scan["Items"]
    assert found > 100  # the queries found things, not only empty partitions
    answered, _ = fast_query_counts()
    assert answered - answered_before > 200  # and the fast path answered them (moto only for errors)


# ---- pagination and cost, spelled out --------------------------------------------------------------------


def _fill(dynamodb: Client, table: str, group: str, ranges: list[str]) -> None:
    for start in range(0, len(ranges), 25):
        dynamodb.batch_write_item(
            RequestItems={
                table: [
                    {
                        "PutRequest": {
                            "Item": {"pk": _s(f"{group}-{r}"), "sk": _s("x"), "g": _s(group), "r": _s(r)}
                        }
                    }
                    for r in ranges[start : start + 25]
                ]
            }
        )


def _walk(dynamodb: Client, **request: Any) -> list[tuple[list[str], dict[str, Any] | None]]:
    pages = []
    while True:
        response = dynamodb.query(**request)
        pages.append(([item["r"]["S"] for item in response["Items"]], response.get("LastEvaluatedKey")))
        if "LastEvaluatedKey" not in response:
            return pages
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def test_a_keys_only_index_pages_forwards_and_backwards(dynamodb: Client, tables: tuple[str, str]) -> None:
    ranged, _ = tables
    ranges = [f"r{i:02d}" for i in range(10)]
    _fill(dynamodb, ranged, "G1", ranges)
    _fill(dynamodb, ranged, "G2", ["r05"])
    query = {
        "TableName": ranged,
        "IndexName": "keys",
        "KeyConditionExpression": "g = :g",
        "ExpressionAttributeValues": {":g": _s("G1")},
        "Limit": 3,
    }
    forward = _walk(dynamodb, **query)
    assert [page for page, _ in forward] == [ranges[0:3], ranges[3:6], ranges[6:9], ranges[9:]]
    assert forward[0][1] == {"pk": _s("G1-r02"), "sk": _s("x"), "g": _s("G1"), "r": _s("r02")}
    backward = _walk(dynamodb, **query, ScanIndexForward=False)
    assert [page for page, _ in backward] == [ranges[9:6:-1], ranges[6:3:-1], ranges[3:0:-1], ranges[:1]]
    item = dynamodb.query(**query)["Items"][0]
    assert set(item) == {"pk", "sk", "g", "r"}  # KEYS_ONLY
    with moto_queries():
        assert _walk(dynamodb, **query) == forward
        assert _walk(dynamodb, **query, ScanIndexForward=False) == backward


def test_limits_end_pages_as_moto_does(dynamodb: Client, tables: tuple[str, str]) -> None:
    ranged, _ = tables
    _fill(dynamodb, ranged, "G1", ["a1", "a2", "a3", "b1", "b2"])
    query = {"TableName": ranged, "IndexName": "keys", "ExpressionAttributeValues": {":g": _s("G1")}}
    # exactly Limit items and nothing after them: no LastEvaluatedKey (moto; DynamoDB would give one)
    exact = _walk(dynamodb, **query, KeyConditionExpression="g = :g", Limit=5)
    assert [page for page, _ in exact] == [["a1", "a2", "a3", "b1", "b2"]]
    # Limit reached with items after them that miss the condition: moto gives a LastEvaluatedKey
    values = {":g": _s("G1"), ":p": _s("a")}
    prefixed = _walk(
        dynamodb,
        **{**query, "ExpressionAttributeValues": values},
        KeyConditionExpression="g = :g AND begins_with(r, :p)",
        Limit=3,
    )
    assert [page for page, _ in prefixed] == [["a1", "a2", "a3"], []]
    with moto_queries():
        assert _walk(dynamodb, **query, KeyConditionExpression="g = :g", Limit=5) == exact
        assert (
            _walk(
                dynamodb,
                **{**query, "ExpressionAttributeValues": values},
                KeyConditionExpression="g = :g AND begins_with(r, :p)",
                Limit=3,
            )
            == prefixed
        )


def test_an_index_follows_updates_after_it_was_built(dynamodb: Client, tables: tuple[str, str]) -> None:
    ranged, _ = tables
    _fill(dynamodb, ranged, "G1", ["a", "b", "c"])
    query = {
        "TableName": ranged,
        "IndexName": "keys",
        "KeyConditionExpression": "g = :g",
        "ExpressionAttributeValues": {":g": _s("G1")},
    }
    assert [page for page, _ in _walk(dynamodb, **query)] == [["a", "b", "c"]]  # built now
    dynamodb.update_item(
        TableName=ranged,
        Key={"pk": _s("G1-a"), "sk": _s("x")},
        UpdateExpression="SET r = :r",
        ExpressionAttributeValues={":r": _s("d")},
    )
    dynamodb.update_item(TableName=ranged, Key={"pk": _s("G1-b"), "sk": _s("x")}, UpdateExpression="REMOVE r")
    dynamodb.transact_write_items(
        TransactItems=[
            {
                "Put": {
                    "TableName": ranged,
                    "Item": {"pk": _s("n"), "sk": _s("x"), "g": _s("G1"), "r": _s("0")},
                }
            },
            {"Delete": {"TableName": ranged, "Key": {"pk": _s("G1-c"), "sk": _s("x")}}},
        ]
    )
    with pytest.raises(ClientError):  # cancelled: nothing of it is seen
        dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": ranged,
                        "Item": {"pk": _s("m"), "sk": _s("x"), "g": _s("G1"), "r": _s("1")},
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": ranged,
                        "Key": {"pk": _s("none"), "sk": _s("x")},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    assert [page for page, _ in _walk(dynamodb, **query)] == [["0", "d"]]


def test_a_query_reads_its_partition_not_the_table(
    dynamodb: Client, tables: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ranged, _ = tables
    _fill(dynamodb, ranged, "G0", [f"r{i:04d}" for i in range(1000)])
    _fill(dynamodb, ranged, "G1", ["a", "b"])
    query = {
        "TableName": ranged,
        "IndexName": "keys",
        "KeyConditionExpression": "g = :g",
        "ExpressionAttributeValues": {":g": _s("G1")},
    }
    assert dynamodb.query(**query)["Count"] == 2  # builds the index (one walk)

    def walked(self: Table) -> list[Any]:
        raise AssertionError("walked the whole table")

    monkeypatch.setattr(Table, "all_items", walked)
    assert dynamodb.query(**query)["Count"] == 2
    assert dynamodb.query(**{**query, "IndexName": "all"})["Count"] == 0  # building a new one walks items
    base = {
        "TableName": ranged,
        "KeyConditionExpression": "pk = :p",
        "ExpressionAttributeValues": {":p": _s("G1-a")},
    }
    assert dynamodb.query(**base)["Count"] == 1
    with moto_queries(), pytest.raises(ClientError):  # moto itself walks it (and fails here)
        dynamodb.query(**query)
