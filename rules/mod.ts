/**
 * Signatures: the Suricata rule language (Emerging Threats Open and local
 * rules) parsed, compiled and matched at appliance speed. Rules compile to
 * matchers over named buffers (`buffers.ts`); a multi-pattern prefilter per
 * buffer picks the candidate rules (`prefilter.ts`); the engine evaluates
 * them with Suricata's semantics per packet, per stream chunk and per
 * transaction (`engine.ts`, `match.ts`); one adapter fills the buffers from
 * the pipeline's records (`adapter.ts`); matches become `signature` alerts
 * (`detector.ts`). Reference: https://docs.suricata.io/en/latest/rules/.
 *
 * @example
 * ```ts
 * const classes = await loadClassifications();
 * const set = await loadRulePaths(["rules/"], { vars: ruleVars(null), classes });
 * const engine = new RuleEngine(set.rules, () => {});
 * const detectors = createDetectors(policy, emit, { extra: [signatureDetector(engine)] });
 * ```
 *
 * @module
 */
export { type BufferInfo, BUFFERS } from "./buffers.ts";
export {
  type ClassType,
  type CompileContext,
  compileRule,
  parseClassifications,
} from "./compile.ts";
export {
  type EngineCounters,
  type Inspection,
  newInspection,
  type OnMatch,
  RuleEngine,
  scopeOf,
} from "./engine.ts";
export { RuleAdapter } from "./adapter.ts";
export {
  ruleDetection,
  type SignatureDetector,
  signatureDetector,
} from "./detector.ts";
export {
  CLASSIFICATION_FILE,
  countByReason,
  emptyLoadResult,
  loadClassifications,
  type LoadOptions,
  type LoadResult,
  loadRulePaths,
  loadRuleText,
  type RefusedRule,
} from "./load.ts";
export { RuleError, splitRule } from "./parse.ts";
export type { Rule } from "./rule.ts";
export {
  DEFAULT_ADDRESS_VARS,
  DEFAULT_PORT_VARS,
  ruleVars,
} from "./rule_vars.ts";
export {
  loadRuleSet,
  ruleCategories,
  RULES_DIR,
  type RuleSet,
  type RuleSetOptions,
  SHIPPED_RULES_DIR,
} from "./rule_set.ts";
export {
  ET_OPEN_URL,
  parseRulesConfig,
  type RulesConfig,
} from "./rules_config.ts";
export {
  parseMd5File,
  readTar,
  UPDATE_STAMP,
  type UpdateOptions,
  type UpdateResult,
  updateRules,
} from "./update.ts";
export {
  type FiringRuleView,
  parseRuleToggle,
  type RefusedRuleView,
  type RuleCategoryView,
  type RulesControl,
  type RulesView,
  rulesView,
  type RuleToggle,
  toggleRules,
} from "./rules_control.ts";
