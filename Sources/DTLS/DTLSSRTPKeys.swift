public import SRTP

/// The SRTP keys a completed DTLS-SRTP handshake yields for the bridge (the DTLS server), in the layout
/// ``SRTP/SRTPSession`` takes: master key then master salt.
public struct DTLSSRTPKeys: Sendable, Hashable {
    /// The negotiated protection profile.
    public let profile: SRTPProfile
    /// The client's write key and salt: what the bridge receives with (an `.inbound` ``SRTP/SRTPSession``).
    public let inbound: [UInt8]
    /// The server's write key and salt: what the bridge sends with (an `.outbound` ``SRTP/SRTPSession``).
    public let outbound: [UInt8]

    /// Splits the exporter's output (RFC 5764 §4.2: client key, server key, client salt, server salt).
    /// `material` must be `2 * profile.keyingMaterialLength` bytes.
    init(profile: SRTPProfile, exported material: [UInt8]) {
        precondition(material.count == 2 * profile.keyingMaterialLength)
        let key = profile.masterKeyLength
        let salt = profile.masterSaltLength
        let clientKey = material[0..<key]
        let serverKey = material[key..<2 * key]
        let clientSalt = material[2 * key..<2 * key + salt]
        let serverSalt = material[2 * key + salt..<2 * key + 2 * salt]
        self.profile = profile
        inbound = Array(clientKey + clientSalt)
        outbound = Array(serverKey + serverSalt)
    }
}
