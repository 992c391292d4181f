// vcbridge DTLS-SRTP on NSS libssl3 (RFC 5764), for the DTLS module: the bridge's server, and a client for the
// load generator and tests.
//  - Certificates: a self-signed ECDSA P-256 certificate, or one imported from DER + PKCS#8.
//  - A session: an NSPR I/O layer whose recv pops a queued datagram and whose send fills an outbox, with
//    DTLS_ImportFD on top; the Swift owner pushes datagrams in and drains the outbox.
// Only NSS and NSPR see NSS types: this header uses plain C types and opaque pointers.
// Every int-returning function returns 0 or an NSS/NSPR error code (negative, as PR_GetError gives it),
// or VCB_DTLS_ERR_UNKNOWN when NSS failed without setting one, unless documented otherwise.
// One session's calls must stay on one thread (the session's fd is set up with SSL_NO_LOCKS).
#ifndef VCB_DTLS_H
#define VCB_DTLS_H

#include <stddef.h>
#include <stdint.h>

/// NSS failed without setting an error code.
#define VCB_DTLS_ERR_UNKNOWN 1
/// The private key does not belong to the certificate (import).
#define VCB_DTLS_ERR_KEY_MISMATCH 2
/// The peer's certificate did not match the expected fingerprint (the auth hook refused it).
#define VCB_DTLS_ERR_FINGERPRINT_MISMATCH 3
/// The handshake completed without a use_srtp profile we offered.
#define VCB_DTLS_ERR_NO_SRTP 4

/// Largest datagram a session accepts (a DTLS record: 2^14 + 2048 bytes of ciphertext + 13 of header).
#define VCB_DTLS_MAX_DATAGRAM 18445
/// Datagrams waiting for NSS to read them; pushing more fails with 0 returned by vcb_dtls_session_push.
#define VCB_DTLS_MAX_QUEUED_IN 16
/// Datagrams NSS wrote that the owner has not drained yet; further ones are dropped (like a full socket buffer).
#define VCB_DTLS_MAX_QUEUED_OUT 64

/// Most SRTP profiles a session may offer.
#define VCB_DTLS_MAX_PROFILES 4
/// SRTP protection profiles (RFC 5764 §4.1.2, RFC 7714 §14.2).
#define VCB_DTLS_SRTP_AES128_CM_HMAC_SHA1_80 0x0001
#define VCB_DTLS_SRTP_AEAD_AES_128_GCM 0x0007

typedef struct vcb_dtls_identity vcb_dtls_identity;
typedef struct vcb_dtls_session vcb_dtls_session;

/// Initialises NSS if needed (vcb_nss_init) and the DTLS layer identity. Idempotent.
int vcb_dtls_init(void);

/// The symbolic name of an NSS/NSPR error code ("SSL_ERROR_BAD_CERT_ALERT"), or NULL if unknown. Static storage.
const char *vcb_dtls_error_name(int32_t code);
/// The English description NSPR has for an error code, or NULL. Static storage.
const char *vcb_dtls_error_text(int32_t code);

/// SHA-256 of data into out (32 bytes).
int vcb_dtls_sha256(const uint8_t *data, size_t length, uint8_t *out);

/// A new self-signed ECDSA P-256 (secp256r1) certificate signed with ECDSA-SHA256, subject "CN=<commonName>",
/// valid from one day before now for validDays days, with a random 64-bit serial number.
int vcb_dtls_identity_generate(const char *commonName, int validDays, vcb_dtls_identity **out);
/// A certificate (DER) with its private key (DER PrivateKeyInfo, PKCS#8, unencrypted). The key must sign what the
/// certificate's public key verifies, else VCB_DTLS_ERR_KEY_MISMATCH.
int vcb_dtls_identity_import(const uint8_t *certificate, size_t certificateLength,
                             const uint8_t *privateKey, size_t privateKeyLength, vcb_dtls_identity **out);
