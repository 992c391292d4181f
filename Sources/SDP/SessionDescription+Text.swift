extension SessionDescription {
    /// The description as SDP text with CRLF line ends, in RFC 8866's order
    /// (v o s i u e p c b t r z k a, then per media section m i c b k a).
    public var text: String {
        var out = ""
        func line(_ type: Character, _ value: String) {
            out.append(type)
            out.append("=")
            out.append(value)
            out.append("\r\n")
        }
        line("v", "0")
        line("o", "\(origin.username) \(origin.sessionID) \(origin.sessionVersion) \(origin.networkType) "
            + "\(origin.addressType) \(origin.address)")
        line("s", sessionName)
        if let information { line("i", information) }
        for field in otherFields where "uep".contains(field.type) { line(field.type, field.value) }
        if let connection { line("c", connection.text) }
        for bandwidth in bandwidths { line("b", "\(bandwidth.type):\(bandwidth.value)") }
        for timing in timings {
            line("t", "\(timing.start) \(timing.stop)")
            for repeatField in timing.repeats { line("r", repeatField) }
        }
        for field in otherFields where "zk".contains(field.type) { line(field.type, field.value) }
        for attribute in attributes { line("a", attribute.text) }
        for section in media {
            let port = section.portCount.map { "\(section.port)/\($0)" } ?? String(section.port)
            line("m", ([section.kind, port, section.proto] + section.formats).joined(separator: " "))
            if let information = section.information { line("i", information) }
            if let connection = section.connection { line("c", connection.text) }
            for bandwidth in section.bandwidths { line("b", "\(bandwidth.type):\(bandwidth.value)") }
            for field in section.otherFields { line(field.type, field.value) }
            for attribute in section.attributes { line("a", attribute.text) }
        }
        return out
    }
}

extension ConnectionData {
    var text: String { "\(networkType) \(addressType) \(address)" }
}
