#include <pthread.h>
#include <nss.h>
#include <pk11pub.h>
#include <prerror.h>
#include "vcb_shims.h"

/* Serialised: the HMAC, HKDF, DTLS and TLS code may first need NSS on different threads at once, and two
   NSS_NoDB_Init calls racing each other can leave one caller with a failure (seen: HMAC-SHA-1 failing in
   tests that ran beside the DTLS tests). */
static pthread_mutex_t vcb_nss_init_lock = PTHREAD_MUTEX_INITIALIZER;

int vcb_nss_init(void) {
    pthread_mutex_lock(&vcb_nss_init_lock);
    int status = 0;
    if (!NSS_IsInitialized() && NSS_NoDB_Init(NULL) != SECSuccess) {
        int code = PORT_GetError();
        status = code != 0 ? code : -1;
    }
    pthread_mutex_unlock(&vcb_nss_init_lock);
    return status;
}

static int vcb_nss_error(void) {
    int code = PORT_GetError();
    return code != 0 ? code : -1;
}

/* HMAC under the PK11 mechanism over the concatenation of `count` parts, into out (outLength bytes). */
static int vcb_hmac(CK_MECHANISM_TYPE mechanism, unsigned int outLength,
                    const uint8_t *key, size_t keyLength,
                    const uint8_t *const *parts, const size_t *partLengths, int count,
                    uint8_t *out) {
    int status = 0;
    PK11SlotInfo *slot = NULL;
    PK11SymKey *symKey = NULL;
    PK11Context *context = NULL;
    SECItem keyItem = { siBuffer, (unsigned char *)key, (unsigned int)keyLength };
    SECItem noParams = { siBuffer, NULL, 0 };
    unsigned int written = 0;

    if (keyLength == 0 || keyLength > 0xFFFFFFFFu) return -1;
    for (int i = 0; i < count; i++) {
        if (partLengths[i] > 0xFFFFFFFFu) return -1;
    }
    slot = PK11_GetBestSlot(mechanism, NULL);
    if (slot == NULL) { status = vcb_nss_error(); goto done; }
    symKey = PK11_ImportSymKey(slot, mechanism, PK11_OriginUnwrap, CKA_SIGN, &keyItem, NULL);
    if (symKey == NULL) { status = vcb_nss_error(); goto done; }
    context = PK11_CreateContextBySymKey(mechanism, CKA_SIGN, symKey, &noParams);
    if (context == NULL) { status = vcb_nss_error(); goto done; }
    if (PK11_DigestBegin(context) != SECSuccess) { status = vcb_nss_error(); goto done; }
    for (int i = 0; i < count; i++) {
        if (partLengths[i] > 0 && PK11_DigestOp(context, parts[i], (unsigned int)partLengths[i]) != SECSuccess) {
            status = vcb_nss_error(); goto done;
        }
    }
    if (PK11_DigestFinal(context, out, &written, outLength) != SECSuccess) { status = vcb_nss_error(); goto done; }
    if (written != outLength) status = -1;
done:
    if (context) PK11_DestroyContext(context, PR_TRUE);
    if (symKey) PK11_FreeSymKey(symKey);
    if (slot) PK11_FreeSlot(slot);
    return status;
}

int vcb_hmac_sha256(const uint8_t *key, size_t keyLength,
                    const uint8_t *data, size_t dataLength,
                    uint8_t *out) {
    const uint8_t *parts[1] = { data };
    size_t lengths[1] = { dataLength };
    return vcb_hmac(CKM_SHA256_HMAC, 32, key, keyLength, parts, lengths, 1, out);
}

int vcb_hmac_sha1(const uint8_t *key, size_t keyLength,
                  const uint8_t *first, size_t firstLength,
                  const uint8_t *second, size_t secondLength,
                  uint8_t *out) {
    const uint8_t *parts[2] = { first, second };
    size_t lengths[2] = { firstLength, secondLength };
    return vcb_hmac(CKM_SHA_1_HMAC, 20, key, keyLength, parts, lengths, 2, out);
}
