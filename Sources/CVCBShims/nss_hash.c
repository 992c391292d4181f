#include <stdint.h>
#include <nss.h>
#include <pk11pub.h>
#include <prerror.h>
#include <secoidt.h>
#include "vcb_shims.h"
#include "vcb_hash.h"

int vcb_hash(int algorithm, const uint8_t *data, size_t dataLength, uint8_t *out, size_t outLength) {
    SECOidTag tag;
    size_t expected;
    switch (algorithm) {
    case VCB_HASH_MD5: tag = SEC_OID_MD5; expected = 16; break;
    case VCB_HASH_SHA256: tag = SEC_OID_SHA256; expected = 32; break;
    default: return -1;
    }
    if (out == NULL || outLength != expected || dataLength > INT32_MAX) return -1;
    if (data == NULL && dataLength != 0) return -1;
    int status = vcb_nss_init();
    if (status != 0) return status;
    static const uint8_t empty[1] = { 0 };
    if (PK11_HashBuf(tag, out, data != NULL ? data : empty, (PRInt32)dataLength) != SECSuccess) {
        int code = PORT_GetError();
        return code != 0 ? code : -1;
    }
    return 0;
}
