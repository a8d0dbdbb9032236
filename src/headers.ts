/**
 * HTTP headers: a case-insensitive, ordered, multi-valued map, the
 * handshake's keys (`Sec-WebSocket-Key` and `-Accept`) and the check of
 * `Connection` and `Upgrade`. The parsers and builders of the header
 * grammars are in `header-grammars.ts`, re-exported here.
 *
 * @module
 */

import { createHash, hash, randomBytes } from "node:crypto";
import { InvalidHeader, InvalidUpgrade } from "./errors.ts";
import { isFieldValue, isToken, parseConnection, parseUpgrade } from "./header-grammars.ts";

export * from "./header-grammars.ts";

/** What a {@link Headers} can be built from. */
export type HeadersInit =
  | Headers
  | Iterable<readonly [string, string]>
  | Readonly<Record<string, string | readonly string[]>>;

/**
 * Case-insensitive, ordered, multi-valued HTTP headers.
 *
 * Names keep the casing they were added with (for serialization and logs);
 * lookups ignore case. Iterating yields `[name, value]` pairs in the order
 * they were added, one pair per header line.
 *
 * Names must be RFC 7230 tokens and values may only contain HTAB, SP, visible
 * ASCII and obs-text (`\x80`-`\xff`): anything else, CR and LF in particular,
 * throws a `TypeError`, so headers can't be injected into a request or a
 * response.
 *
 * @example
 * ```ts
 * const headers = new Headers({ "Sec-WebSocket-Protocol": ["chat", "superchat"] });
 * headers.get("sec-websocket-protocol"); // "chat"
 * headers.getAll("Sec-WebSocket-Protocol"); // ["chat", "superchat"]
 * for (const [name, value] of headers) console.log(`${name}: ${value}`);
 * ```
 */
export class Headers implements Iterable<[string, string]> {
  // Header lines in order, in one of two forms. Either flat pairs: name,
  // value, name, value... (names keep their original casing): one array per
  // Headers, not one per line. Or, as a request is usually parsed, the header
  // block as it arrived: `Name: value\r\n` lines in one string (a server
  // keeps the request of every connection for its lifetime: one string is
  // smaller than an array and a string per value). The block turns into
  // pairs on the first change. An empty block is an empty Headers.
  #items: string[] | string = "";

  /**
   * @param init - Headers to copy: another `Headers`, `[name, value]` pairs,
   *   or an object whose values are a string or a list of strings.
   */
  constructor(init?: HeadersInit) {
    if (init === undefined) return;
    if (init instanceof Headers) {
      const items = init.#items;
      this.#items = typeof items === "string" ? items : items.slice();
    } else if (isIterable(init)) {
      for (const [name, value] of init) this.append(name, value);
    } else {
      for (const [name, value] of Object.entries(init)) {
        if (typeof value === "string") this.append(name, value);
        else for (const item of value) this.append(name, item);
      }
    }
  }

  /**
   * Headers from a header block: `Name: value\r\n` lines, each name a token,
   * each value trimmed and valid, exactly one space after each colon, no
   * empty line. For parsers that validated it. @internal
   */
  static fromBlock(block: string): Headers {
    const headers = new Headers();
    headers.#items = block;
    return headers;
  }

  /**
   * Headers from flat pairs (name, value, name, value...) already validated;
   * the array is taken over, not copied. @internal
   */
  static fromValidated(items: string[]): Headers {
    const headers = new Headers();
    headers.#items = items;
    return headers;
  }

  /** The lines as flat pairs, or the header block; not a copy. @internal */
  static itemsOf(headers: Headers): readonly string[] | string {
    return headers.#items;
  }

  /**
   * The lines as flat pairs (name, value, name, value...) in a new array,
   * as node:http's `rawHeaders`. @internal
   */
  static pairsOf(headers: Headers): string[] {
    const items = headers.#items;
    return typeof items === "string" ? splitBlock(items, []) : items.slice();
  }

  /** The number of header lines. */
  get size(): number {
    const items = this.#items;
    if (typeof items !== "string") return items.length >> 1;
    let lines = 0;
    for (let pos = items.indexOf("\n"); pos !== -1; pos = items.indexOf("\n", pos + 1)) lines++;
    return lines;
  }

