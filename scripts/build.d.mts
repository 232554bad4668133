// Types for scripts/build.mjs (imported by the tests' spawners).
/** True when dist/ is missing or was built from other sources than src/ holds now. */
export function isStale(): boolean;
/** Builds dist/ from scratch. */
export function build(): void;
/** Builds dist/ only if it is stale; safe from many processes at once. */
export function ensureBuilt(): void;
