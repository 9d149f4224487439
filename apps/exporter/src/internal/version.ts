/**
 * The package version, kept in sync with package.json.
 *
 * @internal
 */
export const version = "0.0.0"
