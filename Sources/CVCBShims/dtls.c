// DTLS-SRTP server (and the load generator's client) on NSS libssl3: certificates, an NSPR I/O layer over queued datagrams, the handshake, the exporter.
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include <nss.h>
#include <pk11pub.h>
#include <cert.h>
#include <cryptohi.h>
#include <keyhi.h>
#include <secoid.h>
#include <secasn1.h>
#include <secport.h>
#include <ssl.h>
#include <sslexp.h>
#include <sslerr.h>
#include <sslproto.h>
#include <prerror.h>
#include <prnetdb.h>
#include <secerr.h>
#include <prio.h>
#include <prinit.h>
#include <prtime.h>

#include "vcb_shims.h"
#include "vcb_dtls.h"
#include "vcb_identity.h"

static int last_error(void) {
    int code = PR_GetError();
    return code != 0 ? code : VCB_DTLS_ERR_UNKNOWN;
}

// ---- Errors ----

// The SSL error table is installed by libssl's own initialisation, which its option functions run: setting the
// default of SSL_SECURITY to its default value installs it without changing anything.
static void install_error_tables(void) {
    if (vcb_nss_init() == 0) (void)SSL_OptionSetDefault(SSL_SECURITY, PR_TRUE);
}

const char *vcb_dtls_error_name(int32_t code) {
    install_error_tables();
    return PR_ErrorToName(code);
}

const char *vcb_dtls_error_text(int32_t code) {
    install_error_tables();
    const char *text = PR_ErrorToString(code, PR_LANGUAGE_I_DEFAULT);
    return (text != NULL && text[0] != '\0') ? text : NULL;
}

int vcb_dtls_sha256(const uint8_t *data, size_t length, uint8_t *out) {
    if (length > 0xFFFFFFFFu) return VCB_DTLS_ERR_UNKNOWN;
    int status = vcb_nss_init();
    if (status != 0) return status;
    if (PK11_HashBuf(SEC_OID_SHA256, out, data, (PRInt32)length) != SECSuccess) return last_error();
    return 0;
}

// ---- Certificates ----

// struct vcb_dtls_identity is in vcb_identity.h (tls.c configures its listener with the same identity).

void vcb_dtls_identity_free(vcb_dtls_identity *identity) {
    if (identity == NULL) return;
    if (identity->certificate) CERT_DestroyCertificate(identity->certificate);
    if (identity->privateKey) SECKEY_DestroyPrivateKey(identity->privateKey);
    free(identity);
}

void vcb_dtls_identity_der(const vcb_dtls_identity *identity, const uint8_t **der, size_t *length) {
    *der = identity->certificate->derCert.data;
    *length = identity->certificate->derCert.len;
}


// Hands a certificate and its key over to a new identity (and clears the caller's pointers to them).
// Returns 0 or SEC_ERROR_NO_MEMORY (then the caller still owns both).
static int take_identity(CERTCertificate **certificate, SECKEYPrivateKey **privateKey, vcb_dtls_identity **out) {
    vcb_dtls_identity *identity = calloc(1, sizeof *identity);
    if (identity == NULL) return SEC_ERROR_NO_MEMORY;
    identity->certificate = *certificate;
    identity->privateKey = *privateKey;
    *certificate = NULL;
    *privateKey = NULL;
    *out = identity;
    return 0;
}

