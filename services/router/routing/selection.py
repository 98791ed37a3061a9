"""Choosing the models that may serve a request, in the order to try them, and why.

`select()` turns a requested name (model, alias, `auto`, passthrough) plus the
request's profile (tokens, output limit, needed capabilities) and the client's
requirements into a `Decision`: the ordered candidates (primary first, then
fallbacks), the reason for the primary, and for every model left out the
requirement it failed. Nothing is excluded silently; an unsatisfiable request is
a 400 `no_model_satisfies` naming the failed requirement(s).

Order: an explicit model, then its fallback chain (transitively); an alias's
chain in its configured order (with each member's fallbacks after it); `auto`
ranks every eligible model by estimated cost for this request (or by expected
latency with `prefer = "latency"`); a stated `prefer` re-ranks aliases too.
Costs and price caps read each model's rates from the shared price table
(`prices.py`); an unpriced model ranks last and fails any stated price cap.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Protocol

import grpc

from services.kernel.errors import GatewayError
from services.router.routing.capabilities import EMBEDDINGS, spell_all
from services.router.routing.registry import Model, Registry, ResolutionKind
from services.router.routing.requirements import Prefer, Requirements
from services.router.routing.tokens import RequestProfile

__all__ = [
    "DEFAULT_OUTPUT_RESERVE",
    "Decision",
    "Exclusion",
    "HealthView",
    "select",
]

# Output tokens assumed when the client sets no limit: for the context check
# (room to answer) and for ranking by cost.
DEFAULT_OUTPUT_RESERVE = 256
MAX_CANDIDATES = 8


class HealthView(Protocol):
    """What selection reads from the live routing state (plan.RoutingState)."""

    def model_available(self, model: Model) -> bool:
        """Some deployment of the model admits traffic (circuit not open)."""
        ...

    def model_latency_ms(self, model: Model) -> float | None:
        """Measured time to first token (EWMA over its deployments), if any."""
        ...

    def provider_ready(self, provider: str) -> bool:
        """The provider service can call this provider (a key is configured)."""
        ...


@dataclass(frozen=True, slots=True)
class Exclusion:
    model: str
    requirement: str  # stable token: capability:vision, context_window, max_input_price, ...
    detail: str


@dataclass(frozen=True, slots=True)
class Decision:
    requested: str
    kind: ResolutionKind
    candidates: tuple[Model, ...]  # primary first; never empty
    reason_code: str  # explicit | fallback | alias | auto-cost | auto-latency | passthrough
    reason: str
    excluded: tuple[Exclusion, ...]
    requirements: Requirements
    profile: RequestProfile
    registry_version: int

    @property
    def primary(self) -> Model:
        return self.candidates[0]


def select(
    registry: Registry,
    requested: str,
    requirements: Requirements,
    profile: RequestProfile,
    *,
    scopes: Collection[str] = (),
    health: HealthView | None = None,
) -> Decision:
    """The decision for one request; raises GatewayError when nothing fits."""
    resolution = registry.resolve(requested)
    _check_providers(registry, requirements)
    pool = _pool(registry, resolution.kind, resolution.models)
    if resolution.kind is ResolutionKind.AUTO:  # `auto` never mixes the two kinds
        pool = [m for m in pool if _same_kind(m, profile)]
    judge = _Judge(registry, requirements, profile, scopes, health)
    excluded: list[Exclusion] = []
    eligible: list[Model] = []
    for model in pool:
        found = judge.exclusion(model)
        if found is None:
            eligible.append(model)
        else:
            excluded.append(found)
    if not eligible:
        raise _unsatisfiable(requested, excluded)
    ranked = judge.rank(eligible, resolution.kind)
    healthy = [m for m in ranked if health is None or health.model_available(m)]
    if healthy and len(healthy) < len(ranked):
        excluded += [
            Exclusion(m.id, "circuit_open", "every deployment's circuit is open")
            for m in ranked
            if m not in healthy
        ]
        ranked = healthy
    code, reason = judge.reason(resolution.kind, requested, ranked[0], len(ranked))
    return Decision(
        requested=requested,
        kind=resolution.kind,
        candidates=tuple(ranked),
        reason_code=code,
        reason=reason,
        excluded=tuple(excluded),
        requirements=requirements,
        profile=profile,
        registry_version=registry.version,
    )


def _pool(registry: Registry, kind: ResolutionKind, models: tuple[Model, ...]) -> list[Model]:
    """The models to judge, in configured order; fallbacks follow breadth-first."""
    if kind in (ResolutionKind.AUTO, ResolutionKind.PASSTHROUGH):
        return list(models)
    pool: list[Model] = []
    queue = list(models)
    while queue and len(pool) < MAX_CANDIDATES:
        model = queue.pop(0)
        if model in pool:
            continue
        pool.append(model)
        queue += [f for name in model.fallbacks if (f := registry.model(name)) is not None]
    return pool


def _same_kind(model: Model, profile: RequestProfile) -> bool:
    """An embeddings request and an embedding model, or neither: `auto` keeps the other
    kind out of its pool altogether (a named model of the wrong kind is still judged,
    and refused with the capability it lacks)."""
    wants = EMBEDDINGS in profile.capabilities
    return model.capabilities is None or (EMBEDDINGS in model.capabilities) == wants


def _check_providers(registry: Registry, requirements: Requirements) -> None:
    named = (requirements.providers or frozenset()) | requirements.exclude_providers
    unknown = sorted(named - set(registry.providers))
    if unknown:
        raise GatewayError(
            status=grpc.StatusCode.INVALID_ARGUMENT,
            code="invalid_requirements",
            message=(
                f"Invalid routing requirement: unknown provider {unknown[0]!r}; "
                f"configured providers: {', '.join(sorted(registry.providers))}."
            ),
            param="agentopia.requirements.providers",
        )


class _Judge:
    """Checks one model against the request, and ranks the survivors."""

    def __init__(
        self,
        registry: Registry,
        requirements: Requirements,
        profile: RequestProfile,
        scopes: Collection[str],
        health: HealthView | None,
    ) -> None:
        self.registry = registry
        self.req = requirements
        self.profile = profile
        self.scopes = scopes
        self.health = health
        self.needed = requirements.capabilities | profile.capabilities
        self.output = profile.max_output_tokens or DEFAULT_OUTPUT_RESERVE
        self._checks = (self._access, self._capability, self._context, self._price, self._latency)

    def exclusion(self, model: Model) -> Exclusion | None:
        for check in self._checks:
            found = check(model)
            if found is not None:
                return Exclusion(model.id, found[0], found[1])
        return None

    def _access(self, model: Model) -> tuple[str, str] | None:
        req = self.req
        if not self.registry.allowed(self.scopes, model):
            return "key_scope", "the API key may not use this model"
        if req.providers is not None and model.provider not in req.providers:
            return "providers", f"provider {model.provider} is not in the allowed providers"
        if model.provider in req.exclude_providers:
            return "exclude_providers", f"provider {model.provider} is excluded"
        if self.health is not None and not self.health.provider_ready(model.provider):
            return "provider_unavailable", f"provider {model.provider} is not configured"
        return None

    def _capability(self, model: Model) -> tuple[str, str] | None:
        if model.capabilities is None or self.needed <= model.capabilities:
            return None
        missing = spell_all(self.needed - model.capabilities)
        return f"capability:{missing[0]}", f"lacks {', '.join(missing)}"

    def _context(self, model: Model) -> tuple[str, str] | None:
        window, limit = model.context_window, model.max_output_tokens
        if self.req.min_context is not None and (window is None or window < self.req.min_context):
            return "min_context", f"context window {window or 'unknown'} < {self.req.min_context}"
        needed = self.profile.prompt_tokens + self.output
        if window is not None and needed > window:
            prompt = self.profile.prompt_tokens
            return "context_window", (
                f"needs {needed} tokens ({prompt} prompt + {self.output} output) > window {window}"
            )
        wanted = self.profile.max_output_tokens
        if wanted is not None and limit is not None and wanted > limit:
            return "max_output_tokens", f"max output {limit} < requested {wanted}"
        return None

    def _price(self, model: Model) -> tuple[str, str] | None:
        caps = (
            ("max_input_price", self.req.max_input_price, model.pricing.input),
            ("max_output_price", self.req.max_output_price, model.pricing.output),
        )
        for name, cap, price in caps:
            if cap is not None and (price is None or price > cap):
                shown = "unknown" if price is None else f"{price:g}"
                return name, f"price {shown} > {cap:g} USD/Mtok"
        return None

    def _latency(self, model: Model) -> tuple[str, str] | None:
        cap = self.req.max_latency_ms
        if cap is None:
            return None
        expected = self.latency(model)
        if expected > cap:
            shown = "unknown" if math.isinf(expected) else f"{expected:.0f} ms"
            return "max_latency_ms", f"expected latency {shown} > {cap:g} ms"
        return None

    def cost(self, model: Model) -> float:
        output = min(self.output, model.max_output_tokens or self.output)
        usd = model.pricing.estimate_usd(self.profile.prompt_tokens, output)
        return math.inf if usd is None else usd

    def latency(self, model: Model) -> float:
        measured = self.health.model_latency_ms(model) if self.health is not None else None
        value = measured if measured is not None else model.latency_ms
        return math.inf if value is None else value

    def rank(self, models: list[Model], kind: ResolutionKind) -> list[Model]:
        prefer = self.req.prefer
        if kind is ResolutionKind.AUTO:
            prefer = prefer or Prefer.COST
        if prefer is None or len(models) < 2:
            return models
        keys = {m.id: (self.cost(m), self.latency(m)) for m in models}
        if prefer is Prefer.COST:
            return sorted(models, key=lambda m: keys[m.id])
        return sorted(models, key=lambda m: keys[m.id][::-1])

    def reason(
        self, kind: ResolutionKind, requested: str, primary: Model, count: int
    ) -> tuple[str, str]:
        if kind is ResolutionKind.PASSTHROUGH:
            return "passthrough", f"unlisted model passed through to {primary.provider}"
        if kind is ResolutionKind.MODEL:
            if primary.id == requested or primary.upstream_id == requested.partition("/")[2]:
                return "explicit", "the requested model"
            return "fallback", f"{requested} cannot serve this request; first fallback that can"
        ranked_by = self.req.prefer or (Prefer.COST if kind is ResolutionKind.AUTO else None)
        of = f"of {count} eligible"
        if ranked_by is Prefer.COST:
            est = self.cost(primary)
            detail = "unknown" if math.isinf(est) else f"${est:.6f}"
            text = f"cheapest {of} (est. {detail} for this request)"
        elif ranked_by is Prefer.LATENCY:
            text = f"fastest {of} (~{self.latency(primary):.0f} ms to first token)"
        else:
            text = f"first in chain {of}"
        if kind is ResolutionKind.AUTO:
            return f"auto-{ranked_by}", f"auto: {text}"
        return "alias", f"alias {requested}: {text}"


def _unsatisfiable(requested: str, excluded: Iterable[Exclusion]) -> GatewayError:
    by_requirement: dict[str, list[Exclusion]] = {}
    for item in excluded:
        by_requirement.setdefault(item.requirement, []).append(item)
    if set(by_requirement) == {"key_scope"}:
        return GatewayError(
            status=grpc.StatusCode.PERMISSION_DENIED,
            code="model_not_allowed",
            message=f"This API key may not use {requested!r} (nor any model it could route to).",
            param="model",
        )
    parts = [
        f"{name} ({len(items)} model(s), e.g. {items[0].model}: {items[0].detail})"
        for name, items in by_requirement.items()
    ]
    failed = ",".join(by_requirement)
    return GatewayError(
        status=grpc.StatusCode.INVALID_ARGUMENT,
        code="no_model_satisfies",
        message=(
            f"No model can serve {requested!r} with these requirements. Failed: "
            + "; ".join(parts)
            + ". Relax the requirement or name a model that meets it."
        ),
        param=_param_for(next(iter(by_requirement))) if len(by_requirement) == 1 else "model",
        metadata={"failed_requirements": failed[:500]},
    )


def _param_for(requirement: str) -> str:
    if requirement.startswith("capability:"):
        return "agentopia.requirements.capabilities"
    if requirement in ("context_window", "max_output_tokens"):
        return "messages" if requirement == "context_window" else "max_tokens"
    return f"agentopia.requirements.{requirement}"
