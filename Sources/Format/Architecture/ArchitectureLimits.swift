/// Bounds on every number an architecture document may hold, checked when it is parsed, so
/// that the sizes of a parsed document (and of the shapes traced through it) can be
/// multiplied downstream without overflow: by a dtype's width, a batch size or an im2col
/// factor. The same numbers are in `spec/ARCH.md`, "Limits".
///
/// Each bound is far above any real network (the largest layers have ~10^5 features, the
/// deepest nest ~20 modules) and far below 2^63, so a document that passes cannot trap
/// Swift's arithmetic, ask for a 17 TB plan, or expand into millions of modules.
public enum ArchitectureLimits {
    /// Any size: features, channels, kernel, stride, padding, dilation, groups, output_size,
    /// normalized_shape entries, input_shape entries, Opaque tensor dimensions (2^31).
    public static let maxSize = 1 << 31
    /// Axes of any shape (`input_shape`, an Opaque tensor's shape, a traced shape), and the
    /// bound on `dim`, `start_dim` and `end_dim` (which may be negative: -64 ... 63).
    public static let maxRank = 64
    /// Elements of any tensor the document declares and of any shape traced through it (2^48).
    public static let maxElements = 1 << 48
    /// Copies one `Repeat` makes.
    public static let maxRepeatCount = 1 << 16
    /// Modules of the expanded tree (Repeat unrolled), all together.
    public static let maxModules = 1 << 16
    /// Nesting of modules.
    public static let maxDepth = 128
    /// Shared modules of the expanded tree. Real networks tie a handful (embeddings and
    /// heads); the aliases of every tensor are resolved against every Shared module, so
    /// this bound keeps that resolution from growing with the square of the tree.
    public static let maxSharedModules = 1024

    /// The element count of `shape` when every dimension is in `0 ... maxSize`, the rank at
    /// most `maxRank` and the product at most `maxElements`; throws otherwise. `what` names it.
    public static func checkedElements(_ shape: [Int], what: @autoclosure () -> String) throws -> Int {
        guard shape.count <= maxRank else {
            throw FormatError(.limitExceeded(what: "the rank of \(what())", value: UInt64(shape.count), limit: UInt64(maxRank)))
        }
        var count = 1
        for dim in shape {
            guard dim >= 0 else {
                throw FormatError(.invalidValue(field: "a dimension of \(what())", value: "\(dim)", expected: "a non-negative size"))
            }
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            guard !overflow, product <= maxElements else {
                throw FormatError(.limitExceeded(what: "the elements of \(what()) \(Tensor.describe(shape))", value: overflow ? .max : UInt64(product), limit: UInt64(maxElements)))
            }
            count = product
        }
        return count
    }
}
