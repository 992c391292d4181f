// The floor for Scripts/bench-video.sh: what forwarding one SRTP video packet to N receivers costs
// in plain C with the same libraries and system calls the bridge uses: one libsrtp2 unprotect, then
// per receiver a copy, the header rewrite (SSRC, sequence number, timestamp) and a protect with that
// receiver's own key, and one sendmmsg for all the copies, each to its receiver's own socket. A
// second thread drains the receivers' sockets with poll and recvmmsg, as the load generator does.
//   forward_floor RECEIVERS SIZE PACKETS [INTERVAL_US | --schedule FILE]   (AEAD_AES_128_GCM, as the bridge uses)
// With INTERVAL_US the packets come evenly at that pace; with --schedule FILE (what `vcbridge loadtest
// --video-send-log` wrote: when each packet left, in µs) they come as they reached the bridge, bursts
// and all. A paced copy's delay runs from the packet's arrival time, so waiting behind the previous
// packet counts, as it does in the bridge.
#define _GNU_SOURCE
#include <srtp2/srtp.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SLOT 1600
#define CHUNK 32
static unsigned long delays[1000];  // per copy, 10 µs buckets

static int percentile(double q) {
    unsigned long total = 0, sum = 0;
    for (int i = 0; i < 1000; i++) total += delays[i];
    for (int i = 0; i < 1000; i++) {
        sum += delays[i];
        if ((double)sum >= q * (double)total) return (i + 1) * 10;
    }
    return 10000;
}

static uint64_t clock_ns(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static srtp_t session(int outbound, unsigned char seed) {
    static unsigned char keys[1024][28];
    static int next = 0;
    unsigned char *key = keys[next++ % 1024];
    for (int i = 0; i < 28; i++) key[i] = (unsigned char)(seed * 31 + i * 7 + 3);
    srtp_policy_t policy;
    memset(&policy, 0, sizeof policy);
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp);
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp);
    policy.key = key;
    policy.window_size = 128;
    policy.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
    srtp_t s;
    if (srtp_create(&s, &policy) != srtp_err_status_ok) { fprintf(stderr, "srtp_create failed\n"); exit(1); }
    return s;
}

static volatile int done = 0;
static int receiver_count;
static struct pollfd *receiver_fds;

