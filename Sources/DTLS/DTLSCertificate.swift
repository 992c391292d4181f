import Foundation
internal import CVCBShims

/// The bridge's DTLS identity: a certificate and its private key, held by NSS.
///
/// Immutable once made; NSS reference-counts the certificate and key and each session takes its own references
/// (`SSL_ConfigServerCert`), so one certificate may serve sessions on any thread.
public final class DTLSCertificate: @unchecked Sendable {
    let handle: OpaquePointer
    /// The certificate's DER encoding.
    public let derBytes: [UInt8]
    /// What the bridge announces in `a=fingerprint:` (``DTLSFingerprint/sdpValue``).
    public let fingerprint: DTLSFingerprint

    private init(handle: OpaquePointer) throws(DTLSError) {
        self.handle = handle
        var der: UnsafePointer<UInt8>?
        var length = 0
        vcb_dtls_identity_der(handle, &der, &length)
        derBytes = der.map { Array(UnsafeBufferPointer(start: $0, count: length)) } ?? []
        do {
            fingerprint = try DTLSFingerprint(certificateDER: derBytes)
        } catch {
            vcb_dtls_identity_free(handle)
            throw error
        }
    }

    deinit { vcb_dtls_identity_free(handle) }

    /// A new self-signed ECDSA P-256 certificate signed with ECDSA-SHA256, as WebRTC endpoints make at start.
    /// - Parameters:
    ///   - commonName: the subject's CN (at most 64 bytes).
    ///   - validDays: valid from a day ago for this many days (1...3650).
    /// - Throws: ``DTLSError`` naming the NSS failure, or ``DTLSError/invalidCertificateParameters``.
    public static func selfSigned(commonName: String = "vcbridge", validDays: Int = 365) throws(DTLSError)
        -> DTLSCertificate
    {
        guard (1...3650).contains(validDays), commonName.utf8.count <= 64, !commonName.utf8.contains(0) else {
            throw .invalidCertificateParameters
        }
        var handle: OpaquePointer?
        let status = vcb_dtls_identity_generate(commonName, Int32(validDays), &handle)
        guard status == 0, let handle else { throw DTLSError(code: status == 0 ? 1 : status) }
        return try DTLSCertificate(handle: handle)
    }

    /// A certificate and its private key from PEM text: a `CERTIFICATE` block and an unencrypted PKCS#8
    /// `PRIVATE KEY` block (what `openssl req -x509 -newkey ec ... -noenc` writes).
    /// - Throws: ``DTLSError/malformedPEM``, ``DTLSError/unsupportedPrivateKeyFormat`` (SEC1 `EC PRIVATE KEY`,
    ///   encrypted keys), ``DTLSError/keyDoesNotMatchCertificate``, or the NSS error for bad DER.
    public static func load(certificatePEM: String, privateKeyPEM: String) throws(DTLSError) -> DTLSCertificate {
        let certificate = try PEM.firstBlock(labelled: "CERTIFICATE", in: certificatePEM)
        let keyLabels = PEM.labels(in: privateKeyPEM)
        guard keyLabels.contains("PRIVATE KEY") else {
            throw keyLabels.contains(where: { $0.hasSuffix("PRIVATE KEY") }) ? .unsupportedPrivateKeyFormat : .malformedPEM
        }
        let key = try PEM.firstBlock(labelled: "PRIVATE KEY", in: privateKeyPEM)
        var handle: OpaquePointer?
        let status = certificate.withUnsafeBufferPointer { c in
            key.withUnsafeBufferPointer { k in
                vcb_dtls_identity_import(c.baseAddress, c.count, k.baseAddress, k.count, &handle)
            }
        }
        guard status == 0, let handle else { throw DTLSError(code: status == 0 ? 1 : status) }
        return try DTLSCertificate(handle: handle)
    }

    /// ``load(certificatePEM:privateKeyPEM:)`` from two files (they may be the same file).
    /// - Throws: ``DTLSError/unreadableFile`` if either cannot be read as UTF-8, else as the PEM variant.
    public static func load(certificateFile: String, privateKeyFile: String) throws(DTLSError) -> DTLSCertificate {
        guard let certificate = try? String(contentsOfFile: certificateFile, encoding: .utf8),
              let key = try? String(contentsOfFile: privateKeyFile, encoding: .utf8)
        else { throw .unreadableFile }
        return try load(certificatePEM: certificate, privateKeyPEM: key)
    }
}
