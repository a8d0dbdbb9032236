/**
 * A self-signed certificate for the name `ws.example.test` only (no IP
 * address; `.test` is reserved by RFC 6761, so the name never resolves),
 * for tests of TLS name checks: serve it on 127.0.0.1 or a Unix socket and
 * connect with `sock` or `path` and a `wss://ws.example.test/` URI. Pass
 * `key` and `cert` to the server and `ca: cert` to the client. Generated with:
 *
 *   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
 *     -days 36500 -subj "/CN=ws.example.test" \
 *     -addext "subjectAltName=DNS:ws.example.test"
 *
 * @module
 */

/** The only name the certificate is valid for. */
export const name = "ws.example.test";

export const key = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgiTQ3sJAYaz5laKUI
TMYIVnx/u2uW/RG9UeGkCqTpLfChRANCAARZ/vlDgZGYlHrJYQYse088fpp/hJ07
iSK0alx8wgoc8jv0o8mhvjBCXRuuYqIf4Tq1ptnyl8puRQi42QfkFqJA
-----END PRIVATE KEY-----
`;

export const cert = `-----BEGIN CERTIFICATE-----
MIIBpzCCAU2gAwIBAgIUCqDuFaELgrf0z56P+HI0v2BjflkwCgYIKoZIzj0EAwIw
GjEYMBYGA1UEAwwPd3MuZXhhbXBsZS50ZXN0MCAXDTI2MTIwNzAyNDI1M1oYDzIx
MjYxMTEzMDI0MjUzWjAaMRgwFgYDVQQDDA93cy5leGFtcGxlLnRlc3QwWTATBgcq
hkjOPQIBBggqhkjOPQMBBwNCAARZ/vlDgZGYlHrJYQYse088fpp/hJ07iSK0alx8
wgoc8jv0o8mhvjBCXRuuYqIf4Tq1ptnyl8puRQi42QfkFqJAo28wbTAdBgNVHQ4E
FgQUaVRWHSHFRBOgbxhSqywp0qWfTX4wHwYDVR0jBBgwFoAUaVRWHSHFRBOgbxhS
qywp0qWfTX4wDwYDVR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgg93cy5leGFtcGxl
LnRlc3QwCgYIKoZIzj0EAwIDSAAwRQIgN6jfW2aDZ851oTbP3//c2EoDRBcafbxP
2iAH1tAaOzkCIQCaM/baH1YI3QWuB1MNHP8BvsEh7j41elOYIneEEfJqWQ==
-----END CERTIFICATE-----
`;
