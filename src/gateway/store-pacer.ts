/**
 * Keeps the assembly thread from outrunning the disk. Lines the store has not written yet sit in
 * memory, and nothing else bounded them: a disk slower than the agents' traffic grew the gateway
 * until it died. Past `highBytes` unwritten, messages are held here, in order and unassembled,
 * until the store is down to `lowBytes`. Held messages are not reported processed, so the main
 * thread's backlog bound (KOALA_ASSEMBLER_BACKLOG) then pauses reading from the agents, whose
 * buffers drop and count: memory stays bounded and every loss is counted.
 */
/** Unwritten session bytes at which the assembly thread waits for the disk, and where it goes on. */
export const STORE_PACE = { highBytes: 64 * 1024 * 1024, lowBytes: 16 * 1024 * 1024 } as const;

export interface StorePacerOptions<T> {
  /** Applies one message (what the thread did before it was paced). */
  handle: (m: T) => void;
  /** Bytes the store holds unwritten. */
  queuedBytes: () => number;
  /** Resolves once at most that many bytes are unwritten (or the store gave up). */
  drained: (bytes: number) => Promise<void>;
  highBytes: number;
  lowBytes: number;
  /** Told when holding starts (with the unwritten bytes) and ends. */
  onHold?: (holding: boolean, queuedBytes: number) => void;
}

export class StorePacer<T> {
  private held: T[] | undefined;

  constructor(private readonly o: StorePacerOptions<T>) {
    if (!(o.lowBytes >= 0 && o.lowBytes < o.highBytes)) throw new RangeError(`store pacer: need 0 <= lowBytes < highBytes, got ${o.lowBytes}, ${o.highBytes}`);
  }

  /** Messages waiting for the store. */
  get holding(): number {
    return this.held?.length ?? 0;
  }

  push(m: T): void {
    if (this.held !== undefined) {
      this.held.push(m);
      return;
    }
    this.o.handle(m);
    if (this.o.queuedBytes() > this.o.highBytes) this.hold([]);
  }

  private hold(queue: T[]): void {
    if (this.held === undefined) this.o.onHold?.(true, this.o.queuedBytes());
    this.held = queue;
    const release = (): void => this.release();
    this.o.drained(this.o.lowBytes).then(release, release);
  }

  private release(): void {
    const queue = this.held ?? [];
    for (let i = 0; i < queue.length; i++) {
      this.o.handle(queue[i]!);
      if (this.o.queuedBytes() > this.o.highBytes) {
        // Still inside the hold: messages that come meanwhile join the rest of the queue.
        this.hold(queue.slice(i + 1));
        return;
      }
    }
    this.held = undefined;
    this.o.onHold?.(false, this.o.queuedBytes());
  }
}