int vcb_dtls_identity_generate(const char *commonName, int validDays, vcb_dtls_identity **out) {
    int status = vcb_dtls_init();
    if (status != 0) return status;
    *out = NULL;
    if (validDays <= 0 || validDays > 3650 || commonName == NULL || strlen(commonName) > 64) {
        PR_SetError(SEC_ERROR_INVALID_ARGS, 0);
        return SEC_ERROR_INVALID_ARGS;
    }

    PK11SlotInfo *slot = NULL;
    SECKEYPrivateKey *privateKey = NULL;
    SECKEYPublicKey *publicKey = NULL;
    CERTSubjectPublicKeyInfo *spki = NULL;
    CERTName *name = NULL;
    CERTCertificateRequest *request = NULL;
    CERTValidity *validity = NULL;
    CERTCertificate *unsigned_ = NULL;
    CERTCertificate *certificate = NULL;
    SECItem *params = NULL;
    char subject[80];

    // The curve as a DER OBJECT IDENTIFIER, as PK11_GenerateKeyPair wants EC parameters.
    SECOidData *curve = SECOID_FindOIDByTag(SEC_OID_ANSIX962_EC_PRIME256V1);
    if (curve == NULL) { status = last_error(); goto done; }
    params = SECITEM_AllocItem(NULL, NULL, 2 + curve->oid.len);
    if (params == NULL) { status = last_error(); goto done; }
    params->data[0] = SEC_ASN1_OBJECT_ID;
    params->data[1] = (unsigned char)curve->oid.len;
    memcpy(params->data + 2, curve->oid.data, curve->oid.len);

    slot = PK11_GetInternalSlot();
    if (slot == NULL) { status = last_error(); goto done; }
    // Not a token object, and not CKA_SENSITIVE, so that vcb_tls_identity_export_key can write it out as PKCS#8:
    // the bridge keeps the certificate it made at first start in its data directory (the key lives in this
    // process's memory either way: the softoken is in-process).
    privateKey = PK11_GenerateKeyPair(slot, CKM_EC_KEY_PAIR_GEN, params, &publicKey, PR_FALSE, PR_FALSE, NULL);
    if (privateKey == NULL) { status = last_error(); goto done; }
    spki = SECKEY_CreateSubjectPublicKeyInfo(publicKey);
    if (spki == NULL) { status = last_error(); goto done; }

    snprintf(subject, sizeof subject, "CN=%s", commonName);
    name = CERT_AsciiToName(subject);
    if (name == NULL) { status = last_error(); goto done; }
    request = CERT_CreateCertificateRequest(name, spki, NULL);
    if (request == NULL) { status = last_error(); goto done; }
    PRTime now = PR_Now();
    PRTime day = (PRTime)PR_USEC_PER_SEC * 86400;
    validity = CERT_CreateValidity(now - day, now + day * validDays);
    if (validity == NULL) { status = last_error(); goto done; }

    unsigned long long serial = 0;
    if (PK11_GenerateRandom((unsigned char *)&serial, sizeof serial) != SECSuccess) { status = last_error(); goto done; }
    serial &= 0x7FFFFFFFFFFFFFFFull;  // a positive INTEGER
    if (serial == 0) serial = 1;
    // CERT_CreateCertificate takes an unsigned long serial: 64 bits on the LP64 targets we build for.
    unsigned_ = CERT_CreateCertificate((unsigned long)serial, name, validity, request);
    if (unsigned_ == NULL) { status = last_error(); goto done; }

    PLArenaPool *arena = unsigned_->arena;
    // Version 3, written out: NSS leaves version 1, which DER encodes only by its default (absent);
    // NSS writes it anyway, and strict parsers (Python's cryptography, so aiortc) refuse that.
    if (SEC_ASN1EncodeInteger(arena, &unsigned_->version, SEC_CERTIFICATE_VERSION_3) == NULL) {
        status = last_error(); goto done;
    }
    if (SECOID_SetAlgorithmID(arena, &unsigned_->signature, SEC_OID_ANSIX962_ECDSA_SHA256_SIGNATURE, NULL)
        != SECSuccess) { status = last_error(); goto done; }
    SECItem tbs = { siBuffer, NULL, 0 };
    if (SEC_ASN1EncodeItem(arena, &tbs, unsigned_, SEC_ASN1_GET(CERT_CertificateTemplate)) == NULL) {
        status = last_error(); goto done;
    }
    SECItem signedDER = { siBuffer, NULL, 0 };
    if (SEC_DerSignData(arena, &signedDER, tbs.data, (int)tbs.len, privateKey,
                        SEC_OID_ANSIX962_ECDSA_SHA256_SIGNATURE) != SECSuccess) {
        status = last_error(); goto done;
    }
    certificate = CERT_NewTempCertificate(CERT_GetDefaultCertDB(), &signedDER, NULL, PR_FALSE, PR_TRUE);
    if (certificate == NULL) { status = last_error(); goto done; }

    status = take_identity(&certificate, &privateKey, out);
done:
    if (certificate) CERT_DestroyCertificate(certificate);
    if (unsigned_) CERT_DestroyCertificate(unsigned_);
    if (validity) CERT_DestroyValidity(validity);
    if (request) CERT_DestroyCertificateRequest(request);
    if (name) CERT_DestroyName(name);
    if (spki) SECKEY_DestroySubjectPublicKeyInfo(spki);
    if (publicKey) SECKEY_DestroyPublicKey(publicKey);
    if (privateKey) SECKEY_DestroyPrivateKey(privateKey);
    if (slot) PK11_FreeSlot(slot);
    if (params) SECITEM_FreeItem(params, PR_TRUE);
    return status;
}

// Signs a digest with the private key and verifies it with the certificate's public key.
static int key_matches(SECKEYPrivateKey *privateKey, SECKEYPublicKey *publicKey) {
    unsigned char digest[32];
    memset(digest, 0x5A, sizeof digest);
    SECItem hash = { siBuffer, digest, sizeof digest };
    int length = PK11_SignatureLen(privateKey);
    if (length <= 0) return 0;
    SECItem signature = { siBuffer, NULL, 0 };
    if (SECITEM_AllocItem(NULL, &signature, (unsigned int)length) == NULL) return 0;
    int matches = PK11_Sign(privateKey, &signature, &hash) == SECSuccess
        && PK11_Verify(publicKey, &signature, &hash, NULL) == SECSuccess;
    SECITEM_FreeItem(&signature, PR_FALSE);
    return matches;
}

