// Routing: the registry and deployments as the router holds them; an edit
// validated, reviewed as a diff and applied; read-only for a viewer.
import { env, run, shot, signIn } from "./harness.mjs";

await run(async ({ page }) => {
  await signIn(page, env("ADMIN_KEY"), { route: "/routing" });
  await page.locator("[data-testid=deployments] tbody tr").first().waitFor();
  const version = page.getByTestId("config-version");
  await page.waitForFunction(() => /v\d+/.test(document.querySelector('[data-testid="config-version"]')?.textContent ?? ""));
  const before = await version.textContent();
  const editor = page.getByLabel("Routing TOML");
  const text = await editor.inputValue();
  await editor.fill(`${text.endsWith("\n") ? text : `${text}\n`}# console edit: reviewed before applying\n`);
  await page.getByRole("button", { name: "Validate" }).click();
  const validation = (await page.getByTestId("validation").textContent()).trim();
  const diff = (await page.getByTestId("diff").textContent()).trim();
  await shot(page, "routing");
  await page.getByRole("button", { name: /^Apply/ }).click();
  await page.waitForFunction((old) => document.querySelector('[data-testid="config-version"]')?.textContent !== old, before);
  const after = await version.textContent();
  const deployments = await page.locator("[data-testid=deployments] tbody tr td:first-child").allTextContents();
  const aliases = await page.locator("[data-testid=aliases] tbody tr td:first-child").allTextContents();

  await page.getByRole("button", { name: "Sign out" }).click();
  await signIn(page, env("VIEWER_KEY"), { route: "/routing" });
  await page.getByText("Read-only: an admin key edits the registry.").waitFor();
  const viewerButtons = await page.getByRole("button", { name: /^Apply/ }).count();
  return { before, after, validation, diff, deployments, aliases, viewerButtons };
});
