"""The key vault's one clock (UTC) and its conversions to and from protobuf Timestamps."""

from __future__ import annotations

import datetime as dt

from google.protobuf import message, timestamp_pb2

__all__ = ["datetime_of", "set_time", "utcnow"]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def set_time(target: timestamp_pb2.Timestamp, value: dt.datetime | None) -> None:
    """Fill `target` from `value`; an unset time leaves the field unset."""
    if value is not None:
        target.FromDatetime(value)


def datetime_of(owner: message.Message, field: str) -> dt.datetime | None:
    """The Timestamp field `field` of `owner` as an aware datetime, None when unset."""
    if not owner.HasField(field):
        return None
    stamp: timestamp_pb2.Timestamp = getattr(owner, field)
    return stamp.ToDatetime(tzinfo=dt.UTC)
