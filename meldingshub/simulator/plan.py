"""Planning simulated traffic: how many messages of each kind, and when.

Quotas are split by largest remainder, so the parts add up to the scaled whole;
times follow the working day and week. Every draw comes from the caller's random
generator, in a fixed order, so a seed gives the same plan.
"""

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from meldingshub.simulator.faults import FaultKind
from meldingshub.simulator.mix import Mix

_HOURS = (
    0.2, 0.1, 0.1, 0.1, 0.1, 0.3, 1.0, 3.0, 8.0, 10.0, 10.0, 9.0,
    8.0, 9.0, 9.0, 7.0, 4.0, 2.0, 1.5, 1.2, 1.0, 0.8, 0.5, 0.3,
)  # fmt: skip
"""Relative traffic per hour of the day: office hours, with night-time batches."""
_WEEKDAY = (1.0, 1.0, 1.0, 1.0, 0.95, 0.3, 0.25)


@dataclass(frozen=True, slots=True)
class Slot:
    """One planned document: when, which flow and type, and which fault (if any)."""

    when: datetime
    """Local (aware) ingress time."""
    flow: int
    message_type: str
    fault: FaultKind | None


def largest_remainder(total: int, weights: Sequence[float]) -> list[int]:
    """``total`` split in proportion to ``weights``, in integers that add up exactly."""
    whole = sum(weights)
    if total <= 0 or whole <= 0:
        return [0] * len(weights)
    shares = [total * w / whole for w in weights]
    counts = [math.floor(s) for s in shares]
    rest = total - sum(counts)
    order = sorted(range(len(weights)), key=lambda i: (counts[i] - shares[i], i))
    for i in order[:rest]:
        counts[i] += 1
    return counts


T = TypeVar("T")


def year_plan(mix: Mix, scale: int) -> list[list[list[int]]]:
    """Messages per flow, month and type of a year at 1:``scale`` (faults and AppRecs apart).

    Published monthly figures are scaled month by month; yearly figures are scaled
    once and spread over the months; each month's count is split over the types.
    Every split is by largest remainder, so the parts add up to the scaled whole.
    """
    plan = []
    for flow in mix.flows:
        if flow.monthly:
            months = [round(n / scale) for n in flow.monthly]
        else:
            months = largest_remainder(round(flow.yearly / scale), flow.per_month())
        weights = [w for _, w in flow.types]
        plan.append([largest_remainder(n, weights) for n in months])
    return plan


def weighted(rng: random.Random, options: Sequence[tuple[T, float]]) -> T:
    """One of ``options``, drawn by weight."""
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


def times_in_month(
    rng: random.Random, zone: ZoneInfo, year: int, month: int, count: int
) -> list[datetime]:
    """``count`` local times in the month, weighted by weekday and hour of the day."""
    first = date(year, month, 1)
    days = [
        first + timedelta(days=n) for n in range(31) if (first + timedelta(days=n)).month == month
    ]
    day_weights = [_WEEKDAY[d.weekday()] for d in days]
    picked_days = rng.choices(days, weights=day_weights, k=count)
    hours = rng.choices(range(24), weights=_HOURS, k=count)
    return [
        datetime(d.year, d.month, d.day, h, tzinfo=zone) + timedelta(seconds=rng.randrange(3600))
        for d, h in zip(picked_days, hours, strict=True)
    ]
