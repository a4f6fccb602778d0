/**
 * A helper the benches run inside a network namespace they made
 * (`ip netns exec NS deno run -A bench/_ns_agent.ts`), so that everything
 * touching the appliance happens in that namespace: HTTP and WebSocket
 * clients of the dashboard on the namespace's loopback, `nft monitor`,
 * commands timed from inside, and crafted TCP SYNs sent from a packet
 * socket with the exact send time.
 *
 * One JSON command a line on stdin, one JSON reply a line on stdout with
 * the command's `id` (or `error`), and events (`ev`) as they happen. Every
 * time is wall-clock milliseconds (`performance.timeOrigin +
 * performance.now()`), comparable between processes on one machine.
 *
 * @module
 */

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Wall-clock time in ms with sub-ms resolution. */
function wall(): number {
  return performance.timeOrigin + performance.now();
}

function emit(o: Record<string, unknown>): void {
  Deno.stdout.writeSync(enc.encode(JSON.stringify(o) + "\n"));
}

const LIBC = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  if_nametoindex: { parameters: ["buffer"], result: "u32" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

const AF_PACKET = 17;
const SOCK_RAW = 3;

let cookie = "";
let libc: Deno.DynamicLibrary<typeof LIBC> | null = null;
let rawFd = -1;
let macs: { src: number[]; dst: number[] } | null = null;
let monitor: Deno.ChildProcess | null = null;
const sockets: WebSocket[] = [];

function macBytes(mac: string): number[] {
  return mac.split(":").map((h) => Number.parseInt(h, 16));
}

function ipWord(ip: string): number {
  return ip.split(".").reduce((a, b) => a * 256 + Number(b), 0);
}

function sum16(v: DataView, from: number, to: number, acc: number): number {
  for (let o = from; o + 1 < to; o += 2) acc += v.getUint16(o);
  if ((to - from) % 2 === 1) acc += v.getUint8(to - 1) << 8;
  return acc;
}

function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return ~s & 0xffff;
}

/** An Ethernet/IPv4/TCP SYN with an MSS option (the shape scanners send). */
function synFrame(
  src: string,
  dst: string,
  sport: number,
  dport: number,
): Uint8Array {
  const m = macs!;
  const f = new Uint8Array(14 + 20 + 24);
  const v = new DataView(f.buffer);
  f.set(m.dst, 0);
  f.set(m.src, 6);
  v.setUint16(12, 0x0800);
  v.setUint8(14, 0x45);
  v.setUint16(16, 20 + 24);
  v.setUint16(18, dport); // IP id
  v.setUint8(22, 64);
  v.setUint8(23, 6);
  v.setUint32(26, ipWord(src));
  v.setUint32(30, ipWord(dst));
  v.setUint16(24, fold(sum16(v, 14, 34, 0)));
  const t = 34;
  v.setUint16(t, sport);
  v.setUint16(t + 2, dport);
  v.setUint32(t + 4, (sport * 7919 + dport) >>> 0);
  v.setUint8(t + 12, 6 << 4); // data offset 24 bytes
  v.setUint8(t + 13, 0x02); // SYN
  v.setUint16(t + 14, 1024);
  v.setUint8(t + 20, 2); // MSS option
  v.setUint8(t + 21, 4);
  v.setUint16(t + 22, 1460);
  // Pseudo-header: addresses, protocol, TCP length.
  let s = sum16(v, 26, 34, 0) + 6 + 24;
  s = sum16(v, t, t + 24, s);
  v.setUint16(t + 16, fold(s));
  return f;
}

