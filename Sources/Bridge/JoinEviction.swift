/// Which unauthenticated join connection gives way when a cap on them is reached.
///
/// A connection that has its challenge has sent a valid hello and is one round trip from its
/// proof: it keeps its place until its deadline. Among those that have not (silent, a partial or
/// no line: what a flood holds), the oldest gives way; so a newcomer lives at least as long as the
/// cap's worth of newer connections takes to arrive, long enough for its hello, which a genuine
/// site sends with the connection's last handshake packet. When every candidate has its challenge,
/// none gives way: the newcomer is the one closed.
enum JoinEviction {
    /// The candidate to close, or nil when every candidate is protected.
    static func victim<C>(among candidates: some Sequence<C>, accepted: (C) -> Int64, challenged: (C) -> Bool) -> C? {
        var found: C? = nil
        var oldest = Int64.max
        for c in candidates where !challenged(c) {
            let at = accepted(c)
            if at < oldest {
                found = c
                oldest = at
            }
        }
        return found
    }
}
