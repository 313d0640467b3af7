"""The dunning run crashed at each of its AWS calls and run again takes each step once: one fee document
per fee (numbered without gaps), one letter per step, one hand-off file with the same claim, and each
step's events recorded once."""

from __future__ import annotations

import contextlib
from datetime import date

from chalice.test import Client

from chalicelib.container import Services
from chalicelib.dunning.index import CaseStatus
from infra.awscalls import InjectedCrash, fail_at_call, install
from tests.integration.test_dunning_run import dunning_events
from tests.support.aws import fresh_resources
from tests.support.catalog import Http, build_catalog
from tests.support.dunning import World, send_dunning_messages, sent_mail, world
from tests.support.events import recorded_events

DAYS = (date(2027, 1, 15), date(2027, 1, 29), date(2027, 2, 12), date(2027, 2, 26))


def test_a_crash_at_any_aws_call_then_a_rerun_takes_each_step_once(
    services: Services, moto_endpoint: str, api: Client, dunning_api: Client, admin: dict[str, str]
) -> None:
    install()

    def fresh_world() -> tuple[World, str]:
        fresh_resources(moto_endpoint)
        catalog = build_catalog(Http(api, admin))
        dunned = world(
            services,
            Http(api, admin),
            Http(dunning_api, admin),
            catalog.invoice_offer["id"],
            catalog.seller["id"],
        )
        return dunned, dunned.order("kari@example.no").id

    def run_all(dunned: World) -> None:
        for day in DAYS:
            dunned.run(day)

    reference, reference_id = fresh_world()
    run_all(reference)
    expected_claim = reference.handoff(DAYS[-1], reference_id)["creditors"][0]["claims"][0]
    expected_events = [(kind, data.get("step")) for kind, data in dunning_events(reference_id)]
    assert expected_events == [
        ("invoice.overdue", None),
        ("dunning.step_taken", "reminder-1"),
        ("dunning.step_taken", "notice"),
        ("dunning.step_taken", "hand-off"),
    ]
    n = 1
    while True:
        dunned, invoice_id = fresh_world()
        with fail_at_call(n) as fault, contextlib.suppress(InjectedCrash):
            run_all(dunned)
        run_all(dunned)
        # The recorded events handed over directly: the stream pump keeps its place in the stream of the
        # tables an earlier fresh_world replaced.
        send_dunning_messages(services, recorded_events())
        case = dunned.case(invoice_id)
        assert case.status is CaseStatus.HANDED_OVER, n
        assert list(case.done.values()) == list(DAYS[1:]), n
        assert [letter.fee_invoice_number for letter in case.letters] == [2, 3], n
        # The run sends nothing: each letter step's event asks for its letter, sent once per key
        keys = [key for key, _ in sent_mail()]
        assert sorted(keys) == [f"dunning:{invoice_id}:notice", f"dunning:{invoice_id}:reminder-1"], n
        claim = dunned.handoff(DAYS[-1], invoice_id)["creditors"][0]["claims"][0]
        assert (claim["principal_open"], claim["fees_open"], claim["total_claim"]) == (29900, 7000, 36900), n
        assert [fee["number"] for fee in claim["fees"]] == [2, 3]
        assert claim["reminders"] == expected_claim["reminders"], n
        # Each step's events were recorded once, with the step, whatever crashed
        assert [(kind, data.get("step")) for kind, data in dunning_events(invoice_id)] == expected_events, n
        if not fault.fired:
            break
        n += 1
    assert n > 30  # every call of the four runs was crashed at once
