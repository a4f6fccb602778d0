/**
 * The notifier: takes new alerts and appliance events synchronously (no
 * I/O on the caller's time: capture and detection never wait for it),
 * routes them per channel, gathers them into digests under each channel's
 * pacing (see pacing.ts), and turns due digests into messages in a
 * persistent outbox in Deno KV, from which one loop per channel sends them
 * in order, retrying with backoff while the channel is down and keeping a
 * message as failed, with the error, after the last try.
 *
 * Nothing is lost: a digest is written to KV within moments of changing
 * (`["notify_pending", channel]`), a message goes from digest to outbox in
 * one atomic write, and leaves the outbox in the same atomic write that
 * records the success. After a crash the outbox is sent on start. The one
 * window left is a crash between the receiver's answer and that write: the
 * message is then sent again with the same delivery id
 * (`X-NetSentinel-Delivery`, the email's Message-ID, the syslog SD id),
 * which receivers may de-duplicate on.
 *
 * @module
 */
import type { Alert } from "../alerts/mod.ts";
import type { ApplianceEvent } from "../common/appliance_event.ts";
import { type Logger, silentLogger } from "../common/logger.ts";
import {
  notifyFailedKey,
  notifyFailedPrefix,
  notifyOutboxKey,
  notifyOutboxPrefix,
  notifyPendingKey,
  notifyStatusKey,
  type Store,
} from "../store/mod.ts";
import { ChannelError, sendMessage } from "./channels.ts";
import type { ChannelConfig, NotifyConfig } from "./config.ts";
import {
  alertItem,
  eventItem,
  type Message,
  type MessageItem,
} from "./message.ts";
import {
  addItem,
  type Digest,
  dueAt,
  localDay,
  parseDigest,
  passesQuiet,
  routesAlert,
  routesEvent,
  takeMessage,
} from "./pacing.ts";
import { type SummaryFacts, summaryMessage } from "./summary.ts";

/** A message in the outbox. */
export interface OutboxItem {
  message: Message;
  /** Tries so far. */
  attempts: number;
  /** Not before this time, ms. */
  next_try: number;
  last_error: string | null;
}

/** A message given up after its last try. */
export interface FailedItem {
  channel: string;
  message: Message;
  attempts: number;
  error: string;
  /** ISO 8601. */
  failed_at: string;
}

/** What the dashboard shows of a channel's delivery. */
export interface ChannelStatus {
  /** ISO 8601 of the last message the receiver accepted, or null. */
  last_success: string | null;
  /** The receiver's answer then. */
  last_answer: string | null;
  /** The last error (secrets redacted), or null. */
  last_error: string | null;
  last_error_at: string | null;
  /** Messages delivered, and given up. */
  sent: number;
  failed: number;
}

/** A channel's status with its queue. */
export interface ChannelReport extends ChannelStatus {
  id: string;
  /** Messages waiting in the outbox. */
  queued: number;
  /** Alerts and events gathering in the digest. */
  gathering: number;
}

/** What the notifier did since it started, for `/metrics`. */
export interface NotifyCounts {
  /** Alerts and events put into a channel's digest (once per channel). */
  routed: number;
  /** Dropped by quiet hours. */
  quiet: number;
  /** Messages put into the outbox. */
  queued: number;
  /** Messages delivered. */
  sent: number;
  /** Messages given up after the last try. */
  failed: number;
  /** Tries that failed and will be retried. */
  retries: number;
}

/** Options of {@link Notifier}. */
export interface NotifierOptions {
  log?: Logger;
  /** Clock, ms (tests drive time). */
  now?: () => number;
  /** Waits between tries, ms; the message fails after the last (default 10 s … 1 h, 12 tries). */
  backoffMs?: readonly number[];
  /** Timeout of one send, ms (default 15,000). */
  sendTimeoutMs?: number;
  /** Facts of the daily summary over [from, to) ms. */
  summarize?: (fromMs: number, toMs: number) => Promise<SummaryFacts>;
  /** Keep failed messages this long, ms (default 30 days). */
  failedRetentionMs?: number;
}

const DEFAULT_BACKOFF_MS = [
  10_000,
  30_000,
  60_000,
  120_000,
  300_000,
  600_000,
  900_000,
  1_800_000,
  3_600_000,
  3_600_000,
  3_600_000,
];

