/// Frames SIP messages out of a TCP/TLS byte stream (RFC 3261 §18.3): bytes in, whole messages out. CRLF
/// keep-alives between messages (RFC 5626 §3.5.1) are skipped; Content-Length is required; the buffer never
/// holds more than one message's limit. After an error the stream cannot be resynchronised: close it.
public struct SIPStreamFramer: Sendable {
    public let limits: SIPLimits
    private var buffer: [UInt8] = []
    private var failed: SIPParseError?
    /// How far the search for the end of the headers has looked.
    private var scannedTo = 0
    /// The whole length of the message whose headers are in, waiting for its body.
    private var pendingLength: Int?

    public init(limits: SIPLimits = .stream) {
        self.limits = limits
        buffer.reserveCapacity(4096)
    }

    /// Bytes waiting for the rest of their message.
    public var bufferedCount: Int { buffer.count }

    /// Adds received bytes and returns the whole messages they complete, in order.
    /// - Throws: ``SIPParseError``: a message over the limit, without or with a bad Content-Length, or malformed;
    ///   `headersOnly` is set when the headers were readable (so a 400 can be sent before closing).
    public mutating func append(_ bytes: some Collection<UInt8>) throws(SIPParseError) -> [SIPMessage] {
        if let failed { throw failed }
        var messages: [SIPMessage] = []
        var input = bytes[...]
        do throws(SIPParseError) {
            while true {
                let room = limits.maxMessageBytes - buffer.count
                if room > 0, !input.isEmpty {
                    let take = input.prefix(room)
                    buffer.append(contentsOf: take)
                    input = input.dropFirst(take.count)
                }
                while let message = try nextMessage() { messages.append(message) }
                if input.isEmpty { return messages }
                if buffer.count >= limits.maxMessageBytes { throw SIPParseError(.bufferFull, excerpt: buffer.prefix(60)) }
            }
        } catch {
            failed = error
            throw error
        }
    }

    private mutating func nextMessage() throws(SIPParseError) -> SIPMessage? {
        if pendingLength == nil {
            var start = 0
            while start < buffer.count, buffer[start] == 0x0D || buffer[start] == 0x0A { start += 1 }
            if start > 0 {
                buffer.removeFirst(start)
                scannedTo = 0
            }
            guard !buffer.isEmpty else { return nil }
            // Resume the search for the empty line where the last one stopped, so bytes trickled in one at a time
            // cost linear, not quadratic, time.
            guard let (_, bodyStart) = SIPMessage.findHeaderEnd(buffer[...], from: max(0, scannedTo - 3)) else {
                scannedTo = buffer.count
                if buffer.count >= limits.maxMessageBytes { throw SIPParseError(.messageTooLarge, excerpt: buffer.prefix(60)) }
                return nil
            }
            // Parse the headers alone to learn Content-Length; errors in them are errors of the message.
            let (head, _) = try SIPMessage.parseHead(buffer[0..<bodyStart], limits: limits)
            let lengths = head.values("Content-Length")
            guard let lengthText = lengths.first else {
                throw SIPParseError(.missingContentLength, headersOnly: head)
            }
            guard lengths.allSatisfy({ $0 == lengthText }), let length = parseDecimal(lengthText, max: Int(UInt32.max)) else {
                throw SIPParseError(.badContentLength, excerpt: Array(lengthText.utf8), header: "Content-Length",
                                    headersOnly: head)
            }
            guard bodyStart + length <= limits.maxMessageBytes else {
                throw SIPParseError(.bodyTooLarge, excerpt: Array("Content-Length: \(length)".utf8),
                                    header: "Content-Length", headersOnly: head)
            }
            pendingLength = bodyStart + length
        }
        guard let total = pendingLength, buffer.count >= total else { return nil }
        let message = try SIPMessage.parse(buffer[0..<total], limits: limits, stream: true)
        buffer.removeFirst(total)
        pendingLength = nil
        scannedTo = 0
        return message
    }
}