int vcb_dtls_identity_import(const uint8_t *certificateDER, size_t certificateLength,
                             const uint8_t *privateKeyDER, size_t privateKeyLength, vcb_dtls_identity **out) {
    int status = vcb_dtls_init();
    if (status != 0) return status;
    *out = NULL;
    if (certificateLength == 0 || certificateLength > 0xFFFFFF || privateKeyLength == 0
        || privateKeyLength > 0xFFFFFF) {
        PR_SetError(SEC_ERROR_INVALID_ARGS, 0);
        return SEC_ERROR_INVALID_ARGS;
    }
    CERTCertificate *certificate = NULL;
    SECKEYPublicKey *publicKey = NULL;
    SECKEYPrivateKey *privateKey = NULL;
    PK11SlotInfo *slot = NULL;
    SECItem certItem = { siBuffer, (unsigned char *)certificateDER, (unsigned int)certificateLength };
    SECItem keyItem = { siBuffer, (unsigned char *)privateKeyDER, (unsigned int)privateKeyLength };

    certificate = CERT_NewTempCertificate(CERT_GetDefaultCertDB(), &certItem, NULL, PR_FALSE, PR_TRUE);
    if (certificate == NULL) { status = last_error(); goto done; }
    publicKey = CERT_ExtractPublicKey(certificate);
    if (publicKey == NULL) { status = last_error(); goto done; }
    SECItem *publicValue = NULL;
    if (publicKey->keyType == ecKey) publicValue = &publicKey->u.ec.publicValue;
    else if (publicKey->keyType == rsaKey) publicValue = &publicKey->u.rsa.modulus;
    slot = PK11_GetInternalSlot();
    if (slot == NULL) { status = last_error(); goto done; }
    if (PK11_ImportDERPrivateKeyInfoAndReturnKey(slot, &keyItem, NULL, publicValue, PR_FALSE, PR_TRUE,
                                                 KU_ALL, &privateKey, NULL) != SECSuccess) {
        status = last_error(); goto done;
    }
    if (!key_matches(privateKey, publicKey)) { status = VCB_DTLS_ERR_KEY_MISMATCH; goto done; }

    status = take_identity(&certificate, &privateKey, out);
done:
    if (certificate) CERT_DestroyCertificate(certificate);
    if (privateKey) SECKEY_DestroyPrivateKey(privateKey);
    if (publicKey) SECKEY_DestroyPublicKey(publicKey);
    if (slot) PK11_FreeSlot(slot);
    return status;
}

// ---- Datagram queues ----

typedef struct {
    uint8_t *bytes;
    size_t length;
} datagram;

typedef struct {
    datagram *slots;
    size_t capacity, head, count;
} datagram_queue;

static void queue_clear(datagram_queue *q) {
    for (size_t i = 0; i < q->count; i++) free(q->slots[(q->head + i) % q->capacity].bytes);
    q->head = 0;
    q->count = 0;
}

// 1 queued, 0 full, -1 out of memory.
static int queue_push(datagram_queue *q, const void *bytes, size_t length) {
    if (q->count == q->capacity) return 0;
    uint8_t *copy = malloc(length > 0 ? length : 1);
    if (copy == NULL) return -1;
    memcpy(copy, bytes, length);
    q->slots[(q->head + q->count) % q->capacity] = (datagram){ copy, length };
    q->count++;
    return 1;
}

static datagram *queue_front(const datagram_queue *q) { return q->count ? &q->slots[q->head] : NULL; }

static void queue_pop(datagram_queue *q) {
    if (q->count == 0) return;
    free(q->slots[q->head].bytes);
    q->head = (q->head + 1) % q->capacity;
    q->count--;
}

// ---- The session ----

struct vcb_dtls_session {
    PRFileDesc *fd;  // the SSL layer on top of our stub layer
    datagram_queue in, out;
    datagram inSlots[VCB_DTLS_MAX_QUEUED_IN];
    datagram outSlots[VCB_DTLS_MAX_QUEUED_OUT];
    uint64_t outDropped;
    uint8_t expected[32];
    int fingerprintMismatch;
    int handshakeDone;
    uint16_t profiles[VCB_DTLS_MAX_PROFILES];  // ours, in order of preference
    size_t profileCount;
    uint16_t chosenProfile;  // 0 until the client's use_srtp offered one of ours (server), or the server chose one (client)
    const vcb_dtls_identity *identity;  // a client's certificate, for the server's CertificateRequest (borrowed)
};

// ---- The NSPR I/O layer: the bottom of the stack, over the two queues ----

static PRDescIdentity layer_identity = PR_INVALID_IO_LAYER;
static PRIOMethods layer_methods;
static PRCallOnceType layer_once;

static vcb_dtls_session *session_of(PRFileDesc *fd) { return (vcb_dtls_session *)fd->secret; }

static PRStatus layer_close(PRFileDesc *fd) {
    fd->secret = NULL;
    fd->dtor(fd);
    return PR_SUCCESS;
}

