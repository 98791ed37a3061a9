// A streamed request from the playground: the answer grows as chunks arrive,
// then the routing decision, latency, TTFT, tokens and cost appear.
import { env, run, shot, signIn } from "./harness.mjs";

await run(async ({ page }) => {
  await signIn(page, env("ADMIN_KEY"), { route: "/playground" });
  const model = env("PLAYGROUND_MODEL");
  await page.getByLabel("Model").selectOption(model);
  await page.getByLabel("Message 1", { exact: true }).fill("Tell me about gateways");
  // The mock provider's per-request settings: chunks 80 ms apart, so the
  // answer is visibly still arriving when the page is read.
  await page.getByLabel("Extra body").fill('{"mock": {"chunk_delay_ms": 80}}');
  await page.getByRole("button", { name: "Send" }).click();
  const answer = page.getByTestId("answer");
  // Partial text while the stream is still open: the answer arrives as it is generated.
  await page.locator('[data-testid="outcome"][data-done="false"]').waitFor();
  await page.waitForFunction(() => (document.querySelector('[data-testid="answer"]')?.textContent ?? "").length > 0);
  const partial = await answer.textContent();
  await page.locator('[data-testid="outcome"][data-done="true"]').waitFor();
  const read = async (id) => (await page.getByTestId(id).textContent()).trim();
  await shot(page, "playground");
  return {
    partial,
    answer: (await answer.textContent()).trim(),
    routeModel: await read("route-model"),
    failovers: await read("failovers"),
    latency: await read("latency"),
    ttft: await read("ttft"),
    tokens: await read("tokens"),
    cost: await read("cost"),
    request: JSON.parse(await page.getByTestId("request-json").textContent()),
  };
});
