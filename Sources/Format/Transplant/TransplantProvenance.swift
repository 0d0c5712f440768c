import Foundation

/// Where a transplanted checkpoint's tensors came from, kept in its metadata under
/// `ckpt.transplant` (an object with `grafts`, one entry per `ckpt transplant` run, oldest first).
///
/// `source_sha256` is the SHA-256 of the source file's bytes as read from disk (for a store
/// reference: the stored version's content digest, with `source_hash_of` saying which).
/// Each module carries a probe: a seeded input of the module's input shape and the output
/// the module gave inside the source, on the CPU; `ckpt verify` reruns the transplanted
/// module alone on that input and requires the same bits.
public struct TransplantProvenance: Equatable, Sendable {
    public static let metadataKey = "ckpt.transplant"

    public struct ModuleProbe: Equatable, Sendable {
        public var input: Tensor
        public var output: Tensor
        public init(input: Tensor, output: Tensor) { self.input = input; self.output = output }
        public static func == (a: ModuleProbe, b: ModuleProbe) -> Bool {
            a.input.shape == b.input.shape && a.input.data == b.input.data && a.output.shape == b.output.shape && a.output.data == b.output.data
        }
    }

    public struct Module: Equatable, Sendable {
        public var source: String
        public var target: String
        /// (source name after --map, target name) of every tensor moved.
        public var tensors: [TransplantMove]
        /// Differences kept as the destination had them (`--on-mismatch skip`).
        public var skipped: [TransplantMismatch]
        public var probe: ModuleProbe?
        public init(source: String, target: String, tensors: [TransplantMove], skipped: [TransplantMismatch], probe: ModuleProbe?) {
            self.source = source; self.target = target; self.tensors = tensors; self.skipped = skipped; self.probe = probe
        }
    }

    public var source: String
    public var sourceHash: String
    public var sourceHashOf: String
    public var destination: String
    public var layers: String
    public var to: String?
    public var maps: [String]
    public var modules: [Module]

    public init(source: String, sourceHash: String, sourceHashOf: String, destination: String, layers: String, to: String?,
                maps: [String], modules: [Module]) {
        self.source = source; self.sourceHash = sourceHash; self.sourceHashOf = sourceHashOf; self.destination = destination
        self.layers = layers; self.to = to; self.maps = maps; self.modules = modules
    }

