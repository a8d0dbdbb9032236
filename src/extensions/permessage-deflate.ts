import { constants as zlibConstants } from "node:zlib";
import {
  DuplicateParameter,
  InvalidParameterName,
  InvalidParameterValue,
  InvalidState,
  NegotiationError,
  ProtocolError,
} from "../errors.ts";
import { Frame, OP_BINARY, OP_CONT, OP_TEXT, OPCODE_NAMES } from "../frames.ts";
import type {
  ClientExtensionFactory,
  Extension,
  ExtensionParameter,
  ServerExtensionFactory,
} from "./base.ts";
import {
  Compressor,
  type CompressSettings,
  Decompressor,
  isPermessageDeflateSupported,
} from "./deflate-codec.ts";

export { type CompressSettings, isPermessageDeflateSupported } from "./deflate-codec.ts";

/** The extension's registered name (RFC 7692 §7). */
export const PERMESSAGE_DEFLATE = "permessage-deflate";

// --- The extension -----------------------------------------------------------

/** Configuration of a negotiated {@link PerMessageDeflate}, from the local endpoint's view. */
export interface PerMessageDeflateConfig {
  /** The peer starts each message with an empty window. */
  remoteNoContextTakeover: boolean;
  /** This endpoint starts each message with an empty window. */
  localNoContextTakeover: boolean;
  /** The peer's window: 8 to 15 bits. */
  remoteMaxWindowBits: number;
  /** This endpoint's window: 8 to 15 bits. */
  localMaxWindowBits: number;
  /** zlib settings for compression. Default: zlib's defaults. */
  compressSettings?: CompressSettings;
}

/**
 * The permessage-deflate extension, active on one connection.
 *
 * Compresses every data message it sends (RSV1 set on its first frame) and
 * decompresses every message received with RSV1 set; messages received
 * without RSV1 pass through (RFC 7692 §6). Control frames are never
 * compressed.
 */
export class PerMessageDeflate implements Extension {
  /** `permessage-deflate`. */
  readonly name = PERMESSAGE_DEFLATE;
  /** Whether the peer resets its compression context after each message. */
  readonly remoteNoContextTakeover: boolean;
  /** Whether we reset our compression context after each message. */
  readonly localNoContextTakeover: boolean;
  /** The peer's LZ77 window, as a power of two (8 to 15): what we decompress with. */
  readonly remoteMaxWindowBits: number;
  /** Our LZ77 window, as a power of two (8 to 15): what we compress with. */
  readonly localMaxWindowBits: number;
  /**
   * Equal for two connections whose compressed messages are interchangeable,
   * so one compression serves both (`server.publish()`, `broadcast()`): set
   * only without context takeover on our side (each message then compresses
   * alone, RFC 7692 §7.1.1.1), from the window and the zlib settings;
   * `null` otherwise.
   */
  readonly sharingKey: string | null;
  readonly #settings: CompressSettings;
  readonly #compressor: Compressor;
  readonly #decompressor: Decompressor;
  // A compressed message is being received: its continuation frames are compressed.
  #decodingMessage = false;
  // A message is being sent: its next frame is a continuation.
  #encodingMessage = false;

