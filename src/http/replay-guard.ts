/**
 * Remembers the signatures a trigger accepted, so each is accepted once. Memory is bounded: a
 * signature is forgotten once its date falls out of the tolerance window (the date check then
 * refuses it), and when more than `maxEntries` are within the window the oldest is forgotten and
 * everything dated at or before it is refused from then on. Per isolate or process: a replay to
 * another instance is bounded by the date check and by that instance's own tick gate.
 */

export class ReplayGuard {
  /** Signature → its date (epoch ms), in the order accepted. */
  readonly #seen = new Map<string, number>();
  /** Signatures dated at or before this may have been forgotten: refuse them. */
  #floor = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly windowMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  /** Whether `key`, dated `signedAt`, was accepted before (or may have been). */
  seen(key: string, signedAt: number): boolean {
    return signedAt <= this.#floor || this.#seen.has(key);
  }

  /**
   * Accepts `key` once: false if it was seen. Synchronous, so two concurrent requests with the
   * same signature cannot both pass.
   */
  accept(key: string, signedAt: number, now = Date.now()): boolean {
    if (this.seen(key, signedAt)) return false;
    for (const [old, at] of this.#seen) {
      // Accepted in roughly date order: stop at the first entry still inside the window.
      if (at + this.windowMs >= now) break;
      this.#seen.delete(old);
    }
    while (this.#seen.size >= this.maxEntries) {
      const [old, at] = this.#seen.entries().next().value as [string, number];
      this.#seen.delete(old);
      this.#floor = Math.max(this.#floor, at);
    }
    this.#seen.set(key, signedAt);
    return true;
  }

  get size(): number {
    return this.#seen.size;
  }
}
