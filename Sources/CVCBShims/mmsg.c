#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <poll.h>
#include <time.h>
#include <sys/socket.h>
#include "vcb_shims.h"

_Static_assert(sizeof(struct vcb_mmsghdr) == sizeof(struct mmsghdr), "vcb_mmsghdr size");
_Static_assert(offsetof(struct vcb_mmsghdr, msg_len) == offsetof(struct mmsghdr, msg_len), "vcb_mmsghdr layout");

const int VCB_MSG_WAITFORONE = MSG_WAITFORONE;

int vcb_recvmmsg(int fd, struct vcb_mmsghdr *msgs, unsigned int count, int flags, struct timespec *timeout) {
    return recvmmsg(fd, (struct mmsghdr *)msgs, count, flags, timeout);
}

int vcb_sendmmsg(int fd, struct vcb_mmsghdr *msgs, unsigned int count, int flags) {
    return sendmmsg(fd, (struct mmsghdr *)msgs, count, flags);
}

int vcb_enable_receive_timestamps(int fd) {
    int on = 1;
    return setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
}

int vcb_enable_drop_counter(int fd) {
    int on = 1;
    return setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof on);
}

const size_t VCB_RECEIVE_CONTROL_BYTES = CMSG_SPACE(sizeof(struct timespec)) + CMSG_SPACE(sizeof(uint32_t));

long long vcb_dropped_count(const struct msghdr *msg) {
    if (msg->msg_control == NULL || (msg->msg_flags & MSG_CTRUNC)) return -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR((struct msghdr *)msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL && c->cmsg_len >= CMSG_LEN(sizeof(uint32_t))) {
            uint32_t dropped;
            memcpy(&dropped, CMSG_DATA(c), sizeof dropped);
            return (long long)dropped;
        }
    }
    return -1;
}

long long vcb_received_at_ns(const struct msghdr *msg) {
    if (msg->msg_control == NULL || (msg->msg_flags & MSG_CTRUNC)) return -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR((struct msghdr *)msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS && c->cmsg_len >= CMSG_LEN(sizeof(struct timespec))) {
            struct timespec ts;
            memcpy(&ts, CMSG_DATA(c), sizeof ts);
            return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
        }
    }
    return -1;
}

int vcb_poll_ns(struct pollfd *fds, unsigned long count, long long timeout_ns) {
    if (timeout_ns < 0) timeout_ns = 0;
    struct timespec ts = { .tv_sec = timeout_ns / 1000000000LL, .tv_nsec = timeout_ns % 1000000000LL };
    return ppoll(fds, count, &ts, NULL);
}

int vcb_wait_readable(int fd, long long timeout_ns) {
    struct pollfd p = { .fd = fd, .events = POLLIN, .revents = 0 };
    if (timeout_ns < 0) timeout_ns = 0;
    struct timespec ts = { .tv_sec = timeout_ns / 1000000000LL, .tv_nsec = timeout_ns % 1000000000LL };
    return ppoll(&p, 1, &ts, NULL);
}
