/**
 * The sans-I/O WebSocket protocol (RFC 6455 §5 to §8): a state machine that
 * turns bytes received into events and commands into bytes to send, without
 * any I/O. `ClientProtocol` and `ServerProtocol` add the opening handshake;
 * the I/O layer (`src/node/`) moves the bytes.
 *
 * Modelled on `protocol.py` of Python's websockets.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { InvalidMessage, InvalidState, PayloadTooBig, ProtocolError } from "./errors.ts";
import type { Extension } from "./extensions/base.ts";
import { FragmentMerger } from "./fragment-run.ts";
import { FrameParser, type FrameParserOptions } from "./frame-parser.ts";
import {
  CLOSE_ABNORMAL_CLOSURE,
  CLOSE_NO_STATUS_RCVD,
  Close,
  type DataOpcode,
  EMPTY,
  Frame,
  frameBytes,
  OP_BINARY,
  OP_CLOSE,
  OP_CONT,
  OP_PING,
  OP_PONG,
  OP_TEXT,
  type Opcode,
  reservedBits,
  truncateCloseReason,
  writeFrame,
} from "./frames.ts";
import { isLevelEnabled, type LoggerLike, logMessages } from "./logging.ts";
import { invalidUtf8, notInState, ProtocolRecord, parserFailure } from "./protocol-rare.ts";
import {
  CLOSED,
  CLOSING,
  CONNECTING,
  DEFAULT_MAX_SIZE,
  type Event,
  type MessageReceiver,
  OPEN,
  type ProtocolOptions,
  type Side,
  STATE_NAMES,
  type State,
} from "./protocol-types.ts";
import { isValidUtf8, Utf8Validator } from "./utf8.ts";

export * from "./protocol-types.ts";

// Until a handshake negotiates extensions, every connection shares this one.
const NO_EXTENSIONS: Extension[] = Object.freeze([]) as unknown as Extension[];

// The FrameParser options of every server-side and every client-side
// protocol, set in Protocol's static block where their callbacks can reach
// its private methods: a parser keeps a reference, not a copy.
let serverFrames: FrameParserOptions;
let clientFrames: FrameParserOptions;

// A protocol's flags and state in one small integer: one field rather than
// ten on every connection.
const STATE_BITS = 0b11;
/** The client side (else the server side). */
const CLIENT = 1 << 2;
/** Whether the logger logs at debug level, checked once. */
const DEBUG = 1 << 3;
const EOF_SENT = 1 << 4;
const EOF_RCVD = 1 << 5;
/** After a close frame is received or the connection failed, input is ignored (RFC 6455 §1.4, §7.1.7). */
const DISCARDING = 1 << 6;
/** The fragmented message being received is text. */
const TEXT_MESSAGE = 1 << 7;
/** Whether the current frame's payload went through the UTF-8 validator piece by piece while it arrived. */
const VALIDATED_PARTIALLY = 1 << 8;
/** Sending: the next data frame must be a continuation. */
const EXPECT_CONTINUATION = 1 << 9;
/** Whether small fragments received in one batch are merged (options.mergeFragments). */
const MERGE_FRAGMENTS = 1 << 10;
/** Parsing is paused: bytes received are held until resumeParsing(). */
const PARSING_PAUSED = 1 << 11;
/** Parsing pauses once extensions decoded a batch's worth of payload (boundDecoding). */
const BOUND_DECODING = 1 << 12;

// Payload bytes extensions decoded in the current batch (one receiveData or
// resumeParsing call) of the protocol being parsed. Parsing is synchronous
// and one protocol's callbacks never parse another's bytes, so one counter
// serves all: no field on each connection for a count that lives one call.
let batchDecoded = 0;

// The receiver of the receiveDataTo() call running, and its protocol:
// parsing is synchronous, so one pair serves all, as batchDecoded does.
let receiver: MessageReceiver | null = null;
let receiverOf: Protocol | null = null;