    // MARK: JSON

    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "source": .string(source), "source_sha256": .string(sourceHash), "source_hash_of": .string(sourceHashOf),
            "destination": .string(destination), "layers": .string(layers), "maps": .array(maps.map(JSONValue.string)),
        ]
        if let to { object["to"] = .string(to) }
        object["modules"] = .array(modules.map { module in
            var entry: [String: JSONValue] = [
                "source": .string(module.source), "target": .string(module.target),
                "tensors": .array(module.tensors.map { .array([.string($0.source), .string($0.target)]) }),
                "skipped": .array(module.skipped.map { mismatch in
                    var m: [String: JSONValue] = ["path": .string(mismatch.path), "source_path": .string(mismatch.sourcePath), "detail": .string(mismatch.detail)]
                    if let s = mismatch.sourceShape { m["source_shape"] = .array(s.map { .number(Double($0)) }) }
                    if let t = mismatch.targetShape { m["target_shape"] = .array(t.map { .number(Double($0)) }) }
                    return .object(m)
                }),
            ]
            if let probe = module.probe {
                entry["probe"] = .object(["input": Self.encode(probe.input), "output": Self.encode(probe.output)])
            }
            return .object(entry)
        })
        return .object(object)
    }

    public init(json: JSONValue) throws {
        func string(_ value: JSONValue?, _ what: String) throws -> String {
            guard let value else { throw FormatError(.context(Self.metadataKey, .missingField(what))) }
            guard let text = value.stringValue else { throw FormatError(.context(Self.metadataKey, .invalidValue(field: what, value: value.jsonText, expected: "a string"))) }
            return text
        }
        source = try string(json["source"], "source")
        sourceHash = try string(json["source_sha256"], "source_sha256")
        sourceHashOf = json["source_hash_of"]?.stringValue ?? ""
        destination = json["destination"]?.stringValue ?? ""
        layers = json["layers"]?.stringValue ?? ""
        to = json["to"]?.stringValue
        if case .array(let items)? = json["maps"] { maps = items.compactMap(\.stringValue) } else { maps = [] }
        guard case .array(let items)? = json["modules"] else { throw FormatError(.context(Self.metadataKey, .missingField("modules"))) }
        modules = try items.map { item in
            var tensors: [TransplantMove] = []
            if case .array(let pairs)? = item["tensors"] {
                for pair in pairs {
                    guard case .array(let two) = pair, two.count == 2, let s = two[0].stringValue, let t = two[1].stringValue else {
                        throw FormatError(.context(Self.metadataKey, .invalidValue(field: "tensors", value: pair.jsonText, expected: "pairs [source, target]")))
                    }
                    tensors.append(TransplantMove(source: s, target: t))
                }
            }
            var skipped: [TransplantMismatch] = []
            if case .array(let list)? = item["skipped"] {
                for m in list {
                    func shape(_ v: JSONValue?) -> [Int]? {
                        guard case .array(let dims)? = v else { return nil }
                        return dims.compactMap(Self.size)
                    }
                    skipped.append(TransplantMismatch(path: m["path"]?.stringValue ?? "", sourcePath: m["source_path"]?.stringValue ?? "",
                                                      sourceShape: shape(m["source_shape"]), targetShape: shape(m["target_shape"]),
                                                      detail: m["detail"]?.stringValue ?? ""))
                }
            }
            var probe: ModuleProbe?
            if let p = item["probe"] {
                guard let input = p["input"], let output = p["output"] else {
                    throw FormatError(.context(Self.metadataKey, .missingField(p["input"] == nil ? "probe.input" : "probe.output")))
                }
                probe = ModuleProbe(input: try Self.decode(input), output: try Self.decode(output))
            }
            return Module(source: try string(item["source"], "modules[].source"), target: try string(item["target"], "modules[].target"),
                          tensors: tensors, skipped: skipped, probe: probe)
        }
    }

    /// A tensor as `{"dtype": "f32", "shape": [...], "base64": little-endian bytes}`: exact, bit for bit.
    static func encode(_ tensor: Tensor) -> JSONValue {
        .object(["dtype": .string(tensor.dtype.rawValue), "shape": .array(tensor.shape.map { .number(Double($0)) }),
                 "base64": .string(tensor.data.base64EncodedString())])
    }

    static func decode(_ value: JSONValue) throws -> Tensor {
        guard let dtypeText = value["dtype"]?.stringValue, let dtype = DType(rawValue: dtypeText),
              case .array(let dims)? = value["shape"], let text = value["base64"]?.stringValue, let data = Data(base64Encoded: text) else {
            throw FormatError(.context(metadataKey, .invalidValue(field: "probe tensor", value: "an object without valid dtype, shape and base64", expected: "{dtype, shape, base64}")))
        }
        let shape = dims.compactMap(size)
        guard shape.count == dims.count else {
            throw FormatError(.context(metadataKey, .invalidValue(field: "probe tensor shape", value: JSONValue.array(dims).jsonText, expected: "sizes from 0 to 2^62")))
        }
        return try Tensor(dtype: dtype, shape: shape, data: data)
    }

    /// A size read from metadata: an integral number from 0 to 2^62, else nil. (`Int(n)` of
    /// an arbitrary Double traps beyond Int's range.)
    static func size(_ value: JSONValue) -> Int? {
        guard case .number(let n) = value, n.isFinite, n.rounded() == n, n >= 0, n <= 0x1p62 else { return nil }
        return Int(n)
    }

    // MARK: metadata

    /// Every graft recorded in `metadata`, oldest first (none when the key is absent).
    public static func all(in metadata: JSONValue?) throws -> [TransplantProvenance] {
        guard let record = metadata?[metadataKey] else { return [] }
        guard case .array(let grafts)? = record["grafts"] else { throw FormatError(.context(metadataKey, .missingField("grafts"))) }
        return try grafts.map(TransplantProvenance.init(json:))
    }

    /// `metadata` with this graft appended; everything else in it is kept. Metadata that is
    /// not an object is kept under `metadata`.
    public func appended(to metadata: JSONValue?) -> JSONValue {
        var object: [String: JSONValue]
        switch metadata {
        case .object(let existing)?: object = existing
        case nil, .null?: object = [:]
        case let other?: object = ["metadata": other]
        }
        var grafts: [JSONValue] = []
        if case .array(let existing)? = object[Self.metadataKey]?["grafts"] { grafts = existing }
        grafts.append(json)
        object[Self.metadataKey] = .object(["version": .number(1), "grafts": .array(grafts)])
        return .object(object)
    }
}
