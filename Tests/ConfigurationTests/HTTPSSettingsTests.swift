import Testing
@testable import Configuration

/// The web listener's TLS policy: HTTPS unless on loopback; plain HTTP refused anywhere else.
@Suite("Settings: HTTPS on the web listener")
struct HTTPSSettingsTests {
    func quality(_ members: String) throws(SettingsError) -> QualitySettings {
        try Settings(merging: Array(#"{"quality": {\#(members)}}"#.utf8), origin: "test.json").quality
    }

    @Test func theDefaultIsTLSExceptOnLoopback() throws {
        #expect(Settings.defaults.quality.httpTLS == .auto)
        #expect(Settings.defaults.quality.httpAddress == "127.0.0.1")
        #expect(!Settings.defaults.quality.httpServesTLS)
        #expect(try quality(#""httpAddress": "0.0.0.0""#).httpServesTLS)
        #expect(try quality(#""httpAddress": "192.168.1.10""#).httpServesTLS)
        #expect(!(try quality(#""httpAddress": "::1""#).httpServesTLS))
        #expect(try quality(#""httpAddress": "127.0.0.1", "httpTLS": "on""#).httpServesTLS)
        #expect(!(try quality(#""httpAddress": "::1", "httpTLS": "off""#).httpServesTLS))
    }

    @Test func plainHTTPOffLoopbackIsRefusedWithWhy() throws {
        #expect {
            try quality(#""httpAddress": "0.0.0.0", "httpTLS": "off""#)
        } throws: { error in
            "\(error)".contains("quality.httpTLS") && "\(error)".contains("only on loopback")
        }
    }

    @Test func aBadTLSModeOrAHalfConfiguredCertificateIsRefused() throws {
        #expect {
            try quality(#""httpTLS": "yes""#)
        } throws: { error in
            "\(error)".contains("'quality.httpTLS' is 'yes'")
        }
        #expect {
            try quality(#""tlsCertificateFile": "/etc/vcbridge/cert.pem""#)
        } throws: { error in
            "\(error)".contains("tlsPrivateKeyFile")
        }
        #expect(try quality(#""tlsCertificateFile": "/a/cert.pem", "tlsPrivateKeyFile": "/a/key.pem""#).tlsCertificateFile == "/a/cert.pem")
    }
}
