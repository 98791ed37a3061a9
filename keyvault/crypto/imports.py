"""Which Secret Manager secrets a provider key may be imported from.

An admin key can name any secret the key vault's service account can read — the KEK
included, which would then be handed to the provider service as a "provider key". So
imports are limited to secrets whose id starts with an allow-listed prefix
(AGENTOPIA_SECRET_IMPORT_PREFIX, default `agentopia-provider-`), and the KEK's
secret is refused whatever its name."""

from __future__ import annotations

import re
from dataclasses import dataclass

from keyvault import errors

__all__ = ["DEFAULT_PREFIX", "ImportPolicy"]

DEFAULT_PREFIX = "agentopia-provider-"
_VERSION = re.compile(r"^(projects/[^/]+/secrets/([^/]+))/versions/[^/]+$")


@dataclass(frozen=True, slots=True)
class ImportPolicy:
    prefix: str = DEFAULT_PREFIX
    # The KEK's secret, `projects/<p>/secrets/<name>` ("" when the KEK is a file).
    kek_secret: str = ""

    def check(self, version_name: str) -> None:
        """Refuse a version outside the allow-list (PERMISSION_DENIED, naming the rule)."""
        match = _VERSION.match(version_name)
        if match is None:
            raise errors.invalid_argument(
                "secret_version must be projects/<project>/secrets/<id>/versions/<version>",
                "secret_version",
            )
        secret, secret_id = match.groups()
        if self.kek_secret and secret == self.kek_secret.rstrip("/"):
            raise errors.permission_denied(
                "secret_import_not_allowed", "The key-encryption key cannot be imported."
            )
        if not secret_id.startswith(self.prefix):
            raise errors.permission_denied(
                "secret_import_not_allowed",
                f"Provider keys are imported only from secrets whose id starts with "
                f"{self.prefix!r} (AGENTOPIA_SECRET_IMPORT_PREFIX).",
            )
