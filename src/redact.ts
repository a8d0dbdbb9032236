/**
 * Secrets kept out of what the library renders: the password in a URL's
 * user info, and the values of headers that carry credentials. Error
 * messages, log lines and tracing events all render URLs and headers
 * through these two functions, so no other path can leak them.
 *
 * @module
 */

/** What replaces a URL's password (the rendering Go's `url.Redacted` uses). */
export const REDACTED_PASSWORD = "xxxxx";

/** What replaces the value of a header that carries credentials in a log line. */
export const REDACTED_VALUE = "[redacted]";

/**
 * Request headers that carry credentials (lowercase): redacted in logs, and
 * dropped when a redirect leads to another origin (the rule of the Fetch
 * standard, RFC 9110 §15.4).
 */
export const CREDENTIAL_HEADERS: readonly string[] = [
  "authorization",
  "cookie",
  "proxy-authorization",
];

// Response headers that carry credentials, on top of CREDENTIAL_HEADERS.
const SECRET_HEADERS: readonly string[] = [...CREDENTIAL_HEADERS, "set-cookie"];

// The scheme and `//` that open an authority (RFC 3986 §3).
const SCHEME_AND_SLASHES = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

/**
 * `url` with the password of its user info replaced by
 * `xxxxx`: `ws://alice:xxxxx@example.com/`. RFC 3986
 * §3.2.1: applications should not render what follows the first `:` of the
 * user info. The user name stays, to tell which credentials were used.
 *
 * Works on any string, valid URL or not (it's meant for error messages
 * about invalid URLs too): the authority is what follows `scheme://`, or the
 * start of the string without one, up to the first `/`, `?` or `#`; its last
 * `@` ends the user info. When unsure, it redacts more, never less.
 */
export function redactURL(url: string): string {
  const opening = SCHEME_AND_SLASHES.exec(url);
  const start = opening === null ? 0 : opening[0].length;
  let end = start;
  while (end < url.length) {
    const c = url.charCodeAt(end);
    if (c === 0x2f || c === 0x3f || c === 0x23) break;
    end++;
  }
  const at = url.lastIndexOf("@", end - 1);
  if (at < start || end === start) return url;
  const colon = url.indexOf(":", start);
  // No password, or an empty one: nothing to hide.
  if (colon === -1 || colon >= at - 1) return url;
  return `${url.slice(0, colon + 1)}${REDACTED_PASSWORD}${url.slice(at)}`;
}

/** Whether the header `name` carries credentials, in a request or a response. */
export function isSecretHeader(name: string): boolean {
  return SECRET_HEADERS.includes(name.toLowerCase());
}

/**
 * `value` as a log line may show it: `[redacted]` for the
 * headers that carry credentials (`Authorization`, `Proxy-Authorization`,
 * `Cookie`, `Set-Cookie`), so the line still says the header was present;
 * any other value unchanged.
 */
export function redactHeaderValue(name: string, value: string): string {
  return isSecretHeader(name) ? REDACTED_VALUE : value;
}
