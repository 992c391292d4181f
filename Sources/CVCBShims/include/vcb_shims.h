// vcbridge C shims: the few things Swift cannot call directly.
//  - Opus ctls are variadic: one named, type-checked wrapper per ctl we use.
//  - recvmmsg/sendmmsg and struct mmsghdr need _GNU_SOURCE.
//  - NSS HMAC-SHA-256 goes through PK11 contexts; one call here hides them.
#ifndef VCB_SHIMS_H
#define VCB_SHIMS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

// ---- Opus ctls (return an OPUS_* status: 0 is OPUS_OK) ----
struct OpusEncoder;
struct OpusDecoder;
int vcb_opus_encoder_set_bitrate(struct OpusEncoder *enc, int32_t bitsPerSecond);
int vcb_opus_encoder_get_bitrate(struct OpusEncoder *enc, int32_t *bitsPerSecond);
int vcb_opus_encoder_set_complexity(struct OpusEncoder *enc, int32_t complexity);
int vcb_opus_encoder_set_inband_fec(struct OpusEncoder *enc, int32_t enabled);
int vcb_opus_encoder_set_packet_loss_perc(struct OpusEncoder *enc, int32_t percent);
int vcb_opus_encoder_set_dtx(struct OpusEncoder *enc, int32_t enabled);
int vcb_opus_encoder_set_signal_voice(struct OpusEncoder *enc);
int vcb_opus_encoder_get_in_dtx(struct OpusEncoder *enc, int32_t *inDTX);
int vcb_opus_decoder_get_last_packet_duration(struct OpusDecoder *dec, int32_t *samples);

// ---- Batched UDP I/O ----
// Same layout as glibc's struct mmsghdr (checked with _Static_assert in the .c file).
struct vcb_mmsghdr {
    struct msghdr msg_hdr;
    unsigned int msg_len;
};
extern const int VCB_MSG_WAITFORONE;
int vcb_recvmmsg(int fd, struct vcb_mmsghdr *msgs, unsigned int count, int flags, struct timespec *timeout);
int vcb_sendmmsg(int fd, struct vcb_mmsghdr *msgs, unsigned int count, int flags);
// Asks the kernel to stamp each received datagram with its arrival time (SO_TIMESTAMPNS). 0 or -1 (errno).
int vcb_enable_receive_timestamps(int fd);
// Asks the kernel to tell, with each received datagram, how many it has dropped on this socket so far
// (SO_RXQ_OVFL: its receive buffer was full). 0 or -1 (errno).
int vcb_enable_drop_counter(int fd);
// Bytes of control buffer one datagram needs for its arrival timestamp and the drop counter.
extern const size_t VCB_RECEIVE_CONTROL_BYTES;
// The arrival time (CLOCK_REALTIME, nanoseconds) in a received message's control data, or -1 if none.
long long vcb_received_at_ns(const struct msghdr *msg);
// The socket's drop counter in a received message's control data (0 to 2^32-1, wrapping), or -1 if none
// (the kernel sends none before its first drop).
long long vcb_dropped_count(const struct msghdr *msg);

// Waits until fd is readable or timeout_ns passes (ppoll). Returns >0 readable, 0 timeout, -1 error (errno).
int vcb_wait_readable(int fd, long long timeout_ns);
/// poll() with a timeout in nanoseconds (ppoll needs _GNU_SOURCE, which Swift's Glibc module lacks).
struct pollfd;
int vcb_poll_ns(struct pollfd *fds, unsigned long count, long long timeout_ns);
int vcb_opus_decoder_reset(struct OpusDecoder *dec);

// ---- Kernel CSPRNG ----
// getrandom(2); <sys/random.h> is not in Swift's Glibc module. Returns bytes written or -1 (errno set).
long vcb_getrandom(void *buffer, size_t length);

// ---- NSS ----
// Initialises NSS without a database if nobody has yet (libsrtp2's NSS backend may have).
// Returns 0 or the NSS/NSPR error code.
int vcb_nss_init(void);
// HMAC-SHA-256 of data under key into out (32 bytes). keyLength must be > 0.
// Returns 0 or the NSS/NSPR error code.
int vcb_hmac_sha256(const uint8_t *key, size_t keyLength,
                    const uint8_t *data, size_t dataLength,
                    uint8_t *out);
// HMAC-SHA-1 under key of the concatenation first | second (either may be empty) into out (20 bytes);
// two parts so STUN's MESSAGE-INTEGRITY can cover a header copy with its length adjusted, then the
// message body in place. keyLength must be > 0. Returns 0 or the NSS/NSPR error code.
int vcb_hmac_sha1(const uint8_t *key, size_t keyLength,
                  const uint8_t *first, size_t firstLength,
                  const uint8_t *second, size_t secondLength,
                  uint8_t *out);

#endif
