/**
 * The device page's interactive parts: its traffic chart (the last 24
 * hours per minute, or 7 days per hour) and the owner's edit form (name,
 * known, trusted, note), saved with `PATCH /api/devices/:mac`.
 *
 * @module
 */
import type { VNode } from "preact";
import { useState } from "preact/hooks";
import { api } from "./_api.ts";
import { TrafficChart } from "./_chart.tsx";

/** One traffic bucket (bytes in the bucket). */
export interface DeviceBucket {
  /** Bucket start, ms. */
  bucket: number;
  bytes_in: number;
  bytes_out: number;
}

/** Props of {@link DeviceChart}. */
export interface DeviceChartProps {
  minutes: DeviceBucket[];
  hourly: DeviceBucket[];
}

function series(rows: DeviceBucket[], seconds: number) {
  return {
    t: rows.map((r) => r.bucket / 1000),
    in: rows.map((r) => r.bytes_in / seconds),
    out: rows.map((r) => r.bytes_out / seconds),
    all: rows.map((r) => (r.bytes_in + r.bytes_out) / seconds),
  };
}

/** The device's traffic chart with a choice of span. */
export function DeviceChart(p: DeviceChartProps): VNode {
  const [span, setSpan] = useState<"24h" | "7d">(
    p.minutes.length > 0 ? "24h" : "7d",
  );
  const s = span === "24h" ? series(p.minutes, 60) : series(p.hourly, 3600);
  return (
    <div class="device-chart" data-testid="device-chart">
      <div class="tabs">
        {(["24h", "7d"] as const).map((k) => (
          <button
            type="button"
            key={k}
            class={k === span ? "on" : ""}
            onClick={() => setSpan(k)}
          >
            {k === "24h" ? "24 hours (per minute)" : "7 days (per hour)"}
          </button>
        ))}
      </div>
      {s.t.length === 0
        ? <p class="empty">No traffic stored yet.</p>
        : <TrafficChart {...s} />}
    </div>
  );
}

/** Props of {@link DeviceEditor}. */
export interface DeviceEditorProps {
  mac: string;
  name: string;
  known: boolean;
  trusted: boolean;
  note: string;
}

/** The owner's edit form. */
export function DeviceEditor(p: DeviceEditorProps): VNode {
  const [name, setName] = useState(p.name);
  const [known, setKnown] = useState(p.known);
  const [trusted, setTrusted] = useState(p.trusted);
  const [note, setNote] = useState(p.note);
  const [state, setState] = useState<"" | "saving" | "saved">("");
  const [error, setError] = useState("");
  return (
    <form
      class="device-editor"
      data-testid="device-editor"
      onSubmit={async (e) => {
        e.preventDefault();
        setState("saving");
        setError("");
        const r = await api(
          "PATCH",
          `/api/devices/${encodeURIComponent(p.mac)}`,
          { name, known, trusted, note },
        );
        if (r.ok) {
          setState("saved");
          location.reload();
        } else {
          setState("");
          setError(r.error);
        }
      }}
    >
      <label>
        Name{" "}
        <input
          name="name"
          maxLength={64}
          value={name}
          onInput={(e) => setName((e.target as HTMLInputElement).value)}
        />
      </label>
      <label class="check">
        <input
          type="checkbox"
          name="known"
          checked={known}
          onChange={(e) => setKnown((e.target as HTMLInputElement).checked)}
        />{" "}
        Known
      </label>
      <label class="check">
        <input
          type="checkbox"
          name="trusted"
          checked={trusted}
          onChange={(e) => setTrusted((e.target as HTMLInputElement).checked)}
        />{" "}
        Trusted
      </label>
      <label>
        Note{" "}
        <textarea
          name="note"
          maxLength={500}
          value={note}
          onInput={(e) => setNote((e.target as HTMLTextAreaElement).value)}
        />
      </label>
      <button type="submit" disabled={state === "saving"}>
        {state === "saving" ? "Saving…" : "Save"}
      </button>
      {error !== "" ? <p class="error" role="alert">{error}</p> : null}
    </form>
  );
}
