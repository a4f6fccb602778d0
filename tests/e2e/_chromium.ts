/**
 * Headless Chromium inside a network namespace. puppeteer-core launches a
 * small wrapper script that `exec`s `ip netns exec NS /usr/bin/chromium`;
 * with `pipe: true` puppeteer speaks the DevTools protocol over file
 * descriptors 3 and 4, which survive both `exec`s, so no TCP port has to
 * cross from the test's namespace into the browser's. Every page then
 * connects from the namespace's address, as a browser on that host would.
 *
 * @module
 */
import { join } from "node:path";
import puppeteer, { type Browser, type Page } from "npm:puppeteer-core@24.8.2";
import { runCommand } from "./_lab.ts";

/** Where Debian installs Chromium. */
export const CHROMIUM = "/usr/bin/chromium";

/** Where screenshots go (gitignored). */
export const ARTIFACTS: URL = new URL("../artifacts/", import.meta.url);

/** A browser living in a namespace; disposing closes it and removes its files. */
export interface NsBrowser extends AsyncDisposable {
  readonly browser: Browser;
  /** The namespace the browser process is in, as the kernel reports it. */
  readonly ns: string;
  /** Opens a desktop-sized page; console errors are collected in `errors`. */
  page(): Promise<{ page: Page; errors: string[] }>;
  close(): Promise<void>;
}

/**
 * Launches headless Chromium in namespace `ns` (fresh profile) and checks
 * with `ip netns identify` that the browser process really runs there.
 */
export async function launchChromiumIn(ns: string): Promise<NsBrowser> {
  const dir = await Deno.makeTempDir({ prefix: "ns-e2e-chromium-" });
  const wrapper = join(dir, "chromium-in-netns");
  await Deno.writeTextFile(
    wrapper,
    `#!/bin/sh\nexec ip netns exec '${ns}' ${CHROMIUM} "$@"\n`,
    { mode: 0o755 },
  );
  let browser: Browser | null = null;
  const close = async () => {
    if (browser !== null) {
      await browser.close().catch(() => browser?.process()?.kill("SIGKILL"));
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    browser = await puppeteer.launch({
      executablePath: wrapper,
      pipe: true,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        `--user-data-dir=${join(dir, "profile")}`,
      ],
    });
    const pid = browser.process()?.pid;
    if (pid === undefined) throw new Error("Chromium has no process id");
    const id = await runCommand(["ip", "netns", "identify", String(pid)]);
    const where = id.stdout.trim();
    if (where !== ns) {
      throw new Error(
        `Chromium (pid ${pid}) runs in namespace "${where}", not "${ns}"`,
      );
    }
    const b = browser;
    return {
      browser: b,
      ns: where,
      async page() {
        const page = await b.newPage();
        await page.setViewport({ width: 1280, height: 900 });
        const errors: string[] = [];
        page.on("console", (m) => {
          if (m.type() === "error") errors.push(m.text());
        });
        page.on("pageerror", (e) => errors.push(String(e)));
        return { page, errors };
      },
      close,
      [Symbol.asyncDispose]: close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/** Saves a full-page screenshot as `tests/artifacts/<name>.png`; resolves to its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await Deno.mkdir(ARTIFACTS, { recursive: true });
  const path = new URL(`${name}.png`, ARTIFACTS).pathname;
  await page.evaluate(() => scrollTo(0, 0));
  await page.screenshot({ path: path as `${string}.png`, fullPage: true });
  return path;
}

/**
 * Polls `fn` in the page until it returns a truthy value or `ms` pass;
 * fails with the page's text and the last value seen.
 */
export async function waitInPage<T, A extends unknown[]>(
  page: Page,
  what: string,
  fn: (...args: A) => T,
  args: A,
  ms = 30_000,
): Promise<T> {
  const until = Date.now() + ms;
  let last: T | undefined;
  let lastError: unknown = null;
  for (;;) {
    try {
      // deno-lint-ignore no-explicit-any
      last = await page.evaluate(fn as any, ...args) as T;
      if (last) return last;
    } catch (e) {
      // A navigation in progress; try again.
      lastError = e;
    }
    if (Date.now() > until) {
      const text = await page.evaluate(() =>
        document.body?.innerText.slice(0, 2000) ?? ""
      ).catch(() => "(page unreadable)");
      throw new Error(
        `Timed out waiting for ${what}; last value ${JSON.stringify(last)}${
          lastError ? ` (${lastError})` : ""
        }; page text:\n${text}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