  /** Adds a header line, after those already present. */
  append(name: string, value: string): void {
    checkName(name);
    checkValue(name, value);
    const pairs = toPairs(this.#items);
    this.#items = pairs;
    pushLine(pairs, name, value);
  }

  /**
   * Adds a header line without checking it: for parsers that validated it.
   * @internal
   */
  appendValidated(name: string, value: string): void {
    const pairs = toPairs(this.#items);
    this.#items = pairs;
    pushLine(pairs, name, value);
  }

  /**
   * Adds the lines of a header block (see {@link Headers.fromBlock}) without
   * checking them. @internal
   */
  appendBlock(block: string): void {
    const items = this.#items;
    if (items === "" || (typeof items !== "string" && items.length === 0)) {
      this.#items = block;
      return;
    }
    const pairs = toPairs(items);
    this.#items = pairs;
    indexes.delete(pairs);
    splitBlock(block, pairs);
  }

  /**
   * Drops the spare capacity that appending left: for headers kept as long
   * as a connection (a server keeps each request and response). @internal
   */
  compact(): void {
    const items = this.#items;
    if (typeof items !== "string") this.#items = items.slice();
  }

  /**
   * Replaces every line of `name` with a single one. It takes the place of the
   * first line of `name` if there was one, else it goes last.
   */
  set(name: string, value: string): void {
    checkName(name);
    checkValue(name, value);
    const items = toPairs(this.#items);
    const kept: string[] = [];
    let replaced = false;
    for (let i = 0; i < items.length; i += 2) {
      if (!sameName(items[i], name)) kept.push(items[i], items[i + 1]);
      else if (!replaced) {
        replaced = true;
        kept.push(name, value);
      }
    }
    if (!replaced) kept.push(name, value);
    this.#items = kept;
  }

  /** Removes every line of `name`; says whether there was one. */
  delete(name: string): boolean {
    if (find(this.#items, name, 0) === -1) return false;
    const items = toPairs(this.#items);
    const kept: string[] = [];
    for (let i = 0; i < items.length; i += 2) {
      if (!sameName(items[i], name)) kept.push(items[i], items[i + 1]);
    }
    this.#items = kept;
    return true;
  }

  /** Whether there is at least one line of `name`. */
  has(name: string): boolean {
    return find(this.#items, name, 0) !== -1;
  }

  /** The first value of `name`, or `undefined`. */
  get(name: string): string | undefined {
    const items = this.#items;
    const at = find(items, name, 0);
    return at === -1 ? undefined : valueAt(items, at);
  }

  /** Every value of `name`, in order; an empty array when there is none. */
  getAll(name: string): string[] {
    const values: string[] = [];
    const items = this.#items;
    for (let at = find(items, name, 0); at !== -1; at = find(items, name, after(items, at))) {
      values.push(valueAt(items, at));
    }
    return values;
  }

  /**
   * The value of a header that may appear at most once, or `undefined`.
   *
   * @throws {@link InvalidHeader} when `name` appears more than once (e.g. two
   *   `Sec-WebSocket-Key` lines, which a server must not silently pick from).
   */
  getOne(name: string): string | undefined {
    const items = this.#items;
    const at = soleLine(items, name);
    if (at === SEVERAL) throw new InvalidHeader(name, `more than one ${name} header found`);
    return at === -1 ? undefined : valueAt(items, at);
  }

  /**
   * The value of `name` when exactly one line has it, else `undefined`
   * (none, or several): {@link Headers.getOne} without the error. @internal
   */
  soleValue(name: string): string | undefined {
    const items = this.#items;
    const at = soleLine(items, name);
    return at < 0 ? undefined : valueAt(items, at);
  }

  /** `[name, value]` pairs, in order, names with their original casing. */
  *entries(): IterableIterator<[string, string]> {
    const items = this.#items;
    if (typeof items === "string") {
      for (let pos = 0; pos < items.length; ) {
        const colon = items.indexOf(":", pos);
        const eol = items.indexOf("\r", colon);
        yield [items.slice(pos, colon), items.slice(colon + 2, eol)];
        pos = eol + 2;
      }
      return;
    }
    for (let i = 0; i < items.length; i += 2) yield [items[i], items[i + 1]];
  }

  /** Distinct names, lowercased, in order of first appearance. */
  keys(): IterableIterator<string> {
    const names = new Set<string>();
    for (const [name] of this.entries()) names.add(name.toLowerCase());
    return names.values();
  }

  /** `for (const [name, value] of headers)`: the same as {@link Headers.entries}. */
  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }

  /** A copy of the header lines: `[name, value]` pairs with original casing. */
  raw(): [string, string][] {
    return [...this.entries()];
  }

  /** An independent copy. */
  clone(): Headers {
    return new Headers(this);
  }

  /** The header block as sent on the wire: `Name: value\r\n` lines, then `\r\n`. */
  toString(): string {
    const items = this.#items;
    if (typeof items === "string") return `${items}\r\n`;
    let out = "";
    for (let i = 0; i < items.length; i += 2) out += `${items[i]}: ${items[i + 1]}\r\n`;
    return `${out}\r\n`;
  }

  /**
   * The length in bytes of {@link Headers.toString}'s block, in latin1:
   * every character of a name or a value is one byte. @internal
   */
  wireLength(): number {
    const items = this.#items;
    if (typeof items === "string") return items.length + 2;
    let length = 2;
    for (let i = 0; i < items.length; i += 2) length += items[i].length + items[i + 1].length + 4;
    return length;
  }

  /**
   * Writes {@link Headers.toString}'s block into `buf` at `offset`, in
   * latin1, without building the string; returns the offset after it.
   * @internal
   */
  writeTo(buf: Buffer, offset: number): number {
    // One write of the whole block: each `buf.write()` costs about 800
    // instructions of argument checks and a call into C++, more than
    // concatenating a handful of short strings.
    return offset + buf.write(this.toString(), offset, "latin1");
  }

  /** Plain object for logs and `JSON.stringify`: repeated names map to arrays. */
  toJSON(): Record<string, string | string[]> {
    const out: Record<string, string | string[]> = {};
    for (const [name, value] of this.entries()) {
      const previous = out[name];
      if (previous === undefined) out[name] = value;
      else if (typeof previous === "string") out[name] = [previous, value];
      else previous.push(value);
    }
    return out;
  }
}

// The module functions below work on a Headers' #items rather than being
// private methods: a class with private methods gives each instance a slot
// for its brand, and a server keeps two Headers per connection.

// The lines as flat pairs: `items` itself, or a header block split.
function toPairs(items: string[] | string): string[] {
  return typeof items === "string" ? splitBlock(items, []) : items;
}

// Where the first line of `name` at or after `from` is, or -1: a position
// in the pairs, or an offset in the header block. Nothing is allocated.
function find(items: string[] | string, name: string, from: number): number {
  if (typeof items === "string") {
    const length = name.length;
    for (let pos = from; pos < items.length; pos = items.indexOf("\n", pos) + 1) {
      // A line is `name` when a colon follows its length (one character
      // read, where searching for the colon is a builtin call a line) and
      // the colon is its first.
      if (
        items.charCodeAt(pos + length) === 0x3a &&
        sameNameAt(items, pos, name) &&
        items.indexOf(":", pos) === pos + length
      ) {
        return pos;
      }
    }
    return -1;
  }
  const positions = lookup(items, name);
  if (positions !== null) {
    for (const at of positions) if (at >= from) return at;
    return -1;
  }
  for (let i = from; i < items.length; i += 2) if (sameName(items[i], name)) return i;
  return -1;
}

// Where the only line of `name` is (see find), -1 when there is none, or
// SEVERAL.
function soleLine(items: string[] | string, name: string): number {
  const at = find(items, name, 0);
  if (at === -1) return -1;
  return find(items, name, after(items, at)) === -1 ? at : SEVERAL;
}

const SEVERAL = -2;

// Where the line after the one at `at` starts (see find).
function after(items: string[] | string, at: number): number {
  return typeof items === "string" ? items.indexOf("\n", at) + 1 : at + 2;
}

function valueAt(items: string[] | string, at: number): string {
  if (typeof items !== "string") return items[at + 1];
  const colon = items.indexOf(":", at);
  return items.slice(colon + 2, items.indexOf("\r", colon));
}

// Positions of `name` from the index, or `null` when the headers are few
// enough to scan.
function lookup(items: string[], name: string): readonly number[] | null {
  if (items.length <= INDEX_THRESHOLD) return null;
  let index = indexes.get(items);
  if (index === undefined) {
    index = new Map();
    for (let i = 0; i < items.length; i += 2) {
      const lower = items[i].toLowerCase();
      const positions = index.get(lower);
      if (positions === undefined) index.set(lower, [i]);
      else positions.push(i);
    }
    indexes.set(items, index);
  }
  return index.get(name.toLowerCase()) ?? NONE;
}

// Above this many entries of #items (32 lines), lookups go through an index.
const INDEX_THRESHOLD = 64;
const NONE: readonly number[] = [];

// Lowercase name -> positions, for the pairs of large Headers: built on the
// first lookup, keyed by the array so that replacing it drops the index, and
// dropped when the array grows. Not a field: handshakes have a dozen lines,
// scanning them is cheaper than keeping a map (or a field for one) per
// connection.
const indexes = new WeakMap<string[], Map<string, number[]>>();

function pushLine(items: string[], name: string, value: string): void {
  // An index exists only past the threshold; arrays change in place only by growing.
  if (items.length > INDEX_THRESHOLD) indexes.delete(items);
  items.push(name, value);
}

// Appends the lines of a header block to `pairs` as name, value...
function splitBlock(block: string, pairs: string[]): string[] {
  for (let pos = 0; pos < block.length; ) {
    const colon = block.indexOf(":", pos);
    const eol = block.indexOf("\r", colon);
    pairs.push(block.slice(pos, colon), block.slice(colon + 2, eol));
    pos = eol + 2;
  }
  return pairs;
}

// Whether header names `a` and `b` are equal ignoring ASCII case: names are
// tokens, so folding A-Z is enough, and nothing is allocated.
function sameName(a: string, b: string): boolean {
  return a.length === b.length && sameNameAt(a, 0, b);
}

// Whether `text` holds `name` at `pos`, ignoring ASCII case.
function sameNameAt(text: string, pos: number, name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    let a = text.charCodeAt(pos + i);
    let b = name.charCodeAt(i);
    if (a === b) continue;
    if (a >= 0x41 && a <= 0x5a) a += 0x20;
    if (b >= 0x41 && b <= 0x5a) b += 0x20;
    if (a !== b) return false;
  }
  return true;
}

function isIterable(value: object): value is Iterable<readonly [string, string]> {
  return typeof (value as Partial<Iterable<unknown>>)[Symbol.iterator] === "function";
}

function checkName(name: string): void {
  if (!isToken(name)) throw new TypeError(`invalid header name: ${JSON.stringify(name)}`);
}

function checkValue(name: string, value: string): void {
  if (typeof value !== "string" || !isFieldValue(value)) {
    throw new TypeError(`invalid value for header ${name}: ${JSON.stringify(value)}`);
  }
}

// RFC 6455 §1.3: the GUID concatenated to the key to compute the accept value.
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** A random `Sec-WebSocket-Key`: 16 random bytes, base64-encoded (RFC 6455 §4.1). */
export function generateKey(): string {
  return randomBytes(16).toString("base64");
}

/**
 * The `Sec-WebSocket-Accept` value for a key (RFC 6455 §4.2.2): base64 of the
 * SHA-1 of the key and the GUID.
 */
export function acceptKey(key: string): string {
  return sha1Base64(key + GUID);
}

// crypto.hash (Node 20.12+) hashes in one call, without a Hash object and
// its stream machinery: a server computes one accept value per handshake.
const sha1Base64: (data: string) => string =
  typeof hash === "function"
    ? (data) => hash("sha1", data, "base64")
    : (data) => createHash("sha1").update(data).digest("base64");

/**
 * Checks `Connection: Upgrade` and `Upgrade: websocket`, which both the
 * request (RFC 6455 §4.2.1 items 3 and 4) and the response (§4.1, client
 * checks 2 and 3) must carry.
 *
 * @throws InvalidUpgrade naming the header and the value received.
 */
export function checkUpgradeHeaders(headers: Headers): void {
  // The common case, one line each with a single token, needs no parsing:
  // a token is a valid list of one element.
  const connection = headers.soleValue("Connection");
  if (connection === undefined || !sameName(connection, "upgrade")) checkConnection(headers);
  const upgrade = headers.soleValue("Upgrade");
  if (upgrade === undefined || !sameName(upgrade, "websocket")) checkUpgrade(headers);
}

function checkConnection(headers: Headers): void {
  const connection = headers.getAll("Connection").flatMap(parseConnection);
  if (!connection.some((option) => option.toLowerCase() === "upgrade")) {
    throw new InvalidUpgrade("Connection", connection.length > 0 ? connection.join(", ") : null);
  }
}

function checkUpgrade(headers: Headers): void {
  const upgrade = headers.getAll("Upgrade").flatMap(parseUpgrade);
  // Case-insensitive, like browsers: the RFC says "websocket" but also
  // registers "WebSocket" (§11.2), and some clients send that.
  if (upgrade.length !== 1 || upgrade[0].toLowerCase() !== "websocket") {
    throw new InvalidUpgrade("Upgrade", upgrade.length > 0 ? upgrade.join(", ") : null);
  }
}
