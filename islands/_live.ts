/**
 * The browser's one `/ws/live` connection, shared by every island of a
 * page: subscribers get parsed messages; the connection reconnects with
 * exponential backoff (1 s doubling to 30 s, with jitter) and reports its
 * state ("connecting", "live", "offline").
 *
 * @module
 */
import { type LiveMessage, parseLiveMessage } from "../server/live_messages.ts";

/** Connection state shown to people. */
export type LiveState = "connecting" | "live" | "offline";

type Listener = (m: LiveMessage) => void;
type StateListener = (s: LiveState) => void;

const listeners = new Set<Listener>();
const stateListeners = new Set<StateListener>();
let socket: WebSocket | null = null;
let state: LiveState = "connecting";
let backoffMs = 1000;
let timer: ReturnType<typeof setTimeout> | undefined;

function setState(s: LiveState): void {
  state = s;
  document.documentElement.dataset.live = s;
  for (const l of stateListeners) l(s);
}

function connect(): void {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${proto}//${location.host}/ws/live`);
  socket = ws;
  setState("connecting");
  ws.onopen = () => {
    backoffMs = 1000;
    setState("live");
  };
  ws.onmessage = (ev) => {
    if (typeof ev.data !== "string") return;
    const m = parseLiveMessage(ev.data);
    if (m === null) return;
    for (const l of listeners) l(m);
  };
  ws.onclose = (ev) => {
    socket = null;
    setState("offline");
    if (ev.code === 4001) {
      // Signed out or session ended: go to the sign-in page.
      location.assign("/signin?next=" + encodeURIComponent(location.pathname));
      return;
    }
    const wait = backoffMs * (0.75 + Math.random() * 0.5);
    backoffMs = Math.min(30_000, backoffMs * 2);
    timer = setTimeout(() => {
      timer = undefined;
      connect();
    }, wait);
  };
}

/** Subscribes to live messages (connecting on first use); returns the unsubscribe function. */
export function subscribe(fn: Listener): () => void {
  listeners.add(fn);
  if (socket === null && timer === undefined) connect();
  return () => listeners.delete(fn);
}

/** Subscribes to the connection state; calls `fn` at once with the current one. */
export function onLiveState(fn: StateListener): () => void {
  stateListeners.add(fn);
  fn(state);
  return () => stateListeners.delete(fn);
}
