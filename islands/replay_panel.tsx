/**
 * The Replay page: pick a stored capture or upload one (size-limited),
 * choose a speed, start and stop, and follow progress. The dashboard's
 * other pages show the replayed traffic live.
 *
 * @module
 */
import type { VNode } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { CaptureFile, ReplayStatus } from "../server/deps.ts";
import { api } from "./_api.ts";
import { fmtBytes, fmtCount } from "./_format.ts";
import { type Outcome, OutcomeLine } from "./_form.tsx";

/** Props of {@link ReplayPanel}. */
export interface ReplayPanelProps {
  captures: CaptureFile[];
  status: ReplayStatus;
  maxUploadBytes: number;
}

const SPEEDS: [string, string][] = [
  ["1", "Real time (1×)"],
  ["10", "10×"],
  ["100", "100×"],
  ["0", "As fast as possible"],
];

/** The replay controls. */
export default function ReplayPanel(p: ReplayPanelProps): VNode {
  const [status, setStatus] = useState(p.status);
  const [file, setFile] = useState(p.captures[0]?.name ?? "");
  const [speed, setSpeed] = useState("10");
  const [msg, setMsg] = useState<Outcome | null>(null);
  const [upload, setUpload] = useState<File | null>(null);

  useEffect(() => {
    if (status.state !== "running") return;
    const t = setInterval(async () => {
      const r = await api<{ status: ReplayStatus }>("GET", "/api/replay");
      if (r.ok && r.data) setStatus(r.data.status);
    }, 1000);
    return () => clearInterval(t);
  }, [status.state]);

  const startStored = async () => {
    const r = await api<{ status: ReplayStatus }>("POST", "/api/replay/start", {
      file,
      speed: Number(speed),
    });
    if (r.ok && r.data) setStatus(r.data.status);
    setMsg(
      r.ok
        ? { ok: true, text: `Playing ${file}.` }
        : { ok: false, text: r.error },
    );
  };

  const startUpload = async () => {
    if (upload === null) return;
    if (upload.size > p.maxUploadBytes) {
      setMsg({
        ok: false,
        text: `${upload.name} is ${fmtBytes(upload.size)}; at most ${
          fmtBytes(p.maxUploadBytes)
        } can be uploaded.`,
      });
      return;
    }
    const res = await fetch(
      `/api/replay/start?speed=${speed}&name=${
        encodeURIComponent(upload.name)
      }`,
      {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/octet-stream" },
        body: upload,
      },
    );
    const data = await res.json().catch(() => null) as
      | { status?: ReplayStatus; error?: string }
      | null;
    if (res.ok && data?.status) setStatus(data.status);
    setMsg(
      res.ok
        ? { ok: true, text: `Playing ${upload.name}.` }
        : { ok: false, text: data?.error ?? `HTTP ${res.status}` },
    );
  };

  const stop = async () => {
    const r = await api<{ status: ReplayStatus }>("POST", "/api/replay/stop");
    if (r.ok && r.data) setStatus(r.data.status);
  };

  return (
    <div class="replay">
      <section class="panel wide">
        <h2>Status</h2>
        <p data-testid="replay-state">
          <strong>{status.state}</strong>
          {status.source ? ` · ${status.source}` : ""}
          {status.state !== "idle"
            ? ` · ${fmtCount(status.packets)} packets`
            : ""}
          {status.progress !== null && status.state === "running"
            ? ` · ${Math.round(status.progress * 100)} %`
            : ""}
        </p>
        {status.progress !== null && status.state === "running"
          ? <progress max={1} value={status.progress} />
          : null}
        {status.error ? <p class="error">{status.error}</p> : null}
        {status.state === "running"
          ? <button type="button" onClick={stop}>Stop</button>
          : null}
      </section>
      <section class="panel wide">
        <h2>Play a capture</h2>
        <div class="inline">
          <label>
            Speed{" "}
            <select
              value={speed}
              onChange={(e) => setSpeed(e.currentTarget.value)}
            >
              {SPEEDS.map(([v, l]) => <option key={v} value={v}>{l}</option>)}
            </select>
          </label>
        </div>
        <div class="inline">
          <label>
            Stored capture{" "}
            <select
              value={file}
              disabled={p.captures.length === 0}
              onChange={(e) => setFile(e.currentTarget.value)}
            >
              {p.captures.map((c) => (
                <option key={c.name} value={c.name}>
                  {c.name} ({fmtBytes(c.bytes)})
                </option>
              ))}
            </select>
          </label>
          <button type="button" disabled={file === ""} onClick={startStored}>
            Play
          </button>
        </div>
        <div class="inline">
          <label>
            Or upload a pcap (at most {fmtBytes(p.maxUploadBytes)}){" "}
            <input
              type="file"
              accept=".pcap,.pcapng,.cap"
              onChange={(e) => setUpload(e.currentTarget.files?.[0] ?? null)}
            />
          </label>
          <button
            type="button"
            disabled={upload === null}
            onClick={startUpload}
          >
            Upload and play
          </button>
        </div>
        <OutcomeLine outcome={msg} />
      </section>
    </div>
  );
}
