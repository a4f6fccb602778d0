/**
 * How many packets a second the live source takes from a veth without drops.
 *
 * Makes two throwaway network namespaces joined by a veth (tests/netns.ts),
 * captures on side A with {@link LiveSource} (filter `udp and dst port
 * 9999`), and floods it from side B with small UDP datagrams sent by a child
 * process (this script in `send` mode: libc `sendmmsg()` through FFI in a
 * paced loop, on a packet socket or a UDP socket). For each target rate it prints what was sent, what reached
 * the interface, what the kernel passed to the capture and dropped, and what
 * the consumer on the main thread received. Needs root.
 *
 *   deno run -A bench/live_capture_rate.ts [--udp] [--ingress-drop] [SECONDS] [RATE...]
 *
 * RATE is packets per second, or "max" (as fast as the sender goes).
 * Defaults: 3 seconds, rates 100000 200000 400000 800000 max. The sender
 * writes whole frames to a packet socket (fast); `--udp` sends through a
 * UDP socket instead (slower: the sender's own stack is the limit).
 * `--ingress-drop` drops frames at side A's nftables netdev ingress hook,
 * after the capture tap and before IP, so the receive path costs less and
 * the sender goes faster.
 *
 * @module
 */
import { LiveSource } from "../capture/live_source.ts";
import { createVethPair, type VethPair } from "../tests/netns.ts";

const PORT = 9999;
const PAYLOAD = 18; // 60-byte frames: the minimum Ethernet frame
const VLEN = 256; // datagrams per sendmmsg() call

/** One measured step. */
export interface RateResult {
  /** How the sender made packets. */
  readonly mode: SendMode;
  /** CPUs this (capturing) process used meanwhile: 1 is one core busy. */
  readonly cpu: number;
  /** Target rate in packets per second (0: as fast as possible). */
  readonly target: number;
  /** Datagrams the sender sent. */
  readonly sent: number;
  /** Seconds the sender ran. */
  readonly seconds: number;
  /** Packets counted by the receiving interface. */
  readonly ifaceRx: number;
  /** Packets the kernel dropped before the stack (backlog full). */
  readonly ifaceDropped: number;
  /** Packets the kernel passed to the capture. */
  readonly recv: number;
  /** Packets the kernel dropped because the capture buffer was full. */
  readonly drop: number;
  /** Frames that reached the consumer on the main thread. */
  readonly captured: number;
}

const LIBC = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  if_nametoindex: { parameters: ["buffer"], result: "u32" },
  sendmmsg: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

type Libc = Deno.DynamicLibrary<typeof LIBC>;

const AF_INET = 2;
const SOCK_DGRAM = 2;
const AF_PACKET = 17;
const SOCK_RAW = 3;
const ETH_P_IP_BE = 0x0008; // htons(0x0800)

/** How the sender makes packets. */
export type SendMode = "udp" | "raw";

/** What the sender needs to know about the two ends. */
interface Ends {
  readonly iface: string;
  readonly srcMac: string;
  readonly dstMac: string;
  readonly srcIp: string;
  readonly dstIp: string;
}

function macBytes(mac: string): number[] {
  return mac.split(":").map((h) => Number.parseInt(h, 16));
}

function ipBytes(ip: string): number[] {
  return ip.split(".").map(Number);
}

/** A UDP datagram socket connected to the destination (kernel builds frames). */
function udpSocket(libc: Libc, e: Ends): { fd: number; packet: Uint8Array } {
  const fd = libc.symbols.socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) throw new Error("Cannot open a UDP socket");
  const sa = new Uint8Array(16);
  const v = new DataView(sa.buffer);
  v.setUint16(0, AF_INET, true);
  v.setUint16(2, PORT);
  sa.set(ipBytes(e.dstIp), 4);
  if (libc.symbols.connect(fd, sa, 16) < 0) {
    throw new Error(`Cannot connect a UDP socket to "${e.dstIp}"`);
  }
  return { fd, packet: new Uint8Array(PAYLOAD) };
}

/**
 * A packet socket bound to the interface, with a whole Ethernet/IPv4/UDP
 * frame from srcIp to dstIp:PORT (the same datagram the UDP socket would
 * send, but without the sender's UDP and IP layers).
 */
