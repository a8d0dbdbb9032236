/**
 * HTTP headers: a case-insensitive, ordered, multi-valued map, plus parsers
 * and builders for the header grammars of the WebSocket handshake.
 *
 * @module
 */

/** Case-insensitive, ordered, multi-valued HTTP headers. */
export class Headers {
  readonly #items: [string, string][] = [];

  /** Appends a header. */
  append(name: string, value: string): void {
    this.#items.push([name, value]);
  }

  /** The first value of `name`, or `undefined`. */
  get(name: string): string | undefined {
    const key = name.toLowerCase();
    return this.#items.find(([n]) => n.toLowerCase() === key)?.[1];
  }
}
