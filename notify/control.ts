/**
 * Channels as the dashboard and the API edit them: list (secrets masked,
 * with each channel's last success, last error and queue), add, edit (a
 * secret sent back masked keeps its stored value), remove, send a test.
 * Every change is validated as a whole `notify` section first, then saved
 * into the config file (through the `save` the appliance gives) and put in
 * force without a restart.
 *
 * @module
 */
import { ConfigError } from "../common/errors.ts";
import { isRecord } from "../common/validate.ts";
import {
  keepSecrets,
  maskChannel,
  parseChannel,
  parseNotifyConfig,
} from "./config.ts";
import type { ChannelReport, FailedItem, Notifier } from "./notifier.ts";

/** A channel as listed: its document with secrets masked, and its status. */
export interface ChannelView {
  channel: Record<string, unknown>;
  status: ChannelReport;
}

/** What the Settings page and `GET /api/notify` show. */
export interface NotifyView {
  public_url: string | null;
  channels: ChannelView[];
  /** Messages given up after their last try, newest first. */
  failed: FailedItem[];
}

/** The notification settings as the dashboard drives them. */
export interface NotifyControl {
  view(): Promise<NotifyView>;
  /** Adds a channel; throws a ConfigError naming the field. */
  add(doc: unknown): Promise<Record<string, unknown>>;
  /** Replaces channel `id`; null when there is none. Throws a ConfigError. */
  update(id: string, doc: unknown): Promise<Record<string, unknown> | null>;
  /** Removes channel `id`; false when there was none. */
  remove(id: string): Promise<boolean>;
  /** Sends a test on channel `id`; null when there is none. */
  test(id: string): Promise<{ ok: boolean; answer: string } | null>;
}

/** Options of {@link notifyControl}. */
export interface NotifyControlOptions {
  notifier: Notifier;
  /** The config document (the `notify` key is edited in it). */
  raw: Record<string, unknown>;
  /** Saves the whole config document (mode 0600: it holds secrets). */
  save: (raw: Record<string, unknown>) => Promise<void>;
}

/** The control over a running notifier; see the module documentation. */
export function notifyControl(o: NotifyControlOptions): NotifyControl {
  const section = (): Record<string, unknown> =>
    isRecord(o.raw.notify) ? o.raw.notify : {};
  const docs = (): Record<string, unknown>[] => {
    const c = section().channels;
    return Array.isArray(c) ? c.filter(isRecord) : [];
  };
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = chain.then(fn);
    chain = p.catch(() => {});
    return p;
  };
  const commit = async (channels: Record<string, unknown>[]) => {
    const next = { ...section(), channels };
    const parsed = parseNotifyConfig(next);
    o.raw.notify = next;
    await o.save(o.raw);
    await o.notifier.setConfig(parsed);
  };
  const body = (doc: unknown): Record<string, unknown> => {
    if (!isRecord(doc)) {
      throw new ConfigError("channel", "expected an object");
    }
    return { ...doc };
  };
  return {
    async view() {
      const reports = new Map(
        (await o.notifier.report()).map((r) => [r.id, r]),
      );
      return {
        public_url: o.notifier.config.public_url,
        channels: docs().map((d) => ({
          channel: maskChannel(d),
          status: reports.get(String(d.id)) ?? {
            id: String(d.id),
            last_success: null,
            last_answer: null,
            last_error: null,
            last_error_at: null,
            sent: 0,
            failed: 0,
            queued: 0,
            gathering: 0,
          },
        })),
        failed: await o.notifier.failed(),
      };
    },
    add: (doc) =>
      serial(async () => {
        const d = body(doc);
        const list = docs();
        parseChannel(d, "channel");
        if (list.some((x) => x.id === d.id)) {
          throw new ConfigError("id", `"${d.id}" is used by another channel`);
        }
        await commit([...list, d]);
        return maskChannel(d);
      }),
    update: (id, doc) =>
      serial(async () => {
        const list = docs();
        const i = list.findIndex((x) => x.id === id);
        if (i < 0) return null;
        const d = keepSecrets({ ...body(doc), id }, list[i]!);
        parseChannel(d, "channel");
        const next = [...list];
        next[i] = d;
        await commit(next);
        return maskChannel(d);
      }),
    remove: (id) =>
      serial(async () => {
        const list = docs();
        if (!list.some((x) => x.id === id)) return false;
        await commit(list.filter((x) => x.id !== id));
        return true;
      }),
    async test(id) {
      const cfg = o.notifier.config.channels.find((c) => c.id === id);
      return cfg ? await o.notifier.test(cfg) : null;
    },
  };
}
