import Testing
@testable import SIP

@Suite("RFC 5168 media_control bodies (SIP INFO picture_fast_update)")
struct SIPMediaControlTests {
    static let rfcExample = """
    <?xml version="1.0" encoding="utf-8" ?>
    <media_control>
      <vc_primitive>
        <to_encoder>
          <picture_fast_update/>
        </to_encoder>
      </vc_primitive>
    </media_control>
    """

    @Test func theRFCsRequestAndItsVariantsAreRead() throws {
        #expect(try SIPMediaControl(parsing: Array(Self.rfcExample.utf8)).asksForPicture)
        #expect(try SIPMediaControl(parsing: Array(SIPMediaControl.pictureFastUpdateBody.utf8)).pictureFastUpdates == 1)
        let compact = "<media_control><vc_primitive><to_encoder><picture_fast_update></picture_fast_update></to_encoder>"
            + "<stream_id>1</stream_id></vc_primitive><!-- a camera --></media_control>\r\n"
        let read = try SIPMediaControl(parsing: Array(compact.utf8))
        #expect(read.pictureFastUpdates == 1 && read.streamIDs == ["1"])
        let namespaced = "<media_control xmlns='urn:example'><general_error>bad</general_error></media_control>"
        let error = try SIPMediaControl(parsing: Array(namespaced.utf8))
        #expect(!error.asksForPicture && error.generalErrors == ["bad"])
    }

    @Test(arguments: [
        ("", SIPMediaControlError.Kind.empty),
        (String(repeating: "<a>", count: 2000), .tooLarge),
        ("<media_control>\u{1}</media_control>", .notText),
        ("<media_control", .malformedMarkup),
        ("<media_control><vc_primitive><to_encoder><picture_fast_update/></to_encoder></vc_primitive>", .unclosedElement),
        ("<media_control><vc_primitive><to_encoder><picture_fast_update/><evil/></to_encoder></vc_primitive></media_control>",
         .unexpectedElement),
        ("<html/>", .unexpectedElement),
        ("<media_control><vc_primitive></to_encoder></media_control>", .mismatchedEnd),
        ("<media_control>please send a keyframe</media_control>", .textNotAllowed),
        ("<media_control><vc_primitive><to_encoder/></vc_primitive></media_control>", .incompletePrimitive),
        ("<media_control/><media_control/>", .contentAfterRoot),
        ("<media_control>" + String(repeating: "<general_error/>", count: 70) + "</media_control>", .tooManyElements),
    ])
    func refusalsNameWhatIsWrong(body: String, kind: SIPMediaControlError.Kind) {
        #expect(throws: SIPMediaControlError.self) { try SIPMediaControl(parsing: Array(body.utf8)) }
        do {
            _ = try SIPMediaControl(parsing: Array(body.utf8))
        } catch {
            #expect(error.kind == kind, "\(error)")
            #expect(error.description.hasPrefix("media_control body: "))
        }
    }

    @Test("10,000 mutated bodies: each read or refused with an error, never a trap")
    func mutations() {
        var rng = SplitMix64(seed: 0x5168)
        let seeds = [Array(Self.rfcExample.utf8), Array(SIPMediaControl.pictureFastUpdateBody.utf8)]
        let fragments: [[UInt8]] = ["<", ">", "/", "/>", "</", "<!--", "-->", "<?xml", "?>", "\"", "'", "=", "\0", " ",
                                    "<vc_primitive>", "</to_encoder>", "<picture_fast_update/>", "&amp;"].map { Array($0.utf8) }
            + [[0xFF], [0xC3, 0x28]]
        var read = 0, refused = 0
        for _ in 0..<10_000 {
            var body = seeds[Int(rng.next() % 2)]
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                let position = body.isEmpty ? 0 : Int(rng.next() % UInt64(body.count))
                switch rng.next() % 4 {
                case 0: body = Array(body.prefix(position))
                case 1: if !body.isEmpty { body[position] = UInt8(truncatingIfNeeded: rng.next()) }
                case 2: body.insert(contentsOf: fragments[Int(rng.next() % UInt64(fragments.count))], at: position)
                default: if !body.isEmpty { body.remove(at: position) }
                }
            }
            do {
                _ = try SIPMediaControl(parsing: body)
                read += 1
            } catch {
                #expect(!error.description.isEmpty)
                refused += 1
            }
        }
        #expect(read + refused == 10_000 && refused > 5_000 && read > 0, "read \(read), refused \(refused)")
    }
}
