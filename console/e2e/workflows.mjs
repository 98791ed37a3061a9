// A two-step workflow: run in the page (each step streamed, the second fed the
// first's output), saved, exported as JSON and imported back.
import { readFileSync } from "node:fs";
import { env, run, shot, signIn } from "./harness.mjs";

await run(async ({ page }) => {
  await signIn(page, env("ADMIN_KEY"), { route: "/workflows" });
  await page.getByLabel("Workflow name").fill("console two-step");
  await page.getByLabel("Workflow input").fill("Gateways route requests.");
  await page.getByRole("button", { name: "Run" }).click();
  await page.getByTestId("workflow-total").waitFor();
  const steps = page.getByTestId("step-run");
  const statuses = await steps.evaluateAll((els) => els.map((e) => e.getAttribute("data-status")));
  const outputs = await page.getByTestId("step-output").allTextContents();
  const routes = await page.getByTestId("step-route").allTextContents();
  const total = await page.getByTestId("workflow-total").textContent();
  await page.getByRole("button", { name: "Save" }).click();
  const saved = await page.locator("[data-testid=saved-workflows] td:first-child").allTextContents();
  await shot(page, "workflows");
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export JSON" }).click()]);
  const file = await download.path();
  const exported = JSON.parse(readFileSync(file, "utf8"));
  await page.getByLabel("Workflow name").fill("changed");
  await page.getByLabel("Import workflow").setInputFiles(file);
  await page.waitForFunction(() => document.querySelector('[aria-label="Workflow name"]')?.value === "console two-step");
  return { statuses, outputs, routes, total, saved, exported, filename: download.suggestedFilename() };
});
