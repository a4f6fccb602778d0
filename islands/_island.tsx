/**
 * The server side of islands: a page wraps an island's server-rendered
 * markup in {@link Island}, which records the island's name and props in
 * data attributes (escaped by Preact like any attribute). The client
 * bundle finds these elements and hydrates them.
 *
 * @module
 */
import type { ComponentChildren, VNode } from "preact";

/** Props of {@link Island}. */
export interface IslandProps {
  /** The island's name in the client registry. */
  name: string;
  /** The island's props (JSON-serialisable). */
  props: unknown;
  /** The island rendered on the server with the same props. */
  children: ComponentChildren;
}

/** Marks server-rendered island markup for hydration. */
export function Island(p: IslandProps): VNode {
  return (
    <div
      class="island"
      data-island={p.name}
      data-props={JSON.stringify(p.props)}
    >
      {p.children}
    </div>
  );
}
