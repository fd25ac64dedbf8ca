/**
 * One in-process stream of values fanned out to subscribers, each an async iterator with a bounded
 * queue. A subscriber that falls `maxQueued` values behind (a client that stopped reading) ends with
 * an error instead of holding an ever longer queue in memory; it may subscribe again.
 */
export class BroadcastOverflowError extends Error {
  constructor(maxQueued: number) {
    super(`the subscriber fell more than ${maxQueued} values behind; subscribe again`);
    this.name = 'BroadcastOverflowError';
  }
}

interface Subscriber<T> {
  queue: T[];
  /** Resolves the pending next() of a subscriber that waits for a value. */
  wake: (() => void) | undefined;
  failed: boolean;
  done: boolean;
}

export class Broadcast<T> {
  readonly #subscribers = new Set<Subscriber<T>>();
  readonly #maxQueued: number;

  constructor(maxQueued = 1000) {
    this.#maxQueued = maxQueued;
  }

  /** Subscribers now. */
  get size(): number {
    return this.#subscribers.size;
  }

  publish(value: T): void {
    for (const s of this.#subscribers) {
      if (s.queue.length >= this.#maxQueued) {
        s.failed = true;
        this.#subscribers.delete(s);
      } else {
        s.queue.push(value);
      }
      s.wake?.();
    }
  }

  /** Values published from now on, until the iterator is returned (or falls too far behind). */
  subscribe(): AsyncIterableIterator<T> {
    const s: Subscriber<T> = { queue: [], wake: undefined, failed: false, done: false };
    this.#subscribers.add(s);
    const end = (): IteratorResult<T> => {
      s.done = true;
      s.queue.length = 0;
      this.#subscribers.delete(s);
      s.wake?.();
      return { done: true, value: undefined };
    };
    const maxQueued = this.#maxQueued;
    const iterator: AsyncIterableIterator<T> = {
      async next(): Promise<IteratorResult<T>> {
        for (;;) {
          if (s.done) return { done: true, value: undefined };
          if (s.failed) {
            end();
            throw new BroadcastOverflowError(maxQueued);
          }
          if (s.queue.length > 0) return { done: false, value: s.queue.shift()! };
          await new Promise<void>((resolve) => (s.wake = resolve));
          s.wake = undefined;
        }
      },
      async return(): Promise<IteratorResult<T>> {
        return end();
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }
}
