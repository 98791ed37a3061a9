"""Storage and reports at the database, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from decimal import Decimal

import pytest
import sqlalchemy as sa
from agentopia.v1 import metrics_service_pb2 as pb

from metrics.client import pricing
from metrics.live import percentile_cont
from metrics.server import open_store
from metrics.storage import db
from metrics.storage.ingest import parse_events, pusd_to_usd
from metrics.storage.paging import PageTokenError
from metrics.storage.reports import (
    Filters,
    LatencyQuery,
    OverheadQuery,
    UsageQuery,
    UsageReports,
)
from metrics.storage.store import UsageStore
from tests.metrics.conftest import config_for
from tests.metrics.workload import expected, workload

START = dt.datetime(2026, 3, 1, 10, 0, 0, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)


def micros(moment: dt.datetime) -> int:
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


@pytest.fixture
def store(database_url: str) -> Iterator[UsageStore]:
    engine = db.create_engine(database_url)
    db.migrate(engine)
    yield UsageStore(engine)
    engine.dispose()


def record(store: UsageStore, events: list[pb.UsageEvent]) -> int:
    batch = parse_events(events, NOW, pricing.default_table())
    assert not batch.rejected
    return len(store.record(batch.rows))


def raw_and_rollup_totals(store: UsageStore) -> tuple[tuple[int, ...], tuple[int, ...]]:
    with store.engine.connect() as connection:
        raw = connection.execute(
            sa.text(
                "SELECT COUNT(*), SUM(prompt_tokens), COALESCE(SUM(cost_pusd), 0) FROM usage_events"
            )
        ).one()
        rollup = connection.execute(
            sa.text("SELECT SUM(requests), SUM(prompt_tokens), SUM(cost_pusd) FROM usage_minute")
        ).one()
    return tuple(int(v) for v in raw), tuple(int(v) for v in rollup)


def test_record_is_idempotent_and_rollup_matches_events(store: UsageStore) -> None:
    events = workload(300, START, dt.timedelta(minutes=5))
    assert record(store, events[:200]) == 200
    assert record(store, events[100:]) == 100  # half of it a retried batch
    assert record(store, events) == 0
    raw, rollup = raw_and_rollup_totals(store)
    assert raw == rollup and raw[0] == 300


def test_duplicates_within_one_batch_count_once(store: UsageStore) -> None:
    events = workload(3, START, dt.timedelta(seconds=3))
    assert record(store, [events[0], events[0], events[1], events[2], events[1]]) == 3


def _check(rows: list, want: dict, query: UsageQuery) -> None:  # type: ignore[type-arg]
    got = {(row.bucket, row.group): row for row in rows}
    assert set(got) == set(want)
    for key, exp in want.items():
        row = got[key]
        sums = row.sums
        assert (sums["requests"], sums["errors"], sums["unpriced_requests"]) == (
            exp.requests,
            exp.errors,
            exp.unpriced,
        )
        assert (
            sums["prompt_tokens"],
            sums["completion_tokens"],
            sums["cached_tokens"],
            sums["cache_creation_tokens"],
            sums["reasoning_tokens"],
        ) == (exp.prompt, exp.completion, exp.cached, exp.cache_creation, exp.reasoning)
        assert (sums["retries"], sums["failovers"], sums["streamed_requests"]) == (
            exp.retries,
            exp.failovers,
            exp.streamed,
        )
        assert pusd_to_usd(sums["cost_pusd"]) == exp.cost
        ordered = sorted(exp.latencies)
        for fraction in (0.5, 0.95, 0.99):
            value = row.latency[f"latency_p{round(fraction * 100)}"]
            assert value == pytest.approx(percentile_cont(ordered, fraction), rel=1e-9)


@pytest.mark.parametrize(
    ("group_by", "bucket_s"),
    [("", 0), ("model", 0), ("team", 60), ("key_id", 3600), ("provider", 86400)],
)
def test_summary_matches_exactly_over_partial_minutes(
    store: UsageStore, group_by: str, bucket_s: int
) -> None:
    events = workload(400, START + dt.timedelta(seconds=17), dt.timedelta(minutes=7))
    record(store, events)
    # A range that starts and ends mid-minute: edges come from raw events.
    start = START + dt.timedelta(minutes=1, seconds=29)
    end = START + dt.timedelta(minutes=6, seconds=41)
    inside = [e for e in events if start <= e.time.ToDatetime(dt.UTC) < end]
    query = UsageQuery(micros(start), micros(end), group_by, bucket_s, page_size=1000)
    rows, token = UsageReports(store.engine).summary(query)
    assert token == ""
    _check(rows, expected(inside, group_by, bucket_s), query)
    assert sum(row.sums["requests"] for row in rows) == len(inside)


def test_pages_cover_every_row_once(store: UsageStore) -> None:
    events = workload(200, START, dt.timedelta(minutes=9))
    record(store, events)
    reports = UsageReports(store.engine)
    query = UsageQuery(
        micros(START), micros(START + dt.timedelta(hours=1)), "key_id", 60, page_size=4
    )
    seen, token, pages = [], "", 0
    while True:
        rows, token = reports.summary(UsageQuery(**{**query.__dict__, "page_token": token}))
        seen += [(row.bucket, row.group) for row in rows]
        pages += 1
        if not token:
            break
    want = expected(events, "key_id", 60)
    assert seen == sorted(want) and pages == -(-len(want) // 4)


def test_page_token_of_another_query_is_refused(store: UsageStore) -> None:
    record(store, workload(50, START, dt.timedelta(minutes=3)))
    reports = UsageReports(store.engine)
    query = UsageQuery(
        micros(START), micros(START + dt.timedelta(hours=1)), "team", 60, page_size=1
    )
    _, token = reports.summary(query)
    assert token
    other = UsageQuery(query.start_us, query.end_us, "model", 60, page_size=1, page_token=token)
    with pytest.raises(PageTokenError):
        reports.summary(other)


def test_filters(store: UsageStore) -> None:
    events = workload(150, START, dt.timedelta(minutes=3))
    record(store, events)
    query = UsageQuery(
        micros(START),
        micros(START + dt.timedelta(hours=1)),
        "model",
        filters=Filters(team="team-red", provider="openai"),
    )
    rows, _ = UsageReports(store.engine).summary(query)
    chosen = [e for e in events if e.team == "team-red" and e.provider == "openai"]
    _check(rows, expected(chosen, "model"), query)


def test_latency_report_percentiles_and_errors(store: UsageStore) -> None:
    events = workload(300, START, dt.timedelta(minutes=4))
    record(store, events)
    query = LatencyQuery(micros(START), micros(START + dt.timedelta(hours=1)), page_size=2)
    reports = UsageReports(store.engine)
    rows, token = reports.latency(query)
    while token:
        more, token = reports.latency(LatencyQuery(**{**query.__dict__, "page_token": token}))
        rows += more
    assert len(rows) == len({(e.provider, e.model) for e in events})
    for row in rows:
        mine = [e for e in events if (e.provider, e.model) == (row.provider, row.model)]
        errors = [e for e in mine if e.status_code >= 400]
        assert (row.requests, row.errors) == (len(mine), len(errors))
        codes: dict[str, int] = {}
        for e in errors:
            codes[e.error_code] = codes.get(e.error_code, 0) + 1
        assert dict(row.error_codes) == codes
        samples = {
            "latency": sorted(e.latency_ms for e in mine),
            "ttft": sorted(
                e.time_to_first_token_ms for e in mine if e.stream and e.time_to_first_token_ms > 0
            ),
            "overhead": sorted(e.overhead_ms for e in mine),
        }
        for metric, values in samples.items():
            for fraction in (0.5, 0.95, 0.99):
                got = row.percentiles[f"{metric}_p{round(fraction * 100)}"]
                want = percentile_cont(values, fraction) if values else None
                assert got == pytest.approx(want, rel=1e-9)


def test_overhead_distribution(store: UsageStore) -> None:
    rng = random.Random(3)
    events = workload(120, START, dt.timedelta(minutes=2))
    for event in events:
        event.overhead_ms = round(rng.uniform(0, 3), 3)
    record(store, events)
    report = UsageReports(store.engine).overhead(
        OverheadQuery(micros(START), micros(START + dt.timedelta(hours=1)))
    )
    values = sorted(e.overhead_ms for e in events)
    assert report.requests == 120 and sum(n for _, n in report.buckets) == 120
    assert report.max_ms == values[-1]
    assert report.mean_ms == pytest.approx(sum(values) / 120)
    assert report.percentiles["overhead_p99"] == pytest.approx(percentile_cont(values, 0.99))
    for bound, count in report.buckets:
        lower = max((b for b, _ in report.buckets if b < bound), default=-1.0)
        assert count == sum(1 for v in values if lower < v <= bound)


def test_unpriced_events_are_counted_not_zeroed(store: UsageStore) -> None:
    event = pb.UsageEvent(event_id="u1", provider="acme", model="x", prompt_tokens=5)
    event.time.FromDatetime(START)
    record(store, [event])
    rows, _ = UsageReports(store.engine).summary(
        UsageQuery(micros(START), micros(START + dt.timedelta(minutes=1)))
    )
    assert rows[0].sums["unpriced_requests"] == 1 and rows[0].sums["cost_pusd"] == 0


def test_sender_cost_is_kept_exactly(store: UsageStore) -> None:
    event = pb.UsageEvent(
        event_id="c1", provider="openai", model="gpt-4o", cost_usd="0.000000000001"
    )
    event.time.FromDatetime(START)
    other = pb.UsageEvent(
        event_id="c2", provider="openai", model="gpt-4o", cost_usd="12.345678901234"
    )
    other.time.FromDatetime(START)
    record(store, [event, other])
    rows, _ = UsageReports(store.engine).summary(
        UsageQuery(micros(START), micros(START + dt.timedelta(minutes=1)))
    )
    assert pusd_to_usd(rows[0].sums["cost_pusd"]) == Decimal("12.345678901235")


def test_malformed_events_are_rejected() -> None:
    bad = [
        pb.UsageEvent(event_id=""),
        pb.UsageEvent(event_id="neg", prompt_tokens=-1),
        pb.UsageEvent(event_id="cost", cost_usd="free"),
        pb.UsageEvent(event_id="nan", cost_usd="NaN"),
        pb.UsageEvent(event_id="x" * 200),
    ]
    batch = parse_events([*bad, pb.UsageEvent(event_id="ok")], NOW, pricing.default_table())
    assert [row["event_id"] for row in batch.rows] == ["ok"]
    assert len(batch.rejected) == 5


def test_the_schema_revision_is_none_until_migrated(tmp_path: object) -> None:
    engine = db.create_engine(f"sqlite:///{tmp_path}/fresh.db")
    try:
        assert db.current_revision(engine) is None
        db.migrate(engine)
        assert db.current_revision(engine) == db.head_revision() is not None
    finally:
        engine.dispose()


def test_head_is_the_newest_migration_script() -> None:
    assert db.script_head() == db.HEAD == db.head_revision()


async def test_auto_migration_at_start_runs_the_migrate_command_in_a_child(
    tmp_path: object,
) -> None:
    # A fresh database: the service brings it to head with `python -m metrics migrate`
    # (so the long-running process never loads Alembic), then opens it.
    url = f"sqlite:///{tmp_path}/fresh.db"
    store = await open_store(config_for(url))
    try:
        assert db.current_revision(store.engine) == db.HEAD
    finally:
        store.engine.dispose()


def test_the_surface_of_each_event_is_stored(store: UsageStore) -> None:
    events = [
        pb.UsageEvent(event_id="s1", surface="messages", model="m", provider="mock"),
        pb.UsageEvent(event_id="s2", surface="embeddings", model="m", provider="mock"),
        pb.UsageEvent(event_id="s3", model="m", provider="mock"),  # sent before surfaces
    ]
    record(store, events)
    with store.engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT event_id, surface FROM usage_events ORDER BY event_id")
        ).all()
    assert [tuple(row) for row in rows] == [("s1", "messages"), ("s2", "embeddings"), ("s3", "")]
