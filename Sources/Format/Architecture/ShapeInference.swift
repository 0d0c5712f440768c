/// Shapes through the tree: every module's output shape for a given input shape, and the
/// lazy sizes (`in_features` left out, like LazyLinear) that those shapes imply.
public struct ShapeTrace: Sendable {
    /// The input shape given.
    public var input: [Int]
    /// The network's output shape.
    public var output: [Int]
    /// Output shape of each module by path (a Shared target's entry is its last use).
    public var outputs: [String: [Int]]
    /// Layers whose lazy sizes the shapes filled in, keyed by document origin.
    var resolutions: [[Int]: Layer]
}

extension ModuleTree {
    /// Infers every module's output shape for `input` (batch axis included). Lazy sizes are
    /// taken from the shapes; given sizes must agree with them.
    public func traceShapes(input: [Int]) throws -> ShapeTrace {
        var inference = ShapeInference(tree: self)
        do {
            let output = try inference.infer(root, input: input)
            return ShapeTrace(input: input, output: output, outputs: inference.outputs, resolutions: inference.resolved)
        } catch let stop as OpaqueShapeStop {
            throw stop.error
        }
    }

    /// As `traceShapes`, but an Opaque module only ends the trace: the shapes and lazy sizes
    /// found before it are kept, and `stoppedAt` says why it ended.
    public func traceShapesUntilOpaque(input: [Int]) throws -> (trace: ShapeTrace, stoppedAt: FormatError?) {
        var inference = ShapeInference(tree: self)
        do {
            let output = try inference.infer(root, input: input)
            return (ShapeTrace(input: input, output: output, outputs: inference.outputs, resolutions: inference.resolved), nil)
        } catch let stop as OpaqueShapeStop {
            return (ShapeTrace(input: input, output: [], outputs: inference.outputs, resolutions: inference.resolved), stop.error)
        }
    }
}

/// Shapes cannot be followed through an Opaque module.
struct OpaqueShapeStop: Error {
    var error: FormatError
}

struct ShapeInference {
    let tree: ModuleTree
    var resolved: [[Int]: Layer] = [:]
    var outputs: [String: [Int]] = [:]

    mutating func infer(_ module: ExpandedModule, input: [Int]) throws -> [Int] {
        let target = tree.effective(module)
        let layer = resolved[target.origin] ?? target.layer
        let context = "module '\(ArchitectureParser.displayPath(module.path))' (\(layer.type.rawValue))"
        let output: [Int]
        switch layer {
        case .sequential, .repeated:
            var shape = input
            for child in target.children { shape = try infer(child, input: shape) }
            output = shape
        case .parallel(let axis):
            guard !target.children.isEmpty else {
                throw FormatError(.context(context, .invalidValue(field: "children", value: "none", expected: "at least one module")))
            }
            var parts: [[Int]] = []
            for child in target.children { parts.append(try infer(child, input: input)) }
            output = try ShapeRules.concatenate(parts, axis: axis, context: context)
        case .opaque(let config):
            throw OpaqueShapeStop(error: FormatError(.refused(what: "shape inference past \(context)", why: "an Opaque module (class \(config.className)) has no known output")))
        case .shared:
            throw FormatError(.context(context, .refused(what: "its target", why: "a Shared target must not be Shared")))
        default:
            let (resolvedLayer, shape) = try ShapeRules.leaf(layer, input: input, context: context)
            if resolvedLayer != layer { resolved[target.origin] = resolvedLayer }
            output = shape
        }
        outputs[module.path] = output
        return output
    }
}

/// The output shape of each leaf type, following PyTorch's own formulas.
public enum ShapeRules {
    /// Returns the layer with any lazy size filled in from `input`, and the output shape.
    /// The input may come from a file or a command line: it is checked against
    /// `ArchitectureLimits` first and every size is computed with checked arithmetic, so
    /// the output shape is again within the limits (safe to multiply).
    public static func leaf(_ layer: Layer, input: [Int], context: String) throws -> (Layer, [Int]) {
        do {
            _ = try ArchitectureLimits.checkedElements(input, what: "the input")
            let (resolved, output) = try unchecked(layer, input: input, context: context)
            _ = try ArchitectureLimits.checkedElements(output, what: "the output")
            return (resolved, output)
        } catch let error as FormatError {
            if case .context = error.reason { throw error }
            throw error.within(context)
        }
    }