/**
 * The sans-I/O WebSocket connection, shared by both sides.
 *
 * Feed it bytes with {@link Protocol.receiveData} and
 * {@link Protocol.receiveEof}, give it commands (`sendText`, `sendClose`…),
 * then collect {@link Protocol.dataToSend} (write it to the transport; an
 * empty buffer means half-close it) and {@link Protocol.eventsReceived}.
 *
 * ```ts
 * const protocol = new Protocol("server");
 * protocol.receiveData(Buffer.from("818537fa213d7f9f4d5158", "hex"));
 * protocol.eventsReceived(); // [Frame { opcode: OP_TEXT, data: <"Hello">, fin: true, … }]
 * protocol.sendText("Hello");
 * protocol.dataToSend();     // [<81 05 48 65 6c 6c 6f>]
 * ```
 */
export class Protocol extends ProtocolRecord {
  /** Logger for this connection, or `null`. */
  readonly logger: LoggerLike | null;
  /** Largest incoming message in bytes, or `null` for no limit. */
  maxSize: number | null;
  /**
   * Extensions negotiated by the opening handshake, in the order of the
   * header. Until then, an empty array shared by every connection and
   * frozen: assign an array, don't push to this one.
   */
  extensions: Extension[] = NO_EXTENSIONS;

  // State, side and booleans: see CLIENT, DEBUG...
  #flags: number;
  // Created when something is queued: an idle connection keeps no arrays.
  #events: Event[] | null = null;
  #writes: Buffer[] | null = null;
  readonly #parser: FrameParser;

  static {
    const onFrame = function (this: Protocol, frame: Frame): void {
      this.receiveFrame(frame);
    };
    const onPartial = function (this: Protocol, opcode: Opcode, piece: Buffer): void {
      this.receivePartial(opcode, piece);
    };
    const onMessage = function (this: Protocol, opcode: DataOpcode, data: Buffer): void {
      this.receiveMessage(opcode, data);
    };
    // RFC 6455 §5.1: clients mask their frames, servers don't.
    serverFrames = Object.freeze({ mask: true, onFrame, onPartial, onMessage });
    clientFrames = Object.freeze({ mask: false, onFrame, onPartial, onMessage });
  }

  /**
   * @param side - Which end of the connection this is.
   * @param defaultState - The state when `options.state` is absent. Default:
   *   `OPEN`; `ClientProtocol` and `ServerProtocol` pass `CONNECTING`.
   */
  constructor(side: Side, options: ProtocolOptions = {}, defaultState: State = OPEN) {
    super();
    this.logger = options.logger ?? null;
    let flags: number = options.state ?? defaultState;
    if (side === "client") flags |= CLIENT;
    if (options.mergeFragments === true) flags |= MERGE_FRAGMENTS;
    // Checked once: logging costs nothing per frame when debug is off.
    if (isLevelEnabled(this.logger, "debug")) flags |= DEBUG;
    this.#flags = flags;
    this.maxSize = options.maxSize === undefined ? DEFAULT_MAX_SIZE : options.maxSize;
    // Shared options, this protocol as the callbacks' `this`: a server
    // keeps one parser per idle connection.
    this.#parser = new FrameParser(side === "server" ? serverFrames : clientFrames, this);
  }

