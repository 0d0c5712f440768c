import Foundation

/// A tensor held in host memory: little-endian elements in C (row-major) order.
///
/// `data` may be a slice of a memory-mapped file; nothing here copies it.
public struct Tensor: Sendable {
    /// The element type. Fixed at creation, like `shape` and `data`: the initialiser's size
    /// check is what makes `elementCount` safe to compute without overflow checks.
    public private(set) var dtype: DType
    /// Dimensions, outermost first; their product is known not to overflow.
    public private(set) var shape: [Int]
    /// Exactly `dtype.size x elementCount` bytes.
    public private(set) var data: Data

    /// Creates a tensor after checking that `data` holds exactly `dtype x shape` bytes.
    public init(dtype: DType, shape: [Int], data: Data) throws {
        let expected = try Tensor.byteCount(dtype: dtype, shape: shape)
        guard data.count == expected else {
            throw FormatError(.malformed(what: "tensor data", detail: "it holds \(data.count) bytes, but \(dtype.rawValue)\(Tensor.describe(shape)) needs \(expected)"))
        }
        self.dtype = dtype
        self.shape = shape
        self.data = data
    }

    /// The number of elements (checked when the tensor was made, so it cannot overflow here).
    public var elementCount: Int { data.count / dtype.size }

    /// Number of elements of `shape`, refusing negative dimensions and overflow.
    public static func elementCount(_ shape: [Int]) throws -> Int {
        var count = 1
        for dim in shape {
            guard dim >= 0 else {
                throw FormatError(.invalidValue(field: "a dimension of shape \(describe(shape))", value: "\(dim)", expected: "a non-negative size"))
            }
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            guard !overflow else { throw FormatError(.arithmeticOverflow(what: "the element count of shape \(describe(shape))")) }
            count = product
        }
        return count
    }

    /// Bytes needed by `dtype x shape`, refusing overflow.
    public static func byteCount(dtype: DType, shape: [Int]) throws -> Int {
        let (bytes, overflow) = try elementCount(shape).multipliedReportingOverflow(by: dtype.size)
        guard !overflow else { throw FormatError(.arithmeticOverflow(what: "the byte size of \(dtype.rawValue)\(describe(shape))")) }
        return bytes
    }

    /// `[2, 3]` as people read it.
    public static func describe(_ shape: [Int]) -> String {
        "[" + shape.map(String.init).joined(separator: ", ") + "]"
    }
}

/// A tensor with the names it is known by. Tied parameters share one `Tensor`
/// and list every name after the first in `aliases`.
public struct NamedTensor: Sendable {
    public var name: String
    public var aliases: [String]
    public var tensor: Tensor

    public init(name: String, aliases: [String] = [], tensor: Tensor) {
        self.name = name
        self.aliases = aliases
        self.tensor = tensor
    }

    public var allNames: [String] { [name] + aliases }
}
