// Debian's opus.pc adds -I/usr/include/opus; other layouts install <opus/opus.h>.
#if __has_include(<opus/opus.h>)
#include <opus/opus.h>
#else
#include <opus.h>
#endif
