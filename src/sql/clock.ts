/**
 * The clock every statement reads: an injected time when the caller passes one (tests, River's
 * `coalesce(@now, now())` convention), otherwise the database's transaction time. Both sides of
 * a comparison read the same expression, so a statement never mixes two clocks.
 */

/** `coalesce($n::timestamptz, now())` for parameter `n`. */
export const clock = (n: number) => `coalesce($${n}::timestamptz, now())`;