static PRInt32 layer_recv(PRFileDesc *fd, void *buf, PRInt32 amount, PRIntn flags, PRIntervalTime timeout) {
    (void)timeout;
    vcb_dtls_session *session = session_of(fd);
    datagram *front = session ? queue_front(&session->in) : NULL;
    if (front == NULL) {
        PR_SetError(PR_WOULD_BLOCK_ERROR, 0);
        return -1;
    }
    if (amount < 0) {
        PR_SetError(PR_INVALID_ARGUMENT_ERROR, 0);
        return -1;
    }
    size_t n = front->length < (size_t)amount ? front->length : (size_t)amount;
    memcpy(buf, front->bytes, n);
    if (!(flags & PR_MSG_PEEK)) queue_pop(&session->in);  // a datagram is read whole or its rest is lost
    return (PRInt32)n;
}

static PRInt32 layer_read(PRFileDesc *fd, void *buf, PRInt32 amount) {
    return layer_recv(fd, buf, amount, 0, PR_INTERVAL_NO_WAIT);
}

static PRInt32 layer_send(PRFileDesc *fd, const void *buf, PRInt32 amount, PRIntn flags, PRIntervalTime timeout) {
    (void)flags;
    (void)timeout;
    vcb_dtls_session *session = session_of(fd);
    if (session == NULL || amount < 0) {
        PR_SetError(PR_INVALID_ARGUMENT_ERROR, 0);
        return -1;
    }
    int queued = queue_push(&session->out, buf, (size_t)amount);
    if (queued < 0) {
        PR_SetError(PR_OUT_OF_MEMORY_ERROR, 0);
        return -1;
    }
    if (queued == 0) session->outDropped++;  // as a full socket buffer would: the datagram is lost, not an error
    return amount;
}

static PRInt32 layer_write(PRFileDesc *fd, const void *buf, PRInt32 amount) {
    return layer_send(fd, buf, amount, 0, PR_INTERVAL_NO_WAIT);
}

static PRStatus layer_address(PRFileDesc *fd, PRNetAddr *addr) {
    (void)fd;
    return PR_InitializeNetAddr(PR_IpAddrLoopback, 0, addr);
}

static PRStatus layer_getsocketoption(PRFileDesc *fd, PRSocketOptionData *data) {
    (void)fd;
    if (data->option == PR_SockOpt_Nonblocking) {
        data->value.non_blocking = PR_TRUE;
        return PR_SUCCESS;
    }
    PR_SetError(PR_NOT_IMPLEMENTED_ERROR, 0);
    return PR_FAILURE;
}

static PRStatus layer_setsocketoption(PRFileDesc *fd, const PRSocketOptionData *data) {
    (void)fd;
    (void)data;
    return PR_SUCCESS;
}

static PRStatus layer_shutdown(PRFileDesc *fd, PRIntn how) {
    (void)fd;
    (void)how;
    return PR_SUCCESS;
}

static PRInt16 layer_poll(PRFileDesc *fd, PRInt16 in_flags, PRInt16 *out_flags) {
    (void)fd;
    *out_flags = 0;
    return in_flags;
}

