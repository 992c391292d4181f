import Foundation

/// One request line of the control socket (``ControlSocket``): a JSON object whose `command` names what is asked.
enum ControlRequest: Equatable, Sendable {
    case status
    /// End a site's session (`site revoke`); `reason` defaults to "revoked".
    case end(site: String?, reason: String)
    case quality(site: String?)
    case floor(site: String?, meeting: Int?)
    /// A JSON object whose command is missing or not one of the above.
    case unknown

    /// Reads a line; nil when it is not one JSON object.
    init?(line: String) {
        guard let request = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
        let site = request["site"] as? String
        switch request["command"] as? String {
        case "status": self = .status
        case "end": self = .end(site: site, reason: request["reason"] as? String ?? "revoked")
        case "quality": self = .quality(site: site)
        case "floor": self = .floor(site: site, meeting: request["meeting"] as? Int)
        default: self = .unknown
        }
    }
}
