"""What other services may import of the metrics service: the batching usage
sender (`UsageRecorder`) and the price table (`metrics.client.pricing`)."""

from metrics.client.recorder import RecorderStats, UsageRecorder, new_event_id

__all__ = ["RecorderStats", "UsageRecorder", "new_event_id"]
