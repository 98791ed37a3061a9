"""UsageRecorder: batching, retry with backoff, the bounded buffer, shutdown."""

from __future__ import annotations

import asyncio

from agentopia.v1 import metrics_service_pb2 as pb
from prometheus_client import CollectorRegistry

from metrics.client import UsageRecorder
from metrics.client.instruments import RecorderInstruments
from tests.metrics.fakes import FakeMetrics, serve_fake

FAST = dict(flush_interval=0.02, backoff_initial=0.005, backoff_max=0.05)


def events(n: int, prefix: str = "e") -> list[pb.UsageEvent]:
    return [pb.UsageEvent(event_id=f"{prefix}{i}", model="m", prompt_tokens=i) for i in range(n)]


async def test_batches_and_flushes_everything_on_close() -> None:
    fake = FakeMetrics()
    async with serve_fake(fake) as target:
        recorder = UsageRecorder(target, max_batch=100, **FAST)  # type: ignore[arg-type]
        for event in events(1234):
            recorder.record(event)
        assert await recorder.aclose() == 0
    assert len(fake.events) == 1234 and fake.deliveries == 1234
    assert recorder.stats.batches >= 13 and recorder.stats.sent == 1234


async def test_retries_until_stored_without_double_counting() -> None:
    fake = FakeMetrics()
    fake.fail_next, fake.store_then_fail = 3, True  # acknowledgements lost three times
    registry = CollectorRegistry()
    async with serve_fake(fake) as target:
        recorder = UsageRecorder(
            target, max_batch=10, instruments=RecorderInstruments(registry), **FAST
        )  # type: ignore[arg-type]
        for event in events(25):
            recorder.record(event)
        await recorder.flush()
        await recorder.aclose()
    assert sorted(fake.events) == sorted(f"e{i}" for i in range(25))
    assert fake.deliveries > 25  # the same events were delivered again...
    assert recorder.stats.sent == 25  # ...and acknowledged once each
    assert recorder.stats.send_failures == 3
    failures = registry.get_sample_value(
        "agentopia_usage_send_failures_total", {"code": "UNAVAILABLE"}
    )
    assert failures == 3


async def test_unreachable_service_is_retried_until_it_comes_back() -> None:
    fake = FakeMetrics()
    fake.fail_next = 5
    async with serve_fake(fake) as target:
        recorder = UsageRecorder(target, max_batch=7, **FAST)  # type: ignore[arg-type]
        for event in events(20):
            recorder.record(event)
        await recorder.flush()
        await recorder.aclose()
    assert len(fake.events) == 20 and recorder.stats.send_failures == 5


async def test_full_buffer_drops_new_events_and_counts_them() -> None:
    fake = FakeMetrics()
    fake.gate.clear()  # the service hangs: nothing is acknowledged
    registry = CollectorRegistry()
    instruments = RecorderInstruments(registry)
    async with serve_fake(fake) as target:
        recorder = UsageRecorder(
            target, max_batch=5, max_buffer=10, instruments=instruments, **FAST
        )  # type: ignore[arg-type]
        for event in events(15):
            recorder.record(event)
        assert recorder.pending == 10
        assert registry.get_sample_value("agentopia_usage_buffer_depth") == 10
        fake.gate.set()
        await recorder.flush()
        await recorder.aclose()
    assert sorted(fake.events) == sorted(f"e{i}" for i in range(10))
    assert recorder.stats.dropped_buffer_full == 5
    dropped = registry.get_sample_value(
        "agentopia_usage_events_dropped_total", {"reason": "buffer_full"}
    )
    assert dropped == 5


async def test_close_gives_up_after_its_grace_and_counts_the_loss() -> None:
    fake = FakeMetrics()
    fake.fail_next = 10**9
    async with serve_fake(fake) as target:
        recorder = UsageRecorder(target, max_batch=4, **FAST)  # type: ignore[arg-type]
        for event in events(10):
            recorder.record(event)
        while recorder.stats.send_failures == 0:
            await asyncio.sleep(0.01)
        assert await recorder.aclose(grace_s=0.1) == 10
    assert recorder.stats.dropped_shutdown == 10 and recorder.pending == 0
    recorder.record(events(1)[0])  # after close: counted, not raised
    assert recorder.stats.dropped_shutdown == 11


async def test_malformed_batch_is_not_retried() -> None:
    fake = FakeMetrics()
    fake.invalid = True
    async with serve_fake(fake) as target:
        recorder = UsageRecorder(target, max_batch=10, **FAST)  # type: ignore[arg-type]
        for event in events(3):
            recorder.record(event)
        await recorder.flush()
        await recorder.aclose()
    assert fake.calls == 1 and recorder.stats.rejected == 3


async def test_record_never_raises_and_fills_ids() -> None:
    fake = FakeMetrics()
    async with serve_fake(fake) as target:
        recorder = UsageRecorder(target, **FAST)  # type: ignore[arg-type]
        recorder.record(None)  # type: ignore[arg-type]
        recorder.record(pb.UsageEvent(model="no-id"))
        await recorder.aclose()
    (event,) = fake.events.values()
    assert len(event.event_id) == 32 and event.time.seconds > 0


async def test_health_is_sent_as_a_heartbeat() -> None:
    fake = FakeMetrics()
    report = pb.HealthReport(
        reporter="router-0",
        circuits=[pb.DeploymentCircuit(deployment_id="d1", state=pb.CIRCUIT_STATE_OPEN)],
    )
    async with serve_fake(fake) as target:
        recorder = UsageRecorder(target, health_source=lambda: report, **FAST)  # type: ignore[arg-type]
        recorder.start()
        while not fake.health:
            await asyncio.sleep(0.01)
        await recorder.aclose()
    assert fake.health[0] == report and not fake.events


async def test_unchanged_health_is_not_sent_again_until_the_heartbeat() -> None:
    fake = FakeMetrics()
    circuit = pb.DeploymentCircuit(deployment_id="d1", state=pb.CIRCUIT_STATE_CLOSED)
    report = pb.HealthReport(reporter="router-0", circuits=[circuit])
    async with serve_fake(fake) as target:
        recorder = UsageRecorder(
            target,
            health_source=lambda: report,
            health_refresh_s=3600.0,
            **FAST,  # type: ignore[arg-type]
        )
        for batch in range(3):  # three flushes, each with events, the health unchanged
            for event in events(5, prefix=f"b{batch}-"):
                recorder.record(event)
            await recorder.flush()
        report.time.GetCurrentTime()  # a newer time alone is no change
        recorder.record(pb.UsageEvent(event_id="same"))
        await recorder.flush()
        assert len(fake.health) == 1 and len(fake.events) == 16
        circuit.state = pb.CIRCUIT_STATE_OPEN  # a change goes out with the next batch
        report.circuits[0].CopyFrom(circuit)
        recorder.record(pb.UsageEvent(event_id="changed"))
        await recorder.flush()
        await recorder.aclose()
    assert [h.circuits[0].state for h in fake.health] == [
        pb.CIRCUIT_STATE_CLOSED,
        pb.CIRCUIT_STATE_OPEN,
    ]