// Everything else is refused with PR_NOT_IMPLEMENTED_ERROR.
static PRInt32 unimplemented_i32(void) { PR_SetError(PR_NOT_IMPLEMENTED_ERROR, 0); return -1; }
static PRStatus unimplemented_status(void) { PR_SetError(PR_NOT_IMPLEMENTED_ERROR, 0); return PR_FAILURE; }
static PRStatus unimplemented_fd(PRFileDesc *fd) { (void)fd; return unimplemented_status(); }
static PRInt32 unimplemented_available(PRFileDesc *fd) { (void)fd; return unimplemented_i32(); }
static PRInt64 unimplemented_available64(PRFileDesc *fd) { (void)fd; return unimplemented_i32(); }
static PROffset32 unimplemented_seek(PRFileDesc *fd, PROffset32 o, PRSeekWhence h) {
    (void)fd; (void)o; (void)h; return unimplemented_i32();
}
static PROffset64 unimplemented_seek64(PRFileDesc *fd, PROffset64 o, PRSeekWhence h) {
    (void)fd; (void)o; (void)h; return unimplemented_i32();
}
static PRStatus unimplemented_fileinfo(PRFileDesc *fd, PRFileInfo *i) { (void)fd; (void)i; return unimplemented_status(); }
static PRStatus unimplemented_fileinfo64(PRFileDesc *fd, PRFileInfo64 *i) { (void)fd; (void)i; return unimplemented_status(); }
static PRInt32 unimplemented_writev(PRFileDesc *fd, const PRIOVec *iov, PRInt32 n, PRIntervalTime t) {
    (void)fd; (void)iov; (void)n; (void)t; return unimplemented_i32();
}
static PRStatus unimplemented_connect(PRFileDesc *fd, const PRNetAddr *a, PRIntervalTime t) {
    (void)fd; (void)a; (void)t; return unimplemented_status();
}
static PRFileDesc *unimplemented_accept(PRFileDesc *fd, PRNetAddr *a, PRIntervalTime t) {
    (void)fd; (void)a; (void)t; unimplemented_i32(); return NULL;
}
static PRStatus unimplemented_bind(PRFileDesc *fd, const PRNetAddr *a) { (void)fd; (void)a; return unimplemented_status(); }
static PRStatus unimplemented_listen(PRFileDesc *fd, PRIntn b) { (void)fd; (void)b; return unimplemented_status(); }
static PRInt32 unimplemented_recvfrom(PRFileDesc *fd, void *b, PRInt32 n, PRIntn f, PRNetAddr *a, PRIntervalTime t) {
    (void)fd; (void)b; (void)n; (void)f; (void)a; (void)t; return unimplemented_i32();
}
static PRInt32 unimplemented_sendto(PRFileDesc *fd, const void *b, PRInt32 n, PRIntn f, const PRNetAddr *a,
                                    PRIntervalTime t) {
    (void)fd; (void)b; (void)n; (void)f; (void)a; (void)t; return unimplemented_i32();
}
static PRInt32 unimplemented_acceptread(PRFileDesc *fd, PRFileDesc **nd, PRNetAddr **a, void *b, PRInt32 n,
                                        PRIntervalTime t) {
    (void)fd; (void)nd; (void)a; (void)b; (void)n; (void)t; return unimplemented_i32();
}
static PRInt32 unimplemented_transmitfile(PRFileDesc *fd, PRFileDesc *f, const void *h, PRInt32 n,
                                          PRTransmitFileFlags fl, PRIntervalTime t) {
    (void)fd; (void)f; (void)h; (void)n; (void)fl; (void)t; return unimplemented_i32();
}
static PRInt32 unimplemented_sendfile(PRFileDesc *fd, PRSendFileData *d, PRTransmitFileFlags f, PRIntervalTime t) {
    (void)fd; (void)d; (void)f; (void)t; return unimplemented_i32();
}
static PRStatus unimplemented_connectcontinue(PRFileDesc *fd, PRInt16 f) { (void)fd; (void)f; return unimplemented_status(); }
static PRIntn unimplemented_reserved(PRFileDesc *fd) { (void)fd; return unimplemented_i32(); }

static PRStatus layer_init(void) {
    install_error_tables();
    layer_identity = PR_GetUniqueIdentity("vcbridge-dtls");
    if (layer_identity == PR_INVALID_IO_LAYER) return PR_FAILURE;
    layer_methods = (PRIOMethods){
        .file_type = PR_DESC_LAYERED,
        .close = layer_close,
        .read = layer_read,
        .write = layer_write,
        .available = unimplemented_available,
        .available64 = unimplemented_available64,
        .fsync = unimplemented_fd,
        .seek = unimplemented_seek,
        .seek64 = unimplemented_seek64,
        .fileInfo = unimplemented_fileinfo,
        .fileInfo64 = unimplemented_fileinfo64,
        .writev = unimplemented_writev,
        .connect = unimplemented_connect,
        .accept = unimplemented_accept,
        .bind = unimplemented_bind,
        .listen = unimplemented_listen,
        .shutdown = layer_shutdown,
        .recv = layer_recv,
        .send = layer_send,
        .recvfrom = unimplemented_recvfrom,
        .sendto = unimplemented_sendto,
        .poll = layer_poll,
        .acceptread = unimplemented_acceptread,
        .transmitfile = unimplemented_transmitfile,
        .getsockname = layer_address,
        .getpeername = layer_address,
        .reserved_fn_6 = unimplemented_reserved,
        .reserved_fn_5 = unimplemented_reserved,
        .getsocketoption = layer_getsocketoption,
        .setsocketoption = layer_setsocketoption,
        .sendfile = unimplemented_sendfile,
        .connectcontinue = unimplemented_connectcontinue,
        .reserved_fn_3 = unimplemented_reserved,
        .reserved_fn_2 = unimplemented_reserved,
        .reserved_fn_1 = unimplemented_reserved,
        .reserved_fn_0 = unimplemented_reserved,
    };
    return PR_SUCCESS;
}

int vcb_dtls_init(void) {
    int status = vcb_nss_init();
    if (status != 0) return status;
    if (PR_CallOnce(&layer_once, layer_init) != PR_SUCCESS) return last_error();
    return 0;
}

// ---- Handshake callbacks ----

