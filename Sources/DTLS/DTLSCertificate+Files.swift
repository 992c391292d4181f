import Foundation
internal import CVCBShims

extension DTLSCertificate {
    /// The certificate and its private key as PEM text (`CERTIFICATE`, unencrypted PKCS#8 `PRIVATE KEY`), what
    /// ``load(certificatePEM:privateKeyPEM:)`` and OpenSSL read.
    /// - Throws: ``DTLSError`` naming the NSS failure if the key cannot be exported.
    public func pemEncoded() throws(DTLSError) -> (certificate: String, privateKey: String) {
        var der: UnsafeMutablePointer<UInt8>?
        var length = 0
        let status = vcb_tls_identity_export_key(handle, &der, &length)
        guard status == 0, let der else { throw DTLSError(code: status == 0 ? 1 : status) }
        defer {
            memset(der, 0, length)
            free(der)
        }
        let key = Self.pem("PRIVATE KEY", Data(bytes: der, count: length))
        return (Self.pem("CERTIFICATE", Data(derBytes)), key)
    }

    /// Writes ``pemEncoded()`` to two files, each through a temporary file renamed into place; the key readable by
    /// its owner only (0600).
    /// - Throws: ``DTLSError`` if the key cannot be exported, or the file system's error.
    public func write(certificateFile: String, privateKeyFile: String) throws {
        let (certificate, key) = try pemEncoded()
        try Self.replace(privateKeyFile, with: Data(key.utf8), permissions: 0o600)
        try Self.replace(certificateFile, with: Data(certificate.utf8), permissions: 0o644)
    }

    private static func replace(_ path: String, with contents: Data, permissions: Int) throws {
        let temporary = path + ".tmp"
        try? FileManager.default.removeItem(atPath: temporary)
        guard FileManager.default.createFile(atPath: temporary, contents: contents, attributes: [.posixPermissions: permissions]) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: temporary])
        }
        guard rename(temporary, path) == 0 else {
            let error = CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
    }

    private static func pem(_ label: String, _ der: Data) -> String {
        let base64 = Array(der.base64EncodedString().utf8)
        var text = "-----BEGIN \(label)-----\n"
        var index = 0
        while index < base64.count {
            text += String(decoding: base64[index..<min(index + 64, base64.count)], as: UTF8.self) + "\n"
            index += 64
        }
        return text + "-----END \(label)-----\n"
    }
}
