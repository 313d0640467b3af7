"""The flow that pauses a subscription (paused days are not invoiced, paid paused days are credited, and
access stops for the pause) and resumes it, restating what was invoiced already (see
:mod:`chalicelib.flows.restatements`)."""

from __future__ import annotations

from datetime import date, timedelta

from chalicelib.billing.restatement import Straddle
from chalicelib.errors import ConflictError
from chalicelib.flows.restatements import Restatements, continuation, invalid, phases_before
from chalicelib.subscriptions import events as subscription_events
from chalicelib.subscriptions.models import PauseWindow, Phase, Subscription, SubscriptionStatus


class PauseSubscription:
    """Pauses and resumes."""

    def __init__(self, restatements: Restatements) -> None:
        self._restatements = restatements

    def pause(self, subscription_id: str, start: date, until: date | None) -> Subscription:
        """Pause from ``start`` until ``until`` (exclusive; open-ended when None): paused days are not
        invoiced, paid paused days are credited, and access stops for the pause."""
        loaded = self._restatements.load(subscription_id)
        subscription = loaded.subscription
        today = self._restatements.today(loaded)
        if subscription.status != SubscriptionStatus.ACTIVE:
            raise ConflictError(f"a subscription that is {subscription.status.value} cannot be paused")
        if subscription.pause is not None and (subscription.pause.start, subscription.pause.until) == (
            start,
            until,
        ):
            return subscription  # a retry of this very pause: recorded with it
        if subscription.pause is not None and (
            subscription.pause.until is None or subscription.pause.until > today
        ):
            raise ConflictError("the subscription already has a pause; resume it first")
        earliest = max(today + timedelta(days=1), subscription.start_date)
        if start < earliest:
            raise invalid("from", f"a pause starts on {earliest.isoformat()} at the earliest", "too_early")
        if until is not None and until <= start:
            raise invalid("until", "until must be after from", "before_start")
        if subscription.ends_on is not None and start >= subscription.ends_on:
            raise invalid("from", "the subscription ends before that", "after_end")
        interrupted = continuation(subscription.phases, start, "resume")
        if not interrupted:
            raise ConflictError("the subscription has no period to pause then")
        paused = Phase(plan_id=interrupted[0].plan_id, start=start, paused=True, source="pause")
        new_phases = [*phases_before(subscription.phases, start), paused]
        if until is not None:
            new_phases += continuation(interrupted, until, "resume")
        planned = self._restatements.plan_restatement(loaded, new_phases, start, Straddle.PRORATE)
        updated = subscription.model_copy(
            update={
                "phases": new_phases,
                "pause": PauseWindow(start=start, until=until, following=interrupted),
            }
        )
        event = subscription_events.subscription_paused(subscription, start, until, self._restatements.now())
        return self._restatements.commit(
            loaded, updated, planned, events=[event], access_until=start, access_reason="pause"
        )

    def resume(self, subscription_id: str) -> Subscription:
        """End the current (or planned) pause at the end of today; a pause not started yet is removed."""
        loaded = self._restatements.load(subscription_id)
        subscription = loaded.subscription
        pause = subscription.pause
        today = self._restatements.today(loaded)
        if pause is not None and pause.until == today + timedelta(days=1):
            return subscription  # resumed today already (a retry): recorded with it
        if pause is None or (pause.until is not None and pause.until <= today + timedelta(days=1)):
            raise ConflictError("the subscription is not paused")
        resume_on = max(pause.start, today + timedelta(days=1))
        kept = phases_before(subscription.phases, pause.start)
        following = continuation(pause.following, resume_on, "resume")
        if resume_on == pause.start:
            new_phases = [*kept, *following]
        else:
            paused = Phase(plan_id=pause.following[0].plan_id, start=pause.start, paused=True, source="pause")
            new_phases = [*kept, paused, *following]
        planned = self._restatements.plan_restatement(loaded, new_phases, resume_on, Straddle.PRORATE)
        updated = subscription.model_copy(
            update={
                "phases": new_phases,
                "pause": None if resume_on == pause.start else pause.model_copy(update={"until": resume_on}),
            }
        )
        event = subscription_events.subscription_resumed(subscription, resume_on, self._restatements.now())
        return self._restatements.commit(loaded, updated, planned, events=[event])
