/**
 * A small Redis client: RESP2 over TCP (the protocol of
 * https://redis.io/docs/latest/develop/reference/protocol-spec/), commands
 * sent in pipelined batches, replies matched to commands in order, and the
 * primary found through Sentinel (`SENTINEL get-master-addr-by-name`, then
 * `ROLE` on the answer, as https://redis.io/docs/latest/operate/oss_and_stack/management/sentinel-clients/
 * asks of a client).
 *
 * Why not `npm:redis` or `npm:ioredis`: `npm:redis@4` does run under Deno
 * 2.9.6 (checked against a local redis-server), but both queue commands in memory while
 * the server is away (an offline queue without a byte bound) and retry
 * them by themselves, so a caller cannot know which of a batch Redis
 * applied. The fleet and the EVE shipper need the opposite: a batch either
 * reaches Redis inside one `MULTI`/`EXEC` with its cursor, or fails as a
 * whole and is read again from the EVE file. A connection here never
 * queues: a command on a closed connection fails at once, and the caller
 * (which holds its data on disk) reconnects with backoff.
 *
 * @module
 */
import { isRecord } from "../common/validate.ts";

/** A reply: simple strings and bulk strings as strings, nil as null. */
export type RedisReply =
  | string
  | number
  | null
  | RedisError
  | readonly RedisReply[];

/** An error reply of the server (`-ERR …`), returned in place of its command's reply. */
export class RedisError extends Error {
  /** Creates the error from the server's line. */
  constructor(message: string) {
    super(message);
    this.name = "RedisError";
  }
}

