// TLS on NSS libssl3 over TCP sockets: the server (HTTPS, SIP over TLS) with the DTLS identity, and the client
// (SIP dial-out over TLS) that checks the server's certificate by pinned fingerprint or a configured CA.
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>

#include <cert.h>
#include <nss.h>
#include <pk11pub.h>
#include <secitem.h>
#include <ssl.h>
#include <sslerr.h>
#include <sslproto.h>
#include <secerr.h>
#include <prerror.h>
#include <prio.h>
#include <private/pprio.h>

#include "vcb_shims.h"
#include "vcb_dtls.h"
#include "vcb_identity.h"
#include "vcb_tls.h"

static int tls_error(void) {
    int code = PR_GetError();
    return code != 0 ? code : VCB_DTLS_ERR_UNKNOWN;
}

struct vcb_tls_listener {
    PRFileDesc *model;  // an SSL socket that is never connected: its options and certificate are copied
};

struct vcb_tls_connection {
    PRFileDesc *fd;  // the SSL layer over the imported duplicate socket
    int handshakeDone;
    // A client's checks of the server's certificate (vcb_tls_client_create), and what it saw.
    uint8_t pins[16 * 32];
    size_t pinCount;
    CERTCertificate *ca;
    char *host;
    int refusal;
    unsigned char seen[32];
};

void vcb_tls_listener_free(vcb_tls_listener *listener) {
    if (listener == NULL) return;
    if (listener->model) PR_Close(listener->model);
    free(listener);
}

/* What the bridge's TLS server and client both hold to: TLS 1.2-1.3 only, no session cache or tickets, never a
 * renegotiation, the extended master secret; `server` chooses the side. 0 or the NSS error. */
static int set_common_options(PRFileDesc *fd, PRBool server) {
#define CHECK(call) do { if ((call) != SECSuccess) return tls_error(); } while (0)
    CHECK(SSL_OptionSet(fd, SSL_SECURITY, PR_TRUE));
    CHECK(SSL_OptionSet(fd, SSL_HANDSHAKE_AS_CLIENT, !server));
    CHECK(SSL_OptionSet(fd, SSL_HANDSHAKE_AS_SERVER, server));
    CHECK(SSL_OptionSet(fd, SSL_NO_CACHE, PR_TRUE));
    CHECK(SSL_OptionSet(fd, SSL_ENABLE_SESSION_TICKETS, PR_FALSE));
    CHECK(SSL_OptionSet(fd, SSL_ENABLE_RENEGOTIATION, SSL_RENEGOTIATE_NEVER));
    CHECK(SSL_OptionSet(fd, SSL_ENABLE_EXTENDED_MASTER_SECRET, PR_TRUE));
    SSLVersionRange versions = { SSL_LIBRARY_VERSION_TLS_1_2, SSL_LIBRARY_VERSION_TLS_1_3 };
    CHECK(SSL_VersionRangeSet(fd, &versions));
#undef CHECK
    return 0;
}

/* NSS's SSL layer over a duplicate of the caller's TCP socket `fd` (the caller keeps `fd`), configured from `model`
 * (NULL: none). 0 and *out, or the NSS error with nothing left open. */
static int import_socket(int fd, PRFileDesc *model, PRFileDesc **out) {
    *out = NULL;
    int duplicate = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (duplicate < 0) {
        PR_SetError(errno == EMFILE || errno == ENFILE ? PR_PROC_DESC_TABLE_FULL_ERROR : PR_BAD_DESCRIPTOR_ERROR, errno);
        return tls_error();
    }
    PRFileDesc *tcp = PR_ImportTCPSocket(duplicate);
    if (tcp == NULL) {
        int status = tls_error();
        close(duplicate);
        return status;
    }
    *out = SSL_ImportFD(model, tcp);
    if (*out == NULL) {
        int status = tls_error();
        PR_Close(tcp);
        return status;
    }
    return 0;
}

int vcb_tls_listener_create(const vcb_dtls_identity *identity, vcb_tls_listener **out) {
    *out = NULL;
    int status = vcb_dtls_init();
    if (status != 0) return status;
    vcb_tls_listener *listener = calloc(1, sizeof *listener);
    if (listener == NULL) return SEC_ERROR_NO_MEMORY;
    PRFileDesc *socket = PR_NewTCPSocket();
    if (socket == NULL) { status = tls_error(); goto failed; }
    listener->model = SSL_ImportFD(NULL, socket);
    if (listener->model == NULL) {
        status = tls_error();
        PR_Close(socket);
        goto failed;
    }
    PRFileDesc *model = listener->model;
    if ((status = set_common_options(model, PR_TRUE)) != 0) goto failed;
#define CHECK(call) do { if ((call) != SECSuccess) { status = tls_error(); goto failed; } } while (0)
    CHECK(SSL_OptionSet(model, SSL_REQUEST_CERTIFICATE, PR_FALSE));
    CHECK(SSL_OptionSet(model, SSL_REQUIRE_CERTIFICATE, SSL_REQUIRE_NEVER));
    CHECK(SSL_ConfigServerCert(model, identity->certificate, identity->privateKey, NULL, 0));
#undef CHECK
    *out = listener;
    return 0;
failed:
    vcb_tls_listener_free(listener);
    return status;
}