// Accepts the peer's certificate only if SHA-256(DER) equals the fingerprint from its offer (constant time).
static SECStatus authenticate_peer(void *arg, PRFileDesc *fd, PRBool checkSig, PRBool isServer) {
    (void)checkSig;
    (void)isServer;
    vcb_dtls_session *session = arg;
    CERTCertificate *peer = SSL_PeerCertificate(fd);
    if (peer == NULL) {
        PR_SetError(SSL_ERROR_NO_CERTIFICATE, 0);
        return SECFailure;
    }
    unsigned char digest[32];
    SECStatus hashed = PK11_HashBuf(SEC_OID_SHA256, digest, peer->derCert.data, (PRInt32)peer->derCert.len);
    CERT_DestroyCertificate(peer);
    if (hashed != SECSuccess) return SECFailure;
    if (NSS_SecureMemcmp(digest, session->expected, sizeof digest) != 0) {
        session->fingerprintMismatch = 1;
        PR_SetError(SSL_ERROR_BAD_CERTIFICATE, 0);
        return SECFailure;
    }
    return SECSuccess;
}

static void handshake_done(PRFileDesc *fd, void *arg) {
    (void)fd;
    ((vcb_dtls_session *)arg)->handshakeDone = 1;
}

// ---- use_srtp (RFC 5764 §4.1.1) through NSS's custom extension hooks ----
// NSS 3.87's own use_srtp support (SSL_SetSRTPCiphers) refuses AEAD_AES_128_GCM, so the server reads the client's
// extension and writes its answer itself, as Firefox does.

enum { ALERT_ILLEGAL_PARAMETER = 47, ALERT_DECODE_ERROR = 50 };

// ClientHello: SRTPProtectionProfiles (uint16 length, then uint16 each) and srtp_mki (uint8 length, then bytes).
static SECStatus handle_use_srtp(PRFileDesc *fd, SSLHandshakeType message, const PRUint8 *data, unsigned int len,
                                 SSLAlertDescription *alert, void *arg) {
    (void)fd;
    vcb_dtls_session *session = arg;
    if (message != ssl_hs_client_hello) {
        *alert = ALERT_ILLEGAL_PARAMETER;
        return SECFailure;
    }
    if (len < 2) goto malformed;
    unsigned int profilesLength = ((unsigned int)data[0] << 8) | data[1];
    if (profilesLength < 2 || profilesLength % 2 != 0 || 2 + profilesLength + 1 > len) goto malformed;
    unsigned int mkiLength = data[2 + profilesLength];
    if (2 + profilesLength + 1 + mkiLength != len) goto malformed;
    session->chosenProfile = 0;
    for (size_t preference = 0; preference < session->profileCount && session->chosenProfile == 0; preference++) {
        for (unsigned int i = 0; i < profilesLength; i += 2) {
            uint16_t offered = (uint16_t)((data[2 + i] << 8) | data[3 + i]);
            if (offered == session->profiles[preference]) {
                session->chosenProfile = offered;
                break;
            }
        }
    }
    return SECSuccess;  // nothing in common: no extension in the answer, and no keys afterwards (VCB_DTLS_ERR_NO_SRTP)
malformed:
    *alert = ALERT_DECODE_ERROR;
    return SECFailure;
}

// ServerHello: the chosen profile and an empty MKI.
static PRBool write_use_srtp(PRFileDesc *fd, SSLHandshakeType message, PRUint8 *data, unsigned int *len,
                             unsigned int maxLen, void *arg) {
    (void)fd;
    vcb_dtls_session *session = arg;
    if (message != ssl_hs_server_hello || session->chosenProfile == 0 || maxLen < 5) return PR_FALSE;
    data[0] = 0;
    data[1] = 2;
    data[2] = (PRUint8)(session->chosenProfile >> 8);
    data[3] = (PRUint8)(session->chosenProfile & 0xFF);
    data[4] = 0;
    *len = 5;
    return PR_TRUE;
}

// Client side. ClientHello: our profiles in order of preference and an empty MKI.
static PRBool write_use_srtp_offer(PRFileDesc *fd, SSLHandshakeType message, PRUint8 *data, unsigned int *len,
                                   unsigned int maxLen, void *arg) {
    (void)fd;
    vcb_dtls_session *session = arg;
    unsigned int profilesLength = (unsigned int)(2 * session->profileCount);
    if (message != ssl_hs_client_hello || maxLen < 3 + profilesLength) return PR_FALSE;
    data[0] = (PRUint8)(profilesLength >> 8);
    data[1] = (PRUint8)(profilesLength & 0xFF);
    for (size_t i = 0; i < session->profileCount; i++) {
        data[2 + 2 * i] = (PRUint8)(session->profiles[i] >> 8);
        data[3 + 2 * i] = (PRUint8)(session->profiles[i] & 0xFF);
    }
    data[2 + profilesLength] = 0;
    *len = 3 + profilesLength;
    return PR_TRUE;
}

