"""The OpenAPI 3.1 document of the edge's REST surface, generated from the descriptor
set `make protos` builds (gen/agentopia.pb), and the Swagger UI site around it
(gen/docs/, served by the edge at /docs/ and /openapi.json). README.md says how."""

from tools.openapi.document import build_document
from tools.openapi.site import write_site

__all__ = ["build_document", "write_site"]
