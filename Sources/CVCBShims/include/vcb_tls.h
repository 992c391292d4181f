// vcbridge TLS server on NSS libssl3, for the web listener (HTTPS): the DTLS module's identity on a TCP socket.
//  - A listener context: an NSS model socket configured once (server certificate and key, TLS 1.2-1.3, no client
//    authentication, no session cache or tickets, no renegotiation) that every connection copies.
//  - A connection: the accepted TCP socket (duplicated, so the caller keeps its own descriptor) under SSL_ImportFD.
//    The handshake and reads are non-blocking steps (the caller waits for the socket against its own deadline);
//    writes block for at most the given time.
// Every int-returning function returns 0, VCB_TLS_WOULD_BLOCK where documented, or an NSS/NSPR error code
// (negative, as PR_GetError gives it; name it with vcb_dtls_error_name), or VCB_DTLS_ERR_UNKNOWN.
// One connection's calls must stay on one thread; a listener context may serve connections on any thread.
#ifndef VCB_TLS_H
#define VCB_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "vcb_dtls.h"

/// The step needs the socket to become readable (or writable) first: wait, then call it again.
#define VCB_TLS_WOULD_BLOCK 10

typedef struct vcb_tls_listener vcb_tls_listener;
typedef struct vcb_tls_connection vcb_tls_connection;

/// A listener context serving the identity's certificate. The identity must outlive it.
int vcb_tls_listener_create(const vcb_dtls_identity *identity, vcb_tls_listener **out);
void vcb_tls_listener_free(vcb_tls_listener *listener);

/// A server connection on a duplicate of the connected TCP socket `fd` (left open for the caller; the duplicate
/// shares its file status flags, so both become non-blocking). The handshake has not started.
int vcb_tls_connection_create(const vcb_tls_listener *listener, int fd, vcb_tls_connection **out);
/// Closes the duplicate descriptor, after a close_notify if the handshake completed (best effort, non-blocking).
void vcb_tls_connection_free(vcb_tls_connection *connection);
/// One step of the handshake: 0 when it has completed, VCB_TLS_WOULD_BLOCK when it waits for the client's bytes,
/// or the error that ended it (a plain-HTTP request or garbage: an SSL_ERROR_* code).
int vcb_tls_connection_handshake(vcb_tls_connection *connection);
/// Decrypted bytes into buffer: 0 with *received > 0, 0 with *received == 0 when the peer closed (close_notify or
/// end of stream), VCB_TLS_WOULD_BLOCK when nothing is there yet, or the error.
int vcb_tls_connection_read(vcb_tls_connection *connection, uint8_t *buffer, size_t capacity, size_t *received);
/// Writes all of bytes, waiting at most timeoutMilliseconds for each time the socket is full. 0 or the error
/// (PR_IO_TIMEOUT_ERROR when the client does not read).
int vcb_tls_connection_write(vcb_tls_connection *connection, const uint8_t *bytes, size_t length,
                             uint32_t timeoutMilliseconds);
/// The identity's private key as DER PrivateKeyInfo (PKCS#8, unencrypted), to keep a made certificate across
/// restarts: *der is malloc'd (the caller zeroes and frees it).
int vcb_tls_identity_export_key(const vcb_dtls_identity *identity, uint8_t **der, size_t *length);

/// The negotiated protocol version (0x0303 TLS 1.2, 0x0304 TLS 1.3) after the handshake, else 0.
uint16_t vcb_tls_connection_version(vcb_tls_connection *connection);

// ---- TLS client (SIP dial-out over TLS) ----
/// Why a client refused the far end's certificate (vcb_tls_client_refusal), 0 when it did not.
#define VCB_TLS_REFUSED_NO_CERTIFICATE 1
#define VCB_TLS_REFUSED_FINGERPRINT 2
#define VCB_TLS_REFUSED_NOT_SIGNED 3
#define VCB_TLS_REFUSED_EXPIRED 4
#define VCB_TLS_REFUSED_NAME 5

/// A client connection on a duplicate of the connected TCP socket `fd` (as for a server connection). The server's
/// certificate is accepted if its SHA-256 is one of the `pinCount` (at most 16) 32-byte `pins`, or else if `caDER`
/// (a certificate, DER; NULL for none) signed it, it is valid now and it names `host` (also sent as SNI). The
/// handshake starts with the first vcb_tls_connection_handshake; reads, writes and free as for a server connection.
int vcb_tls_client_create(int fd, const char *host, const uint8_t *pins, size_t pinCount,
                          const uint8_t *caDER, size_t caLength, vcb_tls_connection **out);
/// After a failed handshake: which check refused the certificate (VCB_TLS_REFUSED_*, 0 for none), and the
/// certificate's SHA-256 into sha256 (32 bytes; zeros if none was seen).
int vcb_tls_client_refusal(const vcb_tls_connection *connection, uint8_t *sha256);

#endif