// ServerHello: exactly one profile, one we offered, and an empty MKI.
static SECStatus handle_use_srtp_answer(PRFileDesc *fd, SSLHandshakeType message, const PRUint8 *data, unsigned int len,
                                        SSLAlertDescription *alert, void *arg) {
    (void)fd;
    vcb_dtls_session *session = arg;
    if (message != ssl_hs_server_hello || len != 5 || data[0] != 0 || data[1] != 2 || data[4] != 0) {
        *alert = message != ssl_hs_server_hello ? ALERT_ILLEGAL_PARAMETER : ALERT_DECODE_ERROR;
        return SECFailure;
    }
    uint16_t chosen = (uint16_t)((data[2] << 8) | data[3]);
    for (size_t i = 0; i < session->profileCount; i++) {
        if (session->profiles[i] == chosen) {
            session->chosenProfile = chosen;
            return SECSuccess;
        }
    }
    *alert = ALERT_ILLEGAL_PARAMETER;
    return SECFailure;
}

// The client's certificate when the server asks for one (a DTLS-SRTP server always does).
static SECStatus client_certificate(void *arg, PRFileDesc *fd, CERTDistNames *caNames, CERTCertificate **certificate,
                                    SECKEYPrivateKey **privateKey) {
    (void)fd;
    (void)caNames;
    const vcb_dtls_identity *identity = ((vcb_dtls_session *)arg)->identity;
    *certificate = CERT_DupCertificate(identity->certificate);
    *privateKey = SECKEY_CopyPrivateKey(identity->privateKey);
    if (*certificate == NULL || *privateKey == NULL) {
        if (*certificate) CERT_DestroyCertificate(*certificate);
        if (*privateKey) SECKEY_DestroyPrivateKey(*privateKey);
        return SECFailure;
    }
    return SECSuccess;
}

void vcb_dtls_session_free(vcb_dtls_session *session) {
    if (session == NULL) return;
    if (session->fd) PR_Close(session->fd);
    queue_clear(&session->in);
    queue_clear(&session->out);
    free(session);
}

static int session_create(int isClient, const vcb_dtls_identity *identity, const uint8_t *expectedFingerprint,
                          const uint16_t *profiles, size_t profileCount, vcb_dtls_session **out) {
    int status = vcb_dtls_init();
    if (status != 0) return status;
    *out = NULL;
    if (profileCount == 0 || profileCount > VCB_DTLS_MAX_PROFILES) {
        PR_SetError(SEC_ERROR_INVALID_ARGS, 0);
        return SEC_ERROR_INVALID_ARGS;
    }
    vcb_dtls_session *session = calloc(1, sizeof *session);
    if (session == NULL) return SEC_ERROR_NO_MEMORY;
    session->in = (datagram_queue){ session->inSlots, VCB_DTLS_MAX_QUEUED_IN, 0, 0 };
    session->out = (datagram_queue){ session->outSlots, VCB_DTLS_MAX_QUEUED_OUT, 0, 0 };
    memcpy(session->expected, expectedFingerprint, sizeof session->expected);
    memcpy(session->profiles, profiles, profileCount * sizeof profiles[0]);
    session->profileCount = profileCount;
    session->identity = identity;

    PRFileDesc *bottom = PR_CreateIOLayerStub(layer_identity, &layer_methods);
    if (bottom == NULL) { status = last_error(); goto failed; }
    bottom->secret = (PRFilePrivate *)session;
    PRFileDesc *fd = DTLS_ImportFD(NULL, bottom);
    if (fd == NULL) {
        status = last_error();
        PR_Close(bottom);
        goto failed;
    }
    session->fd = fd;  // from now on PR_Close(fd) closes both layers

#define CHECK(call) do { if ((call) != SECSuccess) { status = last_error(); goto failed; } } while (0)
    CHECK(SSL_OptionSet(fd, SSL_SECURITY, PR_TRUE));
    CHECK(SSL_OptionSet(fd, SSL_HANDSHAKE_AS_CLIENT, isClient ? PR_TRUE : PR_FALSE));
    CHECK(SSL_OptionSet(fd, SSL_HANDSHAKE_AS_SERVER, isClient ? PR_FALSE : PR_TRUE));
    CHECK(SSL_OptionSet(fd, SSL_NO_CACHE, PR_TRUE));
    CHECK(SSL_OptionSet(fd, SSL_ENABLE_SESSION_TICKETS, PR_FALSE));
    CHECK(SSL_OptionSet(fd, SSL_NO_LOCKS, PR_TRUE));
    CHECK(SSL_OptionSet(fd, SSL_ENABLE_RENEGOTIATION, SSL_RENEGOTIATE_NEVER));
    CHECK(SSL_OptionSet(fd, SSL_ENABLE_EXTENDED_MASTER_SECRET, PR_TRUE));
    SSLVersionRange versions = { SSL_LIBRARY_VERSION_TLS_1_2, SSL_LIBRARY_VERSION_TLS_1_2 };  // DTLS 1.2
    CHECK(SSL_VersionRangeSet(fd, &versions));
    if (isClient) {
        CHECK(SSL_GetClientAuthDataHook(fd, client_certificate, session));
        CHECK(SSL_InstallExtensionHooks(fd, ssl_use_srtp_xtn, write_use_srtp_offer, session, handle_use_srtp_answer,
                                        session));
    } else {
        CHECK(SSL_OptionSet(fd, SSL_REQUEST_CERTIFICATE, PR_TRUE));
        CHECK(SSL_OptionSet(fd, SSL_REQUIRE_CERTIFICATE, SSL_REQUIRE_ALWAYS));
        CHECK(SSL_ConfigServerCert(fd, identity->certificate, identity->privateKey, NULL, 0));
        CHECK(SSL_InstallExtensionHooks(fd, ssl_use_srtp_xtn, write_use_srtp, session, handle_use_srtp, session));
    }
    CHECK(SSL_AuthCertificateHook(fd, authenticate_peer, session));
    CHECK(SSL_HandshakeCallback(fd, handshake_done, session));
    CHECK(SSL_ResetHandshake(fd, isClient ? PR_FALSE : PR_TRUE));
#undef CHECK
    *out = session;
    return 0;
failed:
    vcb_dtls_session_free(session);
    return status;
}

