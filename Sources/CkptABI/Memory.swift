import Foundation
import Format

/// The version of this ABI (spec/ABI.md): raised when an entry point changes or goes, so
/// that a caller built for another can refuse to load it.
@_cdecl("ckpt_abi_version")
public func ckpt_abi_version() -> Int32 { 1 }

/// Frees a buffer this library returned (a message, a JSON text). NULL is allowed.
@_cdecl("ckpt_free")
public func ckpt_free(_ pointer: UnsafeMutableRawPointer?) {
    free(pointer)
}

/// The caller's NUL-terminated UTF-8 text, or an `ABIError` naming the argument.
func text(_ pointer: UnsafePointer<CChar>?, _ argument: String) throws -> String {
    guard let pointer else { throw ABIError(detail: "\(argument) is NULL") }
    guard let value = String(validatingCString: pointer) else { throw ABIError(detail: "\(argument) is not UTF-8") }
    return value
}

/// Optional text: NULL is nil.
func optionalText(_ pointer: UnsafePointer<CChar>?, _ argument: String) throws -> String? {
    guard pointer != nil else { return nil }
    return try text(pointer, argument)
}

/// Hands `bytes` to the caller as a malloc'd NUL-terminated string in `*out` (freed with
/// `ckpt_free`); nil bytes give NULL.
func hand(_ bytes: Data?, to out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) throws {
    guard let out else { throw ABIError(detail: "the output pointer is NULL") }
    guard let bytes else {
        out.pointee = nil
        return
    }
    guard let buffer = malloc(bytes.count + 1)?.assumingMemoryBound(to: CChar.self) else {
        throw FormatError(.allocationFailed(what: "a result text", bytes: UInt64(bytes.count + 1)))
    }
    bytes.withUnsafeBytes { raw in
        if let base = raw.baseAddress { memcpy(buffer, base, bytes.count) }
    }
    buffer[bytes.count] = 0
    out.pointee = buffer
}
