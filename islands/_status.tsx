/**
 * The outcome line under an island's buttons and forms: what was done, or
 * the server's error, announced to screen readers (`role="status"`).
 *
 * @module
 */
import type { VNode } from "preact";

/** How the last action went; `ok` picks the style. */
export interface Outcome {
  ok: boolean;
  text: string;
}

/** Props of {@link OutcomeLine}. */
export interface OutcomeLineProps {
  /** The last outcome; null before the first action. */
  outcome: Outcome | null;
  /** `data-testid` of the line, for the browser tests. */
  testId?: string;
}

/** The outcome line; nothing before the first action. */
export function OutcomeLine(p: OutcomeLineProps): VNode | null {
  if (p.outcome === null) return null;
  return (
    <p
      class={p.outcome.ok ? "ok" : "error"}
      role="status"
      data-testid={p.testId}
    >
      {p.outcome.text}
    </p>
  );
}
