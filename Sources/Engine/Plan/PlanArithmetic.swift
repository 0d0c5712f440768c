import Format

/// Checked arithmetic for every size the plan builder computes. Shapes and layer settings
/// come from an architecture document, which came from a file (or was built in code without
/// any parse-time limit): a product or sum that overflows is a typed error, never a trap.
enum PlanArithmetic {
    /// The number of elements of `shape`; every size must be positive.
    static func elementCount(_ shape: [Int], of what: @autoclosure () -> String) throws -> Int {
        var count = 1
        for size in shape {
            guard size > 0 else { throw EngineError.emptyOutput(what: what(), shape: shape) }
            let (product, overflow) = count.multipliedReportingOverflow(by: size)
            guard !overflow else { throw EngineError.arithmeticOverflow(what: what()) }
            count = product
        }
        return count
    }

    /// `a · b`, checked.
    static func multiply(_ a: Int, _ b: Int, _ what: @autoclosure () -> String) throws -> Int {
        let (product, overflow) = a.multipliedReportingOverflow(by: b)
        guard !overflow else { throw EngineError.arithmeticOverflow(what: what()) }
        return product
    }

    /// `a + b`, checked.
    static func add(_ a: Int, _ b: Int, _ what: @autoclosure () -> String) throws -> Int {
        let (sum, overflow) = a.addingReportingOverflow(b)
        guard !overflow else { throw EngineError.arithmeticOverflow(what: what()) }
        return sum
    }

    /// Refuses a sliding window (Conv2d, pooling) whose settings the shape rules cannot
    /// compute with: a size not positive, negative padding, or a span
    /// `size + 2·padding - dilation·(kernel - 1) - 1 (+ stride - 1)` that overflows.
    static func checkWindow(size: Int, kernel: Int, stride: Int, padding: Int, dilation: Int, module: String, type: String) throws {
        func refuse(_ why: String) -> EngineError { .unsupportedLayer(module: module, type: type, why: why) }
        guard kernel > 0 else { throw refuse("kernel size \(kernel) is not positive") }
        guard stride > 0 else { throw refuse("stride \(stride) is not positive") }
        guard dilation > 0 else { throw refuse("dilation \(dilation) is not positive") }
        guard padding >= 0 else { throw refuse("padding \(padding) is negative") }
        let what = "module '\(module.isEmpty ? "(root)" : module)' (\(type)) window"
        let doubled = try multiply(2, padding, what)
        let reach = try multiply(dilation, kernel - 1, what)
        var (span, o1) = size.addingReportingOverflow(doubled)
        var o2 = false, o3 = false
        (span, o2) = span.subtractingReportingOverflow(reach)
        (span, o3) = span.addingReportingOverflow(stride)
        guard !o1, !o2, !o3 else { throw EngineError.arithmeticOverflow(what: what) }
    }
}
