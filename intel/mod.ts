/**
 * Threat intelligence: feeds of known-bad addresses, domains, TLS
 * fingerprints, certificates and URLs (config, formats, stored copies and
 * their updates), the structures that match them without allocating
 * (longest-prefix ranges, a suffix-hashed name set), and the matcher that
 * raises `intel` alerts naming the feed, the indicator, the direction and
 * the internal host.
 *
 * Sits after detect/ in the pipeline (the matcher is a detector); imports
 * neither the server nor the store: the feed copies live in the data
 * directory and the network is passed in.
 *
 * @example
 * ```ts
 * const intel = new IntelService({ config: parseIntelConfig(raw.intel), dataDir, fetch, log });
 * await intel.load();
 * const matcher = intelMatcher(intel.index, policy, emit);
 * ```
 *
 * @module
 */
export {
  DEFAULT_FEEDS,
  FEED_NAME,
  type FeedConfig,
  type IntelConfig,
  parseFeedConfig,
  parseIntelConfig,
} from "./config.ts";
export {
  FEED_FORMATS,
  type FeedFormat,
  INDICATOR_KINDS,
  type IndicatorKind,
  normalizeIndicator,
  type ParsedFeed,
  parseFeed,
} from "./formats.ts";
export { type IntelHit, IntelIndex, type LoadedFeed } from "./intel_index.ts";
export {
  type IntelConn,
  type IntelFact,
  type IntelMatcher,
  intelMatcher,
  type IntelVia,
  matchTlsHandshake,
} from "./matcher.ts";
export { NameSet, NameSetBuilder } from "./name_set.ts";
export { parsePrefix, PrefixSet, PrefixSetBuilder } from "./prefix_set.ts";
export {
  type FeedStatus,
  type FetchLike,
  intelDir,
  loadStoredFeed,
  readFeedStatus,
  updateFeed,
  type UpdateOutcome,
  type UpdateResult,
} from "./update.ts";
export {
  type FeedView,
  IntelService,
  type IntelServiceOptions,
} from "./service.ts";
