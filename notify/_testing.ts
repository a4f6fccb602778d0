/**
 * Test receivers of notify/, started by the tests on loopback: an HTTP
 * receiver that records every request (and answers 503 while "down"), a
 * syslog listener (UDP and TCP with octet counting), an SMTP server
 * (Debian's python3-aiosmtpd, STARTTLS or implicit TLS with a certificate
 * made by openssl), and channel configs pointing at them.
 *
 * @module
 */
import dgram from "node:dgram";
import { join } from "node:path";
import type { ChannelConfig } from "./config.ts";
import { parseChannel } from "./config.ts";

/** One request an {@link HttpReceiver} got. */
export interface Received {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** An HTTP receiver on 127.0.0.1. */
export interface HttpReceiver extends AsyncDisposable {
  /** `http://127.0.0.1:PORT/`. */
  url: string;
  port: number;
  /** Requests answered 2xx, in order. */
  got: Received[];
  /** Requests refused while down. */
  refused: number;
  /** While true, every request is answered 503. */
  down: boolean;
}

/** Starts an HTTP receiver (on `port`, default any free one). */
export function httpReceiver(port = 0): HttpReceiver {
  const r = {
    url: "",
    port: 0,
    got: [] as Received[],
    refused: 0,
    down: false,
  };
  const server = Deno.serve(
    { hostname: "127.0.0.1", port, onListen: () => {} },
    async (req) => {
      const body = await req.text();
      if (r.down) {
        r.refused++;
        return new Response("receiver down", { status: 503 });
      }
      const u = new URL(req.url);
      r.got.push({
        method: req.method,
        path: u.pathname + u.search,
        headers: Object.fromEntries(req.headers),
        body,
      });
      return Response.json({ ok: true });
    },
  );
  r.port = server.addr.port;
  r.url = `http://127.0.0.1:${r.port}/`;
  return Object.assign(r, {
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  });
}

/** A syslog listener on 127.0.0.1 (UDP and TCP on the same port number). */
export interface SyslogListener extends AsyncDisposable {
  port: number;
  /** Messages received over UDP. */
  udp: string[];
  /** Messages received over TCP or TLS (octet counting undone). */
  tcp: string[];
}

/**
 * Starts a syslog listener; with `tls` (PEM files), the stream listener
 * speaks TLS (RFC 5425) instead of plain TCP.
 */
export async function syslogListener(
  tls?: { cert: string; key: string },
): Promise<SyslogListener> {
  const tcp = tls
    ? Deno.listenTls({
      hostname: "127.0.0.1",
      port: 0,
      cert: await Deno.readTextFile(tls.cert),
      key: await Deno.readTextFile(tls.key),
    })
    : Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = tcp.addr.port;
  const sock = dgram.createSocket("udp4");
  const out = { port, udp: [] as string[], tcp: [] as string[] };
  sock.on("message", (b: Uint8Array) => {
    out.udp.push(new TextDecoder().decode(b));
  });
  await new Promise<void>((res) => sock.bind(port, "127.0.0.1", res));
  const conns = new Set<Deno.Conn>();
  const accepting = (async () => {
    for await (const c of tcp) {
      conns.add(c);
      (async () => {
        let buf = new Uint8Array(0);
        for await (const chunk of c.readable) {
          const n = new Uint8Array(buf.length + chunk.length);
          n.set(buf);
          n.set(chunk, buf.length);
          buf = n;
          for (;;) {
            const sp = buf.indexOf(0x20);
            if (sp < 0) break;
            const len = Number(new TextDecoder().decode(buf.subarray(0, sp)));
            if (buf.length < sp + 1 + len) break;
            out.tcp.push(
              new TextDecoder().decode(buf.subarray(sp + 1, sp + 1 + len)),
            );
            buf = buf.slice(sp + 1 + len);
          }
        }
        conns.delete(c);
      })().catch(() => conns.delete(c));
    }
  })().catch(() => {});
  return Object.assign(out, {
    async [Symbol.asyncDispose]() {
      tcp.close();
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // closed by the sender already
        }
      }
      await accepting;
      await new Promise<void>((res) => sock.close(() => res()));
    },
  });
}

