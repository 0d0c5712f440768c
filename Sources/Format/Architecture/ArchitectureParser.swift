import Foundation

/// JSON → `ArchitectureDocument`. Keys follow PyTorch's constructor arguments
/// (`in_features`, `kernel_size`, ...); an unknown key is an error, so typos do not pass silently.
///
/// Every integer is bounded as it is read (`ArchitectureLimits`: sizes and paddings at most
/// 2^31, dims within the rank bound, Repeat counts, nesting), so nothing downstream of a
/// parsed document multiplies values that came from a file without a bound.
enum ArchitectureParser {
    static func document(from value: JSONValue) throws -> ArchitectureDocument {
        guard case .object(let object) = value else {
            throw FormatError(.malformed(what: "architecture document", detail: "not a JSON object"))
        }
        var top = KeyReader(object: object, context: "architecture document")
        let version = try top.int("version")
        guard version == ArchitectureDocument.currentVersion else {
            throw FormatError(.unsupportedVersion(what: "architecture document", found: "\(version)", supported: "\(ArchitectureDocument.currentVersion)"))
        }
        let inputShape = try top.optionalIntArray("input_shape")
        if let inputShape {
            guard inputShape.allSatisfy({ $0 >= 1 }) else {
                throw top.error(.invalidValue(field: "input_shape", value: Tensor.describe(inputShape), expected: "positive sizes"))
            }
            _ = try top.checked { try ArchitectureLimits.checkedElements(inputShape, what: "input_shape") }
        }
        let description = try top.optionalString("description")
        guard let module = top.take("module") else { throw top.error(.missingField("module")) }
        try top.finish()
        let root = try node(from: module, path: "", defaultName: "", depth: 0)
        return ArchitectureDocument(root: root, inputShape: inputShape, description: description)
    }

    static func node(from value: JSONValue, path parentPath: String, defaultName: String, depth: Int) throws -> ModuleNode {
        let context = "architecture: module '\(displayPath(joinPath(parentPath, defaultName)))'"
        guard depth < ArchitectureLimits.maxDepth else {
            throw FormatError(.context(context, .tooDeep(what: "the module tree", limit: ArchitectureLimits.maxDepth)))
        }
        guard case .object(let object) = value else {
            throw FormatError(.context(context, .malformed(what: "module", detail: "not a JSON object")))
        }
        let name = object["name"]?.stringValue ?? defaultName
        let path = joinPath(parentPath, name)
        guard let typeName = object["type"]?.stringValue else {
            throw FormatError(.context("architecture: module '\(displayPath(path))'", .missingField("type")))
        }
        guard let type = LayerType(rawValue: typeName) else {
            throw FormatError(.context("architecture: module '\(displayPath(path))'",
                                       .invalidValue(field: "type", value: "'\(typeName)'",
                                                     expected: "one of \(LayerType.allCases.map(\.rawValue).joined(separator: ", ")) (Opaque for anything else)")))
        }
        var keys = KeyReader(object: object, context: "architecture: module '\(displayPath(path))' (\(typeName))")
        _ = keys.take("name")
        _ = keys.take("type")
        var children: [ModuleNode] = []
        if type.holdsChildren, let list = keys.take("children") {
            guard case .array(let items) = list else { throw keys.error(.invalidValue(field: "children", value: "not an array", expected: "an array of modules")) }
            children = try items.enumerated().map { try node(from: $0.element, path: path, defaultName: String($0.offset), depth: depth + 1) }
        }
        let layer = try self.layer(type, &keys, childCount: children.count)
        try keys.finish()
        return ModuleNode(name: name, layer: layer, children: children)
    }

