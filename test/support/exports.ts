// What the tests of the entry points (test/index.test.ts, test/sans-io.test.ts)
// ask of an exported value.

/** Whether `value` is a class (its source starts with `class`), not a plain function. */
export function isClass(value: unknown): boolean {
  return typeof value === "function" && /^class\b/.test(Function.prototype.toString.call(value));
}
