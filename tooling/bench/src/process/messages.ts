/** What parent and worker processes say to each other over the IPC channel. */
export interface ControlMessage {
  readonly type: string;
  readonly data?: unknown;
}

/** The first message a worker gets: which role to play, with which parameters. */
export interface RunMessage extends ControlMessage {
  readonly type: 'run';
  readonly data: { readonly role: string; readonly params: unknown };
}

/** Sent by a worker whose role failed; the parent turns it into a failed run. */
export interface ErrorMessage extends ControlMessage {
  readonly type: 'error';
  readonly data: { readonly message: string; readonly stack?: string };
}

/** A bounded inbox: messages wait here until someone asks for their type. */
export class Inbox {
  readonly #queued: ControlMessage[] = [];
  readonly #waiters = new Map<string, Array<(message: ControlMessage) => void>>();
  #failure: Error | undefined;
  readonly #onFailure = new Set<(error: Error) => void>();

  put(message: ControlMessage): void {
    const waiting = this.#waiters.get(message.type);
    const waiter = waiting?.shift();
    if (waiter !== undefined) {
      waiter(message);
      return;
    }
    // A peer that floods the channel is a bug in the harness; dropping would hide it.
    if (this.#queued.length >= 1024) throw new Error('control inbox overflow');
    this.#queued.push(message);
  }

  /** Rejects every pending and future `next` with `error`. */
  fail(error: Error): void {
    if (this.#failure !== undefined) return;
    this.#failure = error;
    for (const reject of this.#onFailure) reject(error);
    this.#onFailure.clear();
  }

  next<T>(type: string, timeoutMs: number): Promise<T> {
    const index = this.#queued.findIndex((message) => message.type === type);
    if (index >= 0) return Promise.resolve(this.#queued.splice(index, 1)[0]!.data as T);
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise<T>((resolve, reject) => {
      const waiters = this.#waiters.get(type) ?? [];
      this.#waiters.set(type, waiters);
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(deliver), 1);
        this.#onFailure.delete(onFailure);
        reject(new Error(`no "${type}" within ${timeoutMs} ms`));
      }, timeoutMs);
      const deliver = (message: ControlMessage): void => {
        clearTimeout(timer);
        this.#onFailure.delete(onFailure);
        resolve(message.data as T);
      };
      const onFailure = (error: Error): void => {
        clearTimeout(timer);
        reject(error);
      };
      waiters.push(deliver);
      this.#onFailure.add(onFailure);
    });
  }
}
