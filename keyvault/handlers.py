"""How the key vault's gRPC services are served: each servicer names its proto service
and an access table (method -> Access); the handlers are built here from the service's
descriptor, so every call's credentials are checked in this one place before the
servicer method runs, with the acting `Actor` passed in. A table that misses a method
(or names one the service lacks) stops the key vault at start-up. Errors are the
kernel's interceptor's business: a servicer simply raises `GatewayError`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar, Protocol

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

from keyvault.access import Access, Guard
from keyvault.actors import Actor
from services.kernel.hosting import ServiceHost

__all__ = ["Ctx", "GuardedServicer", "register"]

Ctx = grpc.aio.ServicerContext[Any, Any]


class GuardedServicer(Protocol):
    """A servicer whose methods take `(request, context, actor)`."""

    SERVICE: ClassVar[ServiceDescriptor]
    ACCESS: ClassVar[Mapping[str, Access]]


def register(host: ServiceHost, guard: Guard, servicer: GuardedServicer) -> None:
    """Serve `servicer` on `host` under its proto service, every method guarded."""
    service = servicer.SERVICE
    _check_table(service, servicer)
    handlers = {
        method.name: _handler(method, getattr(servicer, method.name), servicer.ACCESS, guard)
        for method in service.methods
    }
    generic = grpc.method_handlers_generic_handler(service.full_name, handlers)
    host.add(service.full_name, lambda server: server.add_generic_rpc_handlers((generic,)))


def _check_table(service: ServiceDescriptor, servicer: GuardedServicer) -> None:
    methods = {method.name for method in service.methods}
    declared = set(servicer.ACCESS)
    missing = sorted(m for m in methods if not callable(getattr(servicer, m, None)))
    if declared != methods or missing:
        raise TypeError(
            f"{type(servicer).__name__} does not match {service.full_name}: "
            f"no access declared for {sorted(methods - declared)}, "
            f"access declared for unknown {sorted(declared - methods)}, "
            f"not implemented {missing}"
        )


def _handler(
    method: MethodDescriptor, behaviour: Any, table: Mapping[str, Access], guard: Guard
) -> grpc.RpcMethodHandler[Any, Any]:
    if method.client_streaming:
        raise TypeError(f"{method.full_name}: client streaming is not served by the key vault")
    access = table[method.name]
    request = message_factory.GetMessageClass(method.input_type)
    response = message_factory.GetMessageClass(method.output_type)
    if method.server_streaming:
        return grpc.unary_stream_rpc_method_handler(
            _streaming(behaviour, access, guard),
            request_deserializer=request.FromString,
            response_serializer=response.SerializeToString,
        )
    return grpc.unary_unary_rpc_method_handler(
        _unary(behaviour, access, guard),
        request_deserializer=request.FromString,
        response_serializer=response.SerializeToString,
    )


def _actor(guard: Guard, context: Ctx, access: Access) -> Actor:
    return guard.check(context.invocation_metadata(), access, context)


def _unary(behaviour: Any, access: Access, guard: Guard) -> Any:
    async def call(request: Any, context: Ctx) -> Any:
        return await behaviour(request, context, _actor(guard, context, access))

    return call


def _streaming(behaviour: Any, access: Access, guard: Guard) -> Any:
    async def call(request: Any, context: Ctx) -> AsyncIterator[Any]:
        async for item in behaviour(request, context, _actor(guard, context, access)):
            yield item

    return call