int vcb_dtls_session_create(const vcb_dtls_identity *identity, const uint8_t *expectedFingerprint,
                            const uint16_t *profiles, size_t profileCount, vcb_dtls_session **out) {
    return session_create(0, identity, expectedFingerprint, profiles, profileCount, out);
}

int vcb_dtls_client_session_create(const vcb_dtls_identity *identity, const uint8_t *expectedFingerprint,
                                   const uint16_t *profiles, size_t profileCount, vcb_dtls_session **out) {
    return session_create(1, identity, expectedFingerprint, profiles, profileCount, out);
}

int vcb_dtls_session_push(vcb_dtls_session *session, const uint8_t *bytes, size_t length) {
    if (length == 0 || length > VCB_DTLS_MAX_DATAGRAM) return 0;
    return queue_push(&session->in, bytes, length);
}

int vcb_dtls_session_handshake(vcb_dtls_session *session, int *done) {
    *done = 0;
    if (session->handshakeDone) {
        *done = 1;
        return 0;
    }
    if (SSL_ForceHandshake(session->fd) == SECSuccess) {
        *done = session->handshakeDone;
        return 0;
    }
    int code = PR_GetError();
    if (code == PR_WOULD_BLOCK_ERROR) return 0;
    if (session->fingerprintMismatch) return VCB_DTLS_ERR_FINGERPRINT_MISMATCH;
    return code != 0 ? code : VCB_DTLS_ERR_UNKNOWN;
}

int vcb_dtls_session_read(vcb_dtls_session *session, int *closed) {
    *closed = 0;
    unsigned char buffer[2048];
    for (;;) {
        PRInt32 n = PR_Recv(session->fd, buffer, sizeof buffer, 0, PR_INTERVAL_NO_WAIT);
        if (n > 0) continue;  // application data (a data channel): not ours to handle, discarded
        if (n == 0) {
            *closed = 1;
            return 0;
        }
        int code = PR_GetError();
        if (code == PR_WOULD_BLOCK_ERROR) return 0;
        return code != 0 ? code : VCB_DTLS_ERR_UNKNOWN;
    }
}

int64_t vcb_dtls_session_timeout(vcb_dtls_session *session) {
    PRIntervalTime interval = 0;
    if (DTLS_GetHandshakeTimeout(session->fd, &interval) != SECSuccess) return -1;
    return (int64_t)PR_IntervalToMicroseconds(interval);
}

int vcb_dtls_session_srtp(vcb_dtls_session *session, uint16_t *profile, uint8_t *material, size_t length) {
    if (!session->handshakeDone || session->chosenProfile == 0) return VCB_DTLS_ERR_NO_SRTP;
    *profile = session->chosenProfile;
    if (length == 0) return 0;
    if (length > 0xFFFF) return SEC_ERROR_INVALID_ARGS;
    static const char label[] = "EXTRACTOR-dtls_srtp";
    if (SSL_ExportKeyingMaterial(session->fd, label, (unsigned int)strlen(label), PR_FALSE, NULL, 0, material,
                                 (unsigned int)length) != SECSuccess) {
        return last_error();
    }
    return 0;
}

int vcb_dtls_session_close(vcb_dtls_session *session) {
    if (PR_Shutdown(session->fd, PR_SHUTDOWN_SEND) != PR_SUCCESS) return last_error();
    return 0;
}

size_t vcb_dtls_session_outgoing_length(const vcb_dtls_session *session) {
    datagram *front = queue_front(&session->out);
    return front ? front->length : 0;
}

size_t vcb_dtls_session_pop_outgoing(vcb_dtls_session *session, uint8_t *buffer, size_t capacity) {
    datagram *front = queue_front(&session->out);
    if (front == NULL || front->length > capacity) return 0;
    size_t n = front->length;
    memcpy(buffer, front->bytes, n);
    queue_pop(&session->out);
    return n;
}

uint64_t vcb_dtls_session_outgoing_dropped(const vcb_dtls_session *session) { return session->outDropped; }
