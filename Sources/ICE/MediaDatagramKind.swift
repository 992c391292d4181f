/// What a datagram on the shared media port is, from its first bytes (RFC 7983 §7, RFC 5761 §4).
public enum MediaDatagramKind: Sendable, Equatable {
    /// First byte 0-3.
    case stun
    /// First byte 20-63.
    case dtls
    /// First byte 128-191, second byte not 192-223.
    case rtp
    /// First byte 128-191, second byte (marker bit and payload type) 192-223: RTCP packet types 192-223.
    case rtcp
    /// Anything else (ZRTP, TURN channels, garbage): drop it.
    case unknown

    /// Classifies a datagram; an empty one is ``unknown``. Reads at most two bytes.
    @inlinable
    public init(classifying datagram: UnsafeRawBufferPointer) {
        guard let first = datagram.first else {
            self = .unknown
            return
        }
        switch first {
        case 0...3: self = .stun
        case 20...63: self = .dtls
        case 128...191:
            self = datagram.count >= 2 && (192...223).contains(datagram[1]) ? .rtcp : .rtp
        default: self = .unknown
        }
    }
}
