/// The video packets last sent to one receiver, exactly as they were protected for it, so that a
/// NACK is answered with the same bytes. Protecting again would reuse an SRTP index: under AES-GCM
/// that is a reused nonce, and two different plaintexts under one nonce let an eavesdropper forge
/// packets to the site. So the bridge's outbound SRTP never protects an index twice, and a repair is
/// a copy of what was sent.
///
/// One byte ring holds the packets of both streams (the newest overwrite the oldest), with an index
/// per stream by sequence number. Allocated once, when the receiver's first video packet is sent;
/// nothing allocates afterwards.
final class SentPacketCache {
    private struct Entry {
        /// Where the packet starts, in bytes ever written (so overwritten entries can be told).
        var position = 0
        var length = 0
        var sequence: UInt16 = 0
        var sentAt: Int64 = 0
    }

    private let storage: UnsafeMutableRawBufferPointer
    private var entries: [Entry]
    private let slotsPerStream: Int
    /// Bytes written since the cache was made (the ring's logical write position).
    private var written = 0

    /// - Parameters:
    ///   - bytes: the ring's size: what the receiver is sent within the repair window.
    ///   - slotsPerStream: index slots per stream, a power of two (packets within the window).
    init(bytes: Int, slotsPerStream: Int, streams: Int) {
        precondition(slotsPerStream > 0 && slotsPerStream & (slotsPerStream - 1) == 0, "slots must be a power of two")
        storage = .allocate(byteCount: max(bytes, 1), alignment: 8)
        self.slotsPerStream = slotsPerStream
        entries = [Entry](repeating: Entry(), count: slotsPerStream * streams)
    }

    deinit { storage.deallocate() }

    /// Keeps a copy of `packet` as sent on `stream` with this sequence number.
    func store(_ packet: UnsafeRawBufferPointer, stream: Int, sequence: UInt16, now: Int64) {
        guard let source = packet.baseAddress, packet.count > 0, packet.count <= storage.count else { return }
        var offset = written % storage.count
        if offset + packet.count > storage.count {
            written += storage.count - offset  // never split a packet: continue at the start
            offset = 0
        }
        (storage.baseAddress! + offset).copyMemory(from: source, byteCount: packet.count)
        entries[index(stream, sequence)] = Entry(position: written, length: packet.count, sequence: sequence, sentAt: now)
        written += packet.count
    }

    /// The packet sent on `stream` with this sequence number, if it was sent within `window` and its
    /// bytes are not overwritten yet. Valid until the next ``store``.
    func packet(stream: Int, sequence: UInt16, now: Int64, window: Int64) -> UnsafeRawBufferPointer? {
        let entry = entries[index(stream, sequence)]
        guard entry.length > 0, entry.sequence == sequence, now - entry.sentAt <= window,
              written - entry.position <= storage.count
        else { return nil }
        return UnsafeRawBufferPointer(start: storage.baseAddress! + entry.position % storage.count, count: entry.length)
    }

    private func index(_ stream: Int, _ sequence: UInt16) -> Int {
        stream * slotsPerStream + Int(sequence) & (slotsPerStream - 1)
    }
}
