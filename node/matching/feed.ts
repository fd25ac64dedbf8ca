/**
 * The in-process stream of raised matches (ids), which the API turns into `matchFound` pushes. It
 * is fed by the matcher after each commit on embedded storage, and by the LISTEN connection
 * (listener.ts) on PostgreSQL, where every process over the database hears every match, its own
 * included. The API itself keeps no state between requests: what it pushes it reads from the
 * database by id.
 */
export type MatchFeedListener = (ids: readonly string[]) => void;

export class MatchFeed {
  readonly #listeners = new Set<MatchFeedListener>();
  readonly #onError: (err: unknown) => void;

  constructor(onError: (err: unknown) => void = () => undefined) {
    this.#onError = onError;
  }

  publish(ids: readonly string[]): void {
    if (ids.length === 0) return;
    for (const listener of this.#listeners) {
      try {
        listener(ids);
      } catch (err) {
        this.#onError(err);
      }
    }
  }

  /** Returns the function that unsubscribes. */
  subscribe(listener: MatchFeedListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
