/**
 * The browser-style face of `websockets-ts/ws`'s `WebSocket`:
 * `addEventListener`, `removeEventListener` and the `on*` attributes, over
 * its `EventEmitter` events, with the event objects `ws` passes.
 *
 * @module
 */

// The event classes hold plain fields, no #private ones: TypeScript then
// compares them by shape, so `@types/ws`'s events (and with them a `ws`
// `WebSocket`'s on* attributes) match ours, and a `WebSocket` of ours is
// accepted where a library is typed against `ws`.

/** An event passed to `addEventListener` listeners. */
export class Event {
  /** The event's type: `open`, `message`, `close` or `error`. */
  readonly type: string;
  /** The `WebSocket` that dispatched the event; `null` for one built directly. */
  readonly target: unknown = null;

  constructor(type: string) {
    this.type = type;
  }
}

/** A `message` event: `data` is a string for text, else per `binaryType`. */
export class MessageEvent extends Event {
  /** The message. */
  readonly data: unknown;

  constructor(type: string, init: { data?: unknown } = {}) {
    super(type);
    this.data = init.data ?? null;
  }
}

/** A `close` event. */
export class CloseEvent extends Event {
  /** The close code. */
  readonly code: number;
  /** The close reason. */
  readonly reason: string;
  /** Whether both close frames were exchanged. */
  readonly wasClean: boolean;

  constructor(type: string, init: { code?: number; reason?: string; wasClean?: boolean } = {}) {
    super(type);
    this.code = init.code ?? 0;
    this.reason = init.reason ?? "";
    this.wasClean = init.wasClean ?? false;
  }
}

/** An `error` event. */
export class ErrorEvent extends Event {
  /** The error. */
  readonly error: unknown;
  /** The error's message. */
  readonly message: string;

  constructor(type: string, init: { error?: unknown; message?: string } = {}) {
    super(type);
    this.error = init.error ?? null;
    this.message = init.message ?? "";
  }
}

/** A listener: a function, or an object with `handleEvent`. */
export type EventListenerLike<E extends Event = Event> =
  | ((event: E) => void)
  | {
      /** Called with each event, `this` being the object. */
      handleEvent(event: E): void;
    };

/** Options of `addEventListener`. */
export interface AddEventListenerOptions {
  /** Remove the listener after its first call. */
  once?: boolean;
}

/** The four event types that have a browser-style form. */
export type EventType = "open" | "message" | "close" | "error";

// What a wrapper remembers: the listener it calls, and whether it's an on*
// attribute (which addEventListener/removeEventListener never touch).
const kListener = Symbol("websockets-ts.ws.listener");
const kAttribute = Symbol("websockets-ts.ws.attribute");

type Wrapper = ((...args: unknown[]) => void) & {
  [kListener]: EventListenerLike<never>;
  [kAttribute]: boolean;
};

/** What the event objects are built from: a `WebSocket`. */
export interface EventSource {
  /** Whether both close frames were exchanged, for `CloseEvent.wasClean`. */
  readonly wasClean: boolean;
  listeners(type: string): Function[];
  on(type: string, listener: (...args: unknown[]) => void): unknown;
  once(type: string, listener: (...args: unknown[]) => void): unknown;
  removeListener(type: string, listener: (...args: unknown[]) => void): unknown;
}

function makeEvent(target: EventSource, type: EventType, args: unknown[]): Event {
  let event: Event;
  if (type === "message") {
    const [data, isBinary] = args as [Buffer, boolean];
    event = new MessageEvent("message", { data: isBinary ? data : String(data) });
  } else if (type === "close") {
    const [code, reason] = args as [number, Buffer];
    event = new CloseEvent("close", { code, reason: String(reason), wasClean: target.wasClean });
  } else if (type === "error") {
    const [error] = args as [Error];
    event = new ErrorEvent("error", { error, message: error.message });
  } else {
    event = new Event(type);
  }
  (event as { target: unknown }).target = target;
  return event;
}

function isEventType(type: string): type is EventType {
  return type === "open" || type === "message" || type === "close" || type === "error";
}

/**
 * Adds a browser-style listener to `target`'s `type` events; a listener
 * already added is not added twice. Other types are ignored, as in `ws`.
 */
export function addEventListener(
  target: EventSource,
  type: string,
  listener: EventListenerLike<never>,
  options: AddEventListenerOptions = {},
  attribute = false,
): void {
  if (!isEventType(type)) return;
  if (!attribute) {
    for (const existing of target.listeners(type) as Partial<Wrapper>[]) {
      if (existing[kListener] === listener && existing[kAttribute] === false) return;
    }
  }
  const wrapper = function (this: EventSource, ...args: unknown[]): void {
    const event = makeEvent(target, type, args);
    if (typeof listener === "function") (listener as (event: Event) => void).call(target, event);
    else (listener as { handleEvent(event: Event): void }).handleEvent(event);
  } as Wrapper;
  wrapper[kListener] = listener;
  wrapper[kAttribute] = attribute;
  if (options.once === true) target.once(type, wrapper);
  else target.on(type, wrapper);
}

/** Removes a listener added by {@link addEventListener}. */
export function removeEventListener(
  target: EventSource,
  type: string,
  listener: EventListenerLike<never>,
): void {
  for (const existing of target.listeners(type) as Partial<Wrapper>[]) {
    if (existing[kListener] === listener && existing[kAttribute] === false) {
      target.removeListener(type, existing as Wrapper);
      return;
    }
  }
}

/** The listener set by an `on*` attribute, or `null`. */
export function getAttribute(target: EventSource, type: EventType): EventListenerLike | null {
  for (const existing of target.listeners(type) as Partial<Wrapper>[]) {
    if (existing[kAttribute] === true) return existing[kListener] as EventListenerLike;
  }
  return null;
}

/** Replaces the listener of an `on*` attribute; a non-function clears it. */
export function setAttribute(target: EventSource, type: EventType, listener: unknown): void {
  for (const existing of target.listeners(type) as Partial<Wrapper>[]) {
    if (existing[kAttribute] === true) {
      target.removeListener(type, existing as Wrapper);
      break;
    }
  }
  if (typeof listener !== "function") return;
  addEventListener(target, type, listener as EventListenerLike<never>, {}, true);
}
