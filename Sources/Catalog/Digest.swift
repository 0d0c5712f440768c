import Crypto
import Foundation
import Format

/// The names things get in the store. All are lowercase hex SHA-256; the exact bytes
/// hashed are given in spec/CATALOG.md so that another implementation names alike.
public enum Digest {
    /// An object's name: SHA-256 over `"<dtype> [d0,d1,...]\n"` then the decoded element
    /// bytes. Dtype and shape are part of it so that equal bytes read as different
    /// tensors (a [4] f32 and a [2, 2] f32, or f32 against i32) are different objects.
    public static func object(_ tensor: Tensor) -> String {
        var hasher = SHA256()
        hasher.update(data: Data(objectHeader(dtype: tensor.dtype, shape: tensor.shape).utf8))
        tensor.data.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        return hex(hasher.finalize())
    }

    static func objectHeader(dtype: DType, shape: [Int]) -> String {
        "\(dtype.rawValue) [\(shape.map(String.init).joined(separator: ","))]\n"
    }

    public static func sha256(_ data: Data) -> String {
        hex(SHA256.hash(data: data))
    }

    /// What a version holds, independent of where it sits in history: two saves of the
    /// same checkpoint have the same content digest.
    /// `structure` (its encoded bytes) enters only when there is one, so the digest of a
    /// flat version is what it was before structures existed.
    static func content(tensors: [TensorEntry], architecture: Data?, metadata: Data?, probes: [ProbeEntry], structure: Data? = nil) -> String {
        var text = "ckpt-version-content 1\n"
        for tensor in tensors {
            text += "tensor \(field(tensor.name)) \(tensor.aliases.count)"
            for alias in tensor.aliases { text += " \(field(alias))" }
            text += " \(tensor.object)\n"
        }
        text += "architecture \(architecture.map(sha256) ?? "-")\n"
        text += "metadata \(metadata.map(sha256) ?? "-")\n"
        for probe in probes {
            // Tolerances by bit pattern: no float formatting can change the digest.
            text += "probe \(field(probe.name)) \(probe.origin.rawValue) \(String(probe.rtol.bitPattern, radix: 16)) \(String(probe.atol.bitPattern, radix: 16))"
            text += " in " + probe.inputs.map(\.object).joined(separator: ",")
            text += " out " + probe.outputs.map(\.object).joined(separator: ",") + "\n"
        }
        if let structure { text += "structure \(sha256(structure))\n" }
        return sha256(Data(text.utf8))
    }

    /// A version's identity: its content and its place in history, as a git commit id.
    static func version(content: String, model: String, number: Int, parents: [String], createdMilliseconds: Int64, message: String) -> String {
        var text = "ckpt-version 1\ncontent \(content)\nmodel \(field(model))\nnumber \(number)\n"
        for parent in parents { text += "parent \(parent)\n" }
        text += "time \(createdMilliseconds)\nmessage \(field(message))\n"
        return sha256(Data(text.utf8))
    }

    /// A length-prefixed string, so no name can forge a field boundary.
    private static func field(_ text: String) -> String { "\(text.utf8.count):\(text)" }

    private static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func isHex(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
}
