// A failover drill: traffic to demo-failover, a fault injected into its primary
// (mock/flaky): requests fail over, the circuit opens; healed, a half-open probe
// succeeds and the circuit closes again.
import { env, run, shot, signIn } from "./harness.mjs";

await run(async ({ page }) => {
  await signIn(page, env("ADMIN_KEY"), { route: "/failover" });
  await page.getByLabel("Deployment to fault").selectOption("mock/flaky");
  await page.getByLabel("Send to").selectOption("demo-failover");
  await page.getByLabel("Fault", { exact: true }).selectOption("fail (503)");
  await page.getByLabel("Requests per second").fill("10");
  await page.getByRole("button", { name: "Start traffic" }).click();
  await page.getByRole("button", { name: "Inject the fault" }).click();
  const circuit = page.getByTestId("tile-circuit");
  await circuit.getByText("open", { exact: true }).waitFor({ timeout: 60_000 });
  const failoversWhileOpen = Number(await page.getByTestId("tile-failovers").textContent());
  await page.getByRole("button", { name: "Heal the deployment" }).click();
  await circuit.getByText("closed", { exact: true }).waitFor({ timeout: 60_000 });
  // A little traffic after recovery, so the chart shows the primary serving again.
  const sentAtRecovery = Number(await page.getByTestId("tile-sent").textContent());
  await page.waitForFunction((n) => Number(document.querySelector('[data-testid="tile-sent"]')?.textContent) > n + 10, sentAtRecovery);
  await page.getByRole("button", { name: "Stop traffic" }).click();
  await shot(page, "failover");
  return {
    transitions: await page.getByTestId("transition").allTextContents(),
    failoversWhileOpen,
    success: await page.getByTestId("tile-success").textContent(),
    served: await page.getByTestId("tile-served").textContent(),
  };
});
