/**
 * What the server's handshake responses are made of, beside the protocol
 * that decides them: the header lines of a 101, the `Date` header, and the
 * hints a rejection's body gives to people who reach a WebSocket server
 * the wrong way.
 *
 * @module
 */

// The Date header has a resolution of one second (RFC 9110 §5.6.7): format
// it once per second rather than once per response.
let dateSecond = -1;
let dateText = "";

/** The `Date` header's value now (IMF-fixdate), formatted at most once per second. */
export function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}

/**
 * The header lines of the 101 that accepts a handshake, as flat pairs. Every
 * value is valid: constants, base64, the config's checked Server header, and
 * extensions and a subprotocol built from tokens. The usual response is one
 * array literal: no growing, no spare capacity.
 */
export function items101(
  date: string,
  accept: string,
  extensionsHeader: string | null,
  subprotocol: string | null,
  serverHeader: string | null,
): string[] {
  if (extensionsHeader === null && subprotocol === null && serverHeader !== null) {
    return [
      "Date",
      date,
      "Upgrade",
      "websocket",
      "Connection",
      "Upgrade",
      "Sec-WebSocket-Accept",
      accept,
      "Server",
      serverHeader,
    ];
  }
  const items = ["Date", date, "Upgrade", "websocket", "Connection", "Upgrade"];
  items.push("Sec-WebSocket-Accept", accept);
  if (extensionsHeader !== null) items.push("Sec-WebSocket-Extensions", extensionsHeader);
  if (subprotocol !== null) items.push("Sec-WebSocket-Protocol", subprotocol);
  if (serverHeader !== null) items.push("Server", serverHeader);
  return items;
}

/** Ends a 426's body when the request wasn't a WebSocket handshake at all. */
export const BROWSER_HINT =
  "\nYou cannot access a WebSocket server directly with a browser. You need a WebSocket client.\n";
/** Ends a 426's body when a `Sec-WebSocket-Key` came without `Upgrade`: a proxy dropped it. */
export const PROXY_HINT =
  "\nThe request has a Sec-WebSocket-Key: a proxy between you and the server probably dropped " +
  "the Upgrade and Connection headers. It must forward them.\n";
