/** NetSentinel's version, shown by `--version` and in `/health`. */
export const VERSION = "0.1.0";
