"""The routing library the router calls: registry, selection, balancing, retries,
failover, circuit breaking and health. Pure and I/O-free (the clock, the RNG,
sleeping and the health probes are injected); safe under asyncio without locks.

    holder = RegistryHolder(load_default())           # models.toml shipped here
    state = RoutingState(holder.current)              # breakers, balancers, budget
    holder.subscribe(state.sync)                      # follow admin edits
    planner = Planner(state)

    # per request
    profile = profile_request(body, operation="chat")
    requirements = parse_requirements(body, metadata.get(REQUIREMENTS_HEADER))
    decision = select(holder.current, body["model"], requirements, profile,
                      scopes=principal.allowed_models, health=state)
    async with planner.attempts(decision, deadline_s=seconds_left) as plan:
        async for attempt in plan:                     # raises the final GatewayError
            try:
                reply = await call_provider(attempt)   # attempt.timeout_s as gRPC timeout
            except GatewayError as err:
                attempt.fail(err)
            else:
                attempt.succeed()
    headers = route_headers(decision, model=plan.served.model.id,
                            deployment=plan.served.deployment_id,
                            retries=plan.retries, failovers=plan.failovers)

tests/router/routing/test_usage_example.py runs exactly this against a fake provider.
"""

from services.router.routing.balancer import ModelBalancer, Strategy
from services.router.routing.catalog import RegistryCatalog, model_object
from services.router.routing.circuit import BreakerConfig, CircuitBreaker, CircuitState
from services.router.routing.headers import EXCLUDED_HEADER, ROUTE_HEADER, route_headers
from services.router.routing.health import HealthMonitor, ProbeResult
from services.router.routing.loader import RegistryError, load_default, load_path, parse_registry
from services.router.routing.plan import Attempt, AttemptKind, Plan, Planner
from services.router.routing.prices import Pricing, estimate_usd, list_price
from services.router.routing.registry import (
    AUTO,
    Alias,
    Deployment,
    Model,
    Registry,
    RegistryHolder,
    ResolutionKind,
)
from services.router.routing.requirements import (
    EXTENSION_KEY,
    REQUIREMENTS_HEADER,
    Prefer,
    Requirements,
    parse_requirements,
)
from services.router.routing.retry import Disposition, RetryBudget, RetryPolicy, classify
from services.router.routing.selection import Decision, Exclusion, HealthView, select
from services.router.routing.state import DeploymentSnapshot, RoutingConfig, RoutingState
from services.router.routing.tokens import RequestProfile, estimate_text_tokens, profile_request

__all__ = [
    "AUTO",
    "EXCLUDED_HEADER",
    "EXTENSION_KEY",
    "REQUIREMENTS_HEADER",
    "ROUTE_HEADER",
    "Alias",
    "Attempt",
    "AttemptKind",
    "BreakerConfig",
    "CircuitBreaker",
    "CircuitState",
    "Decision",
    "Deployment",
    "DeploymentSnapshot",
    "Disposition",
    "Exclusion",
    "HealthMonitor",
    "HealthView",
    "Model",
    "ModelBalancer",
    "Plan",
    "Planner",
    "Prefer",
    "Pricing",
    "ProbeResult",
    "Registry",
    "RegistryCatalog",
    "RegistryError",
    "RegistryHolder",
    "RequestProfile",
    "Requirements",
    "ResolutionKind",
    "RetryBudget",
    "RetryPolicy",
    "RoutingConfig",
    "RoutingState",
    "Strategy",
    "classify",
    "estimate_text_tokens",
    "estimate_usd",
    "list_price",
    "load_default",
    "load_path",
    "model_object",
    "parse_registry",
    "parse_requirements",
    "profile_request",
    "route_headers",
    "select",
]
