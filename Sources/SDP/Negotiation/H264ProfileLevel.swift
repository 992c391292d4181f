/// An H.264 `profile-level-id` (RFC 6184 §8.1): profile_idc, profile-iop (the constraint flags) and level_idc.
/// Shared by the WebRTC and SIP answers and the SIP offer.
struct H264ProfileLevel: Hashable, Sendable {
    var profileIDC: UInt8
    var profileIOP: UInt8
    var levelIDC: UInt8

    init(profileIDC: UInt8, profileIOP: UInt8, levelIDC: UInt8) {
        self.profileIDC = profileIDC
        self.profileIOP = profileIOP
        self.levelIDC = levelIDC
    }

    /// Parses six hexadecimal digits; nil otherwise.
    init?(_ text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count == 6, bytes.allSatisfy(SDPSyntax.isHexByte),
              let value = UInt32(text, radix: 16) else { return nil }
        profileIDC = UInt8(value >> 16)
        profileIOP = UInt8((value >> 8) & 0xFF)
        levelIDC = UInt8(value & 0xFF)
    }

    /// The `profile-level-id` of an H.264 codec: its fmtp's, or RFC 6184's default `42000a` (baseline 1.0) when
    /// absent; nil when the value is not six hex digits.
    init?(of codec: Codec) {
        self.init(codec.parameters?.parameter("profile-level-id") ?? "42000a")
    }

    /// Six lower-case hexadecimal digits.
    var text: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in [profileIDC, profileIOP, levelIDC] {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Constrained baseline as WebRTC recognises it: profile_idc 0x42 with constraint_set1, 0x4D with
    /// constraint_set0, or 0x58 with constraint_set0 and 1 (the low four constraint bits clear).
    var isConstrainedBaseline: Bool {
        guard profileIOP & 0x0F == 0 else { return false }
        switch profileIDC {
        case 0x42: return profileIOP & 0x40 != 0
        case 0x4D: return profileIOP & 0x80 != 0
        case 0x58: return profileIOP & 0xC0 == 0xC0
        default: return false
        }
    }

    /// Level 1b: level_idc 11 with constraint_set3 in a baseline-family profile.
    var isLevel1b: Bool { levelIDC == 11 && profileIOP & 0x10 != 0 }

    /// The level's place in order: level_idc doubled, with 1b between 1.0 and 1.1.
    var levelRank: Int { isLevel1b ? 21 : Int(levelIDC) * 2 }

    /// The constrained baseline `profile-level-id` the bridge answers: `42e01f` (level 3.1), or the offer's lower
    /// level when it does not allow level asymmetry.
    static func answer(for offered: H264ProfileLevel, levelAsymmetryAllowed: Bool) -> String {
        if levelAsymmetryAllowed || (offered.levelIDC >= 0x1F && !offered.isLevel1b) { return "42e01f" }
        if offered.isLevel1b { return "42f00b" }
        return H264ProfileLevel(profileIDC: 0x42, profileIOP: 0xE0, levelIDC: offered.levelIDC).text
    }

    /// The offer's profile at the level both sides can do: the lower of the offer's and `maxLevelIDC` (RFC 6184
    /// §8.2.2: the answer keeps the offer's profile and may lower the level).
    func keepingProfile(atMostLevel maxLevelIDC: UInt8) -> H264ProfileLevel {
        if levelRank <= Int(maxLevelIDC) * 2 { return self }
        // Our level is lower: constraint_set3 at level_idc 11 would say 1b, so it goes with the offer's level.
        let iop = maxLevelIDC == 11 ? profileIOP & ~0x10 : profileIOP
        return H264ProfileLevel(profileIDC: profileIDC, profileIOP: iop, levelIDC: maxLevelIDC)
    }

    /// The H.264 payload types of `codecs` (90 kHz, packetization-mode 1) whose profile `accepts` takes, in order.
    static func candidates(in codecs: [Codec],
                           accepting accepts: (H264ProfileLevel) -> Bool) -> [(codec: Codec, profile: H264ProfileLevel)] {
        codecs.compactMap { codec in
            guard codec.matches(.h264), codec.parameters?.parameter("packetization-mode") == "1",
                  let profile = H264ProfileLevel(of: codec), accepts(profile) else { return nil }
            return (codec, profile)
        }
    }

    /// The fmtp parameters the bridge writes for H.264: packetization mode 1 and `profileLevelID`.
    static func formatParameters(profileLevelID: String, levelAsymmetryAllowed: Bool = false) -> String {
        (levelAsymmetryAllowed ? "level-asymmetry-allowed=1;" : "") + "packetization-mode=1;profile-level-id=\(profileLevelID)"
    }
}
