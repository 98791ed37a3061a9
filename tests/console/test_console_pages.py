"""The console in a real browser against the real mesh behind the real edge:
one script per page under console/e2e/, each writing that page's screenshot to
docs/console/, and each result checked here against the API itself."""

from __future__ import annotations

import asyncio

import openai
import pytest

from tests.console.browser import run_script
from tests.console.conftest import Console
from tests.console.stack import console_edge

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]


async def test_sign_in_follows_the_keys_role(console: Console) -> None:
    result = await run_script("signin", console.env())
    roles = result["roles"]
    assert roles["admin"]["role"] == "admin"
    assert roles["viewer"]["role"] == "viewer"
    assert roles["client"]["role"] == "client"
    assert roles["client"]["nav"] == ["Playground", "Workflows", "API docs"]
    for role in ("admin", "viewer"):
        assert {"Playground", "Live", "Usage & cost", "Keys", "Routing"} <= set(roles[role]["nav"])
    for seen in roles.values():  # the key in session storage only
        assert seen["session"] == ["agentopia.session"]
        assert (seen["local"], seen["cookies"]) == (0, 0)
    # The key vault's reason (GET /agentopia/v1/me) or the OpenAI surface's code.
    assert result["badKey"]["code"].lower() == "invalid_api_key"
    assert "Incorrect API key" in result["badKey"]["text"]


async def test_playground_streams_then_explains_the_route(console: Console) -> None:
    result = await run_script("playground", console.env(PLAYGROUND_MODEL="demo-failover"))
    assert result["request"]["stream"] is True
    assert result["request"]["model"] == "demo-failover"
    assert result["partial"], "no text while the stream was open"
    assert result["answer"].startswith(result["partial"])
    assert len(result["answer"]) > len(result["partial"])
    # demo-failover: the flaky primary fails over to a healthy mock deployment.
    assert result["routeModel"].startswith("mock/")
    assert result["latency"].endswith(" ms")
    assert result["ttft"].endswith(" ms")
    assert " in · " in result["tokens"]
    assert result["cost"].startswith("$")


async def _traffic(console: Console, stop: asyncio.Event) -> int:
    """Requests through the edge with the official SDK until `stop`; how many."""
    sent = 0
    async with openai.AsyncOpenAI(
        base_url=f"{console.url}/v1", api_key=console.admin_key, max_retries=0
    ) as sdk:
        while not stop.is_set():
            await sdk.chat.completions.create(
                model="mock/echo", messages=[{"role": "user", "content": f"live {sent}"}]
            )
            sent += 1
    return sent


async def test_live_monitor_moves_under_traffic(console: Console) -> None:
    stop = asyncio.Event()
    traffic = asyncio.create_task(_traffic(console, stop))
    try:
        result = await run_script("live", console.env())
    finally:
        stop.set()
    assert await traffic > 0
    assert result["rps"] > 0
    assert result["tps"] > 0
    assert result["history"][1] > result["history"][0]
    assert result["navigations"] == 1  # updated in place, never reloaded
    assert "mock/echo" in result["perModel"]
    assert result["circuits"] > 0


async def test_usage_drill_down_and_csv_export_match_the_api(console: Console) -> None:
    async with openai.AsyncOpenAI(
        base_url=f"{console.url}/v1", api_key=console.client_key, max_retries=0
    ) as sdk:
        for model in ("mock/echo", "mock/large"):
            await sdk.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "usage"}]
            )
    await _wait_for_usage(console)
    result = await run_script("usage", console.env())
    assert result["keyRow"].startswith("key_")
    assert result["filters"][0].startswith(f"key_id = {result['keyRow']}")
    path = result["exportPath"]
    assert path.startswith("/agentopia/v1/usage:export?")
    assert "key_id=" in path and "group_by=USAGE_GROUP_BY_MODEL" in path
    # The console's download is byte for byte what the report API exports ...
    assert result["csv"] == console.api(path)
    # ... and holds the rows of the summary for the same filters.
    summary = console.api(
        path.replace("usage:export", "usage:summary") + "&page_size=1000",
    )
    lines = result["csv"].strip().splitlines()
    assert len(lines) - 1 == len(summary["rows"]) == len(result["models"])
    assert sorted(result["models"]) == sorted(row["group"] for row in summary["rows"])


async def _wait_for_usage(console: Console) -> None:
    """Until the metrics service has stored the client key's events (they are sent
    in batches, off the request path)."""
    client_id = next(
        k["key_id"]
        for k in console.api("/agentopia/v1/client-keys")["keys"]
        if k["name"] == "console client"
    )
    query = f"/agentopia/v1/usage:summary?key_id={client_id}"
    async with asyncio.timeout(30):
        while sum(int(r["requests"]) for r in console.api(query)["rows"]) < 2:
            await asyncio.sleep(0.1)


