/**
 * Captures for the dashboard tests, written with the project's pcap
 * writer: ordinary home traffic (DNS, HTTP, TLS to public servers), a SYN
 * port scan from a public address, and names on the wire carrying HTML and
 * script payloads in a DNS question, an HTTP Host header and a TLS SNI.
 *
 * @module
 */
import { writePcap } from "../../capture/mod.ts";
import { parseAddr } from "../../decode/mod.ts";

/** Payloads that would set these window flags if they ever ran. */
export const HOSTILE = {
  dns: "<img/src=x/onerror=__pwned_dns=1>.evil.example",
  http: "<img src=x onerror=__pwned_http=1>",
  tls: '"><script>__pwned_tls=1</script>',
  flags: ["__pwned_dns", "__pwned_http", "__pwned_tls", "__pwned_alert"],
} as const;

/** The scanning address (scanme.nmap.org, which invites scans). */
export const SCANNER = "45.33.32.156";
/** The home client. */
export const CLIENT = "192.168.1.20";

function u16(x: number): number[] {
  return [(x >> 8) & 0xff, x & 0xff];
}

function u32(x: number): number[] {
  return [(x >>> 24) & 0xff, (x >>> 16) & 0xff, (x >>> 8) & 0xff, x & 0xff];
}

function bytes(text: string): number[] {
  return [...new TextEncoder().encode(text)];
}

function addr(text: string): number[] {
  const a = parseAddr(text);
  if (a === null || a.version !== 4) throw new TypeError(`Not IPv4: ${text}`);
  return u32(a.words[0]!);
}

function frame(
  src: string,
  dst: string,
  proto: number,
  l4: number[],
): Uint8Array {
  const ip = [
    0x45,
    0,
    ...u16(20 + l4.length),
    ...u16(0x1234),
    0,
    0,
    64,
    proto,
    0,
    0,
    ...addr(src),
    ...addr(dst),
  ];
  return new Uint8Array([
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
    11,
    0x08,
    0x00,
    ...ip,
    ...l4,
  ]);
}

function tcp(
  src: string,
  dst: string,
  sport: number,
  dport: number,
  flags: number,
  payload: number[] = [],
  seq = 1000,
): Uint8Array {
  const h = [
    ...u16(sport),
    ...u16(dport),
    ...u32(seq),
    ...u32(flags & 0x10 ? 1 : 0),
    0x50,
    flags,
    ...u16(65535),
    0,
    0,
    0,
    0,
  ];
  return frame(src, dst, 6, [...h, ...payload]);
}

function udp(
  src: string,
  dst: string,
  sport: number,
  dport: number,
  payload: number[],
) {
  return frame(src, dst, 17, [
    ...u16(sport),
    ...u16(dport),
    ...u16(8 + payload.length),
    0,
    0,
    ...payload,
  ]);
}

function dnsQuery(name: string, id: number): number[] {
  const q: number[] = [];
  for (const label of name.split(".")) {
    if (label === "") continue;
    const b = bytes(label);
    q.push(b.length, ...b);
  }
  q.push(0);
  return [
    ...u16(id),
    ...u16(0x0100),
    ...u16(1),
    0,
    0,
    0,
    0,
    0,
    0,
    ...q,
    ...u16(1),
    ...u16(1),
  ];
}

function clientHello(sni: string): number[] {
  const name = bytes(sni);
  const entry = [0, ...u16(name.length), ...name];
  const list = [...u16(entry.length), ...entry];
  const exts = [
    ...u16(0),
    ...u16(list.length),
    ...list,
    ...u16(43),
    ...u16(3),
    2,
    0x03,
    0x04,
  ];
  const body = [
    ...u16(0x0303),
    ...new Array(32).fill(7),
    32,
    ...new Array(32).fill(9),
    ...u16(4),
    0x13,
    0x01,
    0xc0,
    0x2f,
    1,
    0,
    ...u16(exts.length),
    ...exts,
  ];
  const hs = [1, 0, ...u16(body.length), ...body];
  return [22, 3, 1, ...u16(hs.length), ...hs];
}

