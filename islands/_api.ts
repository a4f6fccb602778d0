/**
 * JSON calls from islands to the API: same-origin fetch with the session
 * cookie (the browser adds `Origin`, which the server checks on every
 * state-changing request).
 *
 * @module
 */

/** An API answer: the status, and the JSON body (or null). */
export interface ApiResult<T> {
  ok: boolean;
  status: number;
  data: T | null;
  /** The server's `error` message when not ok. */
  error: string;
  /** The answer's `ETag`, or null. */
  etag: string | null;
}

/** Options of {@link api}. */
export interface ApiOptions {
  /**
   * A refresh nobody asked for (a list re-read on a timer): a 401 is
   * returned like any failure instead of leaving the page for the sign-in
   * form, which would lose what is being typed elsewhere on it.
   */
  background?: boolean;
}

/**
 * Calls the API with an optional JSON body (and extra request headers).
 * A 401 (signed out, session ended) goes to the sign-in page, unless the
 * call is a `background` one.
 */
export async function api<T>(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
  opts: ApiOptions = {},
): Promise<ApiResult<T>> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: "same-origin",
      headers: body === undefined
        ? headers
        : { ...headers, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    return {
      ok: false,
      status: 0,
      data: null,
      error: `Network error: ${(e as Error).message}`,
      etag: null,
    };
  }
  if (res.status === 401 && !opts.background) {
    location.assign("/signin?next=" + encodeURIComponent(location.pathname));
  }
  let data: unknown = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  const err = typeof data === "object" && data !== null &&
      typeof (data as { error?: unknown }).error === "string"
    ? (data as { error: string }).error
    : res.ok
    ? ""
    : `HTTP ${res.status}`;
  return {
    ok: res.ok,
    status: res.status,
    data: data as T | null,
    error: err,
    etag: res.headers.get("etag"),
  };
}