    private static func layer(_ type: LayerType, _ keys: inout KeyReader, childCount: Int) throws -> Layer {
        switch type {
        case .sequential:
            return .sequential
        case .parallel:
            return .parallel(axis: try keys.dim("dim", default: 1))
        case .repeated:
            let count = try keys.positive("count")
            guard count <= ArchitectureLimits.maxRepeatCount else {
                throw keys.error(.limitExceeded(what: "count", value: UInt64(count), limit: UInt64(ArchitectureLimits.maxRepeatCount)))
            }
            guard childCount == 1 else {
                throw keys.error(.invalidValue(field: "children", value: "\(childCount) modules", expected: "exactly one, the block it repeats"))
            }
            let pattern = try keys.string("pattern", default: "{i}")
            guard pattern.contains("{i}") else { throw keys.error(.invalidValue(field: "pattern", value: "'\(pattern)'", expected: "a pattern containing {i}")) }
            return .repeated(count: count, pattern: pattern)
        case .shared:
            return .shared(target: try keys.string("target"))
        case .linear:
            return .linear(LinearConfig(inFeatures: try keys.optionalPositive("in_features"),
                                        outFeatures: try keys.positive("out_features"),
                                        bias: try keys.bool("bias", default: true)))
        case .conv2d:
            let config = Conv2dConfig(inChannels: try keys.optionalPositive("in_channels"),
                                      outChannels: try keys.positive("out_channels"),
                                      kernelSize: try keys.pair("kernel_size", minimum: 1),
                                      stride: try keys.pair("stride", default: Pair(1), minimum: 1),
                                      padding: try keys.pair("padding", default: Pair(0), minimum: 0),
                                      dilation: try keys.pair("dilation", default: Pair(1), minimum: 1),
                                      groups: try keys.positive("groups", default: 1),
                                      bias: try keys.bool("bias", default: true))
            if let inChannels = config.inChannels, inChannels % config.groups != 0 {
                throw keys.error(.invalidValue(field: "in_channels", value: "\(inChannels)", expected: "a multiple of groups \(config.groups)"))
            }
            guard config.outChannels % config.groups == 0 else {
                throw keys.error(.invalidValue(field: "out_channels", value: "\(config.outChannels)", expected: "a multiple of groups \(config.groups)"))
            }
            // The weight [out, in/groups, kh, kw] must be a size that can be multiplied safely.
            if let inChannels = config.inChannels {
                _ = try keys.checked { try ArchitectureLimits.checkedElements([config.outChannels, inChannels / config.groups, config.kernelSize.h, config.kernelSize.w], what: "the weight") }
            }
            return .conv2d(config)
        case .maxPool2d, .avgPool2d:
            let kernel = try keys.pair("kernel_size", minimum: 1)
            let stride = try keys.optionalPair("stride", minimum: 1) ?? kernel
            let padding = try keys.pair("padding", default: Pair(0), minimum: 0)
            let ceilMode = try keys.bool("ceil_mode", default: false)
            guard padding.h <= kernel.h / 2, padding.w <= kernel.w / 2 else {
                throw keys.error(.invalidValue(field: "padding", value: "\(padding)", expected: "at most half of kernel_size \(kernel)"))
            }
            if type == .maxPool2d {
                let dilation = try keys.pair("dilation", default: Pair(1), minimum: 1)
                return .maxPool2d(Pool2dConfig(kernelSize: kernel, stride: stride, padding: padding, dilation: dilation, ceilMode: ceilMode))
            }
            let includePad = try keys.bool("count_include_pad", default: true)
            return .avgPool2d(Pool2dConfig(kernelSize: kernel, stride: stride, padding: padding, ceilMode: ceilMode, countIncludePad: includePad))
        case .adaptiveAvgPool2d:
            guard let value = keys.take("output_size") else { throw keys.error(.missingField("output_size")) }
            let sizes: [Int?]
            switch value {
            case .number: sizes = [try keys.size(value, "output_size", minimum: 1), try keys.size(value, "output_size", minimum: 1)]
            case .array(let items) where items.count == 2:
                sizes = try items.map { $0 == .null ? nil : try keys.size($0, "output_size", minimum: 1) }
            default: throw keys.error(.invalidValue(field: "output_size", value: value.jsonText, expected: "an integer or [h, w] (null keeps the input's size)"))
            }
            return .adaptiveAvgPool2d(outputSize: sizes)
        case .batchNorm1d, .batchNorm2d:
            let config = BatchNormConfig(numFeatures: try keys.optionalPositive("num_features"),
                                         eps: try keys.double("eps", default: 1e-5),
                                         momentum: try keys.double("momentum", default: 0.1),
                                         affine: try keys.bool("affine", default: true),
                                         trackRunningStats: try keys.bool("track_running_stats", default: true))
            guard config.trackRunningStats else {
                throw keys.error(.refused(what: "track_running_stats=false", why: "it normalises with batch statistics, which inference cannot reproduce"))
            }
            return type == .batchNorm1d ? .batchNorm1d(config) : .batchNorm2d(config)
        case .layerNorm:
            guard let value = keys.take("normalized_shape") else { throw keys.error(.missingField("normalized_shape")) }
            let shape: [Int]
            switch value {
            case .number: shape = [try keys.size(value, "normalized_shape", minimum: 1)]
            case .array(let items): shape = try items.map { try keys.size($0, "normalized_shape", minimum: 1) }
            default: throw keys.error(.invalidValue(field: "normalized_shape", value: value.jsonText, expected: "an integer or a list of integers"))
            }
            guard !shape.isEmpty else { throw keys.error(.invalidValue(field: "normalized_shape", value: "[]", expected: "at least one size")) }
            _ = try keys.checked { try ArchitectureLimits.checkedElements(shape, what: "normalized_shape") }
            return .layerNorm(LayerNormConfig(normalizedShape: shape, eps: try keys.double("eps", default: 1e-5),
                                              elementwiseAffine: try keys.bool("elementwise_affine", default: true),
                                              bias: try keys.bool("bias", default: true)))
        case .dropout:
            let p = try keys.double("p", default: 0.5)
            guard p >= 0, p <= 1 else { throw keys.error(.invalidValue(field: "p", value: "\(p)", expected: "a probability in [0, 1]")) }
            return .dropout(p: p)
        case .flatten:
            return .flatten(startDim: try keys.dim("start_dim", default: 1), endDim: try keys.dim("end_dim", default: -1))
        case .identity:
            return .identity
        case .relu: return .activation(.relu)
        case .leakyReLU: return .activation(.leakyReLU(negativeSlope: try keys.double("negative_slope", default: 0.01)))
        case .sigmoid: return .activation(.sigmoid)
        case .tanh: return .activation(.tanh)
        case .silu: return .activation(.silu)
        case .gelu:
            switch try keys.string("approximate", default: "none") {
            case "none": return .activation(.gelu)
            case "tanh": return .activation(.geluTanh)
            case let other: throw keys.error(.invalidValue(field: "approximate", value: "'\(other)'", expected: "'none' or 'tanh'"))
            }
        case .softmax:
            return .softmax(dim: try keys.dim("dim", default: -1))
        case .tensorReduction:
            return .tensorReduction(inFeatures: try keys.optionalPositive("in_features"), outFeatures: try keys.positive("out_features"))
        case .fourierHalf:
            return .fourierHalf
        case .opaque:
            let className = try keys.string("class")
            var tensors: [OpaqueTensor] = []
            if let list = keys.take("tensors") {
                guard case .array(let items) = list else { throw keys.error(.invalidValue(field: "tensors", value: "not an array", expected: "an array of objects")) }
                for item in items {
                    guard case .object(let fields) = item else { throw keys.error(.invalidValue(field: "tensors", value: "an item that is no object", expected: "an array of objects")) }
                    var tensorKeys = KeyReader(object: fields, context: keys.context + " tensor")
                    let name = try tensorKeys.string("name")
                    let shape = try tensorKeys.optionalIntArray("shape") ?? []
                    _ = try tensorKeys.checked { try ArchitectureLimits.checkedElements(shape, what: "tensor '\(name)'") }
                    let dtypeName = try tensorKeys.string("dtype", default: "f32")
                    guard let dtype = DType(rawValue: dtypeName) else { throw tensorKeys.error(.unsupportedDType(dtypeName)) }
                    let isBuffer = try tensorKeys.bool("buffer", default: false)
                    try tensorKeys.finish()
                    guard !name.isEmpty, !name.contains(".") else {
                        throw keys.error(.invalidValue(field: "tensor name", value: "'\(name)'", expected: "a non-empty name that holds no dot"))
                    }
                    tensors.append(OpaqueTensor(name: name, shape: shape, dtype: dtype, isBuffer: isBuffer))
                }
            }
            let reason = try keys.take("reason").map { try OpaqueReason.parse($0, context: keys.context) }
            return .opaque(OpaqueConfig(className: className, tensors: tensors, config: keys.take("config"), reason: reason))
        }
    }

