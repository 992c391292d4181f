// vcbridge C shims: message digests (MD5, SHA-256) through NSS's PK11_HashBuf.
#ifndef VCB_HASH_H
#define VCB_HASH_H

#include <stddef.h>
#include <stdint.h>

// Which digest vcb_hash computes.
enum {
    VCB_HASH_MD5 = 1,     // SEC_OID_MD5, 16 bytes
    VCB_HASH_SHA256 = 2,  // SEC_OID_SHA256, 32 bytes
};

// The digest of data (dataLength bytes, at most INT32_MAX) into out, which holds outLength bytes (16 for MD5,
// 32 for SHA-256; a different length is refused). Initialises NSS if nobody has.
// Returns 0, -1 for a bad argument, or the NSS/NSPR error code.
int vcb_hash(int algorithm, const uint8_t *data, size_t dataLength, uint8_t *out, size_t outLength);

#endif
