/** The core's statements recur on every tick and insert: worth preparing where the driver can. */
export const PREPARED = { prepare: true } as const;
