/// The parts of an H.264 `profile-level-id` (RFC 6184 §8.1) the answer needs: is it constrained baseline, and
/// which level.
struct H264ProfileLevel: Hashable, Sendable {
    var profileIDC: UInt8
    var profileIOP: UInt8
    var levelIDC: UInt8

    /// Parses six hexadecimal digits; nil otherwise.
    init?(_ text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count == 6, bytes.allSatisfy(SDPSyntax.isHexByte),
              let value = UInt32(text, radix: 16) else { return nil }
        profileIDC = UInt8(value >> 16)
        profileIOP = UInt8((value >> 8) & 0xFF)
        levelIDC = UInt8(value & 0xFF)
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

    /// The constrained baseline `profile-level-id` the bridge answers: `42e01f` (level 3.1), or the offer's lower
    /// level when it does not allow level asymmetry.
    static func answer(for offered: H264ProfileLevel, levelAsymmetryAllowed: Bool) -> String {
        if levelAsymmetryAllowed || (offered.levelIDC >= 0x1F && !offered.isLevel1b) { return "42e01f" }
        if offered.isLevel1b { return "42f00b" }
        let digits = Array("0123456789abcdef".utf8)
        let level = offered.levelIDC
        return "42e0" + String(decoding: [digits[Int(level >> 4)], digits[Int(level & 0x0F)]], as: UTF8.self)
    }
}
