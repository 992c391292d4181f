#include <nss.h>
#include <pk11pub.h>
#include <prerror.h>
#include "vcb_shims.h"

int vcb_nss_init(void) {
    if (NSS_IsInitialized()) return 0;
    if (NSS_NoDB_Init(NULL) != SECSuccess) {
        int code = PORT_GetError();
        return code != 0 ? code : -1;
    }
    return 0;
}

static int vcb_nss_error(void) {
    int code = PORT_GetError();
    return code != 0 ? code : -1;
}

int vcb_hmac_sha256(const uint8_t *key, size_t keyLength,
                    const uint8_t *data, size_t dataLength,
                    uint8_t *out) {
    int status = 0;
    PK11SlotInfo *slot = NULL;
    PK11SymKey *symKey = NULL;
    PK11Context *context = NULL;
    SECItem keyItem = { siBuffer, (unsigned char *)key, (unsigned int)keyLength };
    SECItem noParams = { siBuffer, NULL, 0 };
    unsigned int outLength = 0;

    if (keyLength == 0 || keyLength > 0xFFFFFFFFu || dataLength > 0xFFFFFFFFu) return -1;
    slot = PK11_GetBestSlot(CKM_SHA256_HMAC, NULL);
    if (slot == NULL) { status = vcb_nss_error(); goto done; }
    symKey = PK11_ImportSymKey(slot, CKM_SHA256_HMAC, PK11_OriginUnwrap, CKA_SIGN, &keyItem, NULL);
    if (symKey == NULL) { status = vcb_nss_error(); goto done; }
    context = PK11_CreateContextBySymKey(CKM_SHA256_HMAC, CKA_SIGN, symKey, &noParams);
    if (context == NULL) { status = vcb_nss_error(); goto done; }
    if (PK11_DigestBegin(context) != SECSuccess) { status = vcb_nss_error(); goto done; }
    if (dataLength > 0 && PK11_DigestOp(context, data, (unsigned int)dataLength) != SECSuccess) {
        status = vcb_nss_error(); goto done;
    }
    if (PK11_DigestFinal(context, out, &outLength, 32) != SECSuccess) { status = vcb_nss_error(); goto done; }
    if (outLength != 32) status = -1;
done:
    if (context) PK11_DestroyContext(context, PR_TRUE);
    if (symKey) PK11_FreeSymKey(symKey);
    if (slot) PK11_FreeSlot(slot);
    return status;
}
