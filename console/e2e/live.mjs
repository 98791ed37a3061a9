// The live monitor under traffic the test generates: the tiles move from the
// SSE stream, frame by frame, without a reload.
import { env, run, shot, signIn } from "./harness.mjs";

await run(async ({ page }) => {
  await signIn(page, env("VIEWER_KEY"), { route: "/live" });
  const rps = page.getByTestId("tile-rps");
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="tile-rps"]')?.textContent) > 0, null, {
    timeout: 60_000,
  });
  const first = await page.evaluate(() => document.querySelector(".status-line")?.textContent ?? "");
  // A later frame: the window's history grows while the page stays loaded.
  const seconds = (text) => Number(/(\d+) s of history/.exec(text)?.[1] ?? 0);
  await page.waitForFunction(
    (before) => Number(/(\d+) s of history/.exec(document.querySelector(".status-line")?.textContent ?? "")?.[1] ?? 0) > before + 1,
    seconds(first),
    { timeout: 30_000 },
  );
  // The per-model table (latency report) lists the model the traffic used.
  await page.locator('[data-testid="per-model"] tbody tr').first().waitFor({ timeout: 30_000 });
  const read = async (id) => (await page.getByTestId(id).textContent()).trim();
  await shot(page, "live-monitor");
  return {
    rps: Number(await rps.textContent()),
    tps: Number(await read("tile-tps")),
    latency: await read("tile-latency"),
    history: [seconds(first), seconds(await page.locator(".status-line").textContent())],
    perModel: await page.locator('[data-testid="per-model"] tbody tr td:nth-child(2)').allTextContents(),
    circuits: await page.locator('[data-testid="circuits"] tbody tr').count(),
    navigations: await page.evaluate(() => performance.getEntriesByType("navigation").length),
  };
});
