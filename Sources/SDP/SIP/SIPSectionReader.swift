/// What a SIP media section says about transport and keys, read the same way for offers the bridge answers and
/// answers to the bridge's offers.
enum SIPSectionReader {
    /// The RTP profiles SIP sites use: `RTP/AVP` (RFC 3551), `RTP/SAVP` (RFC 3711), and their AVPF forms (RFC 4585,
    /// RFC 5124).
    static func isSupported(proto: String) -> Bool {
        ["RTP/AVP", "RTP/AVPF", "RTP/SAVP", "RTP/SAVPF"].contains(proto.uppercased())
    }

    static func isSecure(proto: String) -> Bool { proto.uppercased().hasPrefix("RTP/SAVP") }
    static func isAVPF(proto: String) -> Bool { proto.uppercased().hasSuffix("F") }

    /// Where the far end receives this section's RTP and RTCP.
    /// - Throws: ``SIPSDPError/Reason/unsupportedAddress`` or ``SIPSDPError/Reason/badRTCPAttribute``.
    static func transport(of section: MediaDescription, index: Int, in description: SessionDescription,
                          rtcpMux: Bool) throws(SIPSDPError) -> SIPMediaTransport {
        guard let connection = description.connection(for: section), let address = ipAddress(connection) else {
            let written = description.connection(for: section).map { "c=\($0.text)" } ?? "no c="
            throw SIPSDPError(.unsupportedAddress, section: index, detail: String(written.prefix(80)))
        }
        if rtcpMux {
            return SIPMediaTransport(address: address, rtpPort: section.port, rtcpAddress: address,
                                     rtcpPort: section.port, rtcpMux: true)
        }
        var rtcpAddress = address
        var rtcpPort = section.port == UInt16.max ? section.port : section.port + 1
        if let value = section.attributes.lazy.compactMap({ attribute -> String? in
            if case .other(name: "rtcp", value: let value) = attribute { value ?? "" } else { nil }
        }).first {
            let fields = value.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count == 1 || fields.count == 4, let port = SDPSyntax.decimal(fields[0], max: 65_535),
                  port > 0 else {
                throw SIPSDPError(.badRTCPAttribute, section: index, detail: "a=rtcp:\(value.prefix(80))")
            }
            rtcpPort = UInt16(port)
            if fields.count == 4 {
                let given = ConnectionData(networkType: String(fields[1]), addressType: String(fields[2]),
                                           address: String(fields[3]))
                guard let other = ipAddress(given) else {
                    throw SIPSDPError(.badRTCPAttribute, section: index, detail: "a=rtcp:\(value.prefix(80))")
                }
                rtcpAddress = other
            }
        }
        return SIPMediaTransport(address: address, rtpPort: section.port, rtcpAddress: rtcpAddress,
                                 rtcpPort: rtcpPort, rtcpMux: false)
    }

    /// A unicast IP literal of the family `c=` names; nil for host names, multicast `/ttl` forms, other types.
    private static func ipAddress(_ connection: ConnectionData) -> String? {
        guard connection.networkType == "IN", let family = IPAddressText.family(of: connection.address),
              family == connection.addressType.uppercased() else { return nil }
        return connection.address
    }

    /// The offerer's (or answerer's) own direction for `section`; an RFC 2543 hold (`c=` 0.0.0.0 or `::`) means it
    /// does not receive.
    static func direction(of section: MediaDescription, in description: SessionDescription,
                          remote: SIPMediaTransport) -> MediaDirection {
        let written = description.direction(for: section)
        let held = remote.address == "0.0.0.0" || remote.address == "::"
        return MediaDirection(sends: written.sends, receives: written.receives && !held)
    }

    /// The section's `a=crypto` lines: those the bridge can use, in order, and why each other one was refused.
    static func cryptoLines(of section: MediaDescription) -> (usable: [SDESCrypto], refused: [SDESCryptoError]) {
        var usable: [SDESCrypto] = []
        var refused: [SDESCryptoError] = []
        for value in section.attributes.cryptoValues {
            do { usable.append(try SDESCrypto.parse(value)) } catch { refused.append(error) }
        }
        return (usable, refused)
    }
}
