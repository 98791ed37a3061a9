// The errors page finds injected failures, grouped by code, provider and model.
import { env, run, shot, signIn } from "./harness.mjs";

await run(async ({ page }) => {
  await signIn(page, env("VIEWER_KEY"), { route: "/errors" });
  const table = page.locator("[data-testid=error-groups] tbody tr");
  await table.filter({ hasText: env("EXPECT_CODE") }).first().waitFor();
  const groups = await table.evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent)));
  await shot(page, "errors");
  await page.getByLabel("Group errors by").selectOption("code");
  await page.locator("[data-testid=error-groups] thead th").first().getByText("code").waitFor();
  const byCode = await table.evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent)));
  return { groups, byCode };
});
