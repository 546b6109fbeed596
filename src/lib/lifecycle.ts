/**
 * Ownership of async resources (docs/architecture.md §3.7): whatever listens, connects or schedules has an
 * owner with an idempotent `close()` that releases it, children in reverse order of creation.
 */

export interface Closeable {
  close(): Promise<void>;
}

type CloseFn = () => Promise<void> | void;

/** Collects resources as they are created and closes them in reverse order, once. */
export class CloseStack implements Closeable {
  readonly #items: CloseFn[] = [];
  #closing: Promise<void> | undefined;

  /** Registers a resource (or a close function); returns it for chaining. */
  add<T extends Closeable | CloseFn>(item: T): T {
    if (this.#closing) throw new Error("CloseStack: add() after close()");
    this.#items.push(typeof item === "function" ? item : () => item.close());
    return item;
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      const errors: unknown[] = [];
      for (const fn of this.#items.splice(0).reverse()) {
        try {
          await fn();
        } catch (error) {
          errors.push(error);
        }
      }
      if (errors.length === 1) throw errors[0];
      if (errors.length > 1) throw new AggregateError(errors, "several resources failed to close");
    })();
    return this.#closing;
  }
}
