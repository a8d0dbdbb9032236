/**
 * The events a `WebSocket` fires: `CloseEvent` (WHATWG WebSockets §4), Node's
 * own `MessageEvent`, and the `on*` event handler attributes (HTML §8.1.8).
 *
 * @module
 */

/** Dictionary of the {@link CloseEvent} constructor. */
export interface CloseEventInit {
  /** Whether the event bubbles (DOM `EventInit`). Default: `false`. */
  bubbles?: boolean;
  /** Whether `preventDefault()` cancels the event (DOM `EventInit`). Default: `false`. */
  cancelable?: boolean;
  /** Whether the event crosses shadow DOM boundaries (DOM `EventInit`). Default: `false`. */
  composed?: boolean;
  /** Whether the connection closed cleanly. Default: `false`. */
  wasClean?: boolean;
  /** The close code. Default: 0. */
  code?: number;
  /** The close reason. Default: `""`. */
  reason?: string;
}

/** WHATWG WebSockets §4: the event fired when a WebSocket connection closes (ours; see {@link CloseEvent}). */
export class WebSocketCloseEvent extends Event {
  readonly #wasClean: boolean;
  readonly #code: number;
  readonly #reason: string;

  constructor(type: string, init: CloseEventInit = {}) {
    // biome-ignore lint/complexity/noArguments: WebIDL counts the arguments given, undefined included.
    if (arguments.length === 0) throw new TypeError("CloseEvent: the type argument is required");
    super(type, init);
    this.#wasClean = Boolean(init.wasClean);
    this.#code = toUnsignedShort(init.code ?? 0);
    this.#reason = init.reason === undefined ? "" : String(init.reason);
  }

  /** Whether the closing handshake completed and the transport then closed. */
  get wasClean(): boolean {
    return this.#wasClean;
  }

  /** The close code the server sent, 1005 if its close frame had none, 1006 without a close frame. */
  get code(): number {
    return this.#code;
  }

  /** The close reason the server sent, or `""`. */
  get reason(): string {
    return this.#reason;
  }

  get [Symbol.toStringTag](): string {
    return "CloseEvent";
  }
}

// WebIDL `unsigned short` (no [Clamp]): modulo 2^16.
function toUnsignedShort(value: unknown): number {
  const n = Math.trunc(Number(value));
  return Number.isFinite(n) ? ((n % 65536) + 65536) % 65536 : 0;
}

/**
 * `CloseEvent`: the platform's where it has one (Node >= 23), so that
 * `instanceof` agrees with other code; else ours, which behaves the same.
 */
export const CloseEvent: typeof WebSocketCloseEvent =
  (globalThis as { CloseEvent?: typeof WebSocketCloseEvent }).CloseEvent ?? WebSocketCloseEvent;
/** An instance of {@link CloseEvent}. */
export type CloseEvent = WebSocketCloseEvent;

/** `MessageEvent`: Node's own (global since Node 15). */
export const MessageEvent: typeof globalThis.MessageEvent = globalThis.MessageEvent;
/** An instance of {@link MessageEvent}. */
export type MessageEvent = globalThis.MessageEvent;

/** The value of an `on*` attribute: a function, another object, or `null`. */
export type EventHandler<E extends Event = Event> =
  | ((this: EventTarget, event: E) => unknown)
  | null;

interface Slot {
  value: object;
  listener: (event: Event) => void;
}

/**
 * The `on*` attributes of one event target (HTML §8.1.8.1): the first
 * non-null value adds a listener, where it then stays while the value
 * changes; `null` removes it, and a later value is added at the end again.
 */
export class EventHandlers {
  readonly #target: EventTarget;
  readonly #slots = new Map<string, Slot>();

  constructor(target: EventTarget) {
    this.#target = target;
  }

  /** The current value of the `on<type>` attribute. */
  get<E extends Event>(type: string): EventHandler<E> {
    return (this.#slots.get(type)?.value ?? null) as EventHandler<E>;
  }

  /** Sets the `on<type>` attribute; a non-object (WebIDL [LegacyTreatNonObjectAsNull]) is `null`. */
  set(type: string, value: unknown): void {
    const slot = this.#slots.get(type);
    if ((typeof value !== "object" && typeof value !== "function") || value === null) {
      if (slot !== undefined) {
        this.#target.removeEventListener(type, slot.listener);
        this.#slots.delete(type);
      }
      return;
    }
    if (slot !== undefined) {
      slot.value = value;
      return;
    }
    const created: Slot = {
      value,
      listener: (event) => {
        const handler = created.value;
        // HTML §8.1.8.1 "the event handler processing algorithm": an object
        // that isn't callable throws, and the error is reported.
        if (typeof handler !== "function") {
          throw new TypeError(`the on${type} handler is not a function`);
        }
        const result: unknown = handler.call(event.currentTarget, event);
        if (result === false) event.preventDefault();
      },
    };
    this.#slots.set(type, created);
    this.#target.addEventListener(type, created.listener);
  }
}
