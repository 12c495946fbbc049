/**
 * A mapping's DAX entries, indexed by file page (include/linux/xarray.h as fs/dax.c uses it):
 * point lookups, stores and erases, and xa_for_each_range() — a walk of the entries between
 * two indexes in index order that costs what it finds, not the size of the mapping.
 *
 * Plain data: a Map from index to entry (the state; iteration in insertion order as a Map
 * has) plus a lazily sorted key list for range walks. Erased keys stay in the key list until
 * the next sort or until they outnumber the live ones. Indexes are kept as numbers inside
 * (a file page index is below 2^52: files end at 2^63 bytes), which hash far faster than
 * bigints; the API speaks bigint like the rest of the model.
 */
export class Xarray<T> implements Iterable<[bigint, T]> {
  private readonly map = new Map<number, T>();
  /** Keys in ascending order while `sorted`; may hold erased keys. */
  private keys: number[] = [];
  private sorted = true;
  private erased = 0;
  /** Bumped by every store and erase: lets a host tell an unchanged array at a glance. */
  gen = 0;

  get size(): number {
    return this.map.size;
  }

  get(index: bigint): T | undefined {
    return this.map.get(Number(index));
  }

  has(index: bigint): boolean {
    return this.map.has(Number(index));
  }

  /** xa_store(). */
  set(index: bigint, entry: T): this {
    this.gen++;
    const k = Number(index);
    if (!this.map.has(k)) {
      const last = this.keys[this.keys.length - 1];
      if (last !== undefined && k <= last) this.sorted = false;
      this.keys.push(k);
    }
    this.map.set(k, entry);
    return this;
  }

  /** xa_erase(). */
  delete(index: bigint): boolean {
    if (!this.map.delete(Number(index))) return false;
    this.gen++;
    this.erased++;
    if (this.erased > 64 && this.erased > this.map.size) this.compact();
    return true;
  }

  private compact(): void {
    const live: number[] = [];
    for (const k of this.keys) if (this.map.has(k)) live.push(k);
    this.keys = live;
    this.erased = 0;
    if (!this.sorted) this.sortKeys();
  }

  private sortKeys(): void {
    const uniq = [...new Set(this.keys.filter((k) => this.map.has(k)))];
    uniq.sort((a, b) => a - b);
    this.keys = uniq;
    this.erased = 0;
    this.sorted = true;
  }

  /**
   * xa_for_each_range(): the entries with first <= index <= last, in index order, as a list
   * taken before the caller changes anything.
   */
  rangeEntries(first: bigint, last: bigint): [bigint, T][] {
    if (!this.sorted) this.sortKeys();
    const keys = this.keys;
    const lo0 = Number(first);
    const hi0 = Number(last);
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((keys[mid] as number) < lo0) lo = mid + 1;
      else hi = mid;
    }
    const out: [bigint, T][] = [];
    for (let i = lo; i < keys.length; i++) {
      const k = keys[i] as number;
      if (k > hi0) break;
      const v = this.map.get(k);
      if (v !== undefined) out.push([BigInt(k), v]);
    }
    return out;
  }

  /** xa_for_each_range() as an iterator (over the same list). */
  *range(first: bigint, last: bigint): Generator<[bigint, T]> {
    yield* this.rangeEntries(first, last);
  }

  *entries(): Generator<[bigint, T]> {
    for (const [k, v] of this.map) yield [BigInt(k), v];
  }

  values(): IterableIterator<T> {
    return this.map.values();
  }

  [Symbol.iterator](): Generator<[bigint, T]> {
    return this.entries();
  }
}
