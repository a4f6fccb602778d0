/**
 * NetSentinel as a user runs it, inside a lab host's namespace:
 * `deno run -A main.ts run -i IFACE --data DIR --config FILE --listen
 * HOST:PORT`, started, polled until capture is up, killed (SIGKILL, as a
 * power cut would) and started again on the same data directory.
 *
 * @module
 */
import type { Lab, LabProcess } from "./_lab.ts";
import { mustRun, poll, PollAbort } from "./_lab.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const MAIN = `${ROOT}main.ts`;

/**
 * Fills Deno's module cache with everything NetSentinel (and the lab's web
 * server) loads, and builds the dashboard bundle when its sources changed,
 * from the test's own namespace: inside a lab namespace nothing can be
 * downloaded. A no-op when all is in place.
 */
export async function prepareCode(): Promise<void> {
  const env = { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" };
  await mustRun([
    Deno.execPath(),
    "cache",
    MAIN,
    `${ROOT}tests/lab/http_server.ts`,
  ], { env, timeoutMs: 300_000 });
  await mustRun([
    Deno.execPath(),
    "run",
    "-A",
    `${ROOT}server/build_bundle.ts`,
  ], { env, cwd: ROOT, timeoutMs: 300_000 });
}

/** Options of {@link startNetSentinel}. */
export interface NetSentinelOptions {
  /** Lab host whose namespace it runs in, and whose interface it captures. */
  host: string;
  dataDir: string;
  configPath: string;
  /** Dashboard port on the host's address. */
  port: number;
  /** First admin password (NETSENTINEL_PASSWORD). */
  password: string;
  /** Deadline for capture to come up, ms (default 60 s). */
  timeoutMs?: number;
}

/** A running NetSentinel. */
export interface NetSentinel {
  readonly proc: LabProcess;
  /** The dashboard's base URL (no trailing slash). */
  readonly url: string;
  /** `/health` as JSON, fetched from inside the host's namespace. */
  health(): Promise<Health | null>;
}

/** The parts of `/health` the tests read. */
export interface Health {
  status: string;
  parts: {
    capture?: { state: string; interface?: string; packets?: number };
    blocker?: { state: string; detail?: string };
    [part: string]: unknown;
  };
}

/**
 * Starts NetSentinel and waits until `/health` says capture is up on the
 * host's interface and the blocker is active. Fails with its log otherwise.
 */
export async function startNetSentinel(
  lab: Lab,
  o: NetSentinelOptions,
): Promise<NetSentinel> {
  const h = lab.host(o.host);
  const url = `http://${h.ip}:${o.port}`;
  const proc = lab.spawn(o.host, [
    Deno.execPath(),
    "run",
    "-A",
    MAIN,
    "run",
    "-i",
    h.iface,
    "--data",
    o.dataDir,
    "--config",
    o.configPath,
    "--listen",
    `${h.ip}:${o.port}`,
  ], {
    env: {
      NETSENTINEL_PASSWORD: o.password,
      DENO_NO_UPDATE_CHECK: "1",
      NO_COLOR: "1",
    },
  });
  // The details of /health need sign-in: sign in once, keep the cookie.
  const jar = await Deno.makeTempFile({ prefix: "ns-e2e-jar-" });
  let signedIn = false;
  const health = async (): Promise<Health | null> => {
    // From the victim's own namespace: loopback traffic is not captured.
    if (!signedIn) {
      const s = await lab.exec(o.host, [
        "curl",
        "-s",
        "--max-time",
        "10",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-c",
        jar,
        "-H",
        `Origin: ${url}`,
        "--data-urlencode",
        "user=admin",
        "--data-urlencode",
        `password=${o.password}`,
        `${url}/signin`,
      ], { timeoutMs: 15_000 });
      if (s.stdout !== "303") return null;
      signedIn = true;
    }
    const r = await lab.exec(o.host, [
      "curl",
      "-s",
      "--max-time",
      "3",
      "-b",
      jar,
      `${url}/health`,
    ], { timeoutMs: 10_000 });
    if (!r.success || r.stdout === "") return null;
    return JSON.parse(r.stdout) as Health;
  };
  let exited = false;
  void proc.status.then(() => {
    exited = true;
    return Deno.remove(jar).catch(() => {});
  });
  try {
    await poll("NetSentinel to capture and block", async () => {
      if (exited) throw new PollAbort("NetSentinel exited");
      const j = await health();
      return j?.parts.capture?.state === "up" &&
          j.parts.capture.interface === h.iface &&
          j.parts.blocker?.state === "active"
        ? j
        : null;
    }, { timeoutMs: o.timeoutMs ?? 60_000, everyMs: 200 });
  } catch (e) {
    await proc.stop("SIGKILL");
    throw new Error(
      `${(e as Error).message}\nNetSentinel's log:\n${
        proc.output().slice(-4000)
      }`,
    );
  }
  return { proc, url, health };
}
