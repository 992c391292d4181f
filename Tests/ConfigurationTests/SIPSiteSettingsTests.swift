import Testing
@testable import Configuration

/// `sip.sites` (per-site SIP policy) and `sip.keysRequireTLS`: read, defaulted, and refused naming what is wrong.
@Suite("Settings: per-site SIP policy")
struct SIPSiteSettingsTests {
    func sip(_ members: String) throws(SettingsError) -> Settings {
        try Settings(merging: Array(#"{"sip": {\#(members)}}"#.utf8), origin: "test.json")
    }

    @Test func sitesAreReadWithTheirAddressMediaAndSignalling() throws {
        #expect(Settings.defaults.sipSites.isEmpty)
        #expect(Settings.defaults.sipKeysRequireTLS == false)
        let settings = try sip(#""keysRequireTLS": true, "sites": {"lang-cong": {"address": "127.0.0.1", "media": "rtp"}, "tam-son": {"address": "2001:DB8:0:0::7", "signalling": "tls"}}"#)
        #expect(settings.sipKeysRequireTLS)
        #expect(settings.sipSites["lang-cong"] == SIPSiteSettings(address: "127.0.0.1", media: .rtp, signalling: nil))
        // Written as the kernel writes a peer's address, so a call from it matches.
        #expect(settings.sipSites["tam-son"] == SIPSiteSettings(address: "2001:db8::7", media: .srtp, signalling: .tls))
    }

    @Test func aBadAddressAnUnknownKeyOrValueIsRefusedNamingIt() throws {
        #expect { try sip(#""sites": {"lang-cong": {"address": "hall.example"}}"#) } throws: { error in
            "\(error)".contains("'sip.sites.lang-cong'.address is 'hall.example'") && "\(error)".contains("numeric")
        }
        #expect { try sip(#""sites": {"lang-cong": {"address": "10.0.0.1:5060"}}"#) } throws: { error in
            "\(error)".contains("sip.sites.lang-cong") && "\(error)".contains("no port")
        }
        #expect { try sip(#""sites": {"lang-cong": {"adress": "10.0.0.1"}}"#) } throws: { error in
            "\(error)".contains("unknown key 'adress' in 'sip.sites.lang-cong'")
        }
        #expect { try sip(#""sites": {"lang-cong": {"media": "plain"}}"#) } throws: { error in
            "\(error)".contains("'sip.sites.lang-cong'.media is 'plain'")
        }
        #expect { try sip(#""sites": {"lang-cong": {"signalling": "sctp"}}"#) } throws: { error in
            "\(error)".contains("'sip.sites.lang-cong'.signalling is 'sctp'")
        }
        #expect { try sip(#""sites": {"a": {"address": "10.0.0.1"}, "b": {"address": "10.0.0.1"}}"#) } throws: { error in
            "\(error)".contains("also the address of 'a'")
        }
        #expect { try sip(#""sites": ["lang-cong"]"#) } throws: { error in "\(error)".contains("'sip.sites' must be an object") }
        #expect { try sip(#""keysRequireTLS": "yes""#) } throws: { error in "\(error)".contains("sip.keysRequireTLS") }
    }
}
