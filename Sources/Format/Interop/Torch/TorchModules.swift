import Foundation

/// The parts of a pickled `nn.Module` (its `__dict__`): parameters, persistent buffers and
/// child modules in order, and its other attributes.
struct TorchModuleParts {
    var parameters: [(String, PickleValue)] = []
    var buffers: [(String, PickleValue)] = []
    var children: [(String, PickleValue)] = []
    var attributes: PickleDict

    /// The module's own tensors in state_dict order (parameters, then persistent buffers), None skipped.
    var ownTensors: [(name: String, tensor: TorchTensor, isBuffer: Bool)] {
        var out: [(String, TorchTensor, Bool)] = []
        for (name, value) in parameters { if case .tensor(let t) = value { out.append((name, t, false)) } }
        for (name, value) in buffers { if case .tensor(let t) = value { out.append((name, t, true)) } }
        return out
    }

    /// An object is a module when its state has `_modules` and `_parameters`, whatever its class.
    init?(_ object: PickleObject) {
        guard let state = object.stateDict, case .dict(let modules)? = state["_modules"],
              case .dict(let parameters)? = state["_parameters"] else { return nil }
        attributes = state
        var nonPersistent = Set<String>()
        if case .list(let set)? = state["_non_persistent_buffers_set"] {
            nonPersistent = Set(set.items.compactMap(\.stringValue))
        }
        for (key, value) in parameters.entries {
            if let name = key.stringValue { self.parameters.append((name, value)) }
        }
        if case .dict(let buffers)? = state["_buffers"] {
            for (key, value) in buffers.entries {
                if let name = key.stringValue, !nonPersistent.contains(name) { self.buffers.append((name, value)) }
            }
        }
        for (key, value) in modules.entries {
            if let name = key.stringValue { children.append((name, value)) }
        }
    }

    static func of(_ value: PickleValue) -> (PickleObject, TorchModuleParts)? {
        guard case .object(let object) = value, let parts = TorchModuleParts(object) else { return nil }
        return (object, parts)
    }
}

/// Rebuilds the architecture document of a whole-module pickle (`torch.save(net)`) from the
/// classes and attributes of its modules: names are the `_modules` keys, so every tensor
/// name is the state_dict key; a module met again is a `Shared` node (tied weights); a
/// class ckpt does not know, or one whose attributes it cannot read, is `Opaque` and keeps
/// its tensors.
struct TorchModuleDocument {
    private var seen: [ObjectIdentifier: String] = [:]
    private var walk: PickleWalk

    init(walk: PickleWalk) { self.walk = walk }

    static func document(for root: PickleObject, walk: PickleWalk) throws -> ArchitectureDocument {
        var builder = TorchModuleDocument(walk: walk)
        let node = try builder.node(root, name: "", path: "", depth: 0)
        return ArchitectureDocument(root: node, description: "rebuilt by ckpt from a torch.save of \(root.className)")
    }

    private mutating func node(_ object: PickleObject, name: String, path: String, depth: Int) throws -> ModuleNode {
        if let target = seen[ObjectIdentifier(object)] {
            guard !target.isEmpty, !path.hasPrefix(target + ".") else {
                throw Fault.refused("module '\(path)'", "it contains itself")
            }
            return ModuleNode(name: name, layer: .shared(target: target))
        }
        guard depth <= walk.maxDepth else { throw FormatError(.tooDeep(what: "modules", limit: walk.maxDepth)) }

        try walk.count()
        seen[ObjectIdentifier(object)] = path
        guard let parts = TorchModuleParts(object) else {
            return ModuleNode(name: name, layer: .opaque(OpaqueConfig(className: object.className, reason: .notAModule)))
        }
        var children: [ModuleNode] = []
        for (childName, value) in parts.children {
            guard case .object(let child) = value else { continue } // None: an absent child
            children.append(try node(child, name: childName, path: joinPath(path, childName), depth: depth + 1))
        }
        let own = parts.ownTensors
        let reason: OpaqueReason
        switch TorchModuleDocument.recognise(object.className, parts, own: own) {
        case .layer(let layer):
            if layer.type.holdsChildren || children.isEmpty {
                return ModuleNode(name: name, layer: layer, children: layer.type.holdsChildren ? children : [])
            }
            reason = .unexpectedChildren(names: OpaqueReason.capped(parts.children.map(\.0)))
        case .opaque(let why):
            reason = why
        }
        return ModuleNode(name: name, layer: .opaque(TorchModuleDocument.opaque(object.className, parts, own: own, reason: reason)),
                          children: children)
    }