function openRaw(iface: string, srcMac: string, dstMac: string): void {
  libc ??= Deno.dlopen("libc.so.6", LIBC);
  const fd = libc.symbols.socket(AF_PACKET, SOCK_RAW, 0);
  if (fd < 0) throw new Error("Cannot open a packet socket (needs root)");
  const index = libc.symbols.if_nametoindex(enc.encode(iface + "\0"));
  if (index === 0) throw new Error(`No interface "${iface}"`);
  const sll = new Uint8Array(20);
  const sv = new DataView(sll.buffer);
  sv.setUint16(0, AF_PACKET, true);
  sv.setUint16(2, 0x0800);
  sv.setInt32(4, index, true);
  if (libc.symbols.bind(fd, sll, 20) < 0) {
    throw new Error(`Cannot bind a packet socket to "${iface}"`);
  }
  rawFd = fd;
  macs = { src: macBytes(srcMac), dst: macBytes(dstMac) };
}

/** Sends one SYN per port; returns the time just before the last send. */
function sendSyns(
  src: string,
  dst: string,
  sport: number,
  ports: number[],
): number {
  if (rawFd < 0 || libc === null) throw new Error("No packet socket open");
  const frames = ports.map((p) => synFrame(src, dst, sport, p));
  let t = 0;
  for (const f of frames) {
    t = wall();
    const n = libc.symbols.send(rawFd, f, BigInt(f.length), 0);
    if (Number(n) !== f.length) throw new Error("A SYN was not sent");
  }
  return t;
}

function str(o: Record<string, unknown>, k: string): string {
  const v = o[k];
  if (typeof v !== "string") throw new TypeError(`Field "${k}" is missing`);
  return v;
}

function num(o: Record<string, unknown>, k: string): number {
  const v = o[k];
  if (typeof v !== "number") throw new TypeError(`Field "${k}" is missing`);
  return v;
}

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { headers: cookie ? { cookie } : {} });
  return { status: res.status, body: await res.text() };
}

