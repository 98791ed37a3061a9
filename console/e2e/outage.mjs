// A backing service down: the pages that need it say which service, with the
// error's code, and the rest of the console keeps working.
import { env, run, shot, signIn } from "./harness.mjs";

await run(async ({ page }) => {
  await signIn(page, env("ADMIN_KEY"), { route: "/usage" });
  const alert = page.getByRole("alert").first();
  await alert.waitFor({ timeout: 60_000 });
  const usage = { text: await alert.textContent(), code: await alert.getAttribute("data-code") };
  await shot(page, "service-down");
  await page.goto(`${env("CONSOLE_URL")}/#/routing`);
  await page.locator("[data-testid=deployments] tbody tr").first().waitFor();
  return { usage, routingRows: await page.locator("[data-testid=deployments] tbody tr").count() };
});
