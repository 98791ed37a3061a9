"""Provider-key custody for the provider service: the one lease of provider keys.

lease.py follows WatchProviderKeys and answers, per upstream call, which key to use
(index.py) and what became of it (reporter.py sends ReportKeyOutcomes; headroom.py
reads rate-limit headers by shape).
"""

from keyvault.client.provider_keys.credential import Credential
from keyvault.client.provider_keys.errors import credential_not_found, no_usable_key
from keyvault.client.provider_keys.headroom import headroom_from_headers, parse_reset
from keyvault.client.provider_keys.index import KeyIndex, KeySlot, headroom_factor
from keyvault.client.provider_keys.lease import ProviderKeyLease
from keyvault.client.provider_keys.reporter import Outcome, OutcomeReporter
from keyvault.client.provider_keys.settings import LeaseSettings

__all__ = [
    "Credential",
    "KeyIndex",
    "KeySlot",
    "LeaseSettings",
    "Outcome",
    "OutcomeReporter",
    "ProviderKeyLease",
    "credential_not_found",
    "headroom_factor",
    "headroom_from_headers",
    "no_usable_key",
    "parse_reset",
]