static void handshake_done(PRFileDesc *fd, void *arg) {
    (void)fd;
    ((vcb_tls_connection *)arg)->handshakeDone = 1;
}

static int set_nonblocking(PRFileDesc *fd, PRBool on) {
    PRSocketOptionData option;
    option.option = PR_SockOpt_Nonblocking;
    option.value.non_blocking = on;
    return PR_SetSocketOption(fd, &option) == PR_SUCCESS ? 0 : tls_error();
}

void vcb_tls_connection_free(vcb_tls_connection *connection) {
    if (connection == NULL) return;
    if (connection->fd) {
        (void)set_nonblocking(connection->fd, PR_TRUE);  // close_notify must not wait for a client that does not read
        PR_Close(connection->fd);
    }
    if (connection->ca) CERT_DestroyCertificate(connection->ca);
    free(connection->host);
    free(connection);
}

int vcb_tls_connection_create(const vcb_tls_listener *listener, int fd, vcb_tls_connection **out) {
    *out = NULL;
    int status = vcb_dtls_init();
    if (status != 0) return status;
    vcb_tls_connection *connection = calloc(1, sizeof *connection);
    if (connection == NULL) return SEC_ERROR_NO_MEMORY;
    if ((status = import_socket(fd, listener->model, &connection->fd)) != 0) {
        free(connection);
        return status;
    }
#define CHECK(call) do { if ((call) != SECSuccess) { status = tls_error(); goto failed; } } while (0)
    CHECK(SSL_HandshakeCallback(connection->fd, handshake_done, connection));
    CHECK(SSL_ResetHandshake(connection->fd, PR_TRUE));
#undef CHECK
    status = set_nonblocking(connection->fd, PR_TRUE);
    if (status != 0) goto failed;
    *out = connection;
    return 0;
failed:
    vcb_tls_connection_free(connection);
    return status;
}

int vcb_tls_connection_handshake(vcb_tls_connection *connection) {
    if (connection->handshakeDone) return 0;
    if (SSL_ForceHandshake(connection->fd) == SECSuccess) return connection->handshakeDone ? 0 : VCB_TLS_WOULD_BLOCK;
    int code = tls_error();
    return code == PR_WOULD_BLOCK_ERROR ? VCB_TLS_WOULD_BLOCK : code;
}

int vcb_tls_connection_read(vcb_tls_connection *connection, uint8_t *buffer, size_t capacity, size_t *received) {
    *received = 0;
    PRInt32 amount = capacity > 0x10000 ? 0x10000 : (PRInt32)capacity;
    PRInt32 n = PR_Recv(connection->fd, buffer, amount, 0, PR_INTERVAL_NO_WAIT);
    if (n >= 0) {
        *received = (size_t)n;
        return 0;
    }
    int code = tls_error();
    return code == PR_WOULD_BLOCK_ERROR ? VCB_TLS_WOULD_BLOCK : code;
}

int vcb_tls_connection_write(vcb_tls_connection *connection, const uint8_t *bytes, size_t length,
                             uint32_t timeoutMilliseconds) {
    int status = set_nonblocking(connection->fd, PR_FALSE);
    if (status != 0) return status;
    PRIntervalTime timeout = PR_MillisecondsToInterval(timeoutMilliseconds);
    size_t sent = 0;
    while (sent < length) {
        size_t left = length - sent;
        PRInt32 chunk = left > 0x40000 ? 0x40000 : (PRInt32)left;
        PRInt32 n = PR_Send(connection->fd, bytes + sent, chunk, 0, timeout);
        if (n <= 0) {
            status = n < 0 ? tls_error() : PR_CONNECT_RESET_ERROR;
            break;
        }
        sent += (size_t)n;
    }
    int restored = set_nonblocking(connection->fd, PR_TRUE);
    return status != 0 ? status : restored;
}

int vcb_tls_identity_export_key(const vcb_dtls_identity *identity, uint8_t **der, size_t *length) {
    *der = NULL;
    *length = 0;
    int status = vcb_dtls_init();
    if (status != 0) return status;
    SECItem *item = PK11_ExportDERPrivateKeyInfo(identity->privateKey, NULL);
    if (item == NULL) return tls_error();
    uint8_t *copy = malloc(item->len > 0 ? item->len : 1);
    if (copy == NULL) {
        SECITEM_ZfreeItem(item, PR_TRUE);
        return SEC_ERROR_NO_MEMORY;
    }
    memcpy(copy, item->data, item->len);
    *der = copy;
    *length = item->len;
    SECITEM_ZfreeItem(item, PR_TRUE);
    return 0;
}