    /// What a module is: a layer ckpt runs, or Opaque with the reason. Hooks come first: a
    /// module whose forward pass runs code of the pickle's author is never rebuilt as if it
    /// had none, whatever its class.
    enum Recognition {
        case layer(Layer)
        case opaque(OpaqueReason)
    }

    static func recognise(_ className: String, _ parts: TorchModuleParts,
                          own: [(name: String, tensor: TorchTensor, isBuffer: Bool)]) -> Recognition {
        let hooks = TorchModuleHooks(parts.attributes)
        if !hooks.counts.isEmpty { return .opaque(.hooks(hooks.counts)) }
        if let parametrization = hooks.parametrization { return .opaque(parametrization) }
        guard let layer = knownLayer(className, parts.attributes, own: own) else {
            return .opaque(whyUnknown(className, parts.attributes, own: own))
        }
        guard fits(layer, own: own) else {
            return .opaque(.unexpectedTensors(names: OpaqueReason.capped(own.map(\.name))))
        }
        return .layer(layer)
    }

    /// The reason `knownLayer` gave no layer: an unknown class, a setting ckpt does not
    /// compute, or attributes it cannot read.
    static func whyUnknown(_ className: String, _ a: PickleDict, own: [(name: String, tensor: TorchTensor, isBuffer: Bool)]) -> OpaqueReason {
        let type = className.split(separator: ".").last.map(String.init) ?? ""
        guard className.hasPrefix("torch.nn.modules."), let settings = knownSettings[type] else {
            return .unknownClass(name: className)
        }
        if settings.isEmpty { return .unexpectedTensors(names: OpaqueReason.capped(own.map(\.name))) } // a Sequential with tensors of its own
        let missing = settings.filter { a[$0] == nil }
        if !missing.isEmpty { return .unreadableAttributes(names: missing) }
        func isNone(_ key: String) -> Bool { if case .none? = a[key] { return true }; return false }
        switch type {
        case "Conv2d":
            if let mode = a["padding_mode"]?.stringValue, mode != "zeros" { return .unsupportedSetting(name: "padding_mode", value: "'\(mode)'") }
            if let padding = a["padding"]?.stringValue, padding != "valid" { return .unsupportedSetting(name: "padding", value: "'\(padding)'") }
        case "MaxPool2d":
            if a["return_indices"]?.boolValue == true { return .unsupportedSetting(name: "return_indices", value: "True") }
        case "AvgPool2d":
            if a["divisor_override"] != nil, !isNone("divisor_override") {
                return .unsupportedSetting(name: "divisor_override", value: a["divisor_override"]?.intValue.map(String.init) ?? "set")
            }
        case "GELU":
            if let approximate = a["approximate"]?.stringValue { return .unsupportedSetting(name: "approximate", value: "'\(approximate)'") }
        case "BatchNorm1d", "BatchNorm2d":
            if a["track_running_stats"]?.boolValue == false { return .unsupportedSetting(name: "track_running_stats", value: "False") }
        default: break
        }
        return .unreadableAttributes(names: settings)
    }

