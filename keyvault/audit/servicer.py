"""AuditService: the audit log, newest first, page by page."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from agentopia.v1 import audit_service_pb2 as audit_pb2
from google.protobuf.descriptor import ServiceDescriptor

from keyvault import errors
from keyvault.access import Access
from keyvault.actors import Actor
from keyvault.audit.convert import audit_event
from keyvault.audit.log import AuditLog
from keyvault.handlers import Ctx

__all__ = ["AuditServicer"]


class AuditServicer:
    SERVICE: ClassVar[ServiceDescriptor] = audit_pb2.DESCRIPTOR.services_by_name["AuditService"]
    ACCESS: ClassVar[Mapping[str, Access]] = {"ListAuditEvents": Access.READ}

    def __init__(self, log: AuditLog) -> None:
        self._log = log

    async def ListAuditEvents(
        self, request: audit_pb2.ListAuditEventsRequest, context: Ctx, actor: Actor
    ) -> audit_pb2.ListAuditEventsResponse:
        before = None
        if request.page_token:
            if not request.page_token.isdigit():
                raise errors.invalid_argument("page_token is not one this API issued", "page_token")
            before = int(request.page_token)
        events, more = await self._log.page(
            size=request.page_size, before=before, target_id=request.target_id
        )
        return audit_pb2.ListAuditEventsResponse(
            events=[audit_event(e) for e in events],
            next_page_token="" if more is None else str(more),
        )