  /** Which end of the connection this is. */
  get side(): Side {
    return (this.#flags & CLIENT) !== 0 ? "client" : "server";
  }

  /** Whether small fragments received in one batch are merged (see {@link ProtocolOptions.mergeFragments}). */
  get mergeFragments(): boolean {
    return (this.#flags & MERGE_FRAGMENTS) !== 0;
  }

  /**
   * Whether parsing pauses once extensions (permessage-deflate) decoded
   * `maxSize` bytes of payload (1 MiB when `maxSize` is `null`) in one call
   * of {@link Protocol.receiveData} or {@link Protocol.resumeParsing}: then
   * {@link Protocol.parsingPaused} turns true, the bytes after the frame
   * that reached the budget are held, and nothing more is decoded until the
   * caller resumes. Bounds the memory one batch of small compressed frames
   * can inflate to. Default: `false`, everything received is parsed.
   */
  get boundDecoding(): boolean {
    return (this.#flags & BOUND_DECODING) !== 0;
  }

  /** Turns the decoding budget on or off; it applies from the next batch. */
  set boundDecoding(bound: boolean) {
    this.#flags = bound ? this.#flags | BOUND_DECODING : this.#flags & ~BOUND_DECODING;
  }

  /**
   * Whether parsing is paused, by {@link Protocol.pauseParsing} or by the
   * decoding budget ({@link Protocol.boundDecoding}): bytes received are
   * held, unparsed, until {@link Protocol.resumeParsing}.
   */
  get parsingPaused(): boolean {
    return (this.#flags & PARSING_PAUSED) !== 0;
  }

  /**
   * Pauses parsing: from now on {@link Protocol.receiveData} holds the bytes
   * it gets, without parsing them, until {@link Protocol.resumeParsing}.
   * Lets a caller that can't take more messages leave the bytes here.
   */
  pauseParsing(): void {
    this.#flags |= PARSING_PAUSED;
  }

  /**
   * Resumes parsing: parses the bytes held since parsing paused, in order,
   * as one batch (which may pause again, see {@link Protocol.boundDecoding}).
   * Then call {@link Protocol.dataToSend} and {@link Protocol.eventsReceived}.
   * Does nothing when parsing isn't paused.
   */
  resumeParsing(): void {
    const flags = this.#flags;
    if ((flags & PARSING_PAUSED) === 0) return;
    this.#flags = flags & ~PARSING_PAUSED;
    const rare = this.rare;
    if (rare === null) return;
    batchDecoded = 0;
    const held = rare.held;
    rare.held = null;
    if (held === null || (flags & DISCARDING) !== 0) return;
    for (let i = 0; i < held.length; i++) {
      if ((this.#flags & PARSING_PAUSED) !== 0) {
        // Paused again: what parse() held of the last chunk comes first.
        for (let j = i; j < held.length; j++) this.hold(held[j]);
        return;
      }
      if ((this.#flags & DISCARDING) !== 0) return;
      if (this.state === CONNECTING) this.receiveHandshakeData(held[i]);
      else this.parse(held[i]);
    }
  }

  /** Turns merging on or off; it applies from the next frame received. */
  set mergeFragments(merge: boolean) {
    if (!merge) this.rare?.merger?.endBatch();
    this.#flags = merge ? this.#flags | MERGE_FRAGMENTS : this.#flags & ~MERGE_FRAGMENTS;
  }

  /** The connection's state (RFC 6455 §4.1, §4.2, §7.1.3, §7.1.4). */
  override get state(): State {
    return (this.#flags & STATE_BITS) as State;
  }

  /** Changes the state; logs `= connection is OPEN` at debug level. */
  protected setState(state: State): void {
    if ((this.#flags & DEBUG) !== 0) this.logger!.debug(logMessages.state(STATE_NAMES[state]));
    this.#flags = (this.#flags & ~STATE_BITS) | state;
  }

  // --- Bytes in ------------------------------------------------------------

  /**
   * Receives bytes from the transport. Then call {@link Protocol.dataToSend}
   * and {@link Protocol.eventsReceived}.
   *
   * Never throws because of what the bytes contain: a peer breaking the
   * protocol fails the connection (a close frame to send, `parserExc` set).
   * Payloads of frames received may share memory with `data`: don't reuse it.
   *
   * @throws InvalidState after {@link Protocol.receiveEof}.
   */
  receiveData(data: Buffer): void {
    this.receive(data, false);
  }

  /**
   * {@link Protocol.receiveData}, handing the whole messages that need
   * nothing else to `to` as they are parsed, while no other event waits,
   * instead of queuing them as frames for {@link Protocol.eventsReceived}:
   * unfragmented, no extension, no close frame sent, not logging at debug
   * level. Then call `dataToSend()` and `eventsReceived()` as usual.
   * `lent`: `data` is a read buffer the caller reuses once this returns,
   * so what is kept of it is copied (FrameParser.parse's `lent`).
   * @internal
   */
  receiveDataTo(data: Buffer, to: MessageReceiver, lent = false): void {
    const previous = receiver;
    const previousOf = receiverOf;
    receiver = to;
    receiverOf = this;
    try {
      this.receive(data, lent);
    } finally {
      receiver = previous;
      receiverOf = previousOf;
    }
  }

  private receive(data: Buffer, lent: boolean): void {
    const flags = this.#flags;
    if ((flags & EOF_RCVD) !== 0) throw new InvalidState("cannot receive data after EOF");
    if ((flags & (DISCARDING | PARSING_PAUSED | BOUND_DECODING)) !== 0) {
      if ((flags & DISCARDING) !== 0) return;
      if ((flags & PARSING_PAUSED) !== 0) {
        this.hold(data, lent);
        return;
      }
      // A new batch: the decoding budget starts afresh.
      batchDecoded = 0;
    }
    if ((flags & STATE_BITS) === CONNECTING) {
      this.receiveHandshakeData(lent ? Buffer.from(data) : data);
      return;
    }
    this.parse(data, lent);
  }

  /**
   * Receives the end of the stream from the transport. Then call
   * {@link Protocol.dataToSend}: it may hold the EOF marker. Idempotent.
   * Bytes held while parsing is paused are parsed first, without a budget:
   * nothing received is lost.
   */
  receiveEof(): void {
    if ((this.#flags & EOF_RCVD) !== 0) return;
    while ((this.#flags & PARSING_PAUSED) !== 0) this.resumeParsing();
    this.#flags |= EOF_RCVD;
    if ((this.#flags & DEBUG) !== 0) this.logger!.debug(logMessages.eofReceived);
    if ((this.#flags & DISCARDING) === 0) {
      if (this.state === CONNECTING) {
        this.receiveHandshakeEof();
        if ((this.#flags & EOF_SENT) === 0) this.sendEof();
        this.#flags |= DISCARDING;
      } else {
        // The transport closed without a closing handshake.
        this.parserExc = new Error("unexpected end of stream");
        this.fail(CLOSE_ABNORMAL_CLOSURE);
      }
    }
    // A server closes the transport first; a client closes its end only once
    // the server did (RFC 6455 §7.1.1).
    if ((this.#flags & CLIENT) !== 0 && this.state !== CONNECTING) this.sendEof();
    this.setState(CLOSED);
  }

  // --- Commands ------------------------------------------------------------

  /**
   * Sends a continuation frame of the fragmented message in progress
   * (RFC 6455 §5.4); `fin` ends the message.
   *
   * @throws InvalidState if no fragmented message is in progress or the
   *   connection isn't OPEN.
   */
  sendContinuation(data: Buffer | string, fin: boolean): void {
    this.checkOpen();
    if ((this.#flags & EXPECT_CONTINUATION) === 0) {
      throw new InvalidState("cannot send a continuation frame: no fragmented message in progress");
    }
    this.#flags = fin ? this.#flags & ~EXPECT_CONTINUATION : this.#flags | EXPECT_CONTINUATION;
    this.sendFrame(OP_CONT, data, fin);
  }

  /**
   * Sends a text frame; `fin: false` starts a fragmented message. A string
   * is encoded straight into the frame; a Buffer must hold UTF-8.
   *
   * @throws InvalidState if a fragmented message is in progress or the
   *   connection isn't OPEN.
   */
  sendText(data: Buffer | string, fin = true): void {
    this.startMessage(fin);
    this.sendFrame(OP_TEXT, data, fin);
  }

  /**
   * Sends a binary frame; `fin: false` starts a fragmented message.
   *
   * @throws InvalidState if a fragmented message is in progress or the
   *   connection isn't OPEN.
   */
  sendBinary(data: Buffer, fin = true): void {
    this.startMessage(fin);
    this.sendFrame(OP_BINARY, data, fin);
  }

  /**
   * {@link Protocol.sendText} or {@link Protocol.sendBinary} of a whole
   * message, for an I/O layer that writes the frame itself: returns its
   * bytes instead of queuing them for {@link Protocol.dataToSend}. Does
   * nothing and returns `null` unless it can do so in one buffer with
   * nothing else to send before it: OPEN, no fragmented message being
   * sent, no extension, not logging at debug level, `dataToSend()` empty
   * (docs/performance.md, "Hot paths"). Then send it the usual way.
   * @internal
   */
  frameMessage(data: Buffer | string, text: boolean): Buffer | null {
    const flags = this.#flags;
    if (
      (flags & (STATE_BITS | EXPECT_CONTINUATION | DEBUG)) !== OPEN ||
      this.#writes !== null ||
      this.extensions.length !== 0
    ) {
      return null;
    }
    return frameBytes(text ? OP_TEXT : OP_BINARY, data, true, (flags & CLIENT) !== 0);
  }

  /**
   * Starts the closing handshake (RFC 6455 §7.1.2): sends a close frame and
   * moves to CLOSING. Without `code` the close frame is empty (the peer sees
   * 1005).
   *
   * @throws InvalidState if the connection isn't OPEN; ProtocolError for a
   *   code that can't be sent, a reason without a code, or a reason longer
   *   than 123 bytes.
   */
  sendClose(code?: number, reason = ""): void {
    // RFC 6455 doesn't forbid a second close frame; being conservative in
    // what we send, only one is allowed.
    this.checkOpen();
    let close: Close;
    let data: Buffer;
    if (code === undefined) {
      if (reason !== "") throw new ProtocolError(`cannot send a reason without a code: ${reason}`);
      close = new Close(CLOSE_NO_STATUS_RCVD, "");
      data = EMPTY;
    } else {
      close = new Close(code, reason);
      data = close.serialize();
    }
    this.sendFrame(OP_CLOSE, data, true);
    this.closeSent = close;
    this.setState(CLOSING);
  }

  /**
   * Sends a ping (RFC 6455 §5.5.2), allowed while OPEN or CLOSING.
   *
   * @throws InvalidState otherwise; ProtocolError for more than 125 bytes.
   */
  sendPing(data: Buffer): void {
    this.checkOpenOrClosing();
    this.sendFrame(OP_PING, data, true);
  }

  /**
   * Sends a pong (RFC 6455 §5.5.3), allowed while OPEN or CLOSING.
   *
   * @throws InvalidState otherwise; ProtocolError for more than 125 bytes.
   */
  sendPong(data: Buffer): void {
    this.checkOpenOrClosing();
    this.sendFrame(OP_PONG, data, true);
  }

  /**
   * Fails the WebSocket connection (RFC 6455 §7.1.7): sends a close frame
   * with `code` if none was sent yet (none at all for 1006), moves to
   * CLOSING, makes a server half-close the transport, and ignores any
   * further input. A `reason` over 123 bytes is truncated.
   *
   * @throws ProtocolError if a close frame is due and `code` can't be sent.
   */
  fail(code: number, reason = ""): void {
    if ((this.#flags & DEBUG) !== 0) this.logger!.debug(logMessages.failing(code));
    if (this.state === OPEN && code !== CLOSE_ABNORMAL_CLOSURE) {
      const close = new Close(code, truncateCloseReason(reason));
      this.sendFrame(OP_CLOSE, close.serialize(), true);
      this.closeSent = close;
      if (this.closeRcvd !== null) this.closeRcvdThenSent = true;
      this.setState(CLOSING);
    }
    // A server closes the transport without waiting for the client's close
    // frame; a client waits for the server to close it.
    if ((this.#flags & CLIENT) === 0 && (this.#flags & EOF_SENT) === 0) this.sendEof();
    // RFC 6455 §7.1.7: "An endpoint MUST NOT continue to attempt to process
    // data (including a responding Close frame) from the remote endpoint".
    this.discardInput();
  }

  // --- Outputs -------------------------------------------------------------

  /** Events received since the last call, in order: frames, or the handshake's request/response. */
  eventsReceived(): Event[] {
    const events = this.#events;
    if (events === null) return [];
    this.rare?.merger?.endBatch();
    this.#events = null;
    return events;
  }

  /**
   * Bytes to write to the transport since the last call, in order. An empty
   * buffer means: half-close the transport (send EOF).
   */
  dataToSend(): Buffer[] {
    const writes = this.#writes;
    if (writes === null) return [];
    this.#writes = null;
    return writes;
  }

  /**
   * Whether the transport is expected to close soon: the I/O layer should
   * then close it after a timeout if the peer doesn't. Call it after
   * `receive*()`, `sendClose()` or `fail()`.
   */
  closeExpected(): boolean {
    // OPEN: no. CLOSING: a close frame was sent; the server waits for the
    // client's EOF, the client for the server's. CLOSED: already closed.
    // CONNECTING: only if the handshake failed and EOF was sent.
    const state = this.state;
    return state === CLOSING || (state === CONNECTING && (this.#flags & EOF_SENT) !== 0);
  }

  // --- Hooks for ClientProtocol and ServerProtocol ---------------------------

  /** Receives bytes while CONNECTING. Subclasses parse the handshake here. */
  protected receiveHandshakeData(_data: Buffer): void {
    throw new InvalidState("no opening handshake to receive: use ClientProtocol or ServerProtocol");
  }

  /**
   * Called by {@link Protocol.receiveEof} while CONNECTING, unless input is
   * discarded: the handshake can't complete. Sets `handshakeExc` if unset;
   * the protocol then sends EOF and moves to CLOSED.
   */
  protected receiveHandshakeEof(): void {
    this.handshakeExc ??= new InvalidMessage("connection closed during the opening handshake");
  }

  /** Completes the opening handshake: moves to OPEN and parses `rest` as frames. */
  protected openWith(rest: Buffer): void {
    this.setState(OPEN);
    if (rest.length > 0) this.parse(rest);
  }

  /** Queues an event for {@link Protocol.eventsReceived}. */
  protected pushEvent(event: Event): void {
    this.rare?.merger?.endRun();
    const events = this.#events;
    if (events === null) this.#events = [event];
    else events.push(event);
  }

  /** Queues raw bytes (the HTTP request or response). Empty buffers are ignored: they would mean EOF. */
  protected sendBytes(data: Buffer): void {
    if (data.length === 0) return;
    const writes = this.#writes;
    if (writes === null) this.#writes = [data];
    else writes.push(data);
  }

  /** Queues the EOF marker, once; logs `> EOF`. */
  protected sendEof(): void {
    if ((this.#flags & EOF_SENT) !== 0) return;
    this.#flags |= EOF_SENT;
    if ((this.#flags & DEBUG) !== 0) this.logger!.debug(logMessages.eofSent);
    this.writeQueue().push(EMPTY);
  }

  /** Ignores all further input until EOF, e.g. after rejecting a handshake. */
  protected discardInput(): void {
    this.#flags |= DISCARDING;
    this.#parser.stop();
  }

  // --- Receiving frames ------------------------------------------------------

  private writeQueue(): Buffer[] {
    this.#writes ??= [];
    return this.#writes;
  }

  private get utf8(): Utf8Validator {
    const rare = this.rareState();
    rare.utf8Validator ??= new Utf8Validator();
    return rare.utf8Validator;
  }

  /** Bytes the current message may still grow by, or null. */
  private frameLimit(): number | null {
    const maxSize = this.maxSize;
    if (maxSize === null) return null;
    const rare = this.rare;
    return rare === null || rare.curSize === null ? maxSize : maxSize - rare.curSize;
  }

  private parse(data: Buffer, lent = false): void {
    const parser = this.#parser;
    parser.maxSize = this.frameLimit();
    // Without extensions, RSV bits fail from the header. With extensions,
    // they decode the frame and any RSV bit they leave set fails after.
    parser.reservedBits = this.extensions.length === 0 ? 0 : 0x70;
    try {
      const used = parser.parse(data, lent);
      // The decoding budget paused parsing (see boundDecoding): keep the rest.
      if (used < data.length && (this.#flags & (PARSING_PAUSED | DISCARDING)) === PARSING_PAUSED) {
        const rest = used === 0 ? data : data.subarray(used);
        this.hold(rest, lent);
      }
    } catch (error) {
      this.parserFailed(error);
    }
  }

  /** Keeps bytes until parsing resumes: a copy of a lent read buffer's. */
  private hold(data: Buffer, lent = false): void {
    if (data.length !== 0) this.rareState().hold(lent ? Buffer.from(data) : data);
  }

  private parserFailed(error: unknown): void {
    const failure = parserFailure(error, this.maxSize, this.rare?.curSize ?? null);
    this.parserExc = failure.exc;
    if (failure.unexpected) this.logger?.error({ err: error }, logMessages.parserFailed);
    this.fail(failure.code, failure.reason);
  }

  /** Validates a text payload while it arrives (strict fail-fast, before the frame is complete). */
  private receivePartial(opcode: Opcode, piece: Buffer): void {
    // With extensions the pieces are still encoded; the frame is validated once decoded.
    if (this.extensions.length !== 0) return;
    // The first piece of a TEXT frame starts a new text.
    if (opcode === OP_TEXT && (this.#flags & VALIDATED_PARTIALLY) === 0) this.utf8.reset();
    this.#flags |= VALIDATED_PARTIALLY;
    if (!this.utf8.push(piece)) throw invalidUtf8();
  }

  /** A whole message from the parser (FrameParserOptions.onMessage): to the receiver if nothing else applies. */
  private receiveMessage(opcode: DataOpcode, data: Buffer): void {
    const rare = this.rare;
    if (
      receiverOf !== this ||
      this.#events !== null ||
      (this.#flags & DEBUG) !== 0 ||
      this.extensions.length !== 0 ||
      (rare !== null && rare.closeSent !== null)
    ) {
      this.receiveFrame(new Frame(opcode, data, true));
      return;
    }
    // RFC 6455 §8.1; the parser checked maxSize, which no message in progress lowers.
    if (opcode === OP_TEXT && !isValidUtf8(data)) throw invalidUtf8();
    receiver!.receiveMessage(opcode, data);
  }

  private receiveFrame(received: Frame): void {
    let frame = received;
    const extensions = this.extensions;
    if (extensions.length !== 0) {
      const limit = this.frameLimit();
      // RFC 6455 §9: extensions apply in the order negotiated when sending,
      // so in reverse order when receiving.
      for (let i = extensions.length - 1; i >= 0; i--) frame = extensions[i].decode(frame, limit);
      if ((this.#flags & BOUND_DECODING) !== 0 && frame.opcode < 0x8) this.countDecoded(frame);
      if (frame.rsv1 || frame.rsv2 || frame.rsv3) {
        throw new ProtocolError(
          `reserved bits must be 0: got 0x${reservedBits(frame).toString(16)}`,
        );
      }
    }
    if ((this.#flags & DEBUG) !== 0) this.logger!.debug(logMessages.frameReceived(frame));

    const flags = this.#flags;
    const validatedPartially = (flags & VALIDATED_PARTIALLY) !== 0;
    if (validatedPartially) this.#flags = flags & ~VALIDATED_PARTIALLY;
    const opcode = frame.opcode;
    if (opcode === OP_TEXT || opcode === OP_BINARY) {
      const size = frame.data.length;
      // The parser checked the frame's wire size; extensions may have grown it.
      if (this.maxSize !== null && size > this.maxSize) {
        throw new PayloadTooBig(size, this.maxSize, "message");
      }
      if (opcode === OP_TEXT) {
        if (validatedPartially) {
          if (frame.fin && !this.utf8.complete) throw invalidUtf8();
        } else if (frame.fin) {
          if (!isValidUtf8(frame.data)) throw invalidUtf8();
        } else {
          this.utf8.reset();
          if (!this.utf8.push(frame.data)) throw invalidUtf8();
        }
      }
      if (!frame.fin) {
        this.rareState().curSize = size;
        this.#flags = opcode === OP_TEXT ? this.#flags | TEXT_MESSAGE : this.#flags & ~TEXT_MESSAGE;
      }
    } else if (opcode === OP_CONT) {
      // The parser guarantees a fragmented message is in progress.
      const rare = this.rareState();
      const size = (rare.curSize ?? 0) + frame.data.length;
      if (this.maxSize !== null && size > this.maxSize) {
        throw new PayloadTooBig(size, this.maxSize, "message");
      }
      if ((this.#flags & TEXT_MESSAGE) !== 0) {
        if (!validatedPartially && !this.utf8.push(frame.data)) throw invalidUtf8();
        if (frame.fin && !this.utf8.complete) throw invalidUtf8();
      }
      if (frame.fin) {
        rare.curSize = null;
        this.#flags &= ~TEXT_MESSAGE;
      } else {
        rare.curSize = size;
      }
    } else if (opcode === OP_PING) {
      // RFC 6455 §5.5.2: answer with a pong carrying the same data, "unless
      // it already received a Close frame" — which stops parsing here.
      this.sendFrame(OP_PONG, frame.data, true);
    } else if (opcode === OP_CLOSE) {
      this.receiveClose(frame);
    }
    // RFC 6455 §5.5.3: unsolicited pongs need no answer; they're events.

    this.#parser.maxSize = this.frameLimit();
    // Once a close frame was sent, data frames are dropped: the application
    // asked to close and won't read them (RFC 6455 §1.4).
    const closing = this.rare;
    if (opcode < 0x8 && closing !== null && closing.closeSent !== null) return;
    // A literal when it's the first: most reads bring one frame, and an
    // array grown by push reserves room for 17.
    const events = this.#events;
    if (events === null) {
      this.#events = [frame];
      return;
    }
    if (opcode === OP_CONT && (this.#flags & MERGE_FRAGMENTS) !== 0) {
      // A continuation means a fragmented message, which made the rare state.
      const rare = this.rare!;
      rare.merger ??= new FragmentMerger();
      if (rare.merger.merge(events, frame)) return;
    }
    this.rare?.merger?.endRun();
    events.push(frame);
  }

  /** Pauses parsing after this frame once the batch decoded its budget (see boundDecoding). */
  private countDecoded(frame: Frame): void {
    batchDecoded += frame.data.length;
    if (batchDecoded >= (this.maxSize ?? DEFAULT_MAX_SIZE)) {
      this.#flags |= PARSING_PAUSED;
      this.#parser.pause();
    }
  }

  private receiveClose(frame: Frame): void {
    // RFC 6455 §7.1.5, §7.1.6: the close code and reason.
    this.closeRcvd = Close.parse(frame.data);
    if (this.state === CLOSING) this.closeRcvdThenSent = false;
    // A close frame inside a fragmented message abandons the message: it's
    // a control frame, allowed between fragments (RFC 6455 §5.4), and the
    // closing handshake proceeds normally.
    if (this.state === OPEN) {
      // RFC 6455 §5.5.1: answer with a close frame, echoing the payload
      // (echoing the bytes also works for an empty close frame, read as 1005).
      this.sendFrame(OP_CLOSE, frame.data, true);
      this.closeSent = this.closeRcvd;
      this.closeRcvdThenSent = true;
      this.setState(CLOSING);
    }
    // RFC 6455 §7.1.1: the server closes the transport first.
    if ((this.#flags & CLIENT) === 0) this.sendEof();
    // RFC 6455 §1.4: after a close frame, further data received is discarded.
    this.discardInput();
  }

  // --- Sending frames --------------------------------------------------------

  private sendFrame(opcode: Opcode, data: Buffer | string, fin: boolean): void {
    const mask = (this.#flags & CLIENT) !== 0;
    const extensions = this.extensions;
    if (extensions.length === 0 && (this.#flags & DEBUG) === 0) {
      writeFrame(this.writeQueue(), opcode, data, fin, mask);
      return;
    }
    let frame = new Frame(opcode, typeof data === "string" ? Buffer.from(data) : data, fin);
    if ((this.#flags & DEBUG) !== 0) this.logger!.debug(logMessages.frameSent(frame));
    for (const extension of extensions) frame = extension.encode(frame);
    writeFrame(this.writeQueue(), frame.opcode, frame.data, frame.fin, mask, reservedBits(frame));
  }

  private checkOpen(): void {
    if (this.state !== OPEN) throw notInState(this.state);
  }

  private checkOpenOrClosing(): void {
    const state = this.state;
    if (state !== OPEN && state !== CLOSING) throw notInState(state);
  }

  /** Checks that a message may start; `fin` false starts a fragmented one. */
  private startMessage(fin: boolean): void {
    this.checkOpen();
    if ((this.#flags & EXPECT_CONTINUATION) !== 0) {
      throw new InvalidState("cannot start a message: a fragmented message is in progress");
    }
    this.#flags = fin ? this.#flags & ~EXPECT_CONTINUATION : this.#flags | EXPECT_CONTINUATION;
  }
}
