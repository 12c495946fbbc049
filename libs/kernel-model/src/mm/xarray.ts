/**
 * A mapping's DAX entries, indexed by file page (include/linux/xarray.h as fs/dax.c uses it):
 * point lookups, stores and erases, and xa_for_each_range() — a walk of the entries between
 * two indexes in index order that costs what it finds, not the size of the mapping.
 *
 * Plain data: a Map from index to entry (the state; iteration in insertion order as a Map
 * has) plus a lazily sorted key list for range walks. Erased keys stay in the key list until
 * the next sort or until they outnumber the live ones.
 */
export class Xarray<T> implements Iterable<[bigint, T]> {
  private readonly map = new Map<bigint, T>();
  /** Keys in ascending order up to `sortedUpTo`, then appended ones; may hold erased keys. */
  private keys: bigint[] = [];
  private sorted = true;
  private erased = 0;

  get size(): number {
    return this.map.size;
  }

  get(index: bigint): T | undefined {
    return this.map.get(index);
  }

  has(index: bigint): boolean {
    return this.map.has(index);
  }

  /** xa_store(). */
  set(index: bigint, entry: T): this {
    if (!this.map.has(index)) {
      const last = this.keys[this.keys.length - 1];
      if (last !== undefined && index <= last) this.sorted = false;
      this.keys.push(index);
    }
    this.map.set(index, entry);
    return this;
  }

  /** xa_erase(). */
  delete(index: bigint): boolean {
    if (!this.map.delete(index)) return false;
    this.erased++;
    if (this.erased > 64 && this.erased > this.map.size) this.compact();
    return true;
  }

  private compact(): void {
    const live = this.keys.filter((k) => this.map.has(k));
    this.keys = live;
    this.erased = 0;
    if (!this.sorted) this.sortKeys();
  }

  private sortKeys(): void {
    const uniq = [...new Set(this.keys.filter((k) => this.map.has(k)))];
    uniq.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    this.keys = uniq;
    this.erased = 0;
    this.sorted = true;
  }

  /**
   * xa_for_each_range(): the entries with first <= index <= last, in index order. The walk is
   * over a snapshot of the keys: entries stored or erased during it are not seen / still seen
   * only if present when reached.
   */
  *range(first: bigint, last: bigint): Generator<[bigint, T]> {
    if (!this.sorted) this.sortKeys();
    const keys = this.keys;
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((keys[mid] as bigint) < first) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < keys.length; i++) {
      const k = keys[i] as bigint;
      if (k > last) break;
      const v = this.map.get(k);
      if (v !== undefined) yield [k, v];
    }
  }

  entries(): IterableIterator<[bigint, T]> {
    return this.map.entries();
  }

  values(): IterableIterator<T> {
    return this.map.values();
  }

  [Symbol.iterator](): IterableIterator<[bigint, T]> {
    return this.map.entries();
  }
}