    /// The `torch.nn` classes `knownLayer` reads, with the attributes it reads from each.
    static let knownSettings: [String: [String]] = [
        "Sequential": [], "Identity": [], "ReLU": [], "Sigmoid": [], "Tanh": [], "SiLU": [],
        "Linear": ["in_features", "out_features"],
        "Conv2d": ["in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "padding_mode"],
        "MaxPool2d": ["kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"],
        "AvgPool2d": ["kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"],
        "AdaptiveAvgPool2d": ["output_size"],
        "BatchNorm1d": ["num_features", "eps", "momentum", "affine", "track_running_stats"],
        "BatchNorm2d": ["num_features", "eps", "momentum", "affine", "track_running_stats"],
        "LayerNorm": ["normalized_shape", "eps", "elementwise_affine"],
        "Dropout": ["p"], "Flatten": ["start_dim", "end_dim"], "LeakyReLU": ["negative_slope"],
        "GELU": ["approximate"], "Softmax": ["dim"],
    ]

    static func opaque(_ className: String, _ parts: TorchModuleParts, own: [(name: String, tensor: TorchTensor, isBuffer: Bool)],
                       reason: OpaqueReason) -> OpaqueConfig {
        var config: [String: JSONValue] = [:]
        for (key, value) in parts.attributes.entries {
            guard let name = key.stringValue, !name.hasPrefix("_"), name != "training", let json = simpleJSON(value) else { continue }
            config[name] = json
        }
        return OpaqueConfig(className: className,
                            tensors: own.map { OpaqueTensor(name: $0.name, shape: $0.tensor.shape, dtype: $0.tensor.dtype, isBuffer: $0.isBuffer) },
                            config: config.isEmpty ? nil : .object(config), reason: reason)
    }

    /// Scalars, strings and (nested) tuples of them: the configuration a module's attributes hold.
    static func simpleJSON(_ value: PickleValue, depth: Int = 0) -> JSONValue? {
        switch value {
        case .none: return .null
        case .bool(let flag): return .bool(flag)
        case .int(let n): return .number(Double(n))
        case .float(let x): return x.isFinite ? .number(x) : .string("\(x)")
        case .string(let text): return .string(text)
        case .tuple, .list:
            guard depth < 4, let items = value.sequence, items.count <= 64 else { return nil }
            var out: [JSONValue] = []
            for item in items {
                guard let json = simpleJSON(item, depth: depth + 1) else { return nil }
                out.append(json)
            }
            return .array(out)
        default: return nil
        }
    }

    /// True when the layer's own tensors are exactly the module's (names and shapes), and
    /// the layer is one an architecture document accepts.
    static func fits(_ layer: Layer, own: [(name: String, tensor: TorchTensor, isBuffer: Bool)]) -> Bool {
        let single = ArchitectureDocument(root: ModuleNode(layer: layer))
        guard let reparsed = try? ArchitectureDocument.parse(single.serialized()),
              let specs = try? reparsed.tree().tensorSpecs() else { return false }
        guard specs.count == own.count else { return false }
        for (spec, tensor) in zip(specs, own) where spec.name != tensor.name || spec.shape != tensor.tensor.shape {
            return false
        }
        return true
    }

    /// The layer a standard `torch.nn` class means, read from its attributes; nil when the
    /// class is not one the document knows or an attribute is missing or unusual.
    static func knownLayer(_ className: String, _ a: PickleDict, own: [(name: String, tensor: TorchTensor, isBuffer: Bool)]) -> Layer? {
        guard className.hasPrefix("torch.nn.modules.") else { return nil }
        let type = className.split(separator: ".").last.map(String.init) ?? ""
        let names = Set(own.map(\.name))
        func int(_ key: String) -> Int? { a[key].flatMap(asInt) }
        func double(_ key: String) -> Double? {
            switch a[key] {
            case .float(let x)?: return x
            case .int(let n)?: return Double(n)
            default: return nil
            }
        }
        func bool(_ key: String) -> Bool? { if case .bool(let flag)? = a[key] { return flag }; return nil }
        func pair(_ key: String) -> Pair? {
            guard let value = a[key] else { return nil }
            if let n = asInt(value) { return Pair(n) }
            guard let items = value.sequence, items.count == 2, let h = asInt(items[0]), let w = asInt(items[1]) else { return nil }
            return Pair(h, w)
        }
        switch type {
        case "Sequential":
            return own.isEmpty ? .sequential : nil
        case "Linear":
            guard let inFeatures = int("in_features"), let outFeatures = int("out_features") else { return nil }
            return .linear(LinearConfig(inFeatures: inFeatures, outFeatures: outFeatures, bias: names.contains("bias")))
        case "Conv2d":
            guard let inChannels = int("in_channels"), let outChannels = int("out_channels"), let kernel = pair("kernel_size"),
                  let stride = pair("stride"), let dilation = pair("dilation"), let groups = int("groups"),
                  a["padding_mode"]?.stringValue ?? "zeros" == "zeros" else { return nil }
            var padding = pair("padding")
            switch a["padding"]?.stringValue {
            case "valid"?: padding = Pair(0)
            case "same"?:
                // dilation x (kernel - 1) from the file's attributes: a product that overflows
                // (or a negative one) is no layer ckpt can describe, so the module stays opaque.
                guard let th = samePadding(kernel.h, dilation.h), let tw = samePadding(kernel.w, dilation.w),
                      th % 2 == 0, tw % 2 == 0 else { return nil }
                padding = Pair(th / 2, tw / 2)
            default: break
            }
            guard let padding else { return nil }
            return .conv2d(Conv2dConfig(inChannels: inChannels, outChannels: outChannels, kernelSize: kernel, stride: stride,
                                        padding: padding, dilation: dilation, groups: groups, bias: names.contains("bias")))
        case "MaxPool2d", "AvgPool2d":
            guard let kernel = pair("kernel_size") else { return nil }
            var stride: Pair? = kernel
            if let value = a["stride"], !isNone(value) { stride = pair("stride") }
            guard let stride, let padding = pair("padding"), let ceil = bool("ceil_mode") else { return nil }
            if type == "MaxPool2d" {
                guard let dilation = pair("dilation"), bool("return_indices") != true else { return nil }
                return .maxPool2d(Pool2dConfig(kernelSize: kernel, stride: stride, padding: padding, dilation: dilation, ceilMode: ceil))
            }
            if let divisor = a["divisor_override"], !isNone(divisor) { return nil }
            return .avgPool2d(Pool2dConfig(kernelSize: kernel, stride: stride, padding: padding, ceilMode: ceil,
                                           countIncludePad: bool("count_include_pad") ?? true))
        case "AdaptiveAvgPool2d":
            guard let value = a["output_size"] else { return nil }
            if let n = asInt(value) { return .adaptiveAvgPool2d(outputSize: [n, n]) }
            guard let items = value.sequence, items.count == 2 else { return nil }
            var sizes: [Int?] = []
            for item in items {
                if isNone(item) { sizes.append(nil) } else if let n = asInt(item) { sizes.append(n) } else { return nil }
            }
            return .adaptiveAvgPool2d(outputSize: sizes)
        case "BatchNorm1d", "BatchNorm2d":
            guard let features = int("num_features"), let eps = double("eps"), let momentum = double("momentum"),
                  let affine = bool("affine"), let track = bool("track_running_stats") else { return nil }
            let config = BatchNormConfig(numFeatures: features, eps: eps, momentum: momentum, affine: affine, trackRunningStats: track)
            return type == "BatchNorm1d" ? .batchNorm1d(config) : .batchNorm2d(config)
        case "LayerNorm":
            guard let items = a["normalized_shape"]?.sequence, case let shape = items.compactMap(asInt), shape.count == items.count,
                  let eps = double("eps"),
                  let affine = bool("elementwise_affine") else { return nil }
            return .layerNorm(LayerNormConfig(normalizedShape: shape, eps: eps, elementwiseAffine: affine, bias: names.contains("bias")))
        case "Dropout":
            return double("p").map { .dropout(p: $0) }
        case "Flatten":
            guard let start = int("start_dim"), let end = int("end_dim") else { return nil }
            return .flatten(startDim: start, endDim: end)
        case "Identity": return .identity
        case "ReLU": return .activation(.relu)
        case "Sigmoid": return .activation(.sigmoid)
        case "Tanh": return .activation(.tanh)
        case "SiLU": return .activation(.silu)
        case "LeakyReLU": return double("negative_slope").map { .activation(.leakyReLU(negativeSlope: $0)) }
        case "GELU":
            switch a["approximate"]?.stringValue ?? "none" {
            case "none": return .activation(.gelu)
            case "tanh": return .activation(.geluTanh)
            default: return nil
            }
        case "Softmax":
            return int("dim").map { .softmax(dim: $0) }
        default:
            return nil
        }
    }

    /// The total padding `padding='same'` needs, `dilation x (kernel - 1)`, or nil when the
    /// values are negative or the product does not fit in 64 bits.
    static func samePadding(_ kernel: Int, _ dilation: Int) -> Int? {
        guard kernel >= 1, dilation >= 0 else { return nil }
        let (total, overflow) = dilation.multipliedReportingOverflow(by: kernel - 1)
        return overflow ? nil : total
    }

    private static func asInt(_ value: PickleValue) -> Int? {
        if case .int(let n) = value { return n }
        return nil
    }

    private static func isNone(_ value: PickleValue) -> Bool {
        if case .none = value { return true }
        return false
    }
}
