"""Structured (JSON lines) logging on stdlib `logging`.

Every record carries `service`; `request_id`, `rpc.method`, `provider` and
`model` are added when the call site passes them in `extra=`.
"""

from __future__ import annotations

import logging
import sys
import time

import orjson

__all__ = ["JsonFormatter", "configure_logging"]

_STANDARD_FIELDS = ("request_id", "rpc.method", "provider", "model", "key_id", "status")


class JsonFormatter(logging.Formatter):
    """One JSON object per line; never includes anything the caller did not log."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "service": self._service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in _STANDARD_FIELDS:
            value = record.__dict__.get(field)
            if value is not None:
                entry[field] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