const SYN = 0x02, ACK = 0x10, PSH = 0x08, RST = 0x04;

interface Frame {
  tsUs: number;
  data: Uint8Array;
}

/** A TCP conversation: handshake, request, a few answer segments. */
function conversation(
  out: Frame[],
  t: number,
  client: string,
  server: string,
  sport: number,
  dport: number,
  request: number[],
  answerBytes: number,
): void {
  out.push({ tsUs: t, data: tcp(client, server, sport, dport, SYN) });
  out.push({
    tsUs: t + 20_000,
    data: tcp(server, client, dport, sport, SYN | ACK),
  });
  out.push({ tsUs: t + 40_000, data: tcp(client, server, sport, dport, ACK) });
  out.push({
    tsUs: t + 41_000,
    data: tcp(client, server, sport, dport, PSH | ACK, request, 1001),
  });
  for (let i = 0; i < 4; i++) {
    out.push({
      tsUs: t + 80_000 + i * 5_000,
      data: tcp(
        server,
        client,
        dport,
        sport,
        ACK,
        new Array(Math.min(1400, answerBytes)).fill(0x41),
        5000 + i * 1400,
      ),
    });
  }
}

/**
 * Writes the demo capture: `seconds` of packet time starting at
 * `startUs`, with ordinary traffic throughout, the hostile names early,
 * and the port scan starting at `scanAtS` (-1: no scan).
 */
export async function writeDashboardCapture(
  path: string,
  opts: {
    startUs?: number;
    seconds?: number;
    scanAtS?: number;
    /** The scanned host (default the home client). */
    scanTarget?: string;
  } = {},
): Promise<void> {
  const target = opts.scanTarget ?? CLIENT;
  const t0 = opts.startUs ?? Date.now() * 1000;
  const seconds = opts.seconds ?? 12;
  const scanAt = opts.scanAtS ?? 6;
  const f: Frame[] = [];
  const servers = ["93.184.215.14", "151.101.1.69", "140.82.121.4", "2.16.0.1"];
  for (let s = 0; s < seconds; s++) {
    const t = t0 + s * 1_000_000;
    const srv = servers[s % servers.length]!;
    f.push({
      tsUs: t,
      data: udp(
        CLIENT,
        "192.168.1.1",
        40000 + s,
        53,
        dnsQuery(`www${s % 3}.example.org`, s),
      ),
    });
    conversation(
      f,
      t + 100_000,
      CLIENT,
      srv,
      50000 + s,
      443,
      clientHello("www.example.org"),
      1400,
    );
    conversation(
      f,
      t + 400_000,
      CLIENT,
      servers[(s + 1) % servers.length]!,
      51000 + s,
      80,
      bytes(
        `GET /index.html HTTP/1.1\r\nHost: news.example.com\r\nUser-Agent: test\r\n\r\n`,
      ),
      1000,
    );
    if (s === Math.min(1, seconds - 1)) {
      f.push({
        tsUs: t + 600_000,
        data: udp(CLIENT, "192.168.1.1", 41000, 53, dnsQuery(HOSTILE.dns, 77)),
      });
      conversation(
        f,
        t + 650_000,
        CLIENT,
        "151.101.1.69",
        52000,
        80,
        bytes(
          `GET / HTTP/1.1\r\nHost: ${HOSTILE.http}\r\nUser-Agent: x\r\n\r\n`,
        ),
        600,
      );
      conversation(
        f,
        t + 800_000,
        CLIENT,
        "93.184.215.14",
        52001,
        443,
        clientHello(HOSTILE.tls),
        600,
      );
    }
    if (scanAt >= 0 && s === scanAt) {
      for (let p = 1; p <= 120; p++) {
        const ts = t + p * 2_000;
        f.push({ tsUs: ts, data: tcp(SCANNER, target, 61000, p, SYN) });
        f.push({
          tsUs: ts + 500,
          data: tcp(target, SCANNER, p, 61000, RST | ACK),
        });
      }
    }
  }
  f.sort((a, b) => a.tsUs - b.tsUs);
  await writePcap(path, f);
}
