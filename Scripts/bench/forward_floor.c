// The floor for Scripts/bench-video.sh: what forwarding one SRTP video packet to N receivers costs
// in plain C with the same libraries and system calls the bridge uses: one libsrtp2 unprotect, then
// per receiver a copy, the header rewrite (SSRC, sequence number, timestamp) and a protect with that
// receiver's own key, and one sendmmsg for all the copies, each to its receiver's own socket. A
// second thread drains the receivers' sockets with poll and recvmmsg, as the load generator does.
//   forward_floor RECEIVERS SIZE PACKETS [INTERVAL_US | --schedule FILE] [--threads 2]   (AEAD_AES_128_GCM, as the bridge uses)
// With INTERVAL_US the packets come evenly at that pace; with --schedule FILE (what `vcbridge loadtest
// --video-send-log` wrote: when each packet left, in µs) they come as they reached the bridge, bursts
// and all. A paced copy's delay runs from the packet's arrival time, so waiting behind the previous
// packet counts, as it does in the bridge. With --threads 2 a second thread takes half the receivers
// of every packet (each receiver's SRTP context stays with one thread): what sharding the fan-out
// over two cores would gain on this machine.
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
#include <sys/eventfd.h>

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

// What every fan-out thread reads: the receivers, their contexts and slots, the packet being forwarded.
static srtp_t *outbound;
static struct sockaddr_in *to;
static unsigned char *slots;
static struct mmsghdr *msgs;
static struct iovec *iov;
static int out_fd;
static unsigned char work[SLOT];
static int work_length;
static long work_index;
static uint64_t work_arrival;
static unsigned long worker_delays[1000];
static int go_fd, done_fd, shard;

// Per chunk of CHUNK receivers in [begin, end): copy, rewrite, protect with that receiver's key, then
// one sendmmsg, as the bridge does. Each copy's delay runs from the packet's arrival (or, unpaced, the
// start of its work) to the return of the send that carried it.
static void fan_out(int begin, int end, unsigned long *histogram) {
    for (int from = begin; from < end; from += CHUNK) {
        int count = end - from < CHUNK ? end - from : CHUNK;
        for (int r = from; r < from + count; r++) {
            unsigned char *slot = slots + (size_t)r * SLOT;
            memcpy(slot, work, (size_t)work_length);
            uint16_t seq = htons((uint16_t)(work_index + r)); uint32_t ts = htonl((uint32_t)(work_index * 3600 + r));
            uint32_t ssrc = htonl(0x10000u + (uint32_t)r);
            memcpy(slot + 2, &seq, 2); memcpy(slot + 4, &ts, 4); memcpy(slot + 8, &ssrc, 4);
            int out = work_length;
            if (srtp_protect(outbound[r], slot, &out) != srtp_err_status_ok) { fprintf(stderr, "protect failed\n"); exit(1); }
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
            if (n <= 0) { perror("sendmmsg"); exit(1); }
            sent += n;
        }
        uint64_t took = (clock_ns(CLOCK_MONOTONIC) - work_arrival) / 10000;
        histogram[took < 999 ? took : 999] += (unsigned long)count;
    }
}

// The second fan-out thread: receivers [shard, RECEIVERS) of each packet; its CPU time when told to stop.
static void *fan_out_worker(void *unused) {
    (void)unused;
    struct sched_param realtime = {.sched_priority = 10};
    pthread_setschedparam(pthread_self(), SCHED_FIFO, &realtime);
    static uint64_t cpu;
    uint64_t cpu0 = clock_ns(CLOCK_THREAD_CPUTIME_ID), signal;
    while (read(go_fd, &signal, sizeof signal) == sizeof signal && work_index >= 0) {
        fan_out(shard, receiver_count, worker_delays);
        signal = 1;
        if (write(done_fd, &signal, sizeof signal) != sizeof signal) exit(1);
    }
    cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0;
    return &cpu;
}