    private static func unchecked(_ layer: Layer, input: [Int], context: String) throws -> (Layer, [Int]) {
        func fail(_ message: String) -> FormatError {
            FormatError(.context(context, .incompatibleShape(input: input, detail: message)))
        }
        switch layer {
        case .linear(var config):
            guard let features = input.last else { throw fail("needs at least one axis") }
            if let given = config.inFeatures, given != features { throw fail("expects \(given) input features, got \(features)") }
            config.inFeatures = features
            return (.linear(config), input.dropLast() + [config.outFeatures])
        case .conv2d(var config):
            guard input.count == 3 || input.count == 4 else { throw fail("expects [N, C, H, W] or [C, H, W]") }
            let channels = input[input.count - 3]
            if let given = config.inChannels, given != channels { throw fail("expects \(given) input channels, got \(channels)") }
            guard channels % config.groups == 0 else { throw fail("\(channels) input channels are not divisible by groups \(config.groups)") }
            config.inChannels = channels
            let h = try convolutionOutput(input[input.count - 2], kernel: config.kernelSize.h, stride: config.stride.h,
                                          padding: config.padding.h, dilation: config.dilation.h)
            let w = try convolutionOutput(input[input.count - 1], kernel: config.kernelSize.w, stride: config.stride.w,
                                          padding: config.padding.w, dilation: config.dilation.w)
            guard h >= 1, w >= 1 else { throw fail("the input is smaller than the kernel") }
            return (.conv2d(config), input.dropLast(3) + [config.outChannels, h, w])
        case .maxPool2d(let config), .avgPool2d(let config):
            guard input.count == 3 || input.count == 4 else { throw fail("expects [N, C, H, W] or [C, H, W]") }
            let h = try poolOutput(input[input.count - 2], kernel: config.kernelSize.h, stride: config.stride.h, padding: config.padding.h,
                                   dilation: config.dilation.h, ceilMode: config.ceilMode)
            let w = try poolOutput(input[input.count - 1], kernel: config.kernelSize.w, stride: config.stride.w, padding: config.padding.w,
                                   dilation: config.dilation.w, ceilMode: config.ceilMode)
            guard h >= 1, w >= 1 else { throw fail("the input is smaller than the pooling window") }
            return (layer, input.dropLast(2) + [h, w])
        case .adaptiveAvgPool2d(let size):
            guard input.count == 3 || input.count == 4 else { throw fail("expects [N, C, H, W] or [C, H, W]") }
            return (layer, input.dropLast(2) + [size[0] ?? input[input.count - 2], size[1] ?? input[input.count - 1]])
        case .batchNorm1d(var config), .batchNorm2d(var config):
            let is1d: Bool
            if case .batchNorm1d = layer { is1d = true } else { is1d = false }
            if is1d { guard input.count == 2 || input.count == 3 else { throw fail("expects [N, C] or [N, C, L]") } }
            else { guard input.count == 4 else { throw fail("expects [N, C, H, W]") } }
            let channels = input[1]
            if let given = config.numFeatures, given != channels { throw fail("expects \(given) features, got \(channels)") }
            config.numFeatures = channels
            return (is1d ? .batchNorm1d(config) : .batchNorm2d(config), input)
        case .layerNorm(let config):
            guard input.count >= config.normalizedShape.count,
                  Array(input.suffix(config.normalizedShape.count)) == config.normalizedShape else {
                throw fail("normalized_shape \(Tensor.describe(config.normalizedShape)) is not the input's trailing shape")
            }
            return (layer, input)
        case .dropout, .identity, .activation:
            return (layer, input)
        case .flatten(let startDim, let endDim):
            let rank = max(input.count, 1)
            let start = startDim < 0 ? startDim + rank : startDim
            let end = endDim < 0 ? endDim + rank : endDim
            guard start >= 0, end < rank, start <= end else { throw fail("cannot flatten axes \(startDim)...\(endDim)") }
            if input.isEmpty { return (layer, [1]) }
            let merged = try ArchitectureLimits.checkedElements(Array(input[start ... end]), what: "the flattened axes")
            return (layer, Array(input[..<start]) + [merged] + Array(input[(end + 1)...]))
        case .softmax(let dim):
            guard (-input.count ..< input.count).contains(dim) else { throw fail("dim \(dim) is out of range") }
            return (layer, input)
        case .tensorReduction(let inFeatures, let outFeatures):
            guard input.count == 2 else { throw fail("expects [N, features]") }
            if let given = inFeatures, given != input[1] { throw fail("expects \(given) input features, got \(input[1])") }
            return (.tensorReduction(inFeatures: input[1], outFeatures: outFeatures), [input[0], outFeatures])
        case .fourierHalf:
            guard let n = input.last, n >= 2 else { throw fail("needs a last axis of at least 2") }
            return (layer, input.dropLast() + [2 * (n / 2)])
        case .sequential, .parallel, .repeated, .shared, .opaque:
            throw FormatError(.context(context, .malformed(what: "module", detail: "not a leaf")))
        }
    }

