public import SRTP

/// The SRTP keys a completed DTLS-SRTP handshake yields for one side, in the layout ``SRTP/SRTPSession`` takes:
/// master key then master salt.
public struct DTLSSRTPKeys: Sendable, Hashable {
    /// The negotiated protection profile.
    public let profile: SRTPProfile
    /// The peer's write key and salt: what this side receives with (an `.inbound` ``SRTP/SRTPSession``).
    public let inbound: [UInt8]
    /// This side's write key and salt: what it sends with (an `.outbound` ``SRTP/SRTPSession``).
    public let outbound: [UInt8]

    /// Splits the exporter's output (RFC 5764 §4.2: client key, server key, client salt, server salt).
    /// `material` must be `2 * profile.keyingMaterialLength` bytes.
    init(profile: SRTPProfile, exported material: [UInt8], role: DTLSSession.Role) {
        precondition(material.count == 2 * profile.keyingMaterialLength)
        let key = profile.masterKeyLength
        let salt = profile.masterSaltLength
        let clientKey = material[0..<key]
        let serverKey = material[key..<2 * key]
        let clientSalt = material[2 * key..<2 * key + salt]
        let serverSalt = material[2 * key + salt..<2 * key + 2 * salt]
        self.profile = profile
        let client = Array(clientKey + clientSalt)
        let server = Array(serverKey + serverSalt)
        (inbound, outbound) = role == .server ? (client, server) : (server, client)
    }
}
