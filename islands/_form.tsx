/**
 * Pieces shared by the islands' forms: the choice of block duration, and
 * the outcome line under buttons and forms (what was done, or the server's
 * error, announced to screen readers with `role="status"`).
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

/** Props of {@link DurationSelect}. */
export interface DurationSelectProps {
  /** The chosen duration ("15m", "1h", "24h" or "7d"). */
  value: string;
  /** Called with the new choice. */
  onChange: (value: string) => void;
}

/** The block durations the dashboard offers: 15 minutes to 7 days. */
export function DurationSelect(p: DurationSelectProps): VNode {
  return (
    <select
      value={p.value}
      onChange={(e) => p.onChange(e.currentTarget.value)}
    >
      <option value="15m">15 minutes</option>
      <option value="1h">1 hour</option>
      <option value="24h">24 hours</option>
      <option value="7d">7 days</option>
    </select>
  );
}
