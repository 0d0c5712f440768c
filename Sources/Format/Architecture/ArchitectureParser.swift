import Foundation

/// JSON → `ArchitectureDocument`. Keys follow PyTorch's constructor arguments
/// (`in_features`, `kernel_size`, ...); an unknown key is an error, so typos do not pass silently.
enum ArchitectureParser {
    static func document(from value: JSONValue) throws -> ArchitectureDocument {
        guard case .object(let object) = value else {
            throw FormatError("architecture document must be a JSON object")
        }
        var top = KeyReader(object: object, context: "architecture document")
        let version = try top.int("version")
        guard version == ArchitectureDocument.currentVersion else {
            throw FormatError("architecture document version \(version) is not supported (this ckpt reads version \(ArchitectureDocument.currentVersion))")
        }
        let inputShape = try top.optionalIntArray("input_shape")
        if let inputShape, inputShape.contains(where: { $0 <= 0 }) {
            throw FormatError("architecture document: input_shape \(Tensor.describe(inputShape)) must be positive sizes")
        }
        let description = try top.optionalString("description")
        guard let module = top.take("module") else {
            throw FormatError("architecture document has no \"module\"")
        }
        try top.finish()
        let root = try node(from: module, path: "", defaultName: "")
        return ArchitectureDocument(root: root, inputShape: inputShape, description: description)
    }

