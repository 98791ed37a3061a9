"""Active deployment health: the probes the routing library's HealthMonitor runs
(a cheap real call per deployment, and a periodic conformance self-test), and
the circuit state published to Prometheus and the metrics service's live stream.
"""

from __future__ import annotations

import datetime as dt
import socket
import time

import grpc
import orjson
from agentopia.v1 import metrics_service_pb2 as m_pb2
from agentopia.v1 import provider_service_pb2 as pv_pb2
from agentopia.v1 import provider_service_pb2_grpc as pv_grpc

from services.kernel.errors import GatewayError
from services.router.instruments import GatewayInstruments
from services.router.routing import CircuitState, Deployment, RoutingState

__all__ = ["CircuitPublisher", "Probes"]

_CHECK = orjson.dumps(
    {"messages": [{"role": "user", "content": "ping"}], "max_tokens": 1, "stream": False}
)
_SELF_TEST = orjson.dumps(
    {
        "messages": [
            {"role": "system", "content": "You are a health check. Follow instructions exactly."},
            {"role": "user", "content": "Reply with the single word OK."},
        ],
        "max_tokens": 5,
        "temperature": 0,
        "stream": False,
    }
)
_CIRCUIT = {
    CircuitState.CLOSED: m_pb2.CIRCUIT_STATE_CLOSED,
    CircuitState.HALF_OPEN: m_pb2.CIRCUIT_STATE_HALF_OPEN,
    CircuitState.OPEN: m_pb2.CIRCUIT_STATE_OPEN,
}


class Probes:
    """Real provider calls for the HealthMonitor; deployments of providers the
    provider service has no key for are skipped (no health signal either way)."""

    def __init__(self, provider: pv_grpc.ProviderServiceAsyncStub, state: RoutingState) -> None:
        self._provider = provider
        self._state = state

    async def check(self, deployment: Deployment) -> float:
        """The cheapest real call: one output token."""
        return await self._call(deployment, _CHECK, "health-check")

    async def self_test(self, deployment: Deployment) -> float:
        """A small conformance prompt; the answer must be a well-formed completion."""
        started = time.perf_counter()
        reply = await self._generate(deployment, _SELF_TEST, "self-test")
        body = orjson.loads(reply.response_json)
        choices = body.get("choices") if isinstance(body, dict) else None
        message = choices[0].get("message") if isinstance(choices, list) and choices else None
        if not isinstance(message, dict) or message.get("role") != "assistant":
            raise GatewayError(
                grpc.StatusCode.UNAVAILABLE,
                "self_test_failed",
                f"{deployment.id} answered the self-test with a malformed completion.",
                retryable=True,
            )
        return (time.perf_counter() - started) * 1000.0

    async def _call(self, deployment: Deployment, body: bytes, purpose: str) -> float:
        started = time.perf_counter()
        await self._generate(deployment, body, purpose)
        return (time.perf_counter() - started) * 1000.0

    async def _generate(
        self, deployment: Deployment, body: bytes, purpose: str
    ) -> pv_pb2.GenerateResponse:
        if not self._state.provider_ready(deployment.provider):
            raise GatewayError(
                grpc.StatusCode.FAILED_PRECONDITION,
                "provider_not_configured",
                f"No key for {deployment.provider}; {deployment.id} is not probed.",
            )
        model = self._state.registry.models[deployment.model]
        invocation = pv_pb2.Invocation(
            operation=pv_pb2.OPERATION_CHAT_COMPLETIONS,
            request_json=body,
            provider=deployment.provider,
            upstream_model=deployment.upstream_id,
            response_model=model.id,
            deployment_id=deployment.id,
            default_max_tokens=8,
            request_id=f"{purpose}-{deployment.id}",
            credential_id=deployment.key_pool,
        )
        try:
            return await self._provider.Generate(
                pv_pb2.GenerateRequest(invocation=invocation), timeout=deployment.timeout_s
            )
        except grpc.aio.AioRpcError as error:
            raise GatewayError.from_rpc_error(error) from None


class CircuitPublisher:
    """Circuit changes → Prometheus gauges; snapshots → the live stream's health report."""

    def __init__(self, state: RoutingState, instruments: GatewayInstruments) -> None:
        self._state = state
        self._instruments = instruments
        self._reporter = socket.gethostname()

    def on_change(self, deployment_id: str, old: CircuitState, new: CircuitState) -> None:
        deployment = self._state.registry.deployments.get(deployment_id)
        provider = deployment.provider if deployment is not None else ""
        self._instruments.set_circuit(
            m_pb2.DeploymentCircuit(
                deployment_id=deployment_id, provider=provider, state=_CIRCUIT[new]
            )
        )

    def health_report(self) -> m_pb2.HealthReport:
        report = m_pb2.HealthReport(reporter=self._reporter)
        report.time.FromDatetime(dt.datetime.now(dt.UTC))
        for snap in self._state.snapshot():
            report.circuits.add(
                deployment_id=snap.deployment_id,
                provider=snap.provider,
                model=snap.model,
                state=_CIRCUIT[snap.circuit],
            )
        return report
