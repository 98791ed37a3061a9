// Usage and cost: totals, a drill-down from a key to its models, and a CSV
// export whose request and bytes the pytest side replays against the API.
import { readFileSync } from "node:fs";
import { env, run, shot, signIn } from "./harness.mjs";

await run(async ({ page }) => {
  await signIn(page, env("ADMIN_KEY"), { route: "/usage" });
  const table = page.locator('[data-testid="usage-table"] tbody tr');
  // Rows of the listing asked for, not the previous one kept on screen while it loads.
  const settled = (group) => page.locator(`[data-testid=usage-table][data-group=${group}][data-fetching=false]`).waitFor();
  await page.getByLabel("Group by").selectOption("key");
  await settled("key");
  await table.first().waitFor();
  const keyRow = await table.first().locator("td").first().textContent();
  await table.first().click(); // drill down: this key, by model
  await page.getByTestId("filter").waitFor();
  await settled("model");
  await table.first().waitFor();
  const [request, download] = await Promise.all([
    page.waitForRequest((r) => r.url().includes("/agentopia/v1/usage:export")),
    page.waitForEvent("download"),
    page.getByRole("button", { name: "Export CSV" }).click(),
  ]);
  const csv = readFileSync(await download.path(), "utf8");
  const url = new URL(request.url());
  await shot(page, "usage");
  return {
    keyRow,
    filters: await page.getByTestId("filter").allTextContents(),
    models: await table.locator("td:first-child").allTextContents(),
    exportPath: url.pathname + url.search,
    filename: download.suggestedFilename(),
    csv,
  };
});
