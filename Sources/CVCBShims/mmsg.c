#include <stddef.h>
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