function rawSocket(libc: Libc, e: Ends): { fd: number; packet: Uint8Array } {
  const fd = libc.symbols.socket(AF_PACKET, SOCK_RAW, ETH_P_IP_BE);
  if (fd < 0) throw new Error("Cannot open a packet socket (needs root)");
  const index = libc.symbols.if_nametoindex(
    new TextEncoder().encode(e.iface + "\0"),
  );
  if (index === 0) throw new Error(`No interface "${e.iface}"`);
  // struct sockaddr_ll: family u16, protocol u16 (BE), ifindex i32, …
  const sll = new Uint8Array(20);
  const sv = new DataView(sll.buffer);
  sv.setUint16(0, AF_PACKET, true);
  sv.setUint16(2, 0x0800);
  sv.setInt32(4, index, true);
  if (libc.symbols.bind(fd, sll, 20) < 0) {
    throw new Error(`Cannot bind a packet socket to "${e.iface}"`);
  }
  const f = new Uint8Array(14 + 20 + 8 + PAYLOAD);
  const v = new DataView(f.buffer);
  f.set(macBytes(e.dstMac), 0);
  f.set(macBytes(e.srcMac), 6);
  v.setUint16(12, 0x0800);
  v.setUint8(14, 0x45);
  v.setUint16(16, 20 + 8 + PAYLOAD);
  v.setUint8(22, 64); // TTL
  v.setUint8(23, 17); // UDP
  f.set(ipBytes(e.srcIp), 26);
  f.set(ipBytes(e.dstIp), 30);
  let sum = 0;
  for (let o = 14; o < 34; o += 2) sum += v.getUint16(o);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  v.setUint16(24, ~sum & 0xffff);
  v.setUint16(34, 40000);
  v.setUint16(36, PORT);
  v.setUint16(38, 8 + PAYLOAD); // UDP checksum 0: none
  return { fd, packet: f };
}

/** Sends datagrams to dstIp:PORT at `rate` a second (0: flat out). */
function flood(mode: SendMode, e: Ends, rate: number, seconds: number): number {
  const libc = Deno.dlopen("libc.so.6", LIBC);
  try {
    const { fd, packet } = mode === "raw"
      ? rawSocket(libc, e)
      : udpSocket(libc, e);
    // One packet and one iovec shared by VLEN `struct mmsghdr`s (64 bytes
    // each on LP64: msghdr of 56 with msg_iov at 16 and msg_iovlen at 24,
    // then msg_len), sent with one sendmmsg() call.
    const iov = new BigUint64Array(2);
    iov[0] = Deno.UnsafePointer.value(Deno.UnsafePointer.of(packet));
    iov[1] = BigInt(packet.length);
    const iovAddr = Deno.UnsafePointer.value(Deno.UnsafePointer.of(iov));
    const msgs = new BigUint64Array(VLEN * 8);
    for (let i = 0; i < VLEN; i++) {
      msgs[i * 8 + 2] = iovAddr;
      msgs[i * 8 + 3] = 1n;
    }
    const start = performance.now();
    const end = start + seconds * 1000;
    let sent = 0;
    while (true) {
      const now = performance.now();
      if (now >= end) break;
      const due = rate > 0
        ? Math.floor(((now - start) / 1000) * rate) - sent
        : VLEN;
      if (due < 1) continue;
      const n = libc.symbols.sendmmsg(fd, msgs, Math.min(VLEN, due), 0);
      if (n > 0) sent += n;
    }
    libc.symbols.close(fd);
    // The kernel read these through raw addresses: keep them alive till here.
    if (packet.length + iov.length === 0) return -1;
    return sent;
  } finally {
    libc.close();
  }
}

async function ifaceCounters(
  ns: string,
  iface: string,
): Promise<{ rx: number; dropped: number }> {
  const out = await new Deno.Command("ip", {
    args: ["-n", ns, "-s", "-j", "link", "show", iface],
    stdout: "piped",
  }).output();
  const parsed: unknown = JSON.parse(new TextDecoder().decode(out.stdout));
  const first: unknown = Array.isArray(parsed) ? parsed[0] : null;
  if (typeof first === "object" && first !== null && "stats64" in first) {
    const s = first.stats64;
    if (typeof s === "object" && s !== null && "rx" in s) {
      const rx = s.rx;
      if (
        typeof rx === "object" && rx !== null && "packets" in rx &&
        "dropped" in rx && typeof rx.packets === "number" &&
        typeof rx.dropped === "number"
      ) {
        return { rx: rx.packets, dropped: rx.dropped };
      }
    }
  }
  throw new Error(`Cannot read the counters of "${iface}" in "${ns}"`);
}

/** CPU seconds (user + system) this process has used, from /proc/self/stat. */
function cpuSeconds(): number {
  const stat = Deno.readTextFileSync("/proc/self/stat");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 14 and 15 (utime, stime) are at 11 and 12 after the name; the
  // kernel counts them in USER_HZ ticks, 100 a second on Linux.
  return (Number(f[11]) + Number(f[12])) / 100;
}

