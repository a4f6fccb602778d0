/**
 * Notification channels on the Settings page: the list (kind, routing,
 * last success, last error, queue) with edit, remove and "Send test" (the
 * server's answer shown under the list), the add/edit form (fields per
 * kind; secrets are never shown back, a masked value left as it is keeps
 * the stored one), and the messages given up after their last try.
 *
 * @module
 */
import type { VNode } from "preact";
import { useState } from "preact/hooks";
import { api } from "./_api.ts";
import { type Outcome, OutcomeLine } from "./_form.tsx";
import { fmtTime } from "./_format.ts";
import type { NotifyView } from "../notify/control.ts";

/** Props of {@link NotifyChannels}. */
export interface NotifyChannelsProps {
  view: NotifyView;
}

type Form = Record<string, string | boolean>;

interface FieldSpec {
  name: string;
  label: string;
  secret?: boolean;
  choices?: readonly string[];
  placeholder?: string;
}

const KIND_FIELDS: Record<string, FieldSpec[]> = {
  webhook: [
    {
      name: "url",
      label: "URL",
      secret: true,
      placeholder: "https://hooks.slack.com/services/…",
    },
    {
      name: "preset",
      label: "Body",
      choices: ["generic", "slack", "discord", "mattermost", "matrix"],
    },
    {
      name: "secret",
      label: "HMAC key (X-NetSentinel-Signature)",
      secret: true,
    },
  ],
  ntfy: [
    { name: "url", label: "Server", placeholder: "https://ntfy.sh/" },
    { name: "topic", label: "Topic" },
    { name: "token", label: "Access token", secret: true },
  ],
  gotify: [
    { name: "url", label: "Server", placeholder: "https://gotify.example/" },
    { name: "token", label: "App token", secret: true },
  ],
  telegram: [
    {
      name: "url",
      label: "Bot API URL",
      placeholder: "https://api.telegram.org/",
    },
    { name: "token", label: "Bot token", secret: true },
    { name: "chat_id", label: "Chat id" },
  ],
  email: [
    { name: "host", label: "SMTP server" },
    { name: "port", label: "Port", placeholder: "587" },
    {
      name: "security",
      label: "Security",
      choices: ["starttls", "tls", "none"],
    },
    { name: "username", label: "Login" },
    { name: "password", label: "Password", secret: true },
    { name: "from", label: "Sender" },
    { name: "to", label: "Recipients (comma-separated)" },
    { name: "ca", label: "CA file (PEM, optional)" },
  ],
  syslog: [
    { name: "host", label: "Collector" },
    { name: "port", label: "Port", placeholder: "514" },
    { name: "transport", label: "Transport", choices: ["udp", "tcp", "tls"] },
    { name: "facility", label: "Facility", placeholder: "4" },
    { name: "app_name", label: "App name", placeholder: "netsentinel" },
    { name: "ca", label: "CA file (PEM, TLS)" },
  ],
};

const EVENTS = [
  "new_device",
  "device_silent",
  "block_made",
  "capture_down",
  "feed_update_failed",
  "rules_update_failed",
  "disk_almost_full",
];

const NUMERIC = new Set(["port", "facility"]);

function blankForm(kind = "webhook"): Form {
  const f: Form = {
    kind,
    id: "",
    name: "",
    enabled: true,
    min_severity: "2",
    types: "",
    sources: "",
    devices: "",
    rate_messages: "12",
    rate_per: "1h",
    digest: "1m",
    quiet_from: "",
    quiet_to: "",
    quiet_min: "1",
    summary_hour: "",
    summary_only: false,
  };
  for (const e of EVENTS) f[`ev_${e}`] = true;
  return f;
}

const csv = (v: unknown): string => Array.isArray(v) ? v.join(", ") : "";
const str = (v: unknown): string =>
  v === undefined || v === null ? "" : String(v);