uint16_t vcb_tls_connection_version(vcb_tls_connection *connection) {
    SSLChannelInfo info;
    if (!connection->handshakeDone || SSL_GetChannelInfo(connection->fd, &info, sizeof info) != SECSuccess) return 0;
    return info.protocolVersion;
}

// ---- TLS client: the bridge calling a hall or an upstream MCU by SIP over TLS ----
// The far end's certificate is taken only if its SHA-256 equals one of the pinned fingerprints, or else if the
// configured CA's key verifies its signature, it is valid now and it names the host dialled (CERT_VerifyCertName:
// subjectAltName, else the common name). Anything else fails the handshake with SSL_ERROR_BAD_CERTIFICATE, and
// vcb_tls_client_refusal says which check refused it.

static SECStatus authenticate_server(void *arg, PRFileDesc *fd, PRBool checkSig, PRBool isServer) {
    (void)checkSig;
    (void)isServer;
    vcb_tls_connection *connection = arg;
    CERTCertificate *peer = SSL_PeerCertificate(fd);
    if (peer == NULL) {
        connection->refusal = VCB_TLS_REFUSED_NO_CERTIFICATE;
        PR_SetError(SSL_ERROR_NO_CERTIFICATE, 0);
        return SECFailure;
    }
    SECStatus result = SECFailure;
    if (PK11_HashBuf(SEC_OID_SHA256, connection->seen, peer->derCert.data, (PRInt32)peer->derCert.len) != SECSuccess) goto done;
    for (size_t i = 0; i < connection->pinCount; i++) {
        if (NSS_SecureMemcmp(connection->seen, connection->pins + 32 * i, 32) == 0) {
            result = SECSuccess;
            goto done;
        }
    }
    if (connection->ca == NULL) {
        connection->refusal = VCB_TLS_REFUSED_FINGERPRINT;
    } else if (CERT_VerifySignedDataWithPublicKeyInfo(&peer->signatureWrap, &connection->ca->subjectPublicKeyInfo, NULL) != SECSuccess) {
        connection->refusal = VCB_TLS_REFUSED_NOT_SIGNED;
    } else if (CERT_CheckCertValidTimes(peer, PR_Now(), PR_FALSE) != secCertTimeValid) {
        connection->refusal = VCB_TLS_REFUSED_EXPIRED;
    } else if (connection->host == NULL || CERT_VerifyCertName(peer, connection->host) != SECSuccess) {
        connection->refusal = VCB_TLS_REFUSED_NAME;
    } else {
        result = SECSuccess;
        goto done;
    }
    PR_SetError(SSL_ERROR_BAD_CERTIFICATE, 0);
done:
    CERT_DestroyCertificate(peer);
    return result;
}

int vcb_tls_client_create(int fd, const char *host, const uint8_t *pins, size_t pinCount,
                          const uint8_t *caDER, size_t caLength, vcb_tls_connection **out) {
    *out = NULL;
    int status = vcb_dtls_init();
    if (status != 0) return status;
    if (pinCount > 16) return SEC_ERROR_INVALID_ARGS;
    vcb_tls_connection *connection = calloc(1, sizeof *connection);
    if (connection == NULL) return SEC_ERROR_NO_MEMORY;
    if (pinCount > 0) memcpy(connection->pins, pins, 32 * pinCount);
    connection->pinCount = pinCount;
    if (host != NULL && (connection->host = strdup(host)) == NULL) {
        free(connection);
        return SEC_ERROR_NO_MEMORY;
    }
    if (caDER != NULL && caLength > 0) {
        SECItem item = { siBuffer, (unsigned char *)caDER, (unsigned int)caLength };
        connection->ca = CERT_NewTempCertificate(CERT_GetDefaultCertDB(), &item, NULL, PR_FALSE, PR_TRUE);
        if (connection->ca == NULL) {
            status = tls_error();
            vcb_tls_connection_free(connection);
            return status;
        }
    }
    if ((status = import_socket(fd, NULL, &connection->fd)) != 0) {
        vcb_tls_connection_free(connection);
        return status;
    }
    PRFileDesc *ssl = connection->fd;
    if ((status = set_common_options(ssl, PR_FALSE)) != 0) goto failed;
#define CHECK(call) do { if ((call) != SECSuccess) { status = tls_error(); goto failed; } } while (0)
    if (connection->host != NULL) CHECK(SSL_SetURL(ssl, connection->host));
    CHECK(SSL_AuthCertificateHook(ssl, authenticate_server, connection));
    CHECK(SSL_HandshakeCallback(ssl, handshake_done, connection));
    CHECK(SSL_ResetHandshake(ssl, PR_FALSE));
#undef CHECK
    status = set_nonblocking(ssl, PR_TRUE);
    if (status != 0) goto failed;
    *out = connection;
    return 0;
failed:
    vcb_tls_connection_free(connection);
    return status;
}

int vcb_tls_client_refusal(const vcb_tls_connection *connection, uint8_t *sha256) {
    memcpy(sha256, connection->seen, 32);
    return connection->refusal;
}