async function step(
  pair: VethPair,
  mode: SendMode,
  target: number,
  seconds: number,
): Promise<RateResult> {
  const src = await LiveSource.open({
    iface: pair.a.iface,
    netns: pair.a.ns,
    filter: `udp and dst port ${PORT}`,
    statsMs: 100,
  });
  let captured = 0;
  const reading = (async () => {
    for await (const b of src.batches()) captured += b.count;
  })();
  const before = await ifaceCounters(pair.a.ns, pair.a.iface);
  const cpuBefore = cpuSeconds();
  const t0 = performance.now();
  const out = await pair.exec(pair.b, [
    Deno.execPath(),
    "run",
    "--allow-ffi",
    "--allow-read",
    import.meta.filename ?? new URL(import.meta.url).pathname,
    "send",
    mode,
    pair.b.iface,
    pair.b.mac,
    pair.a.mac,
    pair.b.ip,
    pair.a.ip,
    String(target),
    String(seconds),
  ]);
  if (!out.success) {
    throw new Error(
      `The sender failed: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  const sent: unknown = JSON.parse(new TextDecoder().decode(out.stdout));
  if (typeof sent !== "object" || sent === null || !("sent" in sent)) {
    throw new Error("The sender printed no count");
  }
  const after = await ifaceCounters(pair.a.ns, pair.a.iface);
  const rx = after.rx - before.rx;
  // Wait until the capture has taken in everything that arrived (deadline).
  const until = Date.now() + 10_000;
  while (Date.now() < until) {
    const s = src.stats();
    if (s.recv >= rx && captured >= s.recv - s.drop) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const cpu = (cpuSeconds() - cpuBefore) / ((performance.now() - t0) / 1000);
  const stats = await src.close();
  await reading;
  return {
    mode,
    cpu,
    target,
    sent: Number(sent.sent),
    seconds,
    ifaceRx: rx,
    ifaceDropped: after.dropped - before.dropped,
    recv: stats.recv,
    drop: stats.drop,
    captured,
  };
}

function row(cells: (string | number)[]): string {
  return cells.map((c) => String(c).padStart(11)).join(" ");
}

/** Runs the steps and prints a table, then one JSON line per step. */
async function main(args: string[]): Promise<void> {
  if (args[0] === "send") {
    const [, mode, iface, srcMac, dstMac, srcIp, dstIp, rate, secs] = args;
    const sent = flood(
      mode === "raw" ? "raw" : "udp",
      {
        iface: iface!,
        srcMac: srcMac!,
        dstMac: dstMac!,
        srcIp: srcIp!,
        dstIp: dstIp!,
      },
      Number(rate),
      Number(secs),
    );
    Deno.stdout.writeSync(
      new TextEncoder().encode(JSON.stringify({ sent }) + "\n"),
    );
    return;
  }
  const mode: SendMode = args.includes("--udp") ? "udp" : "raw";
  const ingressDrop = args.includes("--ingress-drop");
  args = args.filter((a) => !a.startsWith("--"));
  const seconds = Number(args[0] ?? 3);
  const rates = args.length > 1
    ? args.slice(1).map((r) => r === "max" ? 0 : Number(r))
    : [100_000, 200_000, 400_000, 800_000, 0];
  const print = (s: string) =>
    Deno.stdout.writeSync(new TextEncoder().encode(s + "\n"));
  await using pair = await createVethPair();
  if (ingressDrop) {
    // Drop every frame at side A's netdev ingress hook, which runs after
    // packet taps (the capture still sees them) but before IP: the receive
    // path gets cheap, so the sender (same CPU in softirq) can go faster.
    for (
      const cmd of [
        ["nft", "add", "table", "netdev", "bench"],
        ["nft", "add", "chain", "netdev", "bench", "in"].concat(
          `{ type filter hook ingress device "${pair.a.iface}" priority 0; policy drop; }`,
        ),
      ]
    ) {
      const out = await pair.exec(pair.a, cmd);
      if (!out.success) {
        throw new Error(
          `Command failed: "${cmd.join(" ")}": ${
            new TextDecoder().decode(out.stderr)
          }`,
        );
      }
    }
  }
  print(
    `live capture on a veth, ${PAYLOAD + 42}-byte frames sent by ${
      mode === "raw" ? "a packet socket" : "a UDP socket"
    }${
      ingressDrop ? ", dropped at ingress after the tap" : ""
    }, ${seconds} s per step, ${navigator.hardwareConcurrency} CPUs`,
  );
  print(row([
    "target/s",
    "sent/s",
    "iface rx/s",
    "if dropped",
    "pcap recv",
    "pcap drop",
    "captured/s",
    "lost %",
    "capture CPU",
  ]));
  const results: RateResult[] = [];
  for (const target of rates) {
    const r = await step(pair, mode, target, seconds);
    results.push(r);
    const lost = r.ifaceRx === 0 ? 0 : 100 * (1 - r.captured / r.ifaceRx);
    print(row([
      target === 0 ? "max" : target,
      Math.round(r.sent / seconds),
      Math.round(r.ifaceRx / seconds),
      r.ifaceDropped,
      r.recv,
      r.drop,
      Math.round(r.captured / seconds),
      lost.toFixed(2),
      r.cpu.toFixed(2),
    ]));
  }
  for (const r of results) print(JSON.stringify(r));
}

if (import.meta.main) await main(Deno.args);
