"""Proto conversions of the audit log."""

from __future__ import annotations

from agentopia.v1 import audit_service_pb2 as audit_pb2
from agentopia.v1 import keyvault_types_pb2 as kv_types

from keyvault.actors import ROLE_TO_PROTO
from keyvault.audit.log import AuditEvent
from keyvault.times import set_time

__all__ = ["audit_event"]


def audit_event(event: AuditEvent) -> audit_pb2.AuditEvent:
    message = audit_pb2.AuditEvent(
        event_id=str(event.event_id),
        actor_key_id=event.actor.key_id,
        actor_name=event.actor.name,
        actor_role=ROLE_TO_PROTO.get(event.actor.role, kv_types.KEY_ROLE_UNSPECIFIED),
        action=event.action,
        target_id=event.target_id,
        details=dict(event.details),
    )
    set_time(message.time, event.time)
    return message
