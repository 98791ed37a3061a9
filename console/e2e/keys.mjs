// Keys: a client key created (its secret shown once, and working), then revoked,
// both in the audit log; a provider key added and validated.
import { env, run, shot, signIn } from "./harness.mjs";

await run(async ({ page }) => {
  await signIn(page, env("ADMIN_KEY"), { route: "/keys" });
  const name = `console e2e ${Date.now()}`;
  await page.getByLabel("Name", { exact: true }).fill(name);
  await page.getByLabel("Role", { exact: true }).selectOption("KEY_ROLE_CLIENT");
  await page.getByLabel("Team", { exact: true }).fill("console-team");
  await page.getByLabel("Allowed models").fill("mock/echo");
  await page.getByLabel("Requests per minute").fill("30");
  await page.getByLabel("Budget (USD)").fill("2.50");
  await page.getByRole("button", { name: "Create key" }).click();
  const secret = (await page.getByTestId("secret").textContent()).trim();
  const row = page.locator("[data-testid=client-keys] tbody tr", { hasText: name });
  await row.waitFor();
  const keyId = await row.getAttribute("data-key-id");
  const limits = await row.locator("td").nth(4).textContent();
  const statusWithSecret = async () =>
    page.evaluate(async (s) => (await fetch("/v1/models", { headers: { authorization: `Bearer ${s}` } })).status, secret);
  const before = await statusWithSecret();
  await page.getByRole("button", { name: "Done" }).click(); // the secret leaves the page
  const shownAfterDone = await page.getByTestId("secret").count();
  await shot(page, "keys");

  await row.getByRole("button", { name: "Revoke" }).click();
  await row.waitFor({ state: "detached" });
  await page.getByLabel("Show revoked").check();
  await page.locator("[data-testid=client-keys] tbody tr", { hasText: name }).getByTestId("key-state").getByText("revoked").waitFor();
  const after = await statusWithSecret();

  await page.getByRole("tab", { name: "Audit log" }).click();
  await page.getByLabel("Target id").fill(keyId);
  await page.getByTestId("audit-action").filter({ hasText: "client_key.revoke" }).waitFor();
  const audit = await page.getByTestId("audit-action").allTextContents();
  await shot(page, "keys-audit");

  await page.getByRole("tab", { name: "Provider keys" }).click();
  await page.getByLabel("Provider", { exact: true }).fill("mock");
  await page.getByLabel("Label", { exact: true }).fill("console mock key");
  await page.getByLabel("Secret", { exact: true }).fill("mock-console-secret-9876");
  await page.getByRole("button", { name: "Add key" }).click();
  const providerRow = page.locator("[data-testid=provider-keys] tbody tr", { hasText: "console mock key" });
  await providerRow.waitFor();
  await providerRow.getByRole("button", { name: "Validate" }).click();
  await providerRow.getByTestId("health").getByText("validated").waitFor();
  const providerText = await providerRow.textContent();
  await shot(page, "keys-provider");
  return { name, keyId, limits, before, shownAfterDone, after, audit, providerText, secretPrefix: secret.slice(0, 7) };
});