/// The certificate's DER bytes (borrowed; valid while the identity lives).
void vcb_dtls_identity_der(const vcb_dtls_identity *identity, const uint8_t **der, size_t *length);
void vcb_dtls_identity_free(vcb_dtls_identity *identity);

/// A DTLS 1.2 server session: the identity's certificate, a client certificate required and accepted only when
/// the SHA-256 of its DER equals expectedFingerprint (32 bytes, compared in constant time), no session cache or
/// tickets, no renegotiation. use_srtp is read and answered by the session itself (NSS's custom extension hooks,
/// since NSS's SSL_SetSRTPCiphers refuses GCM): the first of `profiles` (VCB_DTLS_SRTP_*, in order of preference,
/// 1...VCB_DTLS_MAX_PROFILES of them) that the client offers is chosen.
int vcb_dtls_session_create(const vcb_dtls_identity *identity, const uint8_t *expectedFingerprint,
                            const uint16_t *profiles, size_t profileCount, vcb_dtls_session **out);
/// A DTLS 1.2 client session (the load generator's side of a WebRTC join, and tests): presents the identity's
/// certificate when asked, accepts the server only when the SHA-256 of its certificate's DER equals
/// expectedFingerprint, and offers `profiles` in use_srtp (the server's choice must be one of them). The first call
/// of vcb_dtls_session_handshake writes the ClientHello into the outbox. The identity must outlive the session.
int vcb_dtls_client_session_create(const vcb_dtls_identity *identity, const uint8_t *expectedFingerprint,
                                   const uint16_t *profiles, size_t profileCount, vcb_dtls_session **out);
void vcb_dtls_session_free(vcb_dtls_session *session);

/// Queues one datagram for NSS to read. Returns 1 if queued, 0 if refused (empty, longer than
/// VCB_DTLS_MAX_DATAGRAM, or VCB_DTLS_MAX_QUEUED_IN already waiting), -1 if out of memory.
int vcb_dtls_session_push(vcb_dtls_session *session, const uint8_t *datagram, size_t length);
/// Runs the handshake over what is queued. *done is set to 1 when the handshake has completed (then also
/// check vcb_dtls_session_srtp), 0 when it waits for a datagram or the timer. Returns 0 or the error that ended it;
/// VCB_DTLS_ERR_FINGERPRINT_MISMATCH when the peer's certificate was refused by fingerprint.
int vcb_dtls_session_handshake(vcb_dtls_session *session, int *done);
/// After the handshake: reads what is queued (retransmitted handshake records are answered by NSS; application
/// data is discarded). *closed is set to 1 when the peer sent close_notify. Returns 0 or the error (a fatal alert).
int vcb_dtls_session_read(vcb_dtls_session *session, int *closed);
/// Microseconds until NSS's retransmission timer fires (0 if due), or -1 if no timer runs. NSS 3.87 runs DTLS
/// timers on PR_IntervalNow (the real monotonic clock), whatever SSL_SetTimeFunc says.
int64_t vcb_dtls_session_timeout(vcb_dtls_session *session);
/// After the handshake: the negotiated SRTP profile and `length` bytes of the RFC 5764 exporter
/// ("EXTRACTOR-dtls_srtp", no context); length 0 asks only for the profile. VCB_DTLS_ERR_NO_SRTP if no profile was negotiated.
int vcb_dtls_session_srtp(vcb_dtls_session *session, uint16_t *profile, uint8_t *material, size_t length);
/// Sends close_notify (when the handshake completed) into the outbox.
int vcb_dtls_session_close(vcb_dtls_session *session);
/// The length of the oldest datagram in the outbox, or 0 if it is empty.
size_t vcb_dtls_session_outgoing_length(const vcb_dtls_session *session);
/// Copies the oldest outgoing datagram into buffer (capacity at least its length) and removes it. Returns its length.
size_t vcb_dtls_session_pop_outgoing(vcb_dtls_session *session, uint8_t *buffer, size_t capacity);
/// Datagrams NSS wrote while the outbox was full (dropped).
uint64_t vcb_dtls_session_outgoing_dropped(const vcb_dtls_session *session);

#endif
