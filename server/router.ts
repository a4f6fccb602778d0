/**
 * A small router: routes are a method and a path pattern whose segments are
 * literal or `:name` parameters (decoded, one segment each). Matching is
 * exact (no trailing-slash folding); a path that matches with another
 * method answers 405.
 *
 * @module
 */

/** Parameters captured from the path. */
export type Params = Readonly<Record<string, string>>;

/** A registered route. */
export interface Route<H> {
  readonly method: string;
  readonly pattern: string;
  readonly handler: H;
  /** Pattern segments. */
  readonly parts: readonly string[];
}

/** What {@link Router.match} found. */
export type RouteMatch<H> =
  | { kind: "found"; route: Route<H>; params: Params }
  | { kind: "method"; allowed: string[] }
  | { kind: "none" };

/** Routes of handlers of type `H`. */
export class Router<H> {
  readonly #routes: Route<H>[] = [];

  /** Adds a route; `pattern` like "/api/alerts/:id". */
  add(method: string, pattern: string, handler: H): this {
    this.#routes.push({
      method,
      pattern,
      handler,
      parts: pattern.split("/").slice(1),
    });
    return this;
  }

  /** Every route, in the order added. */
  get routes(): readonly Route<H>[] {
    return this.#routes;
  }

  /** Finds the route for a method and path. */
  match(method: string, path: string): RouteMatch<H> {
    const segs = path.split("/").slice(1);
    const allowed: string[] = [];
    for (const r of this.#routes) {
      const params = matchParts(r.parts, segs);
      if (params === null) continue;
      if (r.method === method || (method === "HEAD" && r.method === "GET")) {
        return { kind: "found", route: r, params };
      }
      allowed.push(r.method);
    }
    return allowed.length > 0 ? { kind: "method", allowed } : { kind: "none" };
  }
}

function matchParts(
  parts: readonly string[],
  segs: readonly string[],
): Record<string, string> | null {
  if (parts.length !== segs.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!, s = segs[i]!;
    if (p.startsWith(":")) {
      if (s === "") return null;
      let v: string;
      try {
        v = decodeURIComponent(s);
      } catch {
        return null;
      }
      params[p.slice(1)] = v;
    } else if (p !== s) return null;
  }
  return params;
}
