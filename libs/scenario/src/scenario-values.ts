/**
 * Numbers, sizes and hex strings in scenario files (docs/scenario-format.md,
 * "Numbers and units"). Pure functions: each failure comes back as a plain-words message that
 * the parser turns into a ScenarioIssue at the field's path.
 *
 * Accepted integer spellings:
 *   - a YAML integer: `4096`, `0x1000`, `0o755` (the YAML 1.2 core schema), up to 2^53 − 1;
 *     a larger one must be quoted, since most YAML readers would round it;
 *   - a YAML float with an integral value (`1e3`, `4096.0`), also up to 2^53 − 1;
 *   - a string: decimal (`"4096"`, leading zeros are decimal) or hex (`"0x1000"`, any case),
 *     optionally with a leading `-` (then rejected by the range check where negatives make no
 *     sense);
 *   - for byte quantities only, a decimal string with a binary size suffix: `KiB MiB GiB TiB PiB`
 *     or the short forms `K M G T P` (binary too, as in ndctl and truncate(1)); case-insensitive,
 *     optional space before it (`"16GiB"`, `"2 MiB"`, `"4k"`). `KB`/`MB`/`GB` are refused as
 *     ambiguous.
 */

/** x86-64 base page. */
export const PAGE_SIZE = 4096n;
/** A sector, also an XFS basic block. */
export const SECTOR_SIZE = 512n;
/** A PMD mapping: 2 MiB, 512 pages. */
export const PMD_SIZE = 0x20_0000n;
export const PAGES_PER_PMD = 512n;
/** First address above x86-64 user space with 4-level paging (47 bits). */
export const USER_SPACE_END = 0x0000_8000_0000_0000n;
export const U64_MAX = (1n << 64n) - 1n;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

export type ValueResult<T> = { ok: true; value: T } | { ok: false; message: string };

export interface IntegerOptions {
  /** Accept a binary size suffix (`"16GiB"`). Only for byte quantities. */
  size?: boolean;
  /** Smallest accepted value; default 0. */
  min?: bigint;
  /** Largest accepted value; default 2^64 − 1. */
  max?: bigint;
}

const SIZE_SHIFT: Readonly<Record<string, bigint>> = {
  k: 10n,
  kib: 10n,
  m: 20n,
  mib: 20n,
  g: 30n,
  gib: 30n,
  t: 40n,
  tib: 40n,
  p: 50n,
  pib: 50n,
};

const INTEGER_TEXT = /^(-?)(0[xX][0-9a-fA-F]+|[0-9]+)(?:\s*([A-Za-z]+))?$/;

/** `0x`-prefixed lower-case hex, as the outcome JSON writes addresses and pfns. */
export function formatHex(value: bigint): string {
  return value < 0n ? `-0x${(-value).toString(16)}` : `0x${value.toString(16)}`;
}

/** A short description of a parsed YAML value for "expected …, got …" messages. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'an empty value';
  if (typeof value === 'string') return value === '' ? 'an empty string' : JSON.stringify(value);
  if (typeof value === 'bigint' || typeof value === 'number' || typeof value === 'boolean') {
    return String(value);
  }
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Map || typeof value === 'object') return 'a mapping';
  return typeof value;
}

function expectedInteger(options: IntegerOptions): string {
  return options.size ? 'an integer or a size (4096, "0x1000", "16GiB")' : 'an integer (4096 or "0x1000")';
}

function checkRange(value: bigint, options: IntegerOptions): ValueResult<bigint> {
  const min = options.min ?? 0n;
  const max = options.max ?? U64_MAX;
  if (value < min) {
    const message =
      min === 0n ? `must not be negative, got ${value}` : `must be at least ${min}, got ${value}`;
    return { ok: false, message };
  }
  if (value > max) {
    const message =
      max === U64_MAX
        ? `${formatHex(value)} does not fit in 64 bits`
        : `must be at most ${max}, got ${value}`;
    return { ok: false, message };
  }
  return { ok: true, value };
}

function unsafeNumber(text: string, value: bigint | undefined): ValueResult<bigint> {
  const hint = value === undefined ? '' : ` Write it as a string: "${formatHex(value)}"`;
  return {
    ok: false,
    message:
      `${text} is beyond 2^53 − 1 (${Number.MAX_SAFE_INTEGER}), so as a YAML number it ` +
      `would lose precision in most readers.${hint}`,
  };
}

function parseIntegerText(text: string, options: IntegerOptions): ValueResult<bigint> {
  // Digit-group underscores, as the kernel-semantics worked example writes 0x1_0000_0000.
  const trimmed = text.trim().replace(/(?<=[0-9a-fA-F])_(?=[0-9a-fA-F])/g, '');
  if (/^-?0x(?![0-9a-f])/i.test(trimmed)) {
    return { ok: false, message: `no digits after 0x in ${describeValue(text)}` };
  }
  // 2^64 has 20 decimal digits; a longer number is refused before BigInt() has to read it.
  if (trimmed.length > 80) {
    return { ok: false, message: `expected ${expectedInteger(options)}, got a text of ${trimmed.length} characters` };
  }
  const match = INTEGER_TEXT.exec(trimmed);
  if (match === null) {
    return { ok: false, message: `expected ${expectedInteger(options)}, got ${describeValue(text)}` };
  }
  const [, sign, digits, suffix] = match as unknown as [string, string, string, string | undefined];
  let value = BigInt(digits);
  if (suffix !== undefined) {
    if (!options.size) {
      return {
        ok: false,
        message: `expected ${expectedInteger(options)}, got ${describeValue(text)}: a size suffix is only allowed on byte quantities`,
      };
    }
    const shift = SIZE_SHIFT[suffix.toLowerCase()];
    if (shift === undefined) {
      const ambiguous = /^[kmgtp]b$/i.test(suffix);
      const message = ambiguous
        ? `size ${JSON.stringify(text)} is ambiguous ('${suffix}' may be decimal or binary); write ${suffix[0]!.toUpperCase()}iB`
        : `unknown size suffix '${suffix}' in ${JSON.stringify(text)}; use KiB, MiB, GiB or TiB`;
      return { ok: false, message };
    }
    if (/^0x/i.test(digits)) {
      return { ok: false, message: `a size suffix needs a decimal number, got ${JSON.stringify(text)}` };
    }
    value <<= shift;
  }
  return checkRange(sign === '-' ? -value : value, options);
}

/**
 * Reads one integer field. The YAML reader hands integers over as bigint (intAsBigInt), so
 * a number beyond 2^53 is still exact here; it is refused all the same, with the quoted form
 * to use instead, because the file must mean the same thing to every reader.
 */
export function parseInteger(value: unknown, options: IntegerOptions = {}): ValueResult<bigint> {
  if (typeof value === 'bigint') {
    if (value > MAX_SAFE || value < -MAX_SAFE) return unsafeNumber(String(value), value);
    return checkRange(value, options);
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || !Number.isInteger(value)) {
      return { ok: false, message: `expected ${expectedInteger(options)}, got ${describeValue(value)}` };
    }
    if (!Number.isSafeInteger(value)) return unsafeNumber(String(value), undefined);
    return checkRange(BigInt(value), options);
  }
  if (typeof value === 'string') return parseIntegerText(value, options);
  return { ok: false, message: `expected ${expectedInteger(options)}, got ${describeValue(value)}` };
}

/** parseInteger with a size suffix allowed: `parseSize("16GiB")` is 17179869184n. */
export function parseSize(value: unknown, options: Omit<IntegerOptions, 'size'> = {}): ValueResult<bigint> {
  return parseInteger(value, { ...options, size: true });
}
