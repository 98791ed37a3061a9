"""Provider keys leased from the key vault (index.py: the per-call choice; reporter.py:
outcomes sent back; vault.py: the two wired to WatchProviderKeys / ReportKeyOutcomes)."""

from services.provider.keys.index import KeyIndex, KeySlot
from services.provider.keys.reporter import Outcome, OutcomeReporter
from services.provider.keys.vault import VaultKeys, upstream_status

__all__ = ["KeyIndex", "KeySlot", "Outcome", "OutcomeReporter", "VaultKeys", "upstream_status"]