function toForm(doc: Record<string, unknown>): Form {
  const f = blankForm(String(doc.kind));
  const route = (doc.route ?? {}) as Record<string, unknown>;
  const rl = (doc.rate_limit ?? {}) as Record<string, unknown>;
  const q = doc.quiet_hours as Record<string, unknown> | null | undefined;
  const ds = doc.daily_summary as Record<string, unknown> | null | undefined;
  Object.assign(f, {
    id: str(doc.id),
    name: str(doc.name),
    enabled: doc.enabled !== false,
    min_severity: str(route.min_severity ?? 2),
    types: csv(route.types),
    sources: csv(route.sources),
    devices: csv(route.devices),
    rate_messages: str(rl.messages ?? 12),
    rate_per: str(rl.per ?? "1h"),
    digest: str(doc.digest ?? "1m"),
    quiet_from: str(q?.from),
    quiet_to: str(q?.to),
    quiet_min: str(q?.min_severity ?? 1),
    summary_hour: str(ds?.hour),
    summary_only: ds?.only === true,
  });
  if (Array.isArray(route.events)) {
    for (const e of EVENTS) f[`ev_${e}`] = route.events.includes(e);
  }
  for (const spec of KIND_FIELDS[String(doc.kind)] ?? []) {
    f[spec.name] = spec.name === "to" ? csv(doc.to) : str(doc[spec.name]);
  }
  return f;
}

const list = (s: string | boolean): string[] =>
  String(s).split(",").map((x) => x.trim()).filter((x) => x !== "");

/** A number when the text is one (the server refuses anything else). */
const numOr = (s: string | boolean): number | string =>
  /^\d+$/.test(String(s).trim()) ? Number(s) : String(s);

function toDoc(f: Form): Record<string, unknown> {
  const doc: Record<string, unknown> = {
    id: f.id,
    kind: f.kind,
    enabled: f.enabled,
  };
  if (f.name !== "") doc.name = f.name;
  for (const spec of KIND_FIELDS[String(f.kind)] ?? []) {
    const v = f[spec.name];
    if (v === "" || v === undefined) continue;
    doc[spec.name] = spec.name === "to"
      ? list(v)
      : NUMERIC.has(spec.name)
      ? numOr(v)
      : v;
  }
  doc.route = {
    min_severity: Number(f.min_severity),
    types: list(f.types!),
    sources: list(f.sources!),
    devices: list(f.devices!),
    events: EVENTS.filter((e) => f[`ev_${e}`] === true),
  };
  doc.rate_limit = { messages: numOr(f.rate_messages!), per: f.rate_per };
  doc.digest = f.digest;
  if (f.quiet_from !== "" || f.quiet_to !== "") {
    doc.quiet_hours = {
      from: f.quiet_from,
      to: f.quiet_to,
      min_severity: Number(f.quiet_min),
    };
  }
  if (f.summary_hour !== "") {
    doc.daily_summary = {
      hour: numOr(f.summary_hour!),
      only: f.summary_only === true,
    };
  }
  return doc;
}