    static func displayPath(_ path: String) -> String { path.isEmpty ? "(root)" : path }
}

/// Reads typed keys out of one JSON object and reports any it did not use. Errors carry
/// the object's context (`architecture: module '0' (Linear)`).
struct KeyReader {
    var object: [String: JSONValue]
    let context: String

    init(object: [String: JSONValue], context: String) {
        self.object = object
        self.context = context
    }

    /// `reason` inside this object's context.
    func error(_ reason: FormatError.Reason) -> FormatError { FormatError(.context(context, reason)) }

    /// Runs `body`, putting any error it throws inside this object's context.
    func checked<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as FormatError { throw self.error(error.reason) }
    }

    mutating func take(_ key: String) -> JSONValue? { object.removeValue(forKey: key) }

    func finish() throws {
        guard object.isEmpty else { throw error(.unknownKeys(object.keys.sorted())) }
    }

    /// An integer within ±2^31 (`ArchitectureLimits.maxSize`): every integer of a document.
    func integer(_ value: JSONValue, _ key: String) throws -> Int {
        guard case .number(let number) = value, number.isFinite, number.rounded() == number else {
            throw error(.invalidValue(field: key, value: value.jsonText, expected: "an integer"))
        }
        let limit = ArchitectureLimits.maxSize
        guard abs(number) <= Double(limit) else {
            // Finite, and beyond 2^31 but possibly beyond 2^64: clamp before converting.
            throw error(.limitExceeded(what: key, value: abs(number) < 0x1p64 ? UInt64(abs(number)) : .max, limit: UInt64(limit)))
        }
        return Int(number)
    }

    /// A size: an integer from `minimum` to 2^31.
    func size(_ value: JSONValue, _ key: String, minimum: Int) throws -> Int {
        let number = try integer(value, key)
        guard number >= minimum else {
            throw error(.invalidValue(field: key, value: "\(number)", expected: minimum == 1 ? "a positive integer" : "at least \(minimum)"))
        }
        return number
    }

    mutating func int(_ key: String) throws -> Int {
        guard let value = take(key) else { throw error(.missingField(key)) }
        return try integer(value, key)
    }

    mutating func int(_ key: String, default fallback: Int) throws -> Int {
        guard let value = take(key), value != .null else { return fallback }
        return try integer(value, key)
    }

    /// An axis index, negative counting from the end: within ±`ArchitectureLimits.maxRank`.
    mutating func dim(_ key: String, default fallback: Int) throws -> Int {
        let value = try int(key, default: fallback)
        let rank = ArchitectureLimits.maxRank
        guard (-rank ..< rank).contains(value) else {
            throw error(.invalidValue(field: key, value: "\(value)", expected: "an axis from \(-rank) to \(rank - 1)"))
        }
        return value
    }

    mutating func positive(_ key: String) throws -> Int {
        guard let value = take(key) else { throw error(.missingField(key)) }
        return try size(value, key, minimum: 1)
    }

    mutating func positive(_ key: String, default fallback: Int) throws -> Int {
        guard let value = take(key), value != .null else { return fallback }
        return try size(value, key, minimum: 1)
    }

    mutating func optionalPositive(_ key: String) throws -> Int? {
        guard let value = take(key), value != .null else { return nil }
        return try size(value, key, minimum: 1)
    }

    /// A finite number (JSON has no NaN, but 1e999 parses as infinity).
    mutating func double(_ key: String, default fallback: Double) throws -> Double {
        guard let value = take(key), value != .null else { return fallback }
        guard case .number(let number) = value, number.isFinite else {
            throw error(.invalidValue(field: key, value: value.jsonText, expected: "a finite number"))
        }
        return number
    }

    mutating func bool(_ key: String, default fallback: Bool) throws -> Bool {
        guard let value = take(key), value != .null else { return fallback }
        guard case .bool(let flag) = value else { throw error(.invalidValue(field: key, value: value.jsonText, expected: "true or false")) }
        return flag
    }

    mutating func string(_ key: String) throws -> String {
        guard let value = take(key) else { throw error(.missingField(key)) }
        guard let text = value.stringValue else { throw error(.invalidValue(field: key, value: value.jsonText, expected: "a string")) }
        return text
    }

    mutating func string(_ key: String, default fallback: String) throws -> String {
        guard let value = take(key), value != .null else { return fallback }
        guard let text = value.stringValue else { throw error(.invalidValue(field: key, value: value.jsonText, expected: "a string")) }
        return text
    }

    mutating func optionalString(_ key: String) throws -> String? {
        guard let value = take(key), value != .null else { return nil }
        guard let text = value.stringValue else { throw error(.invalidValue(field: key, value: value.jsonText, expected: "a string")) }
        return text
    }

    mutating func optionalIntArray(_ key: String) throws -> [Int]? {
        guard let value = take(key), value != .null else { return nil }
        guard case .array(let items) = value else { throw error(.invalidValue(field: key, value: value.jsonText, expected: "a list of integers")) }
        return try items.map { try integer($0, key) }
    }

    /// An int (both axes) or a two-element list, as PyTorch's `_pair` accepts; each from
    /// `minimum` to 2^31.
    mutating func optionalPair(_ key: String, minimum: Int) throws -> Pair? {
        guard let value = take(key), value != .null else { return nil }
        switch value {
        case .number: return Pair(try size(value, key, minimum: minimum))
        case .array(let items) where items.count == 2:
            return Pair(try size(items[0], key, minimum: minimum), try size(items[1], key, minimum: minimum))
        default: throw error(.invalidValue(field: key, value: value.jsonText, expected: "an integer or [h, w]"))
        }
    }

    mutating func pair(_ key: String, minimum: Int) throws -> Pair {
        guard let pair = try optionalPair(key, minimum: minimum) else { throw error(.missingField(key)) }
        return pair
    }

    mutating func pair(_ key: String, default fallback: Pair, minimum: Int) throws -> Pair {
        try optionalPair(key, minimum: minimum) ?? fallback
    }
}
