// Sign in with each role's key: what the navigation offers follows the role,
// the key lives in sessionStorage only, and a bad key gets a readable error.
import { env, run, shot, signIn } from "./harness.mjs";

await run(async ({ page, context }) => {
  const roles = {};
  for (const [role, key] of [["admin", env("ADMIN_KEY")], ["viewer", env("VIEWER_KEY")], ["client", env("CLIENT_KEY")]]) {
    await signIn(page, key);
    roles[role] = {
      role: await page.getByTestId("role").textContent(),
      nav: await page.locator("header nav a").allTextContents(),
      session: await page.evaluate(() => Object.keys(sessionStorage)),
      local: await page.evaluate(() => Object.keys(localStorage).length),
      cookies: (await context.cookies()).length,
    };
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("API key").waitFor();
  }
  await page.getByLabel("API key").fill("sk-agp-not-a-real-key");
  await page.getByRole("button", { name: "Sign in" }).click();
  const alert = page.getByRole("alert");
  await alert.waitFor();
  const badKey = { text: await alert.textContent(), code: await alert.getAttribute("data-code") };
  await shot(page, "sign-in");
  return { roles, badKey };
});