/** The channel list, the form and the failed messages. */
export default function NotifyChannels(p: NotifyChannelsProps): VNode {
  const [view, setView] = useState(p.view);
  const [form, setForm] = useState<Form | null>(null);
  const [editing, setEditing] = useState<string | null>(null);
  const [msg, setMsg] = useState<Outcome | null>(null);
  const [busy, setBusy] = useState(false);

  const reload = async () => {
    const r = await api<NotifyView>("GET", "/api/notify");
    if (r.ok && r.data) setView(r.data);
  };
  const set = (k: string, v: string | boolean) =>
    setForm((f) => f === null ? f : { ...f, [k]: v });

  const save = async () => {
    if (form === null) return;
    setBusy(true);
    const r = editing === null
      ? await api("POST", "/api/notify/channels", toDoc(form))
      : await api(
        "PUT",
        `/api/notify/channels/${encodeURIComponent(editing)}`,
        toDoc(form),
      );
    setBusy(false);
    if (r.ok) {
      setMsg({ ok: true, text: `Saved channel "${form.id}".` });
      setForm(null);
      setEditing(null);
      await reload();
    } else setMsg({ ok: false, text: r.error });
  };

  const field = (spec: FieldSpec) => {
    const v = String(form?.[spec.name] ?? "");
    return (
      <label key={spec.name}>
        {spec.label}
        {spec.choices
          ? (
            <select
              name={spec.name}
              value={v || spec.choices[0]}
              onChange={(e) => set(spec.name, e.currentTarget.value)}
            >
              {spec.choices.map((c) => <option key={c} value={c}>{c}</option>)}
            </select>
          )
          : (
            <input
              name={spec.name}
              type={spec.secret && spec.name !== "url" ? "password" : "text"}
              autocomplete="off"
              placeholder={spec.placeholder ?? ""}
              value={v}
              onInput={(e) => set(spec.name, e.currentTarget.value)}
            />
          )}
      </label>
    );
  };
  const text = (name: string, label: string, placeholder = "") => (
    <label>
      {label}
      <input
        name={name}
        placeholder={placeholder}
        value={String(form?.[name] ?? "")}
        onInput={(e) => set(name, e.currentTarget.value)}
      />
    </label>
  );

  return (
    <div class="notify">
      {view.channels.length === 0
        ? <p class="empty">No channels: alerts are only on the dashboard.</p>
        : (
          <table class="list" data-testid="channels">
            <thead>
              <tr>
                <th>Channel</th>
                <th>Kind</th>
                <th>Last success</th>
                <th>Last error</th>
                <th>Queued</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {view.channels.map(({ channel: c, status: s }) => (
                <tr key={String(c.id)} data-channel={String(c.id)}>
                  <td>
                    <strong>{String(c.name ?? c.id)}</strong>
                    {c.enabled === false ? " (off)" : ""}
                  </td>
                  <td data-label="Kind">
                    {String(c.kind)}
                    {c.preset ? ` (${String(c.preset)})` : ""}
                  </td>
                  <td
                    class="time"
                    data-label="Last success"
                    data-testid="last-success"
                  >
                    {s.last_success ? fmtTime(s.last_success) : "never"}
                  </td>
                  <td
                    class="error-text"
                    data-label="Last error"
                    data-testid="last-error"
                  >
                    {s.last_error
                      ? `${fmtTime(s.last_error_at ?? "")}: ${s.last_error}`
                      : "none"}
                  </td>
                  <td data-label="Queued">{s.queued + s.gathering}</td>
                  <td class="actions">
                    <button
                      type="button"
                      disabled={busy}
                      data-testid="test"
                      onClick={async () => {
                        setBusy(true);
                        setMsg({ ok: true, text: "Sending a test…" });
                        const r = await api<{ ok: boolean; answer: string }>(
                          "POST",
                          `/api/notify/channels/${
                            encodeURIComponent(String(c.id))
                          }/test`,
                        );
                        setBusy(false);
                        setMsg(
                          r.ok && r.data
                            ? {
                              ok: r.data.ok,
                              text: `${
                                r.data.ok ? "Sent" : "Not sent"
                              }: ${r.data.answer}`,
                            }
                            : { ok: false, text: r.error },
                        );
                        await reload();
                      }}
                    >
                      Send test
                    </button>
                    <button
                      type="button"
                      onClick={() => {
                        setEditing(String(c.id));
                        setForm(toForm(c));
                      }}
                    >
                      Edit
                    </button>
                    <button
                      type="button"
                      onClick={async () => {
                        const r = await api(
                          "DELETE",
                          `/api/notify/channels/${
                            encodeURIComponent(String(c.id))
                          }`,
                        );
                        setMsg(
                          r.ok
                            ? { ok: true, text: `Removed "${String(c.id)}".` }
                            : { ok: false, text: r.error },
                        );
                        await reload();
                      }}
                    >
                      Remove
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      <OutcomeLine outcome={msg} testId="notify-result" />
      {form === null
        ? (
          <button
            type="button"
            onClick={() => {
              setEditing(null);
              setForm(blankForm());
            }}
          >
            Add channel
          </button>
        )
        : (
          <form
            class="channel-form"
            onSubmit={(e) => {
              e.preventDefault();
              void save();
            }}
          >
            <h3>{editing === null ? "New channel" : `Edit "${editing}"`}</h3>
            <div class="grid">
              <label>
                Kind
                <select
                  name="kind"
                  value={String(form.kind)}
                  disabled={editing !== null}
                  onChange={(e) => set("kind", e.currentTarget.value)}
                >
                  {Object.keys(KIND_FIELDS).map((k) => (
                    <option key={k} value={k}>{k}</option>
                  ))}
                </select>
              </label>
              <label>
                Id
                <input
                  name="id"
                  required
                  placeholder="phone"
                  disabled={editing !== null}
                  value={String(form.id)}
                  onInput={(e) => set("id", e.currentTarget.value)}
                />
              </label>
              {text("name", "Name", "My phone")}
              <label class="check">
                <input
                  type="checkbox"
                  name="enabled"
                  checked={form.enabled === true}
                  onChange={(e) => set("enabled", e.currentTarget.checked)}
                />
                Enabled
              </label>
              {(KIND_FIELDS[String(form.kind)] ?? []).map(field)}
            </div>
            <h4>Which alerts and events</h4>
            <div class="grid">
              <label>
                Minimum severity
                <select
                  name="min_severity"
                  value={String(form.min_severity)}
                  onChange={(e) => set("min_severity", e.currentTarget.value)}
                >
                  <option value="1">high</option>
                  <option value="2">medium</option>
                  <option value="3">low</option>
                  <option value="4">info</option>
                </select>
              </label>
              {text(
                "types",
                "Alert types (empty: all)",
                "port_scan, brute_force",
              )}
              {text("sources", "Sources (CIDRs, empty: any)")}
              {text("devices", "Home devices (CIDRs, empty: any)")}
            </div>
            <fieldset>
              <legend>Events</legend>
              {EVENTS.map((e) => (
                <label class="check" key={e}>
                  <input
                    type="checkbox"
                    name={`ev_${e}`}
                    checked={form[`ev_${e}`] === true}
                    onChange={(ev) => set(`ev_${e}`, ev.currentTarget.checked)}
                  />
                  {e.replaceAll("_", " ")}
                </label>
              ))}
            </fieldset>
            <h4>Not too often</h4>
            <div class="grid">
              {text("rate_messages", "At most messages", "12")}
              {text("rate_per", "per", "1h")}
              {text("digest", "Digest window", "1m")}
              {text("quiet_from", "Quiet from", "22:00")}
              {text("quiet_to", "Quiet to", "07:00")}
              <label>
                In quiet hours only
                <select
                  name="quiet_min"
                  value={String(form.quiet_min)}
                  onChange={(e) => set("quiet_min", e.currentTarget.value)}
                >
                  <option value="1">high</option>
                  <option value="2">medium and high</option>
                </select>
              </label>
              {text("summary_hour", "Daily summary at hour", "8")}
              <label class="check">
                <input
                  type="checkbox"
                  name="summary_only"
                  checked={form.summary_only === true}
                  onChange={(e) => set("summary_only", e.currentTarget.checked)}
                />
                Only the daily summary
              </label>
            </div>
            <div class="row">
              <button type="submit" disabled={busy}>Save channel</button>
              <button
                type="button"
                onClick={() => {
                  setForm(null);
                  setEditing(null);
                }}
              >
                Cancel
              </button>
            </div>
          </form>
        )}
      <h3>Failed messages</h3>
      {view.failed.length === 0
        ? <p class="empty" data-testid="failed-none">None.</p>
        : (
          <table class="list" data-testid="failed">
            <thead>
              <tr>
                <th>Given up</th>
                <th>Channel</th>
                <th>Message</th>
                <th>Error</th>
              </tr>
            </thead>
            <tbody>
              {view.failed.map((f) => (
                <tr key={f.message.id}>
                  <td class="time" data-label="Given up">
                    {fmtTime(f.failed_at)}
                  </td>
                  <td data-label="Channel">{f.channel}</td>
                  <td data-label="Message">{f.message.title}</td>
                  <td class="error-text" data-label="Error">
                    {f.error} ({f.attempts} tries)
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
    </div>
  );
}