  constructor(config: PerMessageDeflateConfig) {
    checkWindowBits("remoteMaxWindowBits", config.remoteMaxWindowBits);
    checkWindowBits("localMaxWindowBits", config.localMaxWindowBits);
    const settings = checkCompressSettings(config.compressSettings);
    this.remoteNoContextTakeover = config.remoteNoContextTakeover;
    this.localNoContextTakeover = config.localNoContextTakeover;
    this.remoteMaxWindowBits = config.remoteMaxWindowBits;
    this.localMaxWindowBits = config.localMaxWindowBits;
    this.#settings = settings;
    this.sharingKey = config.localNoContextTakeover
      ? `${config.localMaxWindowBits}:${settings.level ?? ""}:${settings.memLevel ?? ""}:${settings.strategy ?? ""}`
      : null;
    this.#compressor = new Compressor(
      config.localMaxWindowBits,
      config.localNoContextTakeover,
      settings,
    );
    this.#decompressor = new Decompressor(
      config.remoteMaxWindowBits,
      config.remoteNoContextTakeover,
    );
  }

  /**
   * Decompresses a frame received. Throws `ProtocolError` (1002) for RSV1 on
   * a control frame or a continuation frame, `ProtocolError` (1007) for data
   * that doesn't decompress, and `PayloadTooBig` as soon as the output would
   * exceed `maxSize` bytes, without producing more than `maxSize + 1`.
   */
  decode(frame: Frame, maxSize: number | null): Frame {
    const opcode = frame.opcode;
    if (opcode === OP_TEXT || opcode === OP_BINARY) {
      // RFC 7692 §6: a message without RSV1 isn't compressed.
      if (!frame.rsv1) return frame;
      if (this.#decodingMessage) {
        throw new ProtocolError(`expected a continuation frame, got ${OPCODE_NAMES[opcode]}`);
      }
      this.#decodingMessage = !frame.fin;
    } else {
      // RFC 7692 §6.1: RSV1 only on the first frame of a data message.
      if (frame.rsv1) {
        throw new ProtocolError(`RSV1 set on a ${OPCODE_NAMES[opcode]} frame`);
      }
      if (opcode !== OP_CONT || !this.#decodingMessage) return frame;
      if (frame.fin) this.#decodingMessage = false;
    }
    const data = this.#decompressor.decompress(frame.data, frame.fin, maxSize);
    return new Frame(opcode, data, frame.fin, false, frame.rsv2, frame.rsv3);
  }

  /**
   * Compresses a data frame to send: RSV1 on the first frame of a message,
   * the same DEFLATE stream for its continuation frames. Control frames
   * pass through.
   */
  encode(frame: Frame): Frame {
    const opcode = frame.opcode;
    let rsv1: boolean;
    if (opcode === OP_TEXT || opcode === OP_BINARY) {
      rsv1 = true;
    } else if (opcode === OP_CONT && this.#encodingMessage) {
      rsv1 = false;
    } else {
      return frame;
    }
    this.#encodingMessage = !frame.fin;
    const data = this.#compressor.compress(frame.data, frame.fin);
    return new Frame(opcode, data, frame.fin, rsv1, frame.rsv2, frame.rsv3);
  }

  /**
   * Compresses a whole message as {@link encode} would, with a stream of its
   * own: this connection's compressor and state are left alone. Valid for
   * every connection with the same {@link sharingKey}.
   *
   * @throws InvalidState when {@link sharingKey} is null: with context
   *   takeover a message's bytes depend on the messages before it.
   */
  compressMessage(data: Buffer): Buffer {
    if (this.sharingKey === null) {
      throw new InvalidState("compressMessage() needs no context takeover on the sending side");
    }
    return new Compressor(this.localMaxWindowBits, true, this.#settings).compress(data, true);
  }

  /**
   * Frees the zlib streams between messages. With context takeover, keeps a
   * copy of each window (up to 2^bits bytes per direction) and rebuilds the
   * stream from it when the next message comes, so compression is unchanged.
   * Does nothing for a direction in the middle of a fragmented message.
   *
   * The I/O layer calls it on connections that are idle; calling it after
   * each message is correct too, only slower.
   */
  release(): void {
    this.#compressor.release();
    this.#decompressor.release();
  }

  /**
   * Memory held, for tests and measurements: whether each zlib stream exists
   * and the bytes allocated for the saved windows.
   */
  get memory(): {
    /** Whether the compressor's zlib stream exists. */
    compressor: boolean;
    /** Whether the decompressor's zlib stream exists. */
    decompressor: boolean;
    /** Bytes allocated for the windows kept between messages. */
    windowBytes: number;
  } {
    return {
      compressor: this.#compressor.active,
      decompressor: this.#decompressor.active,
      windowBytes: this.#compressor.windowBytes + this.#decompressor.windowBytes,
    };
  }

  /** `permessage-deflate(remote: ...; local: ...)`, for logs. */
  toString(): string {
    const side = (noContextTakeover: boolean, bits: number) =>
      `${bits} bits${noContextTakeover ? ", no context takeover" : ""}`;
    return (
      `${PERMESSAGE_DEFLATE}(remote: ${side(this.remoteNoContextTakeover, this.remoteMaxWindowBits)}; ` +
      `local: ${side(this.localNoContextTakeover, this.localMaxWindowBits)})`
    );
  }
}

// --- Negotiation -------------------------------------------------------------

function checkWindowBits(name: string, bits: number): void {
  if (!Number.isInteger(bits) || bits < 8 || bits > 15) {
    throw new RangeError(`${name} must be an integer between 8 and 15, got ${bits}`);
  }
}

function checkRange(name: string, value: number | undefined, min: number, max: number): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer between ${min} and ${max}, got ${value}`);
  }
}

function checkCompressSettings(settings: CompressSettings | undefined): CompressSettings {
  if (settings === undefined) return {};
  checkRange("compressSettings.level", settings.level, -1, 9);
  checkRange("compressSettings.memLevel", settings.memLevel, 1, 9);
  checkRange("compressSettings.strategy", settings.strategy, 0, zlibConstants.Z_FIXED);
  const { level, memLevel, strategy } = settings;
  const checked: CompressSettings = {};
  if (level !== undefined) checked.level = level;
  if (memLevel !== undefined) checked.memLevel = memLevel;
  if (strategy !== undefined) checked.strategy = strategy;
  return checked;
}

/** The four parameters of RFC 7692 §7.1; `true` is `client_max_window_bits` without a value. */
interface Parameters {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | null;
  clientMaxWindowBits: number | true | null;
}

function buildParameters(params: Parameters): ExtensionParameter[] {
  const result: ExtensionParameter[] = [];
  if (params.serverNoContextTakeover) result.push(["server_no_context_takeover", null]);
  if (params.clientNoContextTakeover) result.push(["client_no_context_takeover", null]);
  if (params.serverMaxWindowBits !== null) {
    result.push(["server_max_window_bits", String(params.serverMaxWindowBits)]);
  }
  if (params.clientMaxWindowBits === true) {
    result.push(["client_max_window_bits", null]);
  } else if (params.clientMaxWindowBits !== null) {
    result.push(["client_max_window_bits", String(params.clientMaxWindowBits)]);
  }
  return result;
}

// RFC 7692 §7.1.2: a decimal integer from 8 to 15, without leading zeros; null otherwise.
function parseWindowBits(value: string | null): number | null {
  return value !== null && /^(?:[89]|1[0-5])$/.test(value) ? Number(value) : null;
}

// What's wrong with a parameter: the error is built only when thrown, so
// a server declining a flood of bad offers captures no stack traces.
type ParameterFault = () => NegotiationError;

/**
 * Reads the parameters of an offer (`offer` true: `client_max_window_bits`
 * may come without a value) or of a response; a fault when they're invalid.
 */
function readParameters(
  params: readonly ExtensionParameter[],
  offer: boolean,
): Parameters | ParameterFault {
  const result: Parameters = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: null,
    clientMaxWindowBits: null,
  };
  const seen = new Set<string>();
  for (const [name, value] of params) {
    // RFC 7692 §7: a parameter appears at most once.
    if (seen.has(name)) return () => new DuplicateParameter(name);
    seen.add(name);
    switch (name) {
      case "server_no_context_takeover":
      case "client_no_context_takeover":
        if (value !== null) return () => new InvalidParameterValue(name, value);
        if (name === "server_no_context_takeover") result.serverNoContextTakeover = true;
        else result.clientNoContextTakeover = true;
        break;
      case "server_max_window_bits":
      case "client_max_window_bits": {
        // RFC 7692 §7.1.2.2: client_max_window_bits without a value is
        // allowed in an offer only.
        const bits =
          offer && value === null && name === "client_max_window_bits"
            ? true
            : parseWindowBits(value);
        if (bits === null) return () => new InvalidParameterValue(name, value);
        if (name === "server_max_window_bits") result.serverMaxWindowBits = bits as number;
        else result.clientMaxWindowBits = bits;
        break;
      }
      default:
        // RFC 7692 §7: an unknown parameter declines the offer / fails the response.
        return () => new InvalidParameterName(name);
    }
  }
  return result;
}

/** {@link readParameters}, throwing the fault. */
function extractParameters(params: readonly ExtensionParameter[], offer: boolean): Parameters {
  const result = readParameters(params, offer);
  if (typeof result === "function") throw result();
  return result;
}

/** Options of {@link ClientPerMessageDeflateFactory}, as in RFC 7692 §7.1. */
export interface ClientPerMessageDeflateOptions {
  /** Ask the server to start each message with an empty window. Default: `false`. */
  serverNoContextTakeover?: boolean;
  /** Start each message sent with an empty window, and say so. Default: `false`. */
  clientNoContextTakeover?: boolean;
  /** Ask the server to use at most this window, 8 to 15 bits; `null`: don't ask. Default: `null`. */
  serverMaxWindowBits?: number | null;
  /**
   * Use at most this window, 8 to 15 bits, and say so; `true`: offer the
   * parameter without a value, letting the server choose the client's window;
   * `null` or `false`: don't offer it (the server can't limit the window).
   * Default: `true`.
   */
  clientMaxWindowBits?: number | boolean | null;
  /** zlib settings for compression. Default: zlib's defaults. */
  compressSettings?: CompressSettings;
}

/**
 * Client side of permessage-deflate: offers it in the handshake request and
 * checks the server's answer.
 *
 * @example
 * ```ts
 * new ClientPerMessageDeflateFactory({ clientMaxWindowBits: 12, compressSettings: { memLevel: 5 } });
 * ```
 */
export class ClientPerMessageDeflateFactory implements ClientExtensionFactory {
  /** `permessage-deflate`. */
  readonly name = PERMESSAGE_DEFLATE;
  /** `server_no_context_takeover`: ask or require the server to reset its context per message. */
  readonly serverNoContextTakeover: boolean;
  /** `client_no_context_takeover`: the client resets its context per message. */
  readonly clientNoContextTakeover: boolean;
  /** `server_max_window_bits`: the server's window (8 to 15), or `null` for the default. */
  readonly serverMaxWindowBits: number | null;
  /**
   * `client_max_window_bits`: the client's window (8 to 15), `true` to
   * offer the parameter without a value, or `null` not to offer it.
   */
  readonly clientMaxWindowBits: number | true | null;
  /** zlib settings of the compressor. */
  readonly compressSettings: CompressSettings;

  /** @throws RangeError for a value out of range; Error if {@link isPermessageDeflateSupported} is false. */
  constructor(options: ClientPerMessageDeflateOptions = {}) {
    const serverMaxWindowBits = options.serverMaxWindowBits ?? null;
    // undefined is the default, true; null turns the parameter off.
    const clientMaxWindowBits =
      options.clientMaxWindowBits === undefined ? true : options.clientMaxWindowBits;
    if (serverMaxWindowBits !== null) checkWindowBits("serverMaxWindowBits", serverMaxWindowBits);
    if (typeof clientMaxWindowBits === "number") {
      checkWindowBits("clientMaxWindowBits", clientMaxWindowBits);
    }
    this.compressSettings = checkCompressSettings(options.compressSettings);
    if (!isPermessageDeflateSupported()) {
      throw new Error("permessage-deflate isn't supported by this runtime's zlib");
    }
    this.serverNoContextTakeover = options.serverNoContextTakeover ?? false;
    this.clientNoContextTakeover = options.clientNoContextTakeover ?? false;
    this.serverMaxWindowBits = serverMaxWindowBits;
    this.clientMaxWindowBits = clientMaxWindowBits === false ? null : clientMaxWindowBits;
  }

  getRequestParams(): ExtensionParameter[] {
    return buildParameters(this);
  }

  /**
   * Checks the server's answer against the offer (RFC 7692 §7.1) and builds
   * the extension. Throws `NegotiationError` (or a subclass) when the server
   * answers a parameter it may not or a value out of what was offered.
   */
  processResponseParams(
    params: readonly ExtensionParameter[],
    accepted: readonly Extension[],
  ): PerMessageDeflate {
    if (accepted.some((extension) => extension.name === PERMESSAGE_DEFLATE)) {
      throw new NegotiationError(`received duplicate ${PERMESSAGE_DEFLATE}`);
    }
    const response = extractParameters(params, false);

    // RFC 7692 §7.1.1.1: the server may add server_no_context_takeover, and
    // must keep it when asked.
    if (this.serverNoContextTakeover && !response.serverNoContextTakeover) {
      throw new NegotiationError("expected server_no_context_takeover");
    }

    // RFC 7692 §7.1.1.2: the server may add client_no_context_takeover;
    // when the client offered it, the client applies it anyway.
    const clientNoContextTakeover =
      response.clientNoContextTakeover || this.clientNoContextTakeover;

    // RFC 7692 §7.1.2.1: the server may add server_max_window_bits; when
    // asked, it must answer a value no larger.
    if (this.serverMaxWindowBits !== null) {
      if (response.serverMaxWindowBits === null) {
        throw new NegotiationError("expected server_max_window_bits");
      }
      if (response.serverMaxWindowBits > this.serverMaxWindowBits) {
        throw new NegotiationError(
          `unsupported server_max_window_bits: ${response.serverMaxWindowBits}, ` +
            `offered ${this.serverMaxWindowBits}`,
        );
      }
    }

    // RFC 7692 §7.1.2.2: the server may answer client_max_window_bits only
    // if the client offered it, with a value no larger than offered.
    let clientMaxWindowBits = response.clientMaxWindowBits as number | null;
    if (this.clientMaxWindowBits === null) {
      if (clientMaxWindowBits !== null) {
        throw new NegotiationError(
          `unexpected client_max_window_bits: ${clientMaxWindowBits}, not offered`,
        );
      }
    } else if (this.clientMaxWindowBits !== true) {
      if (clientMaxWindowBits === null) {
        clientMaxWindowBits = this.clientMaxWindowBits;
      } else if (clientMaxWindowBits > this.clientMaxWindowBits) {
        throw new NegotiationError(
          `unsupported client_max_window_bits: ${clientMaxWindowBits}, ` +
            `offered ${this.clientMaxWindowBits}`,
        );
      }
    }

    return new PerMessageDeflate({
      remoteNoContextTakeover: response.serverNoContextTakeover,
      localNoContextTakeover: clientNoContextTakeover,
      remoteMaxWindowBits: response.serverMaxWindowBits ?? 15,
      localMaxWindowBits: clientMaxWindowBits ?? 15,
      compressSettings: this.compressSettings,
    });
  }
}

/** Options of {@link ServerPerMessageDeflateFactory}, as in RFC 7692 §7.1. */
export interface ServerPerMessageDeflateOptions {
  /** Start each message sent with an empty window, and say so. Default: `false`. */
  serverNoContextTakeover?: boolean;
  /** Require the client to start each message with an empty window. Default: `false`. */
  clientNoContextTakeover?: boolean;
  /**
   * Use at most this window, 8 to 15 bits, and say so; `null`: 15, or
   * what the client asks for. Default: `null`; the helper uses 12.
   */
  serverMaxWindowBits?: number | null;
  /**
   * Limit the client's window to this, 8 to 15 bits, if the client offers
   * `client_max_window_bits`; `null`: don't limit it. Default: `null`; the
   * helper uses 12.
   */
  clientMaxWindowBits?: number | null;
  /**
   * Decline offers without `client_max_window_bits` (the client can't limit
   * its window). Needs `clientMaxWindowBits`. Default: `false`.
   */
  requireClientMaxWindowBits?: boolean;
  /** zlib settings for compression. Default: zlib's defaults. */
  compressSettings?: CompressSettings;
}

/**
 * Server side of permessage-deflate: answers a client's offer, or declines it
 * (returns `null`), in which case the server tries the client's next offer.
 *
 * @example
 * ```ts
 * new ServerPerMessageDeflateFactory({ serverMaxWindowBits: 12, clientMaxWindowBits: 12 });
 * ```
 */
export class ServerPerMessageDeflateFactory implements ServerExtensionFactory {
  /** `permessage-deflate`. */
  readonly name = PERMESSAGE_DEFLATE;
  /** `server_no_context_takeover`: ask or require the server to reset its context per message. */
  readonly serverNoContextTakeover: boolean;
  /** `client_no_context_takeover`: the client resets its context per message. */
  readonly clientNoContextTakeover: boolean;
  /** `server_max_window_bits`: the server's window (8 to 15), or `null` for the default. */
  readonly serverMaxWindowBits: number | null;
  /** `client_max_window_bits`: the client's window (8 to 15), or `null` for the client's choice. */
  readonly clientMaxWindowBits: number | null;
  /** Refuse clients that don't offer `client_max_window_bits`. */
  readonly requireClientMaxWindowBits: boolean;
  /** zlib settings of the compressor. */
  readonly compressSettings: CompressSettings;

  /** @throws RangeError for a value out of range or `requireClientMaxWindowBits` without `clientMaxWindowBits`. */
  constructor(options: ServerPerMessageDeflateOptions = {}) {
    const serverMaxWindowBits = options.serverMaxWindowBits ?? null;
    const clientMaxWindowBits = options.clientMaxWindowBits ?? null;
    if (serverMaxWindowBits !== null) checkWindowBits("serverMaxWindowBits", serverMaxWindowBits);
    if (clientMaxWindowBits !== null) checkWindowBits("clientMaxWindowBits", clientMaxWindowBits);
    const requireClientMaxWindowBits = options.requireClientMaxWindowBits ?? false;
    if (requireClientMaxWindowBits && clientMaxWindowBits === null) {
      throw new RangeError("requireClientMaxWindowBits needs clientMaxWindowBits");
    }
    this.compressSettings = checkCompressSettings(options.compressSettings);
    this.serverNoContextTakeover = options.serverNoContextTakeover ?? false;
    this.clientNoContextTakeover = options.clientNoContextTakeover ?? false;
    this.serverMaxWindowBits = serverMaxWindowBits;
    this.clientMaxWindowBits = clientMaxWindowBits;
    this.requireClientMaxWindowBits = requireClientMaxWindowBits;
  }

  /**
   * Answers one offer (RFC 7692 §7.1): the response parameters and the
   * extension, or `null` to decline it (a duplicate, invalid parameters,
   * no `client_max_window_bits` when required, no zlib support). Declining
   * throws nothing: a request may carry thousands of offers.
   */
  processRequestParams(
    params: readonly ExtensionParameter[],
    accepted: readonly Extension[],
  ): [ExtensionParameter[], PerMessageDeflate] | null {
    if (accepted.some((extension) => extension.name === PERMESSAGE_DEFLATE)) return null;
    if (!isPermessageDeflateSupported()) return null;
    const offer = readParameters(params, true);
    if (typeof offer === "function") return null;

    // RFC 7692 §7.1.1.1, §7.1.1.2: the server may add either
    // no_context_takeover parameter, and accepts them when offered.
    const serverNoContextTakeover = offer.serverNoContextTakeover || this.serverNoContextTakeover;
    const clientNoContextTakeover = offer.clientNoContextTakeover || this.clientNoContextTakeover;

    // RFC 7692 §7.1.2.1: answer the offered value or a smaller one; the
    // server may also limit its window without being asked.
    let serverMaxWindowBits = offer.serverMaxWindowBits;
    if (this.serverMaxWindowBits !== null) {
      if (serverMaxWindowBits === null || serverMaxWindowBits > this.serverMaxWindowBits) {
        serverMaxWindowBits = this.serverMaxWindowBits;
      }
    }

    // RFC 7692 §7.1.2.2: client_max_window_bits may be answered only if
    // offered; without a value in the offer, the server picks one or none.
    let clientMaxWindowBits: number | null;
    if (offer.clientMaxWindowBits === null) {
      if (this.requireClientMaxWindowBits) return null;
      clientMaxWindowBits = null;
    } else if (offer.clientMaxWindowBits === true) {
      clientMaxWindowBits = this.clientMaxWindowBits;
    } else if (this.clientMaxWindowBits !== null) {
      clientMaxWindowBits = Math.min(offer.clientMaxWindowBits, this.clientMaxWindowBits);
    } else {
      // The client limits its window by itself; saying it again is harmless.
      clientMaxWindowBits = offer.clientMaxWindowBits;
    }

    const response = buildParameters({
      serverNoContextTakeover,
      clientNoContextTakeover,
      serverMaxWindowBits,
      clientMaxWindowBits,
    });
    const extension = new PerMessageDeflate({
      remoteNoContextTakeover: clientNoContextTakeover,
      localNoContextTakeover: serverNoContextTakeover,
      remoteMaxWindowBits: clientMaxWindowBits ?? 15,
      localMaxWindowBits: serverMaxWindowBits ?? 15,
      compressSettings: this.compressSettings,
    });
    return [response, extension];
  }
}

/**
 * Adds permessage-deflate with the default settings to the client's
 * extension factories, unless one is already there (perhaps configured
 * otherwise): offer `client_max_window_bits` without a value and compress
 * with `memLevel` 5. Used for `compression: "deflate"`.
 *
 * When {@link isPermessageDeflateSupported} is false, returns the factories
 * unchanged: the connection works without compression.
 */
export function enableClientPermessageDeflate(
  extensions?: readonly ClientExtensionFactory[] | null,
): ClientExtensionFactory[] {
  const factories = [...(extensions ?? [])];
  if (factories.some((factory) => factory.name === PERMESSAGE_DEFLATE)) return factories;
  if (!isPermessageDeflateSupported()) return factories;
  factories.push(new ClientPerMessageDeflateFactory({ compressSettings: { memLevel: 5 } }));
  return factories;
}

/**
 * Adds permessage-deflate with the default settings to the server's
 * extension factories, unless one is already there: a 12-bit window for the
 * server and, when the client offers `client_max_window_bits`, for the
 * client, and `memLevel` 5. Used for `compression: "deflate"`.
 *
 * When {@link isPermessageDeflateSupported} is false, returns the factories
 * unchanged: the connection works without compression.
 */
export function enableServerPermessageDeflate(
  extensions?: readonly ServerExtensionFactory[] | null,
): ServerExtensionFactory[] {
  const factories = [...(extensions ?? [])];
  if (factories.some((factory) => factory.name === PERMESSAGE_DEFLATE)) return factories;
  if (!isPermessageDeflateSupported()) return factories;
  factories.push(
    new ServerPerMessageDeflateFactory({
      serverMaxWindowBits: 12,
      clientMaxWindowBits: 12,
      compressSettings: { memLevel: 5 },
    }),
  );
  return factories;
}