async def test_a_client_key_created_and_revoked(console: Console) -> None:
    result = await run_script("keys", console.env())
    assert result["secretPrefix"] == "sk-agp-"
    assert result["before"] == 200  # the secret the page showed once works ...
    assert result["shownAfterDone"] == 0
    assert result["after"] == 401  # ... until the key is revoked
    assert "30 rpm" in result["limits"] and "$2.50/monthly" in result["limits"]
    record = console.api(f"/agentopia/v1/client-keys/{result['keyId']}")["key"]
    assert record["revoked"] is True
    assert record["allowed_models"] == ["mock/echo"]
    assert record["team"] == "console-team"
    assert {"client_key.create", "client_key.revoke"} <= set(result["audit"])
    assert "…9876" in result["providerText"]
    assert "mock-console-secret" not in result["providerText"]


async def test_routing_shows_the_registry_and_applies_a_reviewed_edit(console: Console) -> None:
    result = await run_script("routing", console.env())
    assert result["validation"].startswith("Valid:")
    assert result["diff"] == "+ # console edit: reviewed before applying"
    config = console.api("/agentopia/v1/routing/config")["config"]
    assert result["after"] == f"v{config['version']}"
    assert int(result["before"][1:]) + 1 == config["version"]
    assert "# console edit: reviewed before applying" in config["toml"]
    held = console.api("/agentopia/v1/routing/deployments")["deployments"]
    assert sorted(result["deployments"]) == sorted(d["deployment_id"] for d in held)
    assert {"demo-failover", "demo-outage"} <= set(result["aliases"])
    assert result["viewerButtons"] == 0


async def test_a_page_whose_service_is_down_says_which(console: Console) -> None:
    async with console_edge(console.stack.mesh, without="metrics") as url:
        result = await run_script("outage", {**console.env(), "CONSOLE_URL": url})
    assert "The metrics service is unavailable." in result["usage"]["text"]
    assert result["usage"]["code"] == "service_unavailable"
    assert result["routingRows"] > 0  # the router's pages still work


async def test_failover_drill_opens_and_recovers_the_circuit(console: Console) -> None:
    result = await run_script("failover", console.env())
    states = [t.split(" → ")[-1] for t in result["transitions"]]
    assert states[0] == "closed"  # before the fault
    assert "open" in states
    assert states[-1] == "closed" and states.index("open") < len(states) - 1
    assert result["failoversWhileOpen"] > 0
    # Every request the primary failed was failed over: the client saw successes.
    assert float(result["success"].rstrip("%")) > 90
    assert "mock/flaky" in result["served"]  # the healed primary serves again


async def test_injected_failures_are_found_on_the_errors_page(console: Console) -> None:
    async with openai.AsyncOpenAI(
        base_url=f"{console.url}/v1", api_key=console.admin_key, max_retries=0
    ) as sdk:
        for _ in range(2):  # every mock deployment fails: nothing to fail over to
            with pytest.raises(openai.InternalServerError):
                await sdk.chat.completions.create(
                    model="mock/echo",
                    messages=[{"role": "user", "content": "fail"}],
                    extra_body={"mock": {"fault_status": 500}},
                )
    report = "/agentopia/v1/latency:report?page_size=1000"

    def failures() -> dict[tuple[str, str, str], int]:
        return {
            (code["error_code"], row["provider"], row["model"]): int(code["count"])
            for row in console.api(report)["rows"]
            for code in row["error_codes"]
        }

    async with asyncio.timeout(30):
        while failures().get(("upstream_server_error", "mock", "mock/echo"), 0) < 2:
            await asyncio.sleep(0.1)
    result = await run_script("errors", console.env(EXPECT_CODE="upstream_server_error"))
    shown = {(code, prov, model): int(count) for code, prov, model, count in result["groups"]}
    assert shown == failures()
    by_code: dict[str, int] = {}
    for (code, _, _), count in shown.items():
        by_code[code] = by_code.get(code, 0) + count
    assert {code: int(count) for code, count in result["byCode"]} == by_code


async def test_a_two_step_workflow_runs_and_reruns_from_its_export(console: Console) -> None:
    result = await run_script("workflows", console.env())
    assert result["statuses"] == ["done", "done"]
    assert result["saved"] == ["console two-step"]
    assert result["filename"] == "console-two-step.json"
    assert all(route.startswith("mock/echo on ") for route in result["routes"])
    assert result["total"].startswith("Total: 2 of 2 steps")
    exported = result["exported"]
    assert [step["model"] for step in exported["steps"]] == ["mock/echo", "mock/echo"]
    # The exported workflow is runnable by a script: the same steps through the SDK
    # give the outputs the page showed (the mock provider answers deterministically).
    outputs: list[str] = []
    async with openai.AsyncOpenAI(
        base_url=f"{console.url}/v1", api_key=console.admin_key, max_retries=0
    ) as sdk:
        for step in exported["steps"]:
            prompt = step["prompt"].replace("{{input}}", "Gateways route requests.")
            for number, earlier in enumerate(outputs, start=1):
                prompt = prompt.replace(f"{{{{steps.{number}}}}}", earlier)
            reply = await sdk.chat.completions.create(
                model=step["model"], messages=[{"role": "user", "content": prompt}]
            )
            outputs.append(reply.choices[0].message.content or "")
    assert outputs == result["outputs"]
    assert outputs[0] in outputs[1]  # step 2 was fed step 1's output
