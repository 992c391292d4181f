internal import CVCBShims

/// What a TLS listener serves: the certificate and key (the same ``DTLSCertificate`` the bridge announces for
/// DTLS), configured once into an NSS model socket that every ``TLSServerConnection`` copies. TLS 1.2 and 1.3, no
/// client certificate, no session cache or tickets, no renegotiation.
///
/// Immutable once made; connections on any thread may use it.
public final class TLSServerContext: @unchecked Sendable {
    let handle: OpaquePointer
    /// The certificate clients are shown (its ``DTLSCertificate/fingerprint`` is what to pin or compare).
    public let certificate: DTLSCertificate

    /// - Throws: ``TLSError`` naming the NSS failure.
    public init(certificate: DTLSCertificate) throws(TLSError) {
        var handle: OpaquePointer?
        let status = vcb_tls_listener_create(certificate.handle, &handle)
        guard status == 0, let handle else { throw TLSError(code: status == 0 ? 1 : status) }
        self.handle = handle
        self.certificate = certificate
    }

    deinit { vcb_tls_listener_free(handle) }
}