int main(int argc, char **argv) {
    const char *usage = "usage: forward_floor RECEIVERS SIZE PACKETS [INTERVAL_US | --schedule FILE] [--threads 1|2]\n";
    if (argc < 4) { fputs(usage, stderr); return 64; }
    int receivers = atoi(argv[1]), size = atoi(argv[2]), threads = 1;
    long packets = atol(argv[3]);
    long interval_ns = 0;
    const char *schedule = NULL;
    for (int a = 4; a < argc; a++) {
        if (strcmp(argv[a], "--schedule") == 0 && a + 1 < argc) schedule = argv[++a];
        else if (strcmp(argv[a], "--threads") == 0 && a + 1 < argc) threads = atoi(argv[++a]);
        else if (a == 4 && atol(argv[a]) > 0) interval_ns = atol(argv[a]) * 1000;
        else { fprintf(stderr, "forward_floor: unexpected argument %s\n%s", argv[a], usage); return 64; }
    }
    if (receivers < 2 || receivers > 1024 || size < 20 || size > 1400 || packets < 1 || threads < 1 || threads > 2) {
        fprintf(stderr, "bad arguments\n%s", usage);
        return 64;
    }
    // Arrival of packet i, in ns after the start (-1: as soon as the previous one is done).
    long long *arrival = malloc(sizeof(long long) * (size_t)packets);
    for (long i = 0; i < packets; i++) arrival[i] = interval_ns > 0 ? (long long)(i + 1) * interval_ns : -1;
    if (schedule != NULL) {
        FILE *f = fopen(schedule, "r");
        if (f == NULL) { perror(schedule); return 66; }
        long n = 0;
        long long at;
        while (n < packets && fscanf(f, "%lld", &at) == 1) arrival[n++] = 1000000 + at * 1000;
        fclose(f);
        if (n < packets) { fprintf(stderr, "%s: %ld send times for %ld packets\n", schedule, n, packets); return 65; }
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
    outbound = malloc(sizeof(srtp_t) * (size_t)receivers);
    for (int r = 0; r < receivers; r++) outbound[r] = session(1, (unsigned char)(r + 2));

    out_fd = socket(AF_INET, SOCK_DGRAM, 0);
    int big = 4 << 20;
    setsockopt(out_fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    receiver_count = receivers;
    receiver_fds = calloc((size_t)receivers, sizeof *receiver_fds);
    to = calloc((size_t)receivers, sizeof *to);
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

    slots = malloc((size_t)receivers * SLOT);
    msgs = calloc((size_t)receivers, sizeof *msgs);
    iov = calloc((size_t)receivers, sizeof *iov);
    shard = threads == 2 ? receivers / 2 : receivers;
    go_fd = eventfd(0, 0);
    done_fd = eventfd(0, 0);
    pthread_t worker;
    if (threads == 2) pthread_create(&worker, NULL, fan_out_worker, NULL);
    uint64_t wall0 = clock_ns(CLOCK_MONOTONIC), cpu0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    for (long i = 0; i < packets; i++) {
        uint64_t started = clock_ns(CLOCK_MONOTONIC);
        if (arrival[i] >= 0) {
            started = wall0 + (uint64_t)arrival[i];
            struct timespec at = {.tv_sec = (time_t)(started / 1000000000u), .tv_nsec = (long)(started % 1000000000u)};
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL);
        }
        memcpy(work, inputs + i * SLOT, (size_t)lengths[i]);
        work_length = lengths[i];
        work_index = i;
        work_arrival = started;
        if (srtp_unprotect(inbound, work, &work_length) != srtp_err_status_ok) { fprintf(stderr, "unprotect failed\n"); return 1; }
        uint64_t signal = 1;
        if (threads == 2 && write(go_fd, &signal, sizeof signal) != sizeof signal) return 1;
        fan_out(0, shard, delays);
        if (threads == 2 && read(done_fd, &signal, sizeof signal) != sizeof signal) return 1;
    }
    uint64_t wall = clock_ns(CLOCK_MONOTONIC) - wall0, cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0;
    if (arrival[0] >= 0) wall = 0;  // paced: only the CPU time means anything
    if (threads == 2) {
        work_index = -1;
        uint64_t signal = 1, *worker_cpu;
        if (write(go_fd, &signal, sizeof signal) != sizeof signal) return 1;
        pthread_join(worker, (void **)&worker_cpu);
        cpu += *worker_cpu;
        for (int b = 0; b < 1000; b++) delays[b] += worker_delays[b];
    }
    done = 1;
    pthread_join(drainer, NULL);
    printf("scheduling=%s threads=%d receivers=%d size=%d packets=%ld cpu_ns_per_packet=%.0f wall_ns_per_packet=%.0f copy_delay_p50_us=%d copy_delay_p99_us=%d\n",
           fifo ? "fifo" : "normal", threads, receivers, size, packets, (double)cpu / (double)packets, (double)wall / (double)packets, percentile(0.5), percentile(0.99));
    return 0;
}