    /// Shapes joined on `axis` (negative counts from the end); all other axes must agree.
    public static func concatenate(_ parts: [[Int]], axis: Int, context: String) throws -> [Int] {
        let rank = parts[0].count
        let dim = axis < 0 ? axis + rank : axis
        guard dim >= 0, dim < rank else {
            throw FormatError(.context(context, .invalidValue(field: "dim", value: "\(axis)", expected: "an axis of rank \(rank) (out of range)")))
        }
        var output = parts[0]
        for part in parts.dropFirst() {
            var a = part, b = parts[0]
            guard a.count == rank else {
                throw FormatError(.context(context, .malformed(what: "children", detail: "they give outputs of different ranks")))
            }
            a[dim] = 0
            b[dim] = 0
            guard a == b else {
                throw FormatError(.context(context, .malformed(what: "children", detail: "cannot concatenate \(parts.map(Tensor.describe).joined(separator: " and ")) on dim \(axis)")))
            }
            let (sum, overflow) = output[dim].addingReportingOverflow(part[dim])
            guard !overflow else { throw FormatError(.context(context, .arithmeticOverflow(what: "the concatenated size"))) }
            output[dim] = sum
        }
        return output
    }

    /// torch's conv output size: floor((in + 2p - d(k-1) - 1) / s) + 1; 0 when the input is
    /// smaller than the dilated kernel. Checked arithmetic: any value may come from a file.
    public static func convolutionOutput(_ size: Int, kernel: Int, stride: Int, padding: Int, dilation: Int) throws -> Int {
        let span = try Checked.sum([size, Checked.product(2, padding), -Checked.product(dilation, kernel - 1), -1])
        guard stride >= 1 else { throw FormatError(.invalidValue(field: "stride", value: "\(stride)", expected: "a positive integer")) }
        return span < 0 ? 0 : span / stride + 1
    }

    /// torch's pooling_output_shape: with ceil_mode the last window must still start inside
    /// the input or its left padding. Checked arithmetic, as `convolutionOutput`.
    public static func poolOutput(_ size: Int, kernel: Int, stride: Int, padding: Int, dilation: Int, ceilMode: Bool) throws -> Int {
        guard stride >= 1 else { throw FormatError(.invalidValue(field: "stride", value: "\(stride)", expected: "a positive integer")) }
        let span = try Checked.sum([size, Checked.product(2, padding), -Checked.product(dilation, kernel - 1), -1, ceilMode ? stride - 1 : 0])
        if span < 0 { return 0 }
        var output = span / stride + 1
        if ceilMode, try Checked.product(output - 1, stride) >= Checked.sum([size, padding]) { output -= 1 }
        return output
    }
}

/// Overflow-checked sums and products for sizes: an overflow is `arithmeticOverflow`, never a trap.
enum Checked {
    static func sum(_ terms: [Int]) throws -> Int {
        var total = 0
        for term in terms {
            let (next, overflow) = total.addingReportingOverflow(term)
            guard !overflow else { throw FormatError(.arithmeticOverflow(what: "a size")) }
            total = next
        }
        return total
    }

    static func product(_ a: Int, _ b: Int) throws -> Int {
        let (result, overflow) = a.multipliedReportingOverflow(by: b)
        guard !overflow else { throw FormatError(.arithmeticOverflow(what: "a size")) }
        return result
    }
}
