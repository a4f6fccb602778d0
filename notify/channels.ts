/**
 * Sending one {@link Message} on one channel, each the way its receiver
 * documents it:
 *
 * - webhook: `POST` of JSON; the generic body is NetSentinel's message
 *   (`{"text", "netsentinel": {…}}`), the presets fit Slack and Mattermost
 *   incoming webhooks (`{"text"}`, Mattermost with `username`), Discord
 *   (`{"content", "username"}`, at most 2,000 characters) and Matrix
 *   through matrix-hookshot's generic webhooks (`{"text", "username"}`).
 *   With a secret, `X-NetSentinel-Signature: sha256=<hex>` is the
 *   HMAC-SHA256 of the body under it (GitHub's scheme); every request
 *   carries `X-NetSentinel-Delivery: <id>` to de-duplicate on.
 * - ntfy: JSON publishing to the server's root (`{"topic", "title",
 *   "message", "priority", "tags", "click"}`), priority 5 to 2 from severity
 *   1 to 4, `Authorization: Bearer` with a token.
 * - Gotify: `POST /message` with `X-Gotify-Key`, `{"title", "message",
 *   "priority", "extras"}` (priority 8, 5, 3, 1).
 * - Telegram: `POST /bot<token>/sendMessage` with `{"chat_id", "text"}` (at
 *   most 4,096 characters) at the Bot API's base URL (a proxy's, or a test
 *   stand-in's).
 * - email: nodemailer over SMTP (STARTTLS or implicit TLS, login).
 * - syslog: RFC 5424 (see syslog.ts).
 *
 * Errors are {@link ChannelError}s whose message never holds a secret.
 *
 * @module
 */
import nodemailer from "nodemailer";
import type { ChannelConfig } from "./config.ts";
import { channelSecrets } from "./config.ts";
import { cut, type Message, messageText, severityName } from "./message.ts";
import { formatSyslog, sendStream, sendUdp } from "./syslog.ts";

