/**
 * A self-signed certificate for localhost, 127.0.0.1 and ::1 (P-256, valid
 * until 2126), for tests that need TLS: pass `key` and `cert` to a server and
 * `ca: cert` to the client. Generated with:
 *
 *   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
 *     -days 36500 -subj "/CN=localhost" \
 *     -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"
 *
 * @module
 */

export const key = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgKvlqBDe7zdcJoqE5
RA2UTJjq0QWMD7lTBEZZ7EpvwT6hRANCAASIJ71hRCuPJaU0fdB4o5+DJfipipsn
E19uOZ8SyUTBLJYr35Sb1e91di7cyAKaWBe8XdClQT9fVXw11IBTAiFA
-----END PRIVATE KEY-----
`;

export const cert = `-----BEGIN CERTIFICATE-----
MIIBrzCCAVSgAwIBAgIUFohNy8Ze7bswDOMhjfchPXbT/1kwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyMzIwNDMwNFoYDzIxMjYxMDMw
MjA0MzA0WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAASIJ71hRCuPJaU0fdB4o5+DJfipipsnE19uOZ8SyUTBLJYr35Sb1e91
di7cyAKaWBe8XdClQT9fVXw11IBTAiFAo4GBMH8wHQYDVR0OBBYEFH6ax7XB2uVf
nllp76Ny68YTeGA8MB8GA1UdIwQYMBaAFH6ax7XB2uVfnllp76Ny68YTeGA8MA8G
A1UdEwEB/wQFMAMBAf8wLAYDVR0RBCUwI4IJbG9jYWxob3N0hwR/AAABhxAAAAAA
AAAAAAAAAAAAAAABMAoGCCqGSM49BAMCA0kAMEYCIQCZ0ojEws3Z41RvffXZdkSP
mU041CHLdyhFwO/8RygQhQIhAPAuyj2hufCMXkItMoOlmFuQ8mBkUZF99FQ3fuXz
xjgz
-----END CERTIFICATE-----
`;
