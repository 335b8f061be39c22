/**
 * About the session itself.
 */

/** The schema unqualified names resolve to (the search path's first), as River reads it. */
export const SessionCurrentSchema = 'SELECT current_schema() AS schema';