    static func node(from value: JSONValue, path parentPath: String, defaultName: String) throws -> ModuleNode {
        guard case .object(let object) = value else {
            throw FormatError("architecture: module '\(displayPath(joinPath(parentPath, defaultName)))' must be a JSON object")
        }
        let name = object["name"]?.stringValue ?? defaultName
        let path = joinPath(parentPath, name)
        guard let typeName = object["type"]?.stringValue else {
            throw FormatError("architecture: module '\(displayPath(path))' has no \"type\"")
        }
        guard let type = LayerType(rawValue: typeName) else {
            throw FormatError("architecture: module '\(displayPath(path))' has unknown type '\(typeName)' (known: \(LayerType.allCases.map(\.rawValue).joined(separator: ", ")); use Opaque for anything else)")
        }
        var keys = KeyReader(object: object, context: "architecture: module '\(displayPath(path))' (\(typeName))")
        _ = keys.take("name")
        _ = keys.take("type")
        var children: [ModuleNode] = []
        if type.holdsChildren, let list = keys.take("children") {
            guard case .array(let items) = list else { throw keys.error("\"children\" must be an array") }
            children = try items.enumerated().map { try node(from: $0.element, path: path, defaultName: String($0.offset)) }
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
            return .parallel(axis: try keys.int("dim", default: 1))
        case .repeated:
            let count = try keys.int("count")
            guard count >= 1 else { throw keys.error("count must be at least 1") }
            guard childCount == 1 else { throw keys.error("needs exactly one child, the block it repeats (has \(childCount))") }
            let pattern = try keys.string("pattern", default: "{i}")
            guard pattern.contains("{i}") else { throw keys.error("pattern '\(pattern)' must contain {i}") }
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
                throw keys.error("in_channels \(inChannels) is not divisible by groups \(config.groups)")
            }
            guard config.outChannels % config.groups == 0 else {
                throw keys.error("out_channels \(config.outChannels) is not divisible by groups \(config.groups)")
            }
            return .conv2d(config)
        case .maxPool2d, .avgPool2d:
            let kernel = try keys.pair("kernel_size", minimum: 1)
            let stride = try keys.optionalPair("stride", minimum: 1) ?? kernel
            let padding = try keys.pair("padding", default: Pair(0), minimum: 0)
            let ceilMode = try keys.bool("ceil_mode", default: false)
            guard padding.h * 2 <= kernel.h, padding.w * 2 <= kernel.w else {
                throw keys.error("padding \(padding) must be at most half of kernel_size \(kernel)")
            }
            if type == .maxPool2d {
                let dilation = try keys.pair("dilation", default: Pair(1), minimum: 1)
                return .maxPool2d(Pool2dConfig(kernelSize: kernel, stride: stride, padding: padding, dilation: dilation, ceilMode: ceilMode))
            }
            let includePad = try keys.bool("count_include_pad", default: true)
            return .avgPool2d(Pool2dConfig(kernelSize: kernel, stride: stride, padding: padding, ceilMode: ceilMode, countIncludePad: includePad))
        case .adaptiveAvgPool2d:
            guard let value = keys.take("output_size") else { throw keys.error("needs output_size") }
            let sizes: [Int?]
            switch value {
            case .number: sizes = [try keys.integer(value, "output_size"), try keys.integer(value, "output_size")]
            case .array(let items) where items.count == 2:
                sizes = try items.map { $0 == .null ? nil : try keys.integer($0, "output_size") }
            default: throw keys.error("output_size must be an integer or [h, w] (null keeps the input's size)")
            }
            guard sizes.allSatisfy({ ($0 ?? 1) >= 1 }) else { throw keys.error("output_size must be positive") }
            return .adaptiveAvgPool2d(outputSize: sizes)
        case .batchNorm1d, .batchNorm2d:
            let config = BatchNormConfig(numFeatures: try keys.optionalPositive("num_features"),
                                         eps: try keys.double("eps", default: 1e-5),
                                         momentum: try keys.double("momentum", default: 0.1),
                                         affine: try keys.bool("affine", default: true),
                                         trackRunningStats: try keys.bool("track_running_stats", default: true))
            guard config.trackRunningStats else {
                throw keys.error("track_running_stats=false normalises with batch statistics, which inference cannot reproduce; not supported")
            }
            return type == .batchNorm1d ? .batchNorm1d(config) : .batchNorm2d(config)
        case .layerNorm:
            guard let value = keys.take("normalized_shape") else { throw keys.error("needs normalized_shape") }
            let shape: [Int]
            switch value {
            case .number: shape = [try keys.integer(value, "normalized_shape")]
            case .array(let items): shape = try items.map { try keys.integer($0, "normalized_shape") }
            default: throw keys.error("normalized_shape must be an integer or a list of integers")
            }
            guard !shape.isEmpty, shape.allSatisfy({ $0 >= 1 }) else { throw keys.error("normalized_shape must be positive sizes") }
            return .layerNorm(LayerNormConfig(normalizedShape: shape, eps: try keys.double("eps", default: 1e-5),
                                              elementwiseAffine: try keys.bool("elementwise_affine", default: true),
                                              bias: try keys.bool("bias", default: true)))
        case .dropout:
            let p = try keys.double("p", default: 0.5)
            guard p >= 0, p <= 1 else { throw keys.error("p must lie in [0, 1]") }
            return .dropout(p: p)
        case .flatten:
            return .flatten(startDim: try keys.int("start_dim", default: 1), endDim: try keys.int("end_dim", default: -1))
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
            case let other: throw keys.error("approximate must be \"none\" or \"tanh\", not \"\(other)\"")
            }
        case .softmax:
            return .softmax(dim: try keys.int("dim", default: -1))
        case .tensorReduction:
            return .tensorReduction(inFeatures: try keys.optionalPositive("in_features"), outFeatures: try keys.positive("out_features"))
        case .fourierHalf:
            return .fourierHalf
        case .opaque:
            let className = try keys.string("class")
            var tensors: [OpaqueTensor] = []
            if let list = keys.take("tensors") {
                guard case .array(let items) = list else { throw keys.error("\"tensors\" must be an array") }
                for item in items {
                    guard case .object(let fields) = item else { throw keys.error("each of \"tensors\" must be an object") }
                    var tensorKeys = KeyReader(object: fields, context: keys.context + " tensor")
                    let name = try tensorKeys.string("name")
                    let shape = try tensorKeys.optionalIntArray("shape") ?? []
                    let dtypeName = try tensorKeys.string("dtype", default: "f32")
                    guard let dtype = DType(rawValue: dtypeName) else { throw keys.error("tensor '\(name)': unknown dtype '\(dtypeName)'") }
                    let isBuffer = try tensorKeys.bool("buffer", default: false)
                    try tensorKeys.finish()
                    guard !name.isEmpty, !name.contains(".") else { throw keys.error("tensor name '\(name)' must be non-empty and hold no dot") }
                    tensors.append(OpaqueTensor(name: name, shape: shape, dtype: dtype, isBuffer: isBuffer))
                }
            }
            return .opaque(OpaqueConfig(className: className, tensors: tensors, config: keys.take("config")))
        }
    }

    static func displayPath(_ path: String) -> String { path.isEmpty ? "(root)" : path }
}

