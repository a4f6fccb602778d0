/**
 * Headless Chromium for dashboard tests: Debian's `chromium` driven by
 * puppeteer-core, a fresh profile directory per browser, screenshots under
 * `tests/artifacts/` (gitignored).
 *
 * @module
 */
import puppeteer, { type Browser, type Page } from "npm:puppeteer-core@24.8.2";

/** Where Debian installs Chromium. */
export const CHROMIUM = "/usr/bin/chromium";

/** Where screenshots go. */
export const ARTIFACTS: URL = new URL("../artifacts/", import.meta.url);

/** Why browser tests cannot run here, or null when they can. */
export async function browserUnavailable(): Promise<string | null> {
  try {
    await Deno.stat(CHROMIUM);
    return null;
  } catch {
    return `${CHROMIUM} is missing (apt-get install chromium)`;
  }
}

/** A running headless browser; disposing closes it and removes its profile. */
export interface TestBrowser extends AsyncDisposable {
  readonly browser: Browser;
  /** Opens a page with a phone or desktop viewport; collects console errors. */
  page(opts?: { phone?: boolean; dark?: boolean }): Promise<TestPage>;
}

/** A page plus what it reported. */
export interface TestPage {
  readonly page: Page;
  /** Console errors and uncaught exceptions, in order. */
  readonly errors: string[];
  /** Content-Security-Policy violations reported by the page. */
  readonly cspViolations: string[];
}

/** Launches Chromium headless with a fresh profile. */
export async function launchBrowser(): Promise<TestBrowser> {
  const profile = await Deno.makeTempDir({ prefix: "ns-chromium-" });
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      `--user-data-dir=${profile}`,
    ],
  });
  return {
    browser,
    async page(opts = {}) {
      const page = await browser.newPage();
      await page.setViewport(
        opts.phone
          ? { width: 390, height: 844, deviceScaleFactor: 1, isMobile: true }
          : { width: 1280, height: 900, deviceScaleFactor: 1 },
      );
      await page.emulateMediaFeatures([
        { name: "prefers-color-scheme", value: opts.dark ? "dark" : "light" },
      ]);
      const errors: string[] = [];
      const cspViolations: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error") errors.push(m.text());
        if (/Content Security Policy/i.test(m.text())) {
          cspViolations.push(m.text());
        }
      });
      page.on("pageerror", (e) => errors.push(String(e)));
      return { page, errors, cspViolations };
    },
    async [Symbol.asyncDispose]() {
      await browser.close();
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    },
  };
}

/** Saves a full-page screenshot as `tests/artifacts/<name>.png`. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await Deno.mkdir(ARTIFACTS, { recursive: true });
  const path = new URL(`${name}.png`, ARTIFACTS).pathname;
  // A full-page shot scrolls; start at the top so the sticky header stays there.
  await page.evaluate(() => scrollTo(0, 0));
  await page.screenshot({ path: path as `${string}.png`, fullPage: true });
  return path;
}

/**
 * Polls `fn` in the page until it returns a truthy value or `ms` pass;
 * fails with the page's text and the last value seen.
 */
export async function waitInPage<T>(
  page: Page,
  what: string,
  fn: () => T,
  ms = 30_000,
): Promise<T> {
  const until = Date.now() + ms;
  let last: T = await page.evaluate(fn);
  while (!last) {
    if (Date.now() > until) {
      const text = await page.evaluate(() =>
        document.body.innerText.slice(0, 2000)
      );
      throw new Error(
        `Timed out waiting for ${what}; last value ${
          JSON.stringify(last)
        }; page text:\n${text}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
    last = await page.evaluate(fn);
  }
  return last;
}