async function waitHealth(url: string, ms: number): Promise<unknown> {
  const until = wall() + ms;
  let last = "";
  while (wall() < until) {
    try {
      const r = await get(`${url}/health`);
      if (r.status === 200) return { t: wall() };
      last = `HTTP ${r.status}: ${r.body.slice(0, 300)}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`No /health 200 within ${ms} ms; last: ${last}`);
}

async function signIn(url: string, password: string): Promise<unknown> {
  const res = await fetch(`${url}/signin`, {
    method: "POST",
    redirect: "manual",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      origin: url,
    },
    body: new URLSearchParams({ user: "admin", password, next: "/" }),
  });
  await res.body?.cancel();
  const set = res.headers.get("set-cookie");
  if (res.status !== 303 || set === null) {
    throw new Error(`Sign-in failed: HTTP ${res.status}`);
  }
  cookie = set.split(";")[0]!;
  return { ok: true };
}

/** GETs `url` every `everyMs` for `ms`; response times in ms and start times. */
async function poll(url: string, ms: number, everyMs: number) {
  const lat: number[] = [];
  const at: number[] = [];
  let errors = 0;
  const start = wall();
  let next = start;
  while (wall() - start < ms) {
    const t0 = wall();
    try {
      const r = await get(url);
      if (r.status === 200) {
        lat.push(wall() - t0);
        at.push(t0);
      } else errors++;
    } catch {
      errors++;
    }
    next += everyMs;
    const wait = next - wall();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    else next = wall();
  }
  return { lat, at, errors };
}

/**
 * Deno's WebSocket constructor also takes request headers (Deno 2 runtime
 * API), which its lib types do not declare yet.
 */
const HeaderWebSocket = WebSocket as unknown as new (
  url: string,
  opts: { headers: Record<string, string> },
) => WebSocket;

function openWs(url: string): Promise<unknown> {
  const ws = new HeaderWebSocket(url.replace(/^http/, "ws") + "/ws/live", {
    headers: { cookie, origin: url },
  });
  sockets.push(ws);
  ws.onmessage = (e) => {
    const t = wall();
    if (typeof e.data !== "string") return;
    const m: unknown = JSON.parse(e.data);
    if (typeof m !== "object" || m === null || !("kind" in m)) return;
    if (m.kind === "alert" && "alert" in m && "isNew" in m) {
      const a = m.alert as {
        src_ip?: string;
        netsentinel?: { type?: string };
      };
      emit({
        ev: "alert",
        t,
        src: a.src_ip,
        type: a.netsentinel?.type,
        isNew: m.isNew,
      });
    }
  };
  return new Promise((res, rej) => {
    ws.onopen = () => res({ ok: true });
    ws.onerror = (e) =>
      rej(new Error(`WebSocket failed: ${(e as ErrorEvent).message}`));
  });
}

/** Starts `nft monitor`; resolves once it has seen a probe table come and go. */
async function startMonitor(): Promise<unknown> {
  monitor = new Deno.Command("nft", {
    args: ["monitor"],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  let ready: () => void = () => {};
  const seen = new Promise<void>((r) => ready = r);
  const probe = `nsbench_probe_${Deno.pid}`;
  void (async () => {
    let buf = "";
    for await (const chunk of monitor!.stdout) {
      const t = wall();
      buf += dec.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.includes(probe)) ready();
        else if (line.startsWith("add element")) emit({ ev: "nft", t, line });
      }
    }
  })();
  const until = wall() + 5000;
  let done = false;
  void seen.then(() => done = true);
  while (!done && wall() < until) {
    await run(["nft", "add", "table", "inet", probe]);
    await run(["nft", "delete", "table", "inet", probe]);
    await Promise.race([seen, new Promise((r) => setTimeout(r, 50))]);
  }
  if (!done) throw new Error("nft monitor printed nothing within 5 s");
  return { ok: true };
}

async function run(cmd: string[]) {
  const t0 = wall();
  const out = await new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    ms: wall() - t0,
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

async function handle(c: Record<string, unknown>): Promise<unknown> {
  switch (c.op) {
    case "health":
      return await waitHealth(str(c, "url"), num(c, "ms"));
    case "signin":
      return await signIn(str(c, "url"), str(c, "password"));
    case "get":
      return await get(str(c, "url"));
    case "poll":
      return await poll(str(c, "url"), num(c, "ms"), num(c, "everyMs"));
    case "ws":
      return await openWs(str(c, "url"));
    case "monitor":
      return await startMonitor();
    case "exec": {
      const cmd = c.cmd;
      if (!Array.isArray(cmd) || !cmd.every((x) => typeof x === "string")) {
        throw new TypeError('Field "cmd" is not a list of strings');
      }
      return await run(cmd);
    }
    case "raw":
      openRaw(str(c, "iface"), str(c, "srcMac"), str(c, "dstMac"));
      return { ok: true };
    case "syns": {
      const ports = c.ports;
      if (!Array.isArray(ports) || !ports.every((p) => typeof p === "number")) {
        throw new TypeError('Field "ports" is not a list of numbers');
      }
      return {
        t: sendSyns(str(c, "src"), str(c, "dst"), num(c, "sport"), ports),
      };
    }
    default:
      throw new Error(`Unknown op "${String(c.op)}"`);
  }
}

async function main(): Promise<void> {
  let buf = "";
  const pending: Promise<void>[] = [];
  for await (const chunk of Deno.stdin.readable) {
    buf += dec.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.trim() === "") continue;
      const c = JSON.parse(line) as Record<string, unknown>;
      if (c.op === "quit") {
        await Promise.allSettled(pending);
        for (const ws of sockets) ws.close();
        monitor?.kill("SIGTERM");
        await monitor?.status;
        if (rawFd >= 0) libc?.symbols.close(rawFd);
        libc?.close();
        emit({ id: c.id, ok: true });
        Deno.exit(0);
      }
      pending.push(
        handle(c).then(
          (r) => emit({ id: c.id, ...(r as Record<string, unknown>) }),
          (e) => emit({ id: c.id, error: (e as Error).message }),
        ),
      );
    }
  }
}

if (import.meta.main) await main();
