#if canImport(Glibc)
import Glibc
#endif
import VCBridgeCLI

exit(VCBridgeCLI.run(Array(CommandLine.arguments.dropFirst())))
