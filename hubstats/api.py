"""``GET /v1/statistics``: the export over HTTP, with the CLI's parameters.

The composition root mounts the router (``app.include_router(statistics_router(store))``)
and may pass dependencies, e.g. its authentication. Errors are RFC 9457 problem
details; the body carries counts only.
"""

from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, params
from fastapi.responses import Response

from hubcore.problems import ProblemError, ProblemRoute, problem_responses
from hubstats.errors import QueryError
from hubstats.export import ExportFormat, Granularity, StatisticsQuery, query_counts, render
from hubstats.store import StatisticsStore


def statistics_router(
    store: StatisticsStore, dependencies: Sequence[params.Depends] = ()
) -> APIRouter:
    """A router serving the exact statistics of ``store``."""
    router = APIRouter(
        dependencies=list(dependencies), tags=["statistics"], route_class=ProblemRoute
    )

    @router.get(
        "/v1/statistics",
        summary="Exact message counts per period and dimension",
        responses={
            200: {"content": {"text/csv": {}, "application/json": {}}},
            **problem_responses(400, texts={400: "invalid statistics query"}),
        },
    )
    def get_statistics(
        start: Annotated[date, Query(alias="from", description="First day (inclusive).")],
        end: Annotated[date, Query(alias="to", description="Last day (inclusive).")],
        granularity: Granularity = "month",
        group_by: Annotated[
            list[str] | None, Query(description="Dimensions to group by (repeatable).")
        ] = None,
        fmt: Annotated[ExportFormat, Query(alias="format")] = "json",
        family: Annotated[list[str] | None, Query()] = None,
        message_type: Annotated[list[str] | None, Query()] = None,
        sender_category: Annotated[list[str] | None, Query()] = None,
        receiver_category: Annotated[list[str] | None, Query()] = None,
        addressing_mode: Annotated[list[str] | None, Query()] = None,
    ) -> Response:
        filters: dict[str, Any] = {
            "family": family,
            "message_type": message_type,
            "sender_category": sender_category,
            "receiver_category": receiver_category,
            "addressing_mode": addressing_mode,
        }
        try:
            query = StatisticsQuery(
                start=start,
                end=end,
                granularity=granularity,
                group_by=tuple(_split(group_by or [])),
                filters={k: tuple(v) for k, v in filters.items() if v},
            )
        except QueryError as exc:
            raise ProblemError(
                400, "invalid-statistics-query", "Invalid statistics query", str(exc)
            ) from exc
        body = render(query_counts(store, query), query, fmt, store.zone.key)
        media_type = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
        return Response(body, media_type=media_type)

    return router


def _split(values: list[str]) -> list[str]:
    """``group_by=a,b`` and ``group_by=a&group_by=b`` mean the same."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]