/** A send failed; the message is safe to show and log (secrets redacted). */
export class ChannelError extends Error {
  /** Creates a channel error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ChannelError";
  }
}

/** Options of {@link sendMessage}. */
export interface SendOptions {
  /** Give up a send after this long, ms (default 15,000). */
  timeoutMs?: number;
}

/** Replaces every secret of the channel in `s` with `***`. */
export function redact(s: string, secrets: readonly string[]): string {
  let out = s;
  for (const x of secrets) {
    if (x.length >= 4) out = out.split(x).join("***");
  }
  return out;
}

/** Hex HMAC-SHA256 of `body` under `key`. */
export async function hmacHex(key: string, body: string): Promise<string> {
  const enc = new TextEncoder();
  const k = await crypto.subtle.importKey(
    "raw",
    enc.encode(key),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const sig = new Uint8Array(
    await crypto.subtle.sign("HMAC", k, enc.encode(body)),
  );
  return [...sig].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function title(m: Message): string {
  return `NetSentinel: ${m.title}`;
}

/** The JSON body of a webhook for its preset. */
export function webhookBody(
  preset: string,
  m: Message,
): Record<string, unknown> {
  const text = `${title(m)}\n${messageText(m)}`;
  switch (preset) {
    case "slack":
      return { text: cut(text, 39_000) };
    case "mattermost":
      return { text: cut(text, 16_000), username: "NetSentinel" };
    case "discord":
      return { content: cut(text, 2000), username: "NetSentinel" };
    case "matrix":
      return { text: cut(text, 30_000), username: "NetSentinel" };
    default:
      return { text, netsentinel: m };
  }
}

const NTFY_PRIORITY = { 1: 5, 2: 4, 3: 3, 4: 2 } as const;
const GOTIFY_PRIORITY = { 1: 8, 2: 5, 3: 3, 4: 1 } as const;

async function post(
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<string> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
    signal: AbortSignal.timeout(timeoutMs),
    redirect: "error",
  });
  const answer = (await res.text()).slice(0, 300).replace(/\s+/g, " ");
  if (!res.ok) {
    throw new ChannelError(`HTTP ${res.status}${answer ? `: ${answer}` : ""}`);
  }
  return `HTTP ${res.status}${answer ? `: ${answer.slice(0, 120)}` : ""}`;
}

function under(base: string, path: string): string {
  return new URL(`./${path}`, base.endsWith("/") ? base : base + "/").href;
}

async function readCa(path: string | null): Promise<string[] | undefined> {
  if (path === null) return undefined;
  try {
    return [await Deno.readTextFile(path)];
  } catch (e) {
    throw new ChannelError(
      `Cannot read the CA file "${path}": ${(e as Error).message}`,
    );
  }
}

interface MailTransport {
  sendMail(m: Record<string, unknown>): Promise<{ response?: string }>;
  close(): void;
}

async function sendOnce(
  c: ChannelConfig,
  m: Message,
  timeoutMs: number,
): Promise<string> {
  const t = c.target;
  const delivery = { "x-netsentinel-delivery": m.id };
  switch (t.kind) {
    case "webhook": {
      const body = JSON.stringify(webhookBody(t.preset, m));
      const headers: Record<string, string> = { ...delivery };
      if (t.secret !== null) {
        headers["x-netsentinel-signature"] = `sha256=${await hmacHex(
          t.secret,
          body,
        )}`;
      }
      return await post(t.url, body, headers, timeoutMs);
    }
    case "ntfy": {
      const body = JSON.stringify({
        topic: t.topic,
        title: title(m),
        message: cut(messageText(m), 4000),
        priority: NTFY_PRIORITY[m.severity],
        tags: [
          m.severity <= 2 ? "rotating_light" : "information_source",
          severityName(m.severity),
          ...new Set(m.items.map((i) => i.type)),
        ].slice(0, 8),
        ...(m.link ? { click: m.link } : {}),
      });
      return await post(t.url, body, {
        ...delivery,
        ...(t.token ? { authorization: `Bearer ${t.token}` } : {}),
      }, timeoutMs);
    }
    case "gotify":
      return await post(
        under(t.url, "message"),
        JSON.stringify({
          title: title(m),
          message: messageText(m),
          priority: GOTIFY_PRIORITY[m.severity],
          extras: {
            "client::display": { contentType: "text/plain" },
            ...(m.link
              ? { "client::notification": { click: { url: m.link } } }
              : {}),
          },
        }),
        { ...delivery, "x-gotify-key": t.token },
        timeoutMs,
      );
    case "telegram":
      return await post(
        under(t.url, `bot${t.token}/sendMessage`),
        JSON.stringify({
          chat_id: /^-?\d+$/.test(t.chat_id) ? Number(t.chat_id) : t.chat_id,
          text: cut(`${title(m)}\n${messageText(m)}`, 4096),
          disable_web_page_preview: true,
        }),
        delivery,
        timeoutMs,
      );
    case "email": {
      const ca = await readCa(t.ca);
      const tr = nodemailer.createTransport({
        host: t.host,
        port: t.port,
        secure: t.security === "tls",
        requireTLS: t.security === "starttls",
        ignoreTLS: t.security === "none",
        ...(t.username !== null
          ? { auth: { user: t.username, pass: t.password ?? "" } }
          : {}),
        connectionTimeout: timeoutMs,
        greetingTimeout: timeoutMs,
        socketTimeout: timeoutMs,
        // SNI only for names (an address is not a server name).
        tls: {
          ...(ca ? { ca } : {}),
          ...(/^[\d.]+$|:/.test(t.host) ? {} : { servername: t.host }),
        },
      }) as MailTransport;
      try {
        const r = await tr.sendMail({
          from: t.from,
          to: t.to,
          subject: `[NetSentinel] ${m.title}`,
          text: messageText(m),
          messageId: `<${m.id}@netsentinel>`,
          headers: { "X-NetSentinel-Delivery": m.id },
        });
        return `SMTP ${r.response ?? "accepted"}`;
      } finally {
        tr.close();
      }
    }
    case "syslog": {
      const line = formatSyslog(m, {
        facility: t.facility,
        appName: t.app_name,
        hostname: Deno.hostname(),
        procId: Deno.pid,
      });
      if (t.transport === "udp") {
        await sendUdp(t.host, t.port, line);
        return `UDP datagram sent to ${t.host}:${t.port}`;
      }
      const caCerts = await readCa(t.ca);
      await sendStream({
        host: t.host,
        port: t.port,
        tls: t.transport === "tls",
        ...(caCerts ? { caCerts } : {}),
        timeoutMs,
      }, line);
      return `${t.transport.toUpperCase()} message sent to ${t.host}:${t.port}`;
    }
    default: {
      const never: never = t;
      throw new ChannelError(`Unknown channel ${JSON.stringify(never)}`);
    }
  }
}

/**
 * Sends `m` on channel `c`. Resolves to the receiver's answer in one line
 * ("HTTP 200: ok", "SMTP 250 OK"); rejects with a {@link ChannelError}
 * whose message names the channel and holds no secret.
 */
export async function sendMessage(
  c: ChannelConfig,
  m: Message,
  o: SendOptions = {},
): Promise<string> {
  const secrets = channelSecrets(c);
  try {
    return redact(await sendOnce(c, m, o.timeoutMs ?? 15_000), secrets);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new ChannelError(
      redact(`Cannot send on "${c.id}" (${c.target.kind}): ${msg}`, secrets),
    );
  }
}