/**
 * A private CA and a server certificate for 127.0.0.1 signed by it, made by
 * openssl in `dir` (TLS clients such as rustls refuse a self-signed CA used
 * as the server's own certificate).
 */
export async function makeCert(
  dir: string,
): Promise<{ ca: string; cert: string; key: string }> {
  const ca = join(dir, "ca.pem"), caKey = join(dir, "ca-key.pem");
  const cert = join(dir, "cert.pem"), key = join(dir, "key.pem");
  const csr = join(dir, "server.csr"), ext = join(dir, "server.ext");
  await Deno.writeTextFile(
    ext,
    "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
  );
  const steps = [
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      caKey,
      "-out",
      ca,
      "-days",
      "1",
      "-subj",
      "/CN=NetSentinel test CA",
    ],
    [
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      key,
      "-out",
      csr,
      "-subj",
      "/CN=127.0.0.1",
    ],
    [
      "x509",
      "-req",
      "-in",
      csr,
      "-CA",
      ca,
      "-CAkey",
      caKey,
      "-CAcreateserial",
      "-out",
      cert,
      "-days",
      "1",
      "-extfile",
      ext,
    ],
  ];
  for (const args of steps) {
    const r = await new Deno.Command("openssl", {
      args,
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!r.success) {
      throw new Error(`openssl failed: ${new TextDecoder().decode(r.stderr)}`);
    }
  }
  return { ca, cert, key };
}

/** One message the SMTP server accepted. */
export interface Mail {
  from: string;
  to: string[];
  /** The raw message. */
  data: string;
  /** Decoded Subject and Message-ID headers and plain-text body. */
  subject: string;
  message_id: string;
  text: string;
  /** True when the session was under TLS. */
  tls: boolean;
  /** True when the client logged in. */
  auth: boolean;
}

/** An SMTP server (aiosmtpd) on 127.0.0.1. */
export interface SmtpServer extends AsyncDisposable {
  port: number;
  mails: Mail[];
}

/** Path of the system Python with Debian's aiosmtpd. */
export const SYSTEM_PYTHON = "/usr/bin/python3";

/** True when Debian's python3-aiosmtpd is installed. */
export async function haveAiosmtpd(): Promise<boolean> {
  try {
    const r = await new Deno.Command(SYSTEM_PYTHON, {
      args: ["-c", "import aiosmtpd"],
      stdout: "null",
      stderr: "null",
    }).output();
    return r.success;
  } catch {
    return false;
  }
}

/**
 * Starts aiosmtpd with `mode` "starttls" (STARTTLS required before login)
 * or "tls" (implicit TLS), login `user`/`pass`, on a free port.
 */
export async function smtpServer(
  mode: "starttls" | "tls",
  tls: { cert: string; key: string },
  user: string,
  pass: string,
): Promise<SmtpServer> {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close();
  const script = new URL("./_smtp_receiver.py", import.meta.url).pathname;
  const child = new Deno.Command(SYSTEM_PYTHON, {
    args: [script, mode, String(port), tls.cert, tls.key, user, pass],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const mails: Mail[] = [];
  let ready: () => void;
  const isReady = new Promise<void>((r) => ready = r);
  const reading = (async () => {
    let buf = "";
    for await (
      const chunk of child.stdout.pipeThrough(new TextDecoderStream())
    ) {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        if (line.ready) ready!();
        else mails.push(line as Mail);
      }
    }
  })();
  const timeout = setTimeout(() => ready!(), 10_000);
  await isReady;
  clearTimeout(timeout);
  return {
    port,
    mails,
    async [Symbol.asyncDispose]() {
      await child.stdin.close();
      await child.status;
      await reading;
    },
  };
}

/** A parsed channel from a document (throws like the config does). */
export function channel(doc: Record<string, unknown>): ChannelConfig {
  return parseChannel(doc, "test");
}
