// Only CVCBShims includes NSS; Swift code reaches it through the shim's named functions.
#include <nss.h>
#include <pk11pub.h>