/** The connection failed or closed; the commands in flight have an unknown outcome. */
export class RedisConnectionError extends Error {
  /** Creates the error; keep `cause` when wrapping. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RedisConnectionError";
  }
}

/** Where Redis is: one server, or Sentinels naming the primary. */
export interface RedisTarget {
  host: string;
  port: number;
  /** Sentinel addresses ("host:port"); when given, `host`/`port` are ignored. */
  sentinels: readonly string[];
  /** The primary's name at the Sentinels (default "mymaster"). */
  masterName: string;
  password: string | null;
  db: number;
  /** Connect and per-batch reply timeout, ms. */
  timeoutMs: number;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const CRLF = 0x0d;
/** Largest bulk reply accepted (Redis' own proto-max-bulk-len default). */
const MAX_BULK = 512 * 1024 * 1024;

/** Encodes one command as a RESP array of bulk strings. */
export function encodeCommand(args: readonly (string | number)[]): Uint8Array {
  const parts: Uint8Array[] = [enc.encode(`*${args.length}\r\n`)];
  let n = parts[0]!.length;
  for (const a of args) {
    const b = enc.encode(String(a));
    const h = enc.encode(`$${b.length}\r\n`);
    parts.push(h, b, enc.encode("\r\n"));
    n += h.length + b.length + 2;
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Incremental RESP2 reply parser: `push` bytes, then `next()` until it
 * returns undefined (more bytes needed). Throws a RangeError on bytes that
 * are not RESP (the connection is then closed).
 */
export class ReplyParser {
  #buf = new Uint8Array(0);
  #o = 0;

  /** Appends received bytes. */
  push(chunk: Uint8Array): void {
    const rest = this.#buf.length - this.#o;
    const b = new Uint8Array(rest + chunk.length);
    b.set(this.#buf.subarray(this.#o), 0);
    b.set(chunk, rest);
    this.#buf = b;
    this.#o = 0;
  }

  /** The next whole reply, or undefined when it has not all arrived. */
  next(): RedisReply | undefined {
    const start = this.#o;
    const r = this.#read();
    if (r === undefined) this.#o = start;
    return r;
  }

  #line(): string | undefined {
    const b = this.#buf;
    for (let i = this.#o; i + 1 < b.length; i++) {
      if (b[i] === CRLF && b[i + 1] === 0x0a) {
        const s = dec.decode(b.subarray(this.#o, i));
        this.#o = i + 2;
        return s;
      }
    }
    return undefined;
  }

  #read(): RedisReply | undefined {
    if (this.#o >= this.#buf.length) return undefined;
    const type = this.#buf[this.#o]!;
    this.#o++;
    const line = this.#line();
    if (line === undefined) return undefined;
    switch (type) {
      case 0x2b: // +
        return line;
      case 0x2d: // -
        return new RedisError(line);
      case 0x3a: { // :
        const n = Number(line);
        if (!Number.isFinite(n)) {
          throw new RangeError(`Bad RESP integer "${line}"`);
        }
        return n;
      }
      case 0x24: { // $
        const n = Number(line);
        if (n === -1) return null;
        if (!Number.isInteger(n) || n < 0 || n > MAX_BULK) {
          throw new RangeError(`Bad RESP bulk length "${line}"`);
        }
        if (this.#o + n + 2 > this.#buf.length) return undefined;
        const s = dec.decode(this.#buf.subarray(this.#o, this.#o + n));
        this.#o += n + 2;
        return s;
      }
      case 0x2a: { // *
        const n = Number(line);
        if (n === -1) return null;
        if (!Number.isInteger(n) || n < 0 || n > 1 << 24) {
          throw new RangeError(`Bad RESP array length "${line}"`);
        }
        const out: RedisReply[] = [];
        for (let i = 0; i < n; i++) {
          const r = this.#read();
          if (r === undefined) return undefined;
          out.push(r);
        }
        return out;
      }
      default:
        throw new RangeError(`Bad RESP type byte ${type}`);
    }
  }
}

interface Waiter {
  resolve: (r: RedisReply) => void;
  reject: (e: Error) => void;
}

/**
 * One TCP connection to Redis. Commands go out in pipelined batches
 * ({@link RedisConn.batch}); a lost connection fails every command in
 * flight with {@link RedisConnectionError} and the connection stays
 * closed (make a new one).
 */
export class RedisConn {
  readonly #conn: Deno.TcpConn;
  readonly #parser = new ReplyParser();
  readonly #waiting: Waiter[] = [];
  readonly #timeoutMs: number;
  #closed: Error | null = null;
  #writing: Promise<void> = Promise.resolve();
  /** Address connected to ("host:port"). */
  readonly address: string;

  private constructor(conn: Deno.TcpConn, address: string, timeoutMs: number) {
    this.#conn = conn;
    this.address = address;
    this.#timeoutMs = timeoutMs;
    void this.#readLoop();
  }

  /**
   * Connects to the target (through its Sentinels when it has them),
   * authenticates, selects the database. Throws RedisConnectionError.
   */
  static async open(t: RedisTarget): Promise<RedisConn> {
    let host = t.host;
    let port = t.port;
    if (t.sentinels.length > 0) {
      ({ host, port } = await findPrimary(t));
    }
    const c = await RedisConn.dial(host, port, t.timeoutMs);
    try {
      const setup: (string | number)[][] = [];
      if (t.password !== null) setup.push(["AUTH", t.password]);
      if (t.db !== 0) setup.push(["SELECT", t.db]);
      if (t.sentinels.length > 0) setup.push(["ROLE"]);
      if (setup.length > 0) {
        const rs = await c.batch(setup);
        for (const r of rs) {
          if (r instanceof RedisError) {
            throw new RedisConnectionError(
              `Cannot set up Redis at "${c.address}": ${r.message}`,
            );
          }
        }
        const role = rs[rs.length - 1];
        if (
          t.sentinels.length > 0 &&
          (!Array.isArray(role) || role[0] !== "master")
        ) {
          throw new RedisConnectionError(
            `Cannot use Redis at "${c.address}": the Sentinels name it primary but it is not (failover in progress; retrying)`,
          );
        }
      }
      return c;
    } catch (e) {
      c.close();
      throw e;
    }
  }

  /** Opens a plain TCP connection (no Sentinel, no AUTH). */
  static async dial(
    host: string,
    port: number,
    timeoutMs: number,
  ): Promise<RedisConn> {
    const address = `${host}:${port}`;
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), timeoutMs);
    try {
      const conn = await Deno.connect({
        hostname: host,
        port,
        signal: ac.signal,
      });
      conn.setNoDelay(true);
      return new RedisConn(conn, address, timeoutMs);
    } catch (e) {
      throw new RedisConnectionError(
        `Cannot connect to Redis at "${address}": ${
          ac.signal.aborted ? "timed out" : (e as Error).message
        }`,
        { cause: e },
      );
    } finally {
      clearTimeout(timer);
    }
  }

  /** True until the connection failed or was closed. */
  get open(): boolean {
    return this.#closed === null;
  }

  /** Why the connection closed, or null while it is open. */
  get closedBy(): Error | null {
    return this.#closed;
  }

  /** Sends one command, resolves to its reply (an error reply is returned, not thrown). */
  async send(args: readonly (string | number)[]): Promise<RedisReply> {
    const [r] = await this.batch([args]);
    return r!;
  }

  /**
   * Sends the commands in one write (pipelining) and resolves to their
   * replies in order. Rejects with RedisConnectionError when the
   * connection is lost or the replies take longer than the timeout; then
   * none, some or all of them may have been applied.
   */
  async batch(
    cmds: readonly (readonly (string | number)[])[],
  ): Promise<RedisReply[]> {
    if (this.#closed) throw this.#closed;
    const parts = cmds.map(encodeCommand);
    let n = 0;
    for (const p of parts) n += p.length;
    const buf = new Uint8Array(n);
    let o = 0;
    for (const p of parts) {
      buf.set(p, o);
      o += p.length;
    }
    const replies = cmds.map(() =>
      new Promise<RedisReply>((resolve, reject) =>
        this.#waiting.push({ resolve, reject })
      )
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const e = new RedisConnectionError(
          `Redis at "${this.address}" did not answer within ${this.#timeoutMs} ms`,
        );
        this.#fail(e);
        reject(e);
      }, this.#timeoutMs);
    });
    try {
      // Writes are chained: two batches never interleave their bytes, and
      // their replies arrive in the order the waiters were queued.
      this.#writing = this.#writing.then(async () => {
        let w = 0;
        while (w < buf.length) w += await this.#conn.write(buf.subarray(w));
      }).catch((e) => this.#fail(e));
      return await Promise.race([Promise.all(replies), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #readLoop(): Promise<void> {
    const chunk = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await this.#conn.read(chunk);
        if (n === null) break;
        this.#parser.push(chunk.subarray(0, n));
        let r: RedisReply | undefined;
        while ((r = this.#parser.next()) !== undefined) {
          const w = this.#waiting.shift();
          if (w === undefined) throw new RangeError("Reply without a command");
          w.resolve(r);
        }
      }
      this.#fail(
        new RedisConnectionError(
          `Redis at "${this.address}" closed the connection`,
        ),
      );
    } catch (e) {
      this.#fail(e);
    }
  }

  #fail(e: unknown): void {
    if (this.#closed) return;
    this.#closed = e instanceof RedisConnectionError
      ? e
      : new RedisConnectionError(
        `Lost the connection to Redis at "${this.address}": ${
          (e as Error).message
        }`,
        { cause: e },
      );
    for (const w of this.#waiting.splice(0)) w.reject(this.#closed);
    try {
      this.#conn.close();
    } catch {
      // Already closed by the peer or by close(): nothing left to release.
    }
  }

  /** Closes the connection; commands in flight fail. */
  close(): void {
    this.#fail(new RedisConnectionError("Connection closed"));
  }
}

/** Asks each Sentinel in turn for the primary's address. */
async function findPrimary(
  t: RedisTarget,
): Promise<{ host: string; port: number }> {
  const errors: string[] = [];
  for (const s of t.sentinels) {
    const i = s.lastIndexOf(":");
    const host = s.slice(0, i).replace(/^\[|\]$/g, "");
    const port = Number(s.slice(i + 1));
    let c: RedisConn | null = null;
    try {
      c = await RedisConn.dial(host, port, t.timeoutMs);
      const r = await c.send([
        "SENTINEL",
        "get-master-addr-by-name",
        t.masterName,
      ]);
      if (
        Array.isArray(r) && typeof r[0] === "string" && typeof r[1] === "string"
      ) {
        return { host: r[0], port: Number(r[1]) };
      }
      errors.push(
        `${s}: ${r instanceof Error ? r.message : "no such primary"}`,
      );
    } catch (e) {
      errors.push(`${s}: ${(e as Error).message}`);
    } finally {
      c?.close();
    }
  }
  throw new RedisConnectionError(
    `Cannot find the Redis primary "${t.masterName}" through the Sentinels: ${
      errors.join("; ")
    }`,
  );
}

/** A reply as a string array (HGETALL, XRANGE fields), else []. */
export function replyStrings(r: RedisReply): string[] {
  return Array.isArray(r)
    ? r.filter((x): x is string => typeof x === "string")
    : [];
}

/** Parses a JSON text, or null when it is not a JSON object. */
export function jsonObject(s: unknown): Record<string, unknown> | null {
  if (typeof s !== "string") return null;
  try {
    const v: unknown = JSON.parse(s);
    return isRecord(v) ? v : null;
  } catch {
    return null;
  }
}
