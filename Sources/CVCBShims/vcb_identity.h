// The NSS certificate and key behind a vcb_dtls_identity, shared by dtls.c and tls.c (not exported to Swift:
// it lives outside include/).
#ifndef VCB_IDENTITY_H
#define VCB_IDENTITY_H

#include <cert.h>
#include <keyhi.h>

struct vcb_dtls_identity {
    CERTCertificate *certificate;
    SECKEYPrivateKey *privateKey;
};

#endif
