#include <sys/random.h>
#include "vcb_shims.h"

long vcb_getrandom(void *buffer, size_t length) {
    return (long)getrandom(buffer, length, 0);
}
