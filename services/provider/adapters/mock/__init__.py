"""The built-in `mock` provider (model ids `mock/<name>`), for development, demos and tests.

Registered only when `AGENTOPIA_DEMO=true` (`make run` and the tests set it).

Settings (environment defaults, overridden per model profile, then per request
by an optional `"mock": {...}` object in the request body):

| variable | request key | meaning |
|---|---|---|
| AGENTOPIA_MOCK_LATENCY_MS | latency_ms | delay before the first token / the response (0) |
| AGENTOPIA_MOCK_CHUNK_DELAY_MS | chunk_delay_ms | delay between streamed chunks (0) |
| AGENTOPIA_MOCK_CHUNK_WORDS | chunk_words | words per streamed content chunk (1) |
| AGENTOPIA_MOCK_FAULT_STATUS | fault_status | fail with this upstream HTTP status (0: none) |
| AGENTOPIA_MOCK_FAULT_RATE | fault_rate | share of calls that fault, 0..1 (1 when a fault is set) |
| AGENTOPIA_MOCK_FAULT_SEED | fault_seed | seeded random faults (unset: evenly spaced) |
| AGENTOPIA_MOCK_HANG | hang | a fault hangs until the first-byte timeout, then upstream_timeout |
| AGENTOPIA_MOCK_FAIL_AFTER_CHUNKS | fail_after_chunks | a faulting stream breaks after N chunks |
| AGENTOPIA_MOCK_RETRY_AFTER_S | retry_after_s | Retry-After sent with a fault |
| AGENTOPIA_MOCK_REPLY | reply | fixed reply text instead of the derived one |
| AGENTOPIA_MOCK_PROFILES | — | JSON {"<model name>": {<request keys>}} added to the built-ins |
| — | by_model | {"<model>": {<request keys>}}: settings for one upstream model only |

Built-in profiles (model `mock/<profile>`): flaky (503, half the calls), broken (500),
overloaded (529), ratelimited (429, Retry-After 1s), unauthorized (401), slow
(1.5 s to first token, 40 ms per chunk), hang, midstream (stream breaks after 3 chunks).
Any other model name uses the environment defaults.
"""

from __future__ import annotations

from services.provider.adapters.base import UpstreamHttp
from services.provider.adapters.mock.adapter import CAPABILITIES, REQUEST_KEY, MockAdapter
from services.provider.adapters.mock.faults import VOCABULARY
from services.provider.adapters.mock.settings import MockProfiles, MockSettings
from services.provider.provider_spec import ProviderSpec
from services.provider.settings import ProviderConfig

__all__ = ["CAPABILITIES", "PROVIDER", "MockAdapter", "MockProfiles", "MockSettings", "build"]


def build(config: ProviderConfig, http: UpstreamHttp) -> MockAdapter:
    """The registry factory: settings from AGENTOPIA_MOCK_*; `http` is unused."""
    return MockAdapter(
        MockProfiles.from_env(config.options), timeouts=config.timeouts, redactor=config.redactor
    )


PROVIDER = ProviderSpec(
    name="mock",
    factory=build,
    options_prefix="AGENTOPIA_MOCK_",
    vocabulary=VOCABULARY,
    request_key=REQUEST_KEY,
)
