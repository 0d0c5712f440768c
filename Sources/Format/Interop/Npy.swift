import Foundation

/// numpy's `.npy` format (versions 1.0, 2.0 and 3.0): a magic string, a Python-literal
/// header dict `{'descr', 'fortran_order', 'shape'}`, then the raw elements.
public enum Npy {
    static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
    /// numpy itself refuses headers over 10,000 bytes by default; our parser is linear,
    /// so a looser bound only has to keep memory in check.
    static let maxHeaderLength = 1 << 20
    /// numpy pads headers so that the data starts on this boundary.
    static let alignment = 64
    /// numpy leaves room for this many digits in the growth axis so that appending
    /// can rewrite the header in place; matching it makes our files byte-identical.
    static let growthAxisMaxDigits = 21

    public static func read(contentsOf url: URL, budget: MemoryBudget = MemoryBudget()) throws -> Tensor {
        try read(data: InteropFile.mapped(url), budget: budget)
    }

    /// Little-endian C-order data is a zero-copy slice of `data`; other layouts are converted
    /// into memory reserved in `budget`.
    public static func read(data: Data, budget: MemoryBudget = MemoryBudget()) throws -> Tensor {
        let header = try Header(parsing: data)
        let payload = data.dropFirst(header.dataOffset)
        let expected = try Tensor.byteCount(dtype: header.dtype, shape: header.shape)
        guard payload.count >= expected else {
            throw FormatError(.truncated(what: "the data of \(header.descr)\(Tensor.describe(header.shape))", needed: UInt64(expected),
                                         available: UInt64(payload.count)))
        }
        guard payload.count == expected else {
            throw Fault.malformed("the array data", "\(payload.count - expected) unexpected bytes follow it")
        }
        var elements = payload
        if header.fortranOrder {
            elements = try ElementBytes.cOrder(fromFortran: elements, shape: header.shape, elementSize: header.dtype.size, budget: budget)
        }
        if header.bigEndian {
            elements = try ElementBytes.byteSwapped(elements, unit: header.dtype.swapUnit, budget: budget,
                                                    what: "a big-endian array of \(elements.count) bytes")
        }
        return try Tensor(dtype: header.dtype, shape: header.shape, data: elements)
    }

