// Shared by every fuzz target (compiled into each one; see Scripts/fuzz.sh and Tests/Fuzz/README.md).

/// Stops the run with a message when a parser breaks its contract: libFuzzer keeps the input as a crash.
func require(_ holds: @autoclosure () -> Bool, _ what: @autoclosure () -> String) {
    if !holds() { fatalError("contract broken: \(what())") }
}

/// The input as text, as a socket's bytes reach a text parser (invalid UTF-8 repaired, as the callers do).
func text(_ bytes: UnsafeRawBufferPointer) -> String { String(decoding: bytes, as: UTF8.self) }

/// A typed error's description must name something: a refusal with an empty message helps nobody.
func requireNamed(_ error: some Error, _ parser: String) {
    require(!"\(error)".isEmpty, "\(parser) threw an error with an empty description")
}
