/**
 * The version of @taskhistory/exporter, written from its package.json by scripts/sync-versions.mjs at build time
 * (a test checks that they agree).
 *
 * @internal
 */
export const version = "0.0.0"
