// swift-tools-version:6.0
// vcbridge: video-conference bridge and meeting scheduler.
// No Swift package dependencies: Foundation, Dispatch and system C libraries only.
import PackageDescription

let package = Package(
    name: "vcbridge",
    products: [
        .executable(name: "vcbridge", targets: ["vcbridge"]),
    ],
    targets: [
        // System C libraries (Debian: libopus-dev, libsrtp2-dev, libnss3-dev).
        .systemLibrary(name: "COpus", pkgConfig: "opus", providers: [.apt(["libopus-dev"])]),
        .systemLibrary(name: "CSRTP", pkgConfig: "libsrtp2", providers: [.apt(["libsrtp2-dev"])]),
        .systemLibrary(name: "CNSS", pkgConfig: "nss", providers: [.apt(["libnss3-dev"])]),
        // What Swift cannot call directly: variadic Opus ctls, recvmmsg/sendmmsg, NSS HMAC.
        .target(
            name: "CVCBShims",
            dependencies: ["COpus", "CNSS"],
            cSettings: [.define("_GNU_SOURCE")]
        ),

        // Packet formats and RFC 3550 arithmetic: pure Swift, no Foundation.
        .target(name: "RTP"),
        // libsrtp2 session owner.
        .target(name: "SRTP", dependencies: ["CSRTP"]),
        // HMAC-SHA-256 (NSS), HKDF (RFC 5869), system CSPRNG, MD5/SHA-256 digests (NSS).
        .target(name: "KeyDerivation", dependencies: ["CVCBShims"]),
        // DTLS-SRTP server (RFC 5764) on NSS libssl3: certificates, fingerprints, sessions over datagrams the owner carries;
        // the TLS server connection the web listener serves HTTPS with (same NSS, same certificate).
        .target(name: "DTLS", dependencies: ["CVCBShims", "SRTP", "Transport"]),
        // libopus encoder/decoder owners.
        .target(name: "OpusCodec", dependencies: ["COpus", "CVCBShims"]),

        // Video RTP payload formats (VP8, H.264): frames and keyframes; IVF and Annex B files.
        .target(name: "VideoFormats"),
        // Video forwarding: presenter and speaker streams, keyframe switching, request throttling, NACK cache, limits.
        .target(name: "VideoRouter", dependencies: ["RTP", "VideoFormats"]),

        // SDP (RFC 8866): parsing any offer, writing descriptions; the WebRTC answer the bridge gives browsers.
        .target(name: "SDP"),

        // UDP sockets with batched I/O (recvmmsg/sendmmsg).
        .target(name: "Transport", dependencies: ["CVCBShims"]),
        // Adaptive jitter buffer for 20 ms audio frames.
        .target(name: "JitterBuffer", dependencies: ["RTP"]),
        // Playout of decoded audio: NetEq-class time-stretching (accelerate / preemptive expand by one pitch period).
        .target(name: "Playout"),
        // ICE-lite for WebRTC peers: STUN messages (RFC 5389), checks and consent (RFC 8445 §2.5, RFC 7675), RFC 7983 demultiplexing.
        .target(name: "ICE", dependencies: ["KeyDerivation", "Transport"]),
        // A directory's entries synced to disk (the booking journal and the key files share it).
        .target(name: "FileSync"),
        // Site secrets and the join exchange (HKDF-derived SRTP keys, mutual HMAC proofs).
        .target(name: "Admission", dependencies: ["KeyDerivation", "FileSync"]),
        // SIP (RFC 3261) protocol layer without sockets: messages, stream framing, transactions, dialogs, session
        // timers (RFC 4028), digest authentication (RFC 7616/8760). Time is passed in.
        .target(name: "SIP", dependencies: ["KeyDerivation"]),
        // Talker selection, mix-minus, limiter and shared encoding.
        .target(name: "Mixer", dependencies: ["OpusCodec", "VoiceCodecs"]),
        // The E-model MOS estimate and quality grades (for technicians' views).
        .target(name: "QualityModel"),
        // Monitoring: a small HTTP server, Prometheus text, the technicians' status page.
        .target(name: "Monitoring", dependencies: ["Transport", "DTLS"]),
        // Test and diagnostic signals (tones, Goertzel detection, levels).
        .target(name: "AudioSignal"),
        // The room systems' voice codecs in Swift: G.722, G.711 A-law/µ-law, 48 kHz <-> 16/8 kHz conversion,
        // 20 ms frames at 48 kHz in and out with loss concealment. Standard library only.
        .target(name: "VoiceCodecs"),

        // The embedded default configuration: the files of Config/ compiled into the binary.
        .target(
            name: "EmbeddedConfig", path: "Config", exclude: ["README.md"],
            resources: [.embedInCode("sites.tsv"), .embedInCode("sites-phutho-2025.tsv"), .embedInCode("vcbridge.json")]
        ),
        // The room PC's join page (HTML, JavaScript, CSS) compiled into the binary: the bridge serves it at /join/.
        .target(name: "WebAssets", resources: [.embedInCode("join.html"), .embedInCode("join.js"), .embedInCode("join.css")]),
        // Dates, times, zones and durations as secretariats type them (Vietnam is UTC+7).
        .target(name: "CivilTime"),
        // Settings: the embedded defaults with an override file on top.
        .target(name: "Configuration", dependencies: ["EmbeddedConfig", "CivilTime"]),
        // The 147 sites of the network as a tree, with search.
        .target(name: "SiteDirectory", dependencies: ["EmbeddedConfig"]),

        // Bookings: recurrence, conflicts, priority, the durable journal.
        .target(name: "Scheduler", dependencies: ["SiteDirectory", "CivilTime", "FileSync"]),

        // The bridge: media thread (SRTP, jitter buffers, mixer), join listener, schedule follower, control socket.
        .target(
            name: "Bridge",
            dependencies: ["Admission", "AudioSignal", "Configuration", "JitterBuffer", "Mixer", "OpusCodec", "RTP", "SRTP",
                           "Scheduler", "SiteDirectory", "Transport", "CivilTime", "KeyDerivation", "VideoRouter", "VideoFormats", "QualityModel", "Monitoring",
                           "ICE", "DTLS", "SDP", "SIP", "WebAssets", "Playout", "VoiceCodecs"]
        ),

        // Seeded loss / delay / jitter / duplication, and the UDP relay that applies them.
        .target(name: "Impairment", dependencies: ["Transport"]),
        // The reference endpoint a technician uses to test a room's link.
        .target(
            name: "Endpoint",
            dependencies: ["Admission", "AudioSignal", "DTLS", "ICE", "JitterBuffer", "KeyDerivation", "OpusCodec", "RTP", "SDP",
                           "SRTP", "Transport", "VideoFormats", "SIP", "VoiceCodecs"]
        ),

        // Command line.
        .target(
            name: "VCBridgeCLI",
            dependencies: ["RTP", "SRTP", "KeyDerivation", "OpusCodec", "AudioSignal", "Configuration", "SiteDirectory",
                           "Scheduler", "CivilTime", "Admission", "Bridge", "DTLS", "Endpoint", "Transport", "Impairment",
                           "QualityModel", "VideoFormats", "SDP"]
        ),
        .executableTarget(name: "vcbridge", dependencies: ["VCBridgeCLI"]),

        // Benchmarks (run by Scripts/, never by the test suite).
        .executableTarget(
            name: "vcbridge-bench",
            dependencies: ["RTP", "SRTP", "Scheduler", "SiteDirectory", "CivilTime", "OpusCodec", "AudioSignal", "Transport",
                           "Endpoint", "VoiceCodecs", "Mixer", "JitterBuffer", "Playout"]
        ),

        .testTarget(name: "RTPTests", dependencies: ["RTP"], exclude: ["Fixtures"]),
        .testTarget(name: "VideoFormatsTests", dependencies: ["VideoFormats"]),
        .testTarget(name: "SDPTests", dependencies: ["SDP"], exclude: ["Fixtures"]),
        .testTarget(name: "VideoRouterTests", dependencies: ["VideoRouter", "VideoFormats", "RTP", "SRTP"]),
        .testTarget(name: "SRTPTests", dependencies: ["SRTP", "RTP"]),
        .testTarget(name: "KeyDerivationTests", dependencies: ["KeyDerivation"]),
        .testTarget(name: "AdmissionTests", dependencies: ["Admission"], exclude: ["Fixtures"]),
        .testTarget(name: "SIPTests", dependencies: ["SIP", "KeyDerivation"]),
        .testTarget(name: "ICETests", dependencies: ["ICE", "KeyDerivation", "Transport"]),
        .testTarget(name: "DTLSTests", dependencies: ["DTLS", "SRTP", "Transport"]),
        .testTarget(name: "OpusCodecTests", dependencies: ["OpusCodec", "AudioSignal"]),
        .testTarget(name: "VoiceCodecsTests", dependencies: ["VoiceCodecs", "AudioSignal"]),
        .testTarget(name: "CivilTimeTests", dependencies: ["CivilTime"]),
        .testTarget(name: "ConfigurationTests", dependencies: ["Configuration"]),
        .testTarget(name: "SchedulerTests", dependencies: ["Scheduler"], exclude: ["Journals"]),
        .testTarget(name: "SiteDirectoryTests", dependencies: ["SiteDirectory"]),
        .testTarget(name: "JitterBufferTests", dependencies: ["JitterBuffer"]),
        .testTarget(name: "PlayoutTests", dependencies: ["Playout", "AudioSignal", "JitterBuffer"]),
        .testTarget(name: "MixerTests", dependencies: ["Mixer", "OpusCodec", "AudioSignal", "VoiceCodecs"]),
        .testTarget(name: "ImpairmentTests", dependencies: ["Impairment"]),
        .testTarget(name: "QualityModelTests", dependencies: ["QualityModel", "JitterBuffer", "RTP"]),
        .testTarget(name: "MonitoringTests", dependencies: ["Monitoring", "Transport", "DTLS"]),
        .testTarget(name: "TransportTests", dependencies: ["Transport"]),
        .testTarget(name: "EndpointTests", dependencies: ["Endpoint", "RTP", "VideoFormats"]),
        .testTarget(
            name: "VCBridgeCLITests",
            dependencies: ["VCBridgeCLI", "vcbridge", "Scheduler", "SiteDirectory", "Admission", "SRTP", "RTP", "Transport",
                           "KeyDerivation", "AudioSignal", "VideoFormats", "Monitoring", "ICE", "DTLS", "Endpoint", "SIP", "VoiceCodecs", "OpusCodec"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