static void *drain(void *unused) {
    (void)unused;
    static unsigned char buffers[16][SLOT];
    struct mmsghdr msgs[16];
    struct iovec iov[16];
    for (int i = 0; i < 16; i++) {
        iov[i].iov_base = buffers[i];
        iov[i].iov_len = SLOT;
        memset(&msgs[i], 0, sizeof msgs[i]);
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    while (!done) {
        if (poll(receiver_fds, (nfds_t)receiver_count, 50) <= 0) continue;
        for (int r = 0; r < receiver_count; r++) {
            if (receiver_fds[r].revents & POLLIN) recvmmsg(receiver_fds[r].fd, msgs, 16, MSG_DONTWAIT, NULL);
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 4 || argc > 6 || (argc == 6 && strcmp(argv[4], "--schedule") != 0)) {
        fprintf(stderr, "usage: forward_floor RECEIVERS SIZE PACKETS [INTERVAL_US | --schedule FILE]\n");
        return 64;
    }
    int receivers = atoi(argv[1]), size = atoi(argv[2]);
    long packets = atol(argv[3]);
    long interval_ns = argc == 5 ? atol(argv[4]) * 1000 : 0;
    if (receivers < 1 || receivers > 1024 || size < 20 || size > 1400 || packets < 1) { fprintf(stderr, "bad arguments\n"); return 64; }
    // Arrival of packet i, in ns after the start (-1: as soon as the previous one is done).
    long long *arrival = malloc(sizeof(long long) * (size_t)packets);
    for (long i = 0; i < packets; i++) arrival[i] = interval_ns > 0 ? (long long)(i + 1) * interval_ns : -1;
    if (argc == 6) {
        FILE *f = fopen(argv[5], "r");
        if (f == NULL) { perror(argv[5]); return 66; }
        long n = 0;
        long long at;
        while (n < packets && fscanf(f, "%lld", &at) == 1) arrival[n++] = 1000000 + at * 1000;
        fclose(f);
        if (n < packets) { fprintf(stderr, "%s: %ld send times for %ld packets\n", argv[5], n, packets); return 65; }
    }
    if (srtp_init() != srtp_err_status_ok) return 1;

    // The source's packets, protected in advance (the sender's work is not the bridge's).
    srtp_t sender = session(1, 1), inbound = session(0, 1);
    unsigned char *inputs = malloc((size_t)packets * SLOT);
    int *lengths = malloc(sizeof(int) * (size_t)packets);
    for (long i = 0; i < packets; i++) {
        unsigned char *p = inputs + i * SLOT;
        memset(p, 0x5A, (size_t)size);
        p[0] = 0x80; p[1] = 96;
        uint16_t seq = htons((uint16_t)i); uint32_t ts = htonl((uint32_t)(i / 6) * 3600u); uint32_t ssrc = htonl(0x1234);
        memcpy(p + 2, &seq, 2); memcpy(p + 4, &ts, 4); memcpy(p + 8, &ssrc, 4);
        lengths[i] = size;
        if (srtp_protect(sender, p, &lengths[i]) != srtp_err_status_ok) { fprintf(stderr, "protect failed\n"); return 1; }
    }
    srtp_t *outbound = malloc(sizeof(srtp_t) * (size_t)receivers);
    for (int r = 0; r < receivers; r++) outbound[r] = session(1, (unsigned char)(r + 2));

    int out_fd = socket(AF_INET, SOCK_DGRAM, 0);
    int big = 4 << 20;
    setsockopt(out_fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    receiver_count = receivers;
    receiver_fds = calloc((size_t)receivers, sizeof *receiver_fds);
    struct sockaddr_in *to = calloc((size_t)receivers, sizeof *to);
    for (int r = 0; r < receivers; r++) {
        int fd = socket(AF_INET, SOCK_DGRAM, 0);
        int rcv = 1 << 20;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
        to[r] = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = 0};
        socklen_t tolen = sizeof to[r];
        if (bind(fd, (struct sockaddr *)&to[r], sizeof to[r]) != 0 || getsockname(fd, (struct sockaddr *)&to[r], &tolen) != 0) return 1;
        receiver_fds[r] = (struct pollfd){.fd = fd, .events = POLLIN};
    }
    pthread_t drainer;
    pthread_create(&drainer, NULL, drain, NULL);
    // Real-time scheduling when permitted, as the bridge's media thread asks for.
    struct sched_param realtime = {.sched_priority = 10};
    int fifo = pthread_setschedparam(pthread_self(), SCHED_FIFO, &realtime) == 0;

    unsigned char *slots = malloc((size_t)receivers * SLOT);
    struct mmsghdr *msgs = calloc((size_t)receivers, sizeof *msgs);
    struct iovec *iov = calloc((size_t)receivers, sizeof *iov);
    unsigned char work[SLOT];
    uint64_t wall0 = clock_ns(CLOCK_MONOTONIC), cpu0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    for (long i = 0; i < packets; i++) {
        uint64_t started = clock_ns(CLOCK_MONOTONIC);
        if (arrival[i] >= 0) {
            started = wall0 + (uint64_t)arrival[i];
            struct timespec at = {.tv_sec = (time_t)(started / 1000000000u), .tv_nsec = (long)(started % 1000000000u)};
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL);
        }
        memcpy(work, inputs + i * SLOT, (size_t)lengths[i]);
        int len = lengths[i];
        if (srtp_unprotect(inbound, work, &len) != srtp_err_status_ok) { fprintf(stderr, "unprotect failed\n"); return 1; }
        // Per chunk of CHUNK receivers: copy, rewrite, protect with that receiver's key, then one
        // sendmmsg, as the bridge does. Each copy's delay runs from the packet's arrival (or, unpaced,
        // the start of its work) to the return of the send that carried it.
        for (int from = 0; from < receivers; from += CHUNK) {
            int count = receivers - from < CHUNK ? receivers - from : CHUNK;
            for (int r = from; r < from + count; r++) {
                unsigned char *slot = slots + (size_t)r * SLOT;
                memcpy(slot, work, (size_t)len);
                uint16_t seq = htons((uint16_t)(i + r)); uint32_t ts = htonl((uint32_t)(i * 3600 + r)); uint32_t ssrc = htonl(0x10000u + (uint32_t)r);
                memcpy(slot + 2, &seq, 2); memcpy(slot + 4, &ts, 4); memcpy(slot + 8, &ssrc, 4);
                int out = len;
                if (srtp_protect(outbound[r], slot, &out) != srtp_err_status_ok) { fprintf(stderr, "protect failed\n"); return 1; }
                iov[r].iov_base = slot;
                iov[r].iov_len = (size_t)out;
                msgs[r].msg_hdr.msg_name = &to[r];
                msgs[r].msg_hdr.msg_namelen = sizeof to[r];
                msgs[r].msg_hdr.msg_iov = &iov[r];
                msgs[r].msg_hdr.msg_iovlen = 1;
            }
            int sent = 0;
            while (sent < count) {
                int n = sendmmsg(out_fd, msgs + from + sent, (unsigned)(count - sent), 0);
                if (n <= 0) { perror("sendmmsg"); return 1; }
                sent += n;
            }
            uint64_t took = (clock_ns(CLOCK_MONOTONIC) - started) / 10000;
            delays[took < 999 ? took : 999] += (unsigned long)count;
        }
    }
    uint64_t wall = clock_ns(CLOCK_MONOTONIC) - wall0, cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0;
    if (arrival[0] >= 0) wall = 0;  // paced: only the CPU time means anything
    done = 1;
    pthread_join(drainer, NULL);
    printf("scheduling=%s receivers=%d size=%d packets=%ld cpu_ns_per_packet=%.0f wall_ns_per_packet=%.0f copy_delay_p50_us=%d copy_delay_p99_us=%d\n",
           fifo ? "fifo" : "normal", receivers, size, packets, (double)cpu / (double)packets, (double)wall / (double)packets, percentile(0.5), percentile(0.99));
    return 0;
}