interface Channel {
  cfg: ChannelConfig;
  digest: Digest;
  /** Alerts already routed to it (an automatic block of one is in its message). */
  alertIds: Set<string>;
  loop: Promise<void> | null;
  wake: (() => void) | null;
  removed: boolean;
}

const EMPTY_STATUS: ChannelStatus = {
  last_success: null,
  last_answer: null,
  last_error: null,
  last_error_at: null,
  sent: 0,
  failed: 0,
};

let seq = 0;

/** A delivery id that sorts by time (outbox order). */
export function deliveryId(now: number): string {
  seq = (seq + 1) % 1_000_000;
  const rnd = crypto.getRandomValues(new Uint8Array(4));
  return now.toString(36).padStart(9, "0") + "-" +
    String(seq).padStart(6, "0") + "-" +
    [...rnd].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The notifier; see the module documentation. */
export class Notifier {
  readonly #store: Store;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #backoff: readonly number[];
  readonly #timeoutMs: number;
  readonly #summarize: NotifierOptions["summarize"];
  readonly #failedMs: number;
  #config: NotifyConfig;
  #channels = new Map<string, Channel>();
  /** KV writes of digests and outbox moves, one at a time, in order. */
  #chain: Promise<void> = Promise.resolve();
  #dirty = new Set<Channel>();
  #persistQueued = false;
  #flushQueued = false;
  #timer: ReturnType<typeof setInterval> | undefined;
  #stopping = false;
  #started = false;
  #counts: NotifyCounts = {
    routed: 0,
    quiet: 0,
    queued: 0,
    sent: 0,
    failed: 0,
    retries: 0,
  };

  /** Creates a notifier; nothing runs until {@link start}. */
  constructor(store: Store, config: NotifyConfig, o: NotifierOptions = {}) {
    this.#store = store;
    this.#config = config;
    this.#log = o.log ?? silentLogger;
    this.#now = o.now ?? Date.now;
    this.#backoff = o.backoffMs ?? DEFAULT_BACKOFF_MS;
    this.#timeoutMs = o.sendTimeoutMs ?? 15_000;
    this.#summarize = o.summarize;
    this.#failedMs = o.failedRetentionMs ?? 30 * 86_400_000;
  }

  /** The config in force. */
  get config(): NotifyConfig {
    return this.#config;
  }

  /** Counters for `/metrics`. */
  get counts(): Readonly<NotifyCounts> {
    return this.#counts;
  }

  /**
   * Reads each channel's digest back from KV, starts the send loops (the
   * outbox left by an earlier run goes first) and the once-a-second tick.
   */
  async start(): Promise<void> {
    this.#started = true;
    for (const cfg of this.#config.channels) await this.#addChannel(cfg);
    this.#timer = setInterval(() => this.tick(), 1000);
  }

  async #addChannel(cfg: ChannelConfig): Promise<void> {
    const got = await this.#store.kv.get(notifyPendingKey(cfg.id));
    const ch: Channel = {
      cfg,
      digest: parseDigest(got.value),
      alertIds: new Set(),
      loop: null,
      wake: null,
      removed: false,
    };
    this.#channels.set(cfg.id, ch);
    ch.loop = this.#sendLoop(ch);
  }

  /**
   * Puts a new config in force: channels added start, removed ones stop
   * (their digest, outbox and status are deleted), edited ones keep their
   * digest and outbox.
   */
  async setConfig(config: NotifyConfig): Promise<void> {
    this.#config = config;
    if (!this.#started) return;
    const ids = new Set(config.channels.map((c) => c.id));
    for (const [id, ch] of this.#channels) {
      if (ids.has(id)) continue;
      ch.removed = true;
      ch.wake?.();
      await ch.loop;
      this.#channels.delete(id);
      this.#dirty.delete(ch);
      await this.#serial(async () => {
        const kv = this.#store.kv;
        for await (const e of kv.list({ prefix: notifyOutboxPrefix(id) })) {
          await kv.delete(e.key);
        }
        for await (const e of kv.list({ prefix: notifyFailedPrefix(id) })) {
          await kv.delete(e.key);
        }
        await kv.delete(notifyPendingKey(id));
        await kv.delete(notifyStatusKey(id));
      });
    }
    for (const cfg of config.channels) {
      const ch = this.#channels.get(cfg.id);
      if (ch) {
        ch.cfg = cfg;
        ch.wake?.();
      } else await this.#addChannel(cfg);
    }
  }

  /**
   * The aggregator's sink shape: new alerts go on, updates of an
   * aggregated alert (a count or a last-seen time moving) are not news and
   * send nothing. `blocked` says what was blocked because of it.
   */
  readonly onAlert = (a: Alert, isNew: boolean, blocked?: string): void => {
    if (isNew) this.alert(a, blocked);
  };

  /**
   * A new alert (call only for new ones: updates of an aggregated alert
   * are not news). `blocked` says what was blocked because of it. Returns
   * at once.
   */
  alert(a: Alert, blocked?: string): void {
    const now = this.#now();
    let item: MessageItem | null = null;
    for (const ch of this.#channels.values()) {
      if (!routesAlert(ch.cfg, a)) continue;
      if (!passesQuiet(ch.cfg.pacing, a.alert.severity, now)) {
        this.#counts.quiet++;
        continue;
      }
      item ??= alertItem(a, this.#config.public_url, blocked);
      if (ch.alertIds.size >= 10_000) ch.alertIds.clear();
      ch.alertIds.add(a.netsentinel.id);
      this.#add(ch, item, now);
    }
  }

  /** An appliance event. Returns at once. */
  event(e: ApplianceEvent): void {
    const now = this.#now();
    let item: MessageItem | null = null;
    for (const ch of this.#channels.values()) {
      if (!routesEvent(ch.cfg, e)) continue;
      // An automatic block is already in the message of its alert.
      if (e.alert_id !== undefined && ch.alertIds.has(e.alert_id)) continue;
      if (!passesQuiet(ch.cfg.pacing, e.severity, now)) {
        this.#counts.quiet++;
        continue;
      }
      item ??= eventItem(e, this.#config.public_url);
      this.#add(ch, item, now);
    }
  }

  #add(ch: Channel, item: MessageItem, now: number): void {
    this.#counts.routed++;
    addItem(ch.digest, item, now);
    this.#dirty.add(ch);
    if (!this.#persistQueued) {
      this.#persistQueued = true;
      queueMicrotask(() => {
        this.#persistQueued = false;
        this.#persist();
      });
    }
    if (ch.cfg.pacing.digest_s === 0 && !this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(() => {
        this.#flushQueued = false;
        this.tick();
      });
    }
  }

  #serial(fn: () => Promise<void>): Promise<void> {
    const p = this.#chain.then(fn);
    this.#chain = p.catch((e) => {
      this.#log.error("notify store write failed", { error: e });
    });
    return p;
  }

  /** Writes changed digests (all in one atomic write). */
  #persist(): void {
    if (this.#dirty.size === 0) return;
    // Copied now: the writes land in the order the changes were made.
    const dirty = [...this.#dirty].filter((ch) => !ch.removed)
      .map((ch) => [ch.cfg.id, structuredClone(ch.digest)] as const);
    this.#dirty.clear();
    void this.#serial(async () => {
      if (this.#store.closed) return;
      const op = this.#store.kv.atomic();
      for (const [id, d] of dirty) op.set(notifyPendingKey(id), d);
      await op.commit();
    });
  }

  /**
   * Sends what is due: digests whose window closed (and whose rate limit
   * allows), and daily summaries at their hour. Runs once a second.
   */
  tick(): void {
    if (this.#stopping) return;
    const now = this.#now();
    for (const ch of this.#channels.values()) {
      const due = dueAt(ch.digest, ch.cfg.pacing, now);
      if (due !== null && due <= now) this.#flush(ch, now);
      const hour = ch.cfg.pacing.summary_hour;
      if (
        hour !== null && ch.cfg.enabled && new Date(now).getHours() === hour &&
        ch.digest.summary_day !== localDay(now) && this.#summarize
      ) {
        ch.digest.summary_day = localDay(now);
        this.#dirty.add(ch);
        void this.#queueSummary(ch, now);
      }
    }
    this.#persist();
  }

  /** Moves the digest into the outbox (one atomic write with the emptied digest). */
  #flush(ch: Channel, now: number): void {
    const m = takeMessage(ch.digest, ch.cfg.pacing, {
      id: deliveryId(now),
      now,
      publicUrl: this.#config.public_url,
    });
    this.#dirty.delete(ch);
    const snapshot = structuredClone(ch.digest);
    void this.#serial(async () => {
      if (ch.removed || this.#store.closed) return;
      const item: OutboxItem = {
        message: m,
        attempts: 0,
        next_try: now,
        last_error: null,
      };
      await this.#store.kv.atomic()
        .set(notifyPendingKey(ch.cfg.id), snapshot)
        .set(notifyOutboxKey(ch.cfg.id, m.id), item)
        .commit();
      this.#counts.queued++;
      ch.wake?.();
    });
  }

  async #queueSummary(ch: Channel, now: number): Promise<void> {
    try {
      const facts = await this.#summarize!(now - 86_400_000, now);
      const m = summaryMessage(facts, {
        id: deliveryId(now),
        now,
        publicUrl: this.#config.public_url,
      });
      await this.#serial(async () => {
        if (ch.removed || this.#store.closed) return;
        await this.#store.kv.set(
          notifyOutboxKey(ch.cfg.id, m.id),
          {
            message: m,
            attempts: 0,
            next_try: now,
            last_error: null,
          } satisfies OutboxItem,
        );
        this.#counts.queued++;
        ch.wake?.();
      });
    } catch (e) {
      this.#log.error("daily summary failed", {
        channel: ch.cfg.id,
        error: e,
      });
    }
  }

  async #sendLoop(ch: Channel): Promise<void> {
    while (!this.#stopping && !ch.removed) {
      let next = this.#now() + 1000;
      try {
        next = await this.#sendHead(ch);
      } catch (e) {
        if (this.#store.closed) break;
        this.#log.error("notify outbox failed", {
          channel: ch.cfg.id,
          error: e,
        });
      }
      const wait = Math.min(Math.max(0, next - this.#now()), 1000);
      if (wait === 0 || this.#stopping || ch.removed) continue;
      await new Promise<void>((res) => {
        const t = setTimeout(done, wait);
        function done() {
          clearTimeout(t);
          ch.wake = null;
          res();
        }
        ch.wake = done;
      });
    }
  }

  /** Sends the oldest message of the channel when due; resolves to when to look again. */
  async #sendHead(ch: Channel): Promise<number> {
    const now = this.#now();
    if (!ch.cfg.enabled) return now + 1000;
    const kv = this.#store.kv;
    let head: Deno.KvEntry<OutboxItem> | null = null;
    for await (
      const e of kv.list<OutboxItem>(
        { prefix: notifyOutboxPrefix(ch.cfg.id) },
        {
          limit: 1,
        },
      )
    ) head = e;
    if (head === null) return now + 1000;
    const item = head.value;
    if (item.next_try > now) return item.next_try;
    const statusKey = notifyStatusKey(ch.cfg.id);
    try {
      const answer = await sendMessage(ch.cfg, item.message, {
        timeoutMs: this.#timeoutMs,
      });
      const st = await this.#status(ch.cfg.id);
      await this.#serial(async () => {
        await kv.atomic()
          .delete(head!.key)
          .set(
            statusKey,
            {
              ...st,
              last_success: new Date(this.#now()).toISOString(),
              last_answer: answer,
              sent: st.sent + 1,
            } satisfies ChannelStatus,
          )
          .commit();
      });
      this.#counts.sent++;
      return this.#now();
    } catch (e) {
      if (this.#stopping && this.#store.closed) return now;
      const error = e instanceof ChannelError
        ? e.message
        : `Cannot send on "${ch.cfg.id}": ${(e as Error).message}`;
      const attempts = item.attempts + 1;
      const st = await this.#status(ch.cfg.id);
      const at = new Date(this.#now()).toISOString();
      const failed = attempts > this.#backoff.length;
      this.#log.warn(failed ? "notification failed" : "notification retry", {
        channel: ch.cfg.id,
        id: item.message.id,
        attempts,
        error,
      });
      await this.#serial(async () => {
        const op = kv.atomic().set(
          statusKey,
          {
            ...st,
            last_error: error,
            last_error_at: at,
            failed: st.failed + (failed ? 1 : 0),
          } satisfies ChannelStatus,
        );
        if (failed) {
          op.delete(head!.key).set(
            notifyFailedKey(ch.cfg.id, item.message.id),
            {
              channel: ch.cfg.id,
              message: item.message,
              attempts,
              error,
              failed_at: at,
            } satisfies FailedItem,
            { expireIn: this.#failedMs },
          );
        } else {
          op.set(
            head!.key,
            {
              ...item,
              attempts,
              last_error: error,
              next_try: this.#now() + this.#backoff[attempts - 1]!,
            } satisfies OutboxItem,
          );
        }
        await op.commit();
      });
      if (failed) this.#counts.failed++;
      else this.#counts.retries++;
      return this.#now();
    }
  }

  async #status(id: string): Promise<ChannelStatus> {
    const v = (await this.#store.kv.get<ChannelStatus>(notifyStatusKey(id)))
      .value;
    return { ...EMPTY_STATUS, ...(v ?? {}) };
  }

  /** Each channel's delivery status, queue and digest, in config order. */
  async report(): Promise<ChannelReport[]> {
    const out: ChannelReport[] = [];
    for (const cfg of this.#config.channels) {
      let queued = 0;
      for await (
        const _ of this.#store.kv.list({ prefix: notifyOutboxPrefix(cfg.id) })
      ) queued++;
      out.push({
        id: cfg.id,
        ...await this.#status(cfg.id),
        queued,
        gathering: this.#channels.get(cfg.id)?.digest.count ?? 0,
      });
    }
    return out;
  }

  /** Messages given up after their last try, newest first (at most `limit`). */
  async failed(limit = 100): Promise<FailedItem[]> {
    const all: FailedItem[] = [];
    for await (
      const e of this.#store.kv.list<FailedItem>({
        prefix: notifyFailedPrefix(),
      })
    ) all.push(e.value);
    all.sort((a, b) => b.failed_at.localeCompare(a.failed_at));
    return all.slice(0, limit);
  }

  /**
   * Sends a test message on `cfg` at once (not through the outbox) and
   * records the outcome as the channel's last success or error. Resolves
   * to whether it went and the receiver's answer or the error.
   */
  async test(cfg: ChannelConfig): Promise<{ ok: boolean; answer: string }> {
    const now = this.#now();
    const m: Message = {
      id: deliveryId(now),
      kind: "test",
      title: "Test message",
      severity: 4,
      count: 0,
      items: [],
      rest: {},
      lines: [`This is a test of the channel "${cfg.name}" from NetSentinel.`],
      created: new Date(now).toISOString(),
      link: this.#config.public_url,
    };
    const st = await this.#status(cfg.id);
    const at = new Date(this.#now()).toISOString();
    try {
      const answer = await sendMessage(cfg, m, { timeoutMs: this.#timeoutMs });
      if (this.#channels.has(cfg.id)) {
        await this.#store.kv.set(
          notifyStatusKey(cfg.id),
          {
            ...st,
            last_success: at,
            last_answer: answer,
          } satisfies ChannelStatus,
        );
      }
      return { ok: true, answer };
    } catch (e) {
      const error = (e as Error).message;
      if (this.#channels.has(cfg.id)) {
        await this.#store.kv.set(
          notifyStatusKey(cfg.id),
          {
            ...st,
            last_error: error,
            last_error_at: at,
          } satisfies ChannelStatus,
        );
      }
      return { ok: false, answer: error };
    }
  }

  /** Resolves when the KV writes queued so far are done (tests, shutdown). */
  async idle(): Promise<void> {
    let c: Promise<void>;
    do {
      c = this.#chain;
      await c;
    } while (c !== this.#chain);
  }

  /**
   * Stops: the tick ends, digests are written, the send loops finish their
   * current send. What is queued stays in KV for the next start.
   */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    clearInterval(this.#timer);
    this.#persist();
    this.#stopping = true;
    for (const ch of this.#channels.values()) ch.wake?.();
    await Promise.all([...this.#channels.values()].map((c) => c.loop));
    await this.idle();
  }
}
