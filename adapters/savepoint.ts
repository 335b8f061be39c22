/**
 * Savepoints, for adapters whose connection is already inside a transaction: a failed batch (or
 * nested transaction) rolls back to the savepoint and leaves the caller's transaction usable.
 */

let counter = 0;

/** Runs `fn` inside a fresh savepoint, using `exec` to send the savepoint statements. */
export async function withSavepoint<T>(
  exec: (sql: string) => Promise<unknown>,
  fn: () => Promise<T>,
): Promise<T> {
  const name = `eddy_sp_${++counter}`;
  await exec(`SAVEPOINT ${name}`);
  try {
    const value = await fn();
    await exec(`RELEASE SAVEPOINT ${name}`);
    return value;
  } catch (error) {
    await exec(`ROLLBACK TO SAVEPOINT ${name}`);
    await exec(`RELEASE SAVEPOINT ${name}`);
    throw error;
  }
}
