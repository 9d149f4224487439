/** This package's version, kept in sync with package.json (a test checks it). */
export const version = "0.0.0"