/// Reads typed keys out of one JSON object and reports any it did not use.
struct KeyReader {
    var object: [String: JSONValue]
    let context: String

    init(object: [String: JSONValue], context: String) {
        self.object = object
        self.context = context
    }

    func error(_ message: String) -> FormatError { FormatError("\(context): \(message)") }

    mutating func take(_ key: String) -> JSONValue? { object.removeValue(forKey: key) }

    func finish() throws {
        guard object.isEmpty else {
            throw error("unknown key\(object.count > 1 ? "s" : "") \(object.keys.sorted().map { "'\($0)'" }.joined(separator: ", "))")
        }
    }

    func integer(_ value: JSONValue, _ key: String) throws -> Int {
        guard case .number(let number) = value, number.rounded() == number, abs(number) < 9.0e15 else {
            throw error("\(key) must be an integer")
        }
        return Int(number)
    }

    mutating func int(_ key: String) throws -> Int {
        guard let value = take(key) else { throw error("needs \(key)") }
        return try integer(value, key)
    }

    mutating func int(_ key: String, default fallback: Int) throws -> Int {
        guard let value = take(key), value != .null else { return fallback }
        return try integer(value, key)
    }

    mutating func positive(_ key: String) throws -> Int {
        let value = try int(key)
        guard value >= 1 else { throw error("\(key) must be positive") }
        return value
    }

    mutating func positive(_ key: String, default fallback: Int) throws -> Int {
        let value = try int(key, default: fallback)
        guard value >= 1 else { throw error("\(key) must be positive") }
        return value
    }

    mutating func optionalPositive(_ key: String) throws -> Int? {
        guard let value = take(key), value != .null else { return nil }
        let number = try integer(value, key)
        guard number >= 1 else { throw error("\(key) must be positive") }
        return number
    }

    mutating func double(_ key: String, default fallback: Double) throws -> Double {
        guard let value = take(key), value != .null else { return fallback }
        guard case .number(let number) = value else { throw error("\(key) must be a number") }
        return number
    }

    mutating func bool(_ key: String, default fallback: Bool) throws -> Bool {
        guard let value = take(key), value != .null else { return fallback }
        guard case .bool(let flag) = value else { throw error("\(key) must be true or false") }
        return flag
    }

    mutating func string(_ key: String) throws -> String {
        guard let value = take(key) else { throw error("needs \(key)") }
        guard let text = value.stringValue else { throw error("\(key) must be a string") }
        return text
    }

    mutating func string(_ key: String, default fallback: String) throws -> String {
        guard let value = take(key), value != .null else { return fallback }
        guard let text = value.stringValue else { throw error("\(key) must be a string") }
        return text
    }

    mutating func optionalString(_ key: String) throws -> String? {
        guard let value = take(key), value != .null else { return nil }
        guard let text = value.stringValue else { throw error("\(key) must be a string") }
        return text
    }

    mutating func optionalIntArray(_ key: String) throws -> [Int]? {
        guard let value = take(key), value != .null else { return nil }
        guard case .array(let items) = value else { throw error("\(key) must be a list of integers") }
        return try items.map { try integer($0, key) }
    }

    /// An int (both axes) or a two-element list, as PyTorch's `_pair` accepts.
    mutating func optionalPair(_ key: String, minimum: Int) throws -> Pair? {
        guard let value = take(key), value != .null else { return nil }
        let pair: Pair
        switch value {
        case .number: pair = Pair(try integer(value, key))
        case .array(let items) where items.count == 2: pair = Pair(try integer(items[0], key), try integer(items[1], key))
        default: throw error("\(key) must be an integer or [h, w]")
        }
        guard pair.h >= minimum, pair.w >= minimum else { throw error("\(key) must be at least \(minimum)") }
        return pair
    }

    mutating func pair(_ key: String, minimum: Int) throws -> Pair {
        guard let pair = try optionalPair(key, minimum: minimum) else { throw error("needs \(key)") }
        return pair
    }

    mutating func pair(_ key: String, default fallback: Pair, minimum: Int) throws -> Pair {
        try optionalPair(key, minimum: minimum) ?? fallback
    }
}
