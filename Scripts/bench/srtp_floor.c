// The floor for Scripts/bench-srtp.sh: the same libsrtp2 calls the Swift path makes
// (protect then unprotect in one buffer), from plain C.
//   srtp_floor cm|gcm SIZE PACKETS
#include <srtp2/srtp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dlfcn.h>
#include <arpa/inet.h>

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static unsigned char buffer[1400 + SRTP_MAX_TRAILER_LEN];

static void run(srtp_t tx, srtp_t rx, int size, long start, long count) {
    for (long i = start; i < start + count; i++) {
        uint16_t seq = htons((uint16_t)i);
        uint32_t ts = htonl((uint32_t)i * 960u);
        memcpy(buffer + 2, &seq, 2);
        memcpy(buffer + 4, &ts, 4);
        int len = size;
        if (srtp_protect(tx, buffer, &len) != srtp_err_status_ok) { fprintf(stderr, "protect failed\n"); exit(1); }
        if (srtp_unprotect(rx, buffer, &len) != srtp_err_status_ok) { fprintf(stderr, "unprotect failed\n"); exit(1); }
        if (len != size) { fprintf(stderr, "length changed\n"); exit(1); }
    }
}

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: srtp_floor cm|gcm SIZE PACKETS\n"); return 64; }
    int gcm = strcmp(argv[1], "gcm") == 0;
    int size = atoi(argv[2]);
    long packets = atol(argv[3]);
    if (size < 20 || size > 1400 || packets <= 0) { fprintf(stderr, "bad size or count\n"); return 64; }
    unsigned long (*alloc_count)(void) = (unsigned long (*)(void))dlsym(RTLD_DEFAULT, "vcb_alloc_count");

    if (srtp_init() != srtp_err_status_ok) return 1;
    unsigned char key[30];
    int key_len = gcm ? 28 : 30;
    for (int i = 0; i < key_len; i++) key[i] = (unsigned char)(i * 7 + 3);
    srtp_policy_t tx_policy, rx_policy;
    memset(&tx_policy, 0, sizeof tx_policy);
    if (gcm) {
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&tx_policy.rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&tx_policy.rtcp);
    } else {
        srtp_crypto_policy_set_rtp_default(&tx_policy.rtp);
        srtp_crypto_policy_set_rtcp_default(&tx_policy.rtcp);
    }
    tx_policy.key = key;
    tx_policy.window_size = 128;
    rx_policy = tx_policy;
    tx_policy.ssrc.type = ssrc_any_outbound;
    rx_policy.ssrc.type = ssrc_any_inbound;
    srtp_t tx, rx;
    if (srtp_create(&tx, &tx_policy) != srtp_err_status_ok) return 1;
    if (srtp_create(&rx, &rx_policy) != srtp_err_status_ok) return 1;

    memset(buffer, 0xAB, sizeof buffer);
    buffer[0] = 0x80; buffer[1] = 111;
    uint32_t ssrc = htonl(0xDECAFBADu);
    memcpy(buffer + 8, &ssrc, 4);

    run(tx, rx, size, 0, 1000);
    unsigned long a0 = alloc_count ? alloc_count() : 0;
    uint64_t t0 = now_ns();
    run(tx, rx, size, 1000, packets);
    uint64_t t1 = now_ns();
    unsigned long a1 = alloc_count ? alloc_count() : 0;
    if (alloc_count)
        printf("ns_per_packet=%.3f allocations_per_packet=%.4f\n", (double)(t1 - t0) / packets, (double)(a1 - a0) / packets);
    else
        printf("ns_per_packet=%.3f allocations_per_packet=n/a\n", (double)(t1 - t0) / packets);
    srtp_dealloc(tx);
    srtp_dealloc(rx);
    return 0;
}
