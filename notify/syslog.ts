/**
 * Syslog for log collectors: RFC 5424 messages
 * (`<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG`) over UDP
 * (RFC 5426, one message a datagram), TCP (RFC 6587 octet counting) or TLS
 * (RFC 5425, octet counting). The structured data element
 * `netsentinel@32473` (the documentation enterprise number of RFC 5612)
 * carries the delivery id, the count and the severity, so a collector can
 * de-duplicate and filter without parsing the text.
 *
 * @module
 */
import dgram from "node:dgram";
import type { Message } from "./message.ts";
import { messageText } from "./message.ts";

/** Syslog severity of a NetSentinel severity: 1 → crit, 2 → warning, 3 → notice, 4 → info. */
export function syslogSeverity(s: 1 | 2 | 3 | 4): number {
  return { 1: 2, 2: 4, 3: 5, 4: 6 }[s];
}

/** An RFC 5424 SD-PARAM value: `"`, `\` and `]` escaped. */
function sdValue(v: string): string {
  return v.replace(/["\\\]]/g, (c) => "\\" + c);
}

/** A header field: printable ASCII without spaces, or "-". */
function headerField(v: string, max: number): string {
  const s = v.replace(/[^\x21-\x7e]/g, "").slice(0, max);
  return s === "" ? "-" : s;
}

/**
 * Formats one RFC 5424 message (UTF-8 MSG with the BOM the RFC asks for).
 * Lines of the text are joined with " | " so a line-based collector keeps
 * the message whole.
 */
export function formatSyslog(
  m: Message,
  o: { facility: number; appName: string; hostname: string; procId: number },
): string {
  const pri = o.facility * 8 + syslogSeverity(m.severity);
  const msgid = m.kind === "alerts" ? "alert" : m.kind;
  const sd = `[netsentinel@32473 id="${sdValue(m.id)}" count="${m.count}" ` +
    `severity="${m.severity}"]`;
  const body = `${m.title} | ${messageText(m).split("\n").join(" | ")}`;
  return `<${pri}>1 ${m.created} ${headerField(o.hostname, 255)} ` +
    `${headerField(o.appName, 48)} ${o.procId} ${msgid} ${sd} \uFEFF${body}`;
}

/** Sends one line over UDP (one datagram, cut at 8 KiB) to `host:port`. */
export function sendUdp(
  host: string,
  port: number,
  line: string,
): Promise<void> {
  const data = new TextEncoder().encode(line).subarray(0, 8192);
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
    sock.once("error", (e) => {
      sock.close();
      reject(e);
    });
    sock.send(data, port, host, (e) => {
      sock.close();
      if (e) reject(e);
      else resolve();
    });
  });
}

/**
 * Sends one message over TCP or TLS with octet-counting framing
 * (`LEN SP MSG`), then closes the connection.
 */
export async function sendStream(
  o: {
    host: string;
    port: number;
    tls: boolean;
    caCerts?: string[];
    timeoutMs: number;
  },
  line: string,
): Promise<void> {
  const msg = new TextEncoder().encode(line);
  const frame = new Uint8Array([
    ...new TextEncoder().encode(`${msg.length} `),
    ...msg,
  ]);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let conn: Deno.Conn | null = null;
  let late = false;
  const work = (async () => {
    const c = o.tls
      ? await Deno.connectTls({
        hostname: o.host,
        port: o.port,
        ...(o.caCerts ? { caCerts: o.caCerts } : {}),
      })
      : await Deno.connect({ hostname: o.host, port: o.port });
    if (late) {
      c.close();
      return;
    }
    conn = c;
    let off = 0;
    while (off < frame.length) off += await c.write(frame.subarray(off));
  })();
  try {
    await Promise.race([
      work,
      new Promise<never>((_, rej) => {
        timer = setTimeout(
          () => rej(new Error(`timed out after ${o.timeoutMs} ms`)),
          o.timeoutMs,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
    late = true;
    try {
      (conn as Deno.Conn | null)?.close();
    } catch {
      // already closed by the peer: nothing to release
    }
    // A connect still under way closes itself when it ends (late).
    work.catch(() => {});
  }
}
