/**
 * The `/ws/live` hub: one WebSocket per browser tab, JSON messages of a few
 * typed kinds ({@link LiveMessage}). A client whose socket has more than
 * `maxBufferedBytes` waiting is closed (code 4008) instead of buffering
 * without bound; the browser reconnects with backoff and reloads what it
 * missed. The number of clients is capped.
 *
 * @module
 */
import type { LiveMessage } from "./live_messages.ts";

/** Options of {@link LiveHub}. */
export interface LiveHubOptions {
  /** Bytes waiting on a socket before the client counts as slow (default 1 MiB). */
  maxBufferedBytes?: number;
  /** Most clients at once; more are refused (default 64). */
  maxClients?: number;
}

/** Counters for `/metrics`. */
export interface LiveHubMetrics {
  clients: number;
  sent: number;
  dropped: number;
  refused: number;
}

/** Close code for a client that could not keep up. */
export const CLOSE_SLOW = 4008;
/** Close code when the hub is full. */
export const CLOSE_FULL = 4009;
/** Close code when the hub shuts down. */
export const CLOSE_SHUTDOWN = 1001;
/** Close code when the client's session or token ended (sign in again). */
export const CLOSE_SIGNED_OUT = 4001;

/** The credential a live client connected with. */
export interface LiveOwner {
  /** Hash of the session cookie, for a session. */
  readonly session?: string;
  /** Hash of the API token, for a token. */
  readonly token?: string;
}

/** The set of live clients and the broadcast of messages to them. */
export class LiveHub {
  readonly #maxBuffered: number;
  readonly #maxClients: number;
  readonly #clients = new Map<WebSocket, LiveOwner>();
  #sent = 0;
  #dropped = 0;
  #refused = 0;

  /** Creates an empty hub. */
  constructor(opts: LiveHubOptions = {}) {
    this.#maxBuffered = opts.maxBufferedBytes ?? 1 << 20;
    this.#maxClients = opts.maxClients ?? 64;
  }

  /**
   * Adds an upgraded socket of `owner`; sends `hello` once it opens.
   * Returns false (and closes the socket) when the hub is full.
   */
  add(socket: WebSocket, hello: LiveMessage, owner: LiveOwner = {}): boolean {
    if (this.#clients.size >= this.#maxClients) {
      this.#refused++;
      socket.onopen = () => socket.close(CLOSE_FULL, "too many live clients");
      return false;
    }
    this.#clients.set(socket, owner);
    socket.onopen = () => this.#send(socket, JSON.stringify(hello));
    socket.onclose = () => this.#clients.delete(socket);
    socket.onerror = () => this.#clients.delete(socket);
    socket.onmessage = () => {}; // Browsers only listen.
    return true;
  }

  /** Sends `msg` to every open client, dropping slow ones. */
  broadcast(msg: LiveMessage): void {
    if (this.#clients.size === 0) return;
    const text = JSON.stringify(msg);
    for (const s of this.#clients.keys()) this.#send(s, text);
  }

  #send(s: WebSocket, text: string): void {
    if (s.readyState !== WebSocket.OPEN) return;
    if (s.bufferedAmount > this.#maxBuffered) {
      this.#dropped++;
      this.#clients.delete(s);
      s.close(CLOSE_SLOW, "too slow: reconnect");
      return;
    }
    s.send(text);
    this.#sent++;
  }

  /** Number of clients. */
  get size(): number {
    return this.#clients.size;
  }

  /** Counters. */
  metrics(): LiveHubMetrics {
    return {
      clients: this.#clients.size,
      sent: this.#sent,
      dropped: this.#dropped,
      refused: this.#refused,
    };
  }

  /**
   * Closes the clients whose owner `match` accepts (code 4001: their
   * session or token ended); resolves to how many.
   */
  closeWhere(match: (o: LiveOwner) => boolean, reason: string): number {
    let n = 0;
    for (const [s, o] of this.#clients) {
      if (!match(o)) continue;
      this.#clients.delete(s);
      closeSocket(s, CLOSE_SIGNED_OUT, reason);
      n++;
    }
    return n;
  }

  /** Closes every client (shutdown). */
  closeAll(): void {
    for (const s of this.#clients.keys()) {
      closeSocket(s, CLOSE_SHUTDOWN, "server shutting down");
    }
    this.#clients.clear();
  }
}

function closeSocket(s: WebSocket, code: number, reason: string): void {
  if (s.readyState === WebSocket.OPEN) {
    s.close(code, reason);
  } else if (s.readyState === WebSocket.CONNECTING) {
    s.onopen = () => s.close(code, reason);
  }
}
