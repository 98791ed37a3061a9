// Shared by the browser tests: the system's Chromium through playwright-core
// (never a downloaded browser), sign-in, screenshots, and the one result line
// the pytest side reads (`RESULT {json}`).
import { chromium } from "playwright-core";
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";

export const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

export async function open() {
  const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
  if (!existsSync(executablePath)) throw new Error(`no Chromium at ${executablePath}`);
  const browser = await chromium.launch({ executablePath, args: ["--no-sandbox", "--disable-gpu"] });
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  const consoleErrors = [];
  page.on("pageerror", (error) => consoleErrors.push(String(error)));
  return { browser, context, page, consoleErrors };
}

export async function signIn(page, key, { route = "" } = {}) {
  await page.goto(`${env("CONSOLE_URL")}/${route ? `#${route}` : ""}`);
  await page.getByLabel("API key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("role").waitFor();
  if (route) await page.goto(`${env("CONSOLE_URL")}/#${route}`);
}

export async function shot(page, name) {
  const dir = process.env.SCREENSHOT_DIR;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
}

export async function run(body) {
  const session = await open();
  try {
    const result = await body(session);
    if (session.consoleErrors.length) throw new Error(`page errors: ${session.consoleErrors.join("; ")}`);
    process.stdout.write(`RESULT ${JSON.stringify(result ?? {})}\n`);
  } finally {
    await session.browser.close();
  }
}
