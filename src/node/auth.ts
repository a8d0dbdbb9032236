/**
 * HTTP Basic authentication (RFC 7617) for the opening handshake, as a
 * ready-made `processRequest`.
 *
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";
import { InvalidHeader } from "../errors.ts";
import { buildWwwAuthenticateBasic, parseAuthorizationBasic } from "../headers.ts";
import type { Request, Response } from "../http11.ts";
import type { ServerConnection } from "./server.ts";

/** A user name and its password. */
export type Credentials = readonly [username: string, password: string];

/** Options of {@link basicAuth}: `credentials` or `checkCredentials`, not both. */
export interface BasicAuthOptions {
  /** Realm, shown by browsers in the login prompt. Default: `"websockets"`. */
  realm?: string;
  /** Accepted credentials: one pair, or a list of pairs. */
  credentials?: Credentials | readonly Credentials[];
  /** Checks credentials; may be async. */
  checkCredentials?: (username: string, password: string) => boolean | Promise<boolean>;
}

/**
 * A `processRequest` requiring HTTP Basic authentication. Requests without
 * credentials, with another scheme, or with wrong credentials get 401 with a
 * `WWW-Authenticate` challenge; a malformed `Authorization: Basic` header
 * gets 400. On success, `connection.username` is set.
 *
 * Passwords in `credentials` are compared in constant time (over SHA-256
 * digests, so their length doesn't leak either), and an unknown user name
 * costs the same as a wrong password.
 *
 * ```ts
 * await serve(handler, {
 *   port: 8765,
 *   processRequest: basicAuth({ credentials: ["alice", "s3cret"], realm: "chat" }),
 * });
 * ```
 *
 * @throws TypeError unless exactly one of `credentials` and `checkCredentials` is given.
 */
export function basicAuth(
  options: BasicAuthOptions,
): (connection: ServerConnection, request: Request) => Promise<Response | undefined> {
  const { realm = "websockets", credentials, checkCredentials } = options;
  if ((credentials === undefined) === (checkCredentials === undefined)) {
    throw new TypeError("basicAuth() needs either credentials or checkCredentials");
  }
  const check = checkCredentials ?? checkAgainst(normalizeCredentials(credentials!));
  // Validates the realm once: it must fit in a quoted string.
  const challenge = buildWwwAuthenticateBasic(realm);

  const unauthorized = (connection: ServerConnection, text: string): Response => {
    const response = connection.respond(401, text);
    response.headers.append("WWW-Authenticate", challenge);
    return response;
  };

  return async (connection, request) => {
    const authorization = request.headers.get("Authorization");
    if (authorization === undefined) return unauthorized(connection, "Missing credentials\n");
    // Another scheme (Bearer...): the challenge says which one we take.
    const scheme = /^[^ ]*/.exec(authorization)![0];
    if (scheme.toLowerCase() !== "basic") {
      return unauthorized(connection, "Unsupported credentials\n");
    }
    let username: string;
    let password: string;
    try {
      [username, password] = parseAuthorizationBasic(authorization);
    } catch (error) {
      if (error instanceof InvalidHeader) return connection.respond(400, "Malformed credentials\n");
      throw error;
    }
    if (!(await check(username, password))) {
      return unauthorized(connection, "Invalid credentials\n");
    }
    connection.username = username;
    return undefined;
  };
}

function normalizeCredentials(
  credentials: Credentials | readonly Credentials[],
): Map<string, Buffer> {
  const pairs: readonly Credentials[] =
    credentials.length === 2 && typeof credentials[0] === "string"
      ? [credentials as Credentials]
      : (credentials as readonly Credentials[]);
  const table = new Map<string, Buffer>();
  for (const pair of pairs) {
    if (
      !Array.isArray(pair) ||
      pair.length !== 2 ||
      typeof pair[0] !== "string" ||
      typeof pair[1] !== "string"
    ) {
      throw new TypeError(`invalid credentials: expected [username, password] pairs`);
    }
    table.set(pair[0], digest(pair[1]));
  }
  return table;
}

function digest(value: string): Buffer {
  return createHash("sha256").update(value, "utf8").digest();
}

// Compared against when the user name is unknown, so that the answer takes
// as long as for a wrong password.
const DUMMY = digest("");

function checkAgainst(table: Map<string, Buffer>): (username: string, password: string) => boolean {
  return (username, password) => {
    const expected = table.get(username);
    const equal = timingSafeEqual(digest(password), expected ?? DUMMY);
    return expected !== undefined && equal;
  };
}
