import Endpoint
import Testing

/// The packet dumps the delay and quality benchmarks read: a line written is read back as it was,
/// and anything else is refused rather than misread.
@Suite struct AudioPacketRecordTests {
    @Test func aLineReadsBackAsWritten() {
        let record = AudioPacketRecord(sequence: 65_535, timestamp: 4_294_967_295, payload: [0x00, 0x7f, 0xab, 0xff], at: 1_234_567_890_123)
        #expect(record.line == "65535 4294967295 007fabff 1234567890123")
        #expect(AudioPacketRecord(line: Substring(record.line)) == record)
        #expect(AudioPacketRecord(line: "1 2 ABCD 3")?.payload == [0xab, 0xcd])
    }

    @Test(arguments: ["", "1 2 abc 3", "1 2 zz 3", "65536 2 00 3", "1 4294967296 00 3", "1 2 00", "1 2 00 x", "1 2 00 3 4", "-1 2 00 3"])
    func malformedLinesAreRefused(line: String) {
        #expect(AudioPacketRecord(line: Substring(line)) == nil)
    }
}
