/**
 * The WebIDL conversions the web classes need (WebIDL §3.2): strings,
 * `[Clamp] unsigned short`, and telling a sequence from other values.
 *
 * @module
 */

/** DOMString: `String()`, except that a Symbol throws. */
export function toDOMString(value: unknown): string {
  if (typeof value === "symbol") throw new TypeError("cannot convert a Symbol to a string");
  return String(value);
}

/** USVString: a DOMString whose lone surrogates become U+FFFD. */
export function toUSVString(value: unknown): string {
  // ES2024 String.prototype.toWellFormed: in Node 20, not in our ES2023 lib.
  return (toDOMString(value) as string & { toWellFormed(): string }).toWellFormed();
}

/** Whether a value is converted as a sequence: an object with `Symbol.iterator`. */
export function isIterableObject(value: unknown): value is Iterable<unknown> {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] === "function"
  );
}

/**
 * `[Clamp] unsigned short`: clamped to 0-65535, rounded half to even; NaN
 * is 0. A Symbol or a BigInt throws, as ToNumber does.
 */
export function toClampedUnsignedShort(value: unknown, where: string): number {
  if (typeof value === "symbol" || typeof value === "bigint") {
    throw new TypeError(`${where}: the close code must be a number, got a ${typeof value}`);
  }
  const n = Number(value);
  if (Number.isNaN(n)) return 0;
  const clamped = Math.min(Math.max(n, 0), 65535);
  const floor = Math.floor(clamped);
  const fraction = clamped - floor;
  if (fraction < 0.5) return floor;
  if (fraction > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}
