// The join page a commune's hall PC opens (join.html, join.js, join.css beside this file), compiled into the
// binary because the government network has no internet. The bridge's web listener serves them under /join/.

/// The join page's files, as embedded at build time.
public enum WebAssets {
    /// One file of the page: where the bridge serves it, its media type, its bytes.
    public struct Asset: Sendable {
        /// The URL path (`/join/` for the page itself).
        public let path: String
        /// The `Content-Type` to serve it with.
        public let contentType: String
        /// The file's bytes.
        public let bytes: [UInt8]
    }

    /// Every file of the page.
    public static let all: [Asset] = [
        Asset(path: "/join/", contentType: "text/html; charset=utf-8", bytes: PackageResources.join_html),
        Asset(path: "/join/join.js", contentType: "text/javascript; charset=utf-8", bytes: PackageResources.join_js),
        Asset(path: "/join/join.css", contentType: "text/css; charset=utf-8", bytes: PackageResources.join_css),
    ]

    /// The file served at `path`, or nil when the page has none there.
    public static func asset(at path: String) -> Asset? { all.first { $0.path == path } }
}
