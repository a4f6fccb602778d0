/**
 * Appliance events: things worth telling the owner that are not alerts (a
 * block made, capture down, a feed or rules update that failed, the disk
 * almost full, a new device). Any part may emit one through an
 * {@link ApplianceEventSink} it is handed; the notifier (notify/) routes
 * them to channels. The type lives here, in common/, so that stages before
 * notify/ can emit without importing against the pipeline's direction.
 *
 * @module
 */

/** Every appliance event type. */
export const APPLIANCE_EVENT_TYPES = [
  "new_device",
  "device_silent",
  "block_made",
  "capture_down",
  "feed_update_failed",
  "rules_update_failed",
  "disk_almost_full",
] as const;

/** One appliance event type. */
export type ApplianceEventType = typeof APPLIANCE_EVENT_TYPES[number];

/** An appliance event. */
export interface ApplianceEvent {
  type: ApplianceEventType;
  /** Suricata's scale: 1 high, 2 medium, 3 low, 4 informational. */
  severity: 1 | 2 | 3 | 4;
  /** One line, for example `Capture on "eth0" is down`. */
  title: string;
  /** One or two sentences a user can act on. */
  detail: string;
  /** When it happened, ms since the epoch. */
  at: number;
  /** The address concerned (block made, new device), when any. */
  ip?: string;
  /** The alert it comes from (an automatic block), when any. */
  alert_id?: string;
  /** Small JSON-safe facts (duration, interface, free space, feed name). */
  facts?: Record<string, string | number | boolean>;
}

/** Receives appliance events; must return at once (no I/O on the caller's time). */
export type ApplianceEventSink = (e: ApplianceEvent) => void;

/**
 * The event for a failed threat-feed update: the hook the feed updater
 * calls (`sink(feedUpdateFailed("abuse.ch", err.message))`).
 */
export function feedUpdateFailed(
  feed: string,
  error: string,
  at: number = Date.now(),
): ApplianceEvent {
  return {
    type: "feed_update_failed",
    severity: 2,
    title: `Feed update failed: ${feed}`,
    detail: `The update of the feed "${feed}" failed: ${error}`,
    at,
    facts: { feed },
  };
}

/**
 * The event for a failed ruleset update: the hook the rules updater calls
 * (`sink(rulesUpdateFailed("et-open", err.message))`).
 */
export function rulesUpdateFailed(
  ruleset: string,
  error: string,
  at: number = Date.now(),
): ApplianceEvent {
  return {
    type: "rules_update_failed",
    severity: 2,
    title: `Rules update failed: ${ruleset}`,
    detail: `The update of the ruleset "${ruleset}" failed: ${error}`,
    at,
    facts: { ruleset },
  };
}