    /// A version 1.0 file exactly as `numpy.save` writes it.
    public static func encode(_ tensor: Tensor) throws -> Data {
        guard let descr = tensor.dtype.npyDescr else {
            throw Fault.refused("a \(tensor.dtype.rawValue) tensor as .npy", "numpy has no dtype for \(tensor.dtype.rawValue); save it as safetensors or .ckpt instead")
        }
        let expected = try Tensor.byteCount(dtype: tensor.dtype, shape: tensor.shape)
        guard tensor.data.count == expected else {
            throw FormatError(.truncated(what: "tensor data of \(descr)\(Tensor.describe(tensor.shape))", needed: UInt64(expected),
                                         available: UInt64(tensor.data.count)))
        }
        let shape: String
        switch tensor.shape.count {
        case 0: shape = "()"
        case 1: shape = "(\(tensor.shape[0]),)"
        default: shape = "(" + tensor.shape.map(String.init).joined(separator: ", ") + ")"
        }
        var dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shape), }"
        if let first = tensor.shape.first {
            dict += String(repeating: " ", count: max(0, growthAxisMaxDigits - String(first).count))
        }
        let prefixLength = magic.count + 2 + 2
        let padding = alignment - (prefixLength + dict.utf8.count + 1) % alignment
        guard let headerLength = UInt16(exactly: dict.utf8.count + padding + 1) else {
            throw FormatError(.limitExceeded(what: "the .npy header for shape \(Tensor.describe(tensor.shape))",
                                             value: UInt64(dict.utf8.count + padding + 1), limit: UInt64(UInt16.max)))
        }
        var data = Data(magic + [1, 0])
        data.append(contentsOf: withUnsafeBytes(of: headerLength.littleEndian, Array.init))
        data.append(contentsOf: Array(dict.utf8) + Array(repeating: UInt8(ascii: " "), count: padding) + [0x0A])
        data.append(tensor.data)
        return data
    }

    public static func write(_ tensor: Tensor, to url: URL) throws {
        try AtomicFile.write(encode(tensor), to: url)
    }

    /// What the header dict says, validated.
    struct Header {
        var descr: String
        var dtype: DType
        var bigEndian: Bool
        var fortranOrder: Bool
        var shape: [Int]
        /// Bytes from the start of the file to the first element.
        var dataOffset: Int

        init(parsing data: Data) throws {
            guard data.count >= magic.count + 2, Array(data.prefix(magic.count)) == magic else {
                throw FormatError(.unrecognisedFile(detail: "not a .npy file: missing the \\x93NUMPY magic"))
            }
            let major = data[data.startIndex + 6], minor = data[data.startIndex + 7]
            let lengthSize: Int
            switch (major, minor) {
            case (1, 0): lengthSize = 2
            case (2, 0), (3, 0): lengthSize = 4
            default: throw FormatError(.unsupportedVersion(what: ".npy format", found: "\(major).\(minor)", supported: "1.0, 2.0 and 3.0"))
            }
            let prefixLength = magic.count + 2 + lengthSize
            guard data.count >= prefixLength else {
                throw FormatError(.truncated(what: "the .npy header", needed: UInt64(prefixLength), available: UInt64(data.count)))
            }
            let headerLength = lengthSize == 2
                ? Int(data.littleEndian(UInt16.self, at: 8))
                : Int(exactly: data.littleEndian(UInt32.self, at: 8)) ?? .max
            guard headerLength <= maxHeaderLength else {
                throw FormatError(.limitExceeded(what: "the .npy header length", value: UInt64(headerLength), limit: UInt64(maxHeaderLength)))
            }
            guard headerLength <= data.count - prefixLength else {
                throw FormatError(.truncated(what: "the .npy header", needed: UInt64(headerLength), available: UInt64(data.count - prefixLength)))
            }
            let start = data.startIndex + prefixLength
            let text = Array(data[start ..< start + headerLength])
            let literal = try PythonLiteral.parse(text, latin1: major < 3)
            dataOffset = prefixLength + headerLength
            (descr, dtype, bigEndian, fortranOrder, shape) = try Self.fields(of: literal)
        }

        private static func fields(of literal: PythonLiteral) throws -> (String, DType, Bool, Bool, [Int]) {
            guard case .dict(let items) = literal else {
                throw Fault.invalid("the .npy header", literal.kindName, expected: "a dict")
            }
            var fields: [String: PythonLiteral] = [:]
            for (key, value) in items {
                guard case .string(let name) = key else { throw Fault.invalid("a .npy header key", key.kindName, expected: "a string") }
                guard ["descr", "fortran_order", "shape"].contains(name) else {
                    throw Fault.invalid("a .npy header key", "'\(name)'", expected: "'descr', 'fortran_order' or 'shape'")
                }
                guard fields.updateValue(value, forKey: name) == nil else {
                    throw FormatError(.duplicateName(kind: ".npy header key", name: name))
                }
            }
            guard let descrValue = fields["descr"], let orderValue = fields["fortran_order"], let shapeValue = fields["shape"] else {
                let missing = ["descr", "fortran_order", "shape"].filter { fields[$0] == nil }
                throw FormatError(.context("the .npy header", .notFound(kind: "key", name: missing.joined(separator: "', '"))))
            }
            let descr: String
            switch descrValue {
            case .string(let text): descr = text
            case .list: throw Fault.refused("a structured dtype (records with named fields)", "it is not supported")
            default: throw Fault.invalid("'descr'", descrValue.kindName, expected: "a dtype string")
            }
            let (dtype, bigEndian) = try parseDescr(descr)
            guard case .bool(let fortranOrder) = orderValue else {
                throw Fault.invalid("'fortran_order'", orderValue.kindName, expected: "True or False")
            }
            guard case .tuple(let dims) = shapeValue else {
                throw Fault.invalid("'shape'", shapeValue.kindName, expected: "a tuple")
            }
            let shape = try dims.map { dim -> Int in
                guard case .integer(let size) = dim else { throw Fault.invalid("a 'shape' item", dim.kindName, expected: "an integer") }
                return size
            }
            return (descr, dtype, bigEndian, fortranOrder, shape)
        }
    }

    /// The ckpt dtype and byte order of a numpy descr such as `'<f4'` or `'|b1'`.
    static func parseDescr(_ descr: String) throws -> (dtype: DType, bigEndian: Bool) {
        guard let order = descr.first, "<>=|".contains(order) else {
            throw Fault.invalid("dtype '\(descr)'", "no byte order", expected: "'<', '>', '=' or '|' first")
        }
        let code = String(descr.dropFirst())
        guard let dtype = DType.allCases.first(where: { $0.npyDescr?.dropFirst() == Substring(code) }) else {
            switch code.first {
            case "O": throw Fault.refused("object arrays ('\(descr)')", "they hold pickled Python objects")
            case "V": throw Fault.refused("void/structured dtype '\(descr)'", "it is not supported")
            case "U", "S": throw Fault.refused("string dtype '\(descr)'", "it is not supported")
            case "M", "m": throw Fault.refused("datetime dtype '\(descr)'", "it is not supported")
            default: throw FormatError(.unsupportedDType(descr))
            }
        }
        if order == "|" && dtype.size > 1 {
            throw Fault.invalid("dtype '\(descr)' byte order", "'|'", expected: "'<' or '>'")

        }
        // '=' is the writer's native order; every platform numpy writes from in practice is little-endian.
        return (dtype, order == ">" && dtype.size > 1)
    }
}

extension DType {
    /// The little-endian numpy descr, or nil where numpy has no such dtype.
    var npyDescr: String? {
        switch self {
        case .f64: return "<f8"
        case .f32: return "<f4"
        case .f16: return "<f2"
        case .i64: return "<i8"
        case .i32: return "<i4"
        case .i16: return "<i2"
        case .i8: return "|i1"
        case .u8: return "|u1"
        case .u16: return "<u2"
        case .u32: return "<u4"
        case .u64: return "<u8"
        case .bool: return "|b1"
        case .c64: return "<c8"
        case .bf16, .f8e4m3, .f8e5m2, .f8e8m0: return nil
        }
    }

    /// The width whose bytes a byte-order change reverses: a complex number is two floats.
    var swapUnit: Int { self == .c64 ? 4 : size }
}
