/**
 * A map for keys that come back (threads, connections) whose values come and go (the session a
 * thread is serving). Emptying a key leaves its entry in place; only `remove` deletes it.
 *
 * Why not a Map with delete: V8 rebuilds a Map's table once deleted entries fill it, and the
 * table it replaces keeps its entries (and a pointer to its successor, for live iterators). Once a
 * Map's table is in the old generation, V8 allocates every successor there too. So each session
 * that was in a table when it was replaced stayed reachable from the old generation until the
 * next full collection, and every young collection copied and promoted it with all it held: with
 * a session started and ended per request, that was ~2.4 KB of every session the gateway
 * assembled (bench/RESULTS-overhead.md, "Session 6"). An emptied slot
 * keeps the table still, and a removed key's slot is emptied first, so a replaced table holds
 * nothing but empty slots.
 */
interface Slot<V> {
  value: V | undefined;
}

export class SlotMap<K, V extends object> {
  private readonly slots = new Map<K, Slot<V>>();
  private live = 0;

  get(key: K): V | undefined {
    return this.slots.get(key)?.value;
  }

  set(key: K, value: V): void {
    const slot = this.slots.get(key);
    if (slot === undefined) {
      this.slots.set(key, { value });
      this.live++;
      return;
    }
    if (slot.value === undefined) this.live++;
    slot.value = value;
  }

  /** The key no longer has a value; its entry stays for the key's next value. */
  empty(key: K): void {
    const slot = this.slots.get(key);
    if (slot?.value === undefined) return;
    slot.value = undefined;
    this.live--;
  }

  /** The key is gone for good (its thread exited, its connection closed). */
  remove(key: K): void {
    const slot = this.slots.get(key);
    if (slot === undefined) return;
    if (slot.value !== undefined) this.live--;
    slot.value = undefined;
    this.slots.delete(key);
  }

  /** Keys with a value. */
  get size(): number {
    return this.live;
  }

  /** Entries kept without a value. */
  get emptySlots(): number {
    return this.slots.size - this.live;
  }

  *values(): IterableIterator<V> {
    for (const slot of this.slots.values()) if (slot.value !== undefined) yield slot.value;
  }

  /**
   * Deletes the empty entries once there are more than `max`: keys whose end was never reported
   * (a lost exit or close event) must not pile up. Rare by design, so its table rebuilds are too.
   */
  sweep(max: number): void {
    if (this.emptySlots <= max) return;
    for (const [key, slot] of this.slots) if (slot.value === undefined) this.slots.delete(key);
  }
}
