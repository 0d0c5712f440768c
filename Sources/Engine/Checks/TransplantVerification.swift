import Foundation
import Format

/// Runs one module of a network alone, on the CPU: the subtree at `path` becomes the root
/// of a document of its own, its tensors renamed relative to it.
public enum ModuleRunner {
    /// The subtree at `path` of `document` as a runnable network; `tensor` answers full names
    /// of `document`. The document's lazy sizes must already be resolved (see `resolve`).
    public static func network(document: ArchitectureDocument, path: String, tensor: (String) -> Tensor?,
                               backend: Backend = CPUBackend()) throws -> Network {
        let resolvedTree = try document.resolvingLazySizes().tree()
        guard let module = resolvedTree.module(at: path) else {
            throw EngineError.noModule(path: path)
        }
        let sub = ArchitectureDocument(root: node(from: module, name: ""))
        let subSpecs = try sub.tree().tensorSpecs()
        var tensors: [NamedTensor] = []
        for spec in subSpecs {
            let full = joinPath(path, spec.name)
            guard let value = tensor(full) else { throw EngineError.missingTensor(name: full) }
            tensors.append(NamedTensor(name: spec.name, aliases: spec.aliases, tensor: value))
        }
        return try Network(document: sub, checkpoint: Checkpoint(tensors: tensors), backend: backend)
    }

    static func node(from module: ExpandedModule, name: String) -> ModuleNode {
        ModuleNode(name: name, layer: module.layer, children: module.children.map { node(from: $0, name: $0.name) })
    }

    /// The shape of the input the module at `path` sees, batch `batch`: traced from the
    /// document's input shape when it has one, else read off the module's first layer.
    public static func inputShape(document: ArchitectureDocument, path: String, batch: Int = 2) throws -> [Int]? {
        let tree = try document.tree()
        guard let module = tree.module(at: path) else { return nil }
        if let shape = document.inputShape, let traced = try? tree.traceShapes(input: shape) {
            if let found = inputFromTrace(tree: tree, path: path, rootInput: shape, outputs: traced.outputs) {
                var result = found
                if !result.isEmpty { result[0] = batch }
                return result
            }
        }
        return firstLayerInput(module, batch: batch)
    }

    private static func inputFromTrace(tree: ModuleTree, path: String, rootInput: [Int], outputs: [String: [Int]]) -> [Int]? {
        if path.isEmpty { return rootInput }
        let parts = path.split(separator: ".").map(String.init)
        let parentPath = parts.dropLast().joined(separator: ".")
        guard let parent = tree.module(at: parentPath),
              let index = parent.children.firstIndex(where: { $0.path == path }) else { return nil }
        switch parent.layer {
        case .sequential:
            if index == 0 { return inputFromTrace(tree: tree, path: parentPath, rootInput: rootInput, outputs: outputs) }
            return outputs[parent.children[index - 1].path]
        case .parallel:
            return inputFromTrace(tree: tree, path: parentPath, rootInput: rootInput, outputs: outputs)
        default:
            return nil
        }
    }

    private static func firstLayerInput(_ module: ExpandedModule, batch: Int) -> [Int]? {
        switch module.layer {
        case .linear(let c): return c.inFeatures.map { [batch, $0] }
        case .conv2d(let c): return c.inChannels.map { [batch, $0, 16, 16] }
        case .batchNorm1d(let c): return c.numFeatures.map { [batch, $0] }
        case .batchNorm2d(let c): return c.numFeatures.map { [batch, $0, 8, 8] }
        case .layerNorm(let c): return [batch] + c.normalizedShape
        case .tensorReduction(let inFeatures, _): return inFeatures.map { [batch, $0] }
        default:
            for child in module.children {
                if let shape = firstLayerInput(child, batch: batch) { return shape }
            }
            return nil
        }
    }

    /// A seeded float32 input in [-1, 1) (SplitMix64): the same seed gives the same bits everywhere.
    public static func seededInput(shape: [Int], seed: UInt64 = 0x5eed) throws -> Tensor {
        var state = seed
        let count = try PlanArithmetic.elementCount(shape, of: "a seeded input of shape \(Tensor.describe(shape))")
        var values = [Float](repeating: 0, count: count)
        for i in 0 ..< count {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            values[i] = Float(z >> 40) / Float(1 << 24) * 2 - 1
        }
        return try FloatConversion.tensor(shape: shape, values: values)
    }
}

/// Why a transplanted module failed its check.
public enum TransplantModuleProblem: Equatable, Sendable, CustomStringConvertible {
    /// A tensor the transplant moved is no longer in the checkpoint.
    case missingTensor(String)
    /// The module cannot run alone (the engine's reason).
    case cannotRun(String)
    /// Run alone, it gives another shape than inside its source.
    case outputShape(actual: [Int], expected: [Int])
    /// Run alone, its output is not bit for bit the source module's.
    case outputDiffers(maxAbsoluteError: Double)

    public var description: String {
        switch self {
        case let .missingTensor(name): return "tensor '\(name.escapedForDisplay)' is missing"
        case let .cannotRun(why): return "cannot run: \(why.escapedForDisplay)"
        case let .outputShape(actual, expected):
            return "output is \(Tensor.describe(actual)), the source module gave \(Tensor.describe(expected))"
        case let .outputDiffers(maxAbs): return "output differs from the source module's (max abs error \(maxAbs))"
        }
    }
}

/// The result of rerunning one transplanted module alone.
public struct TransplantModuleReport: Sendable {
    public var source: String
    public var target: String
    public var sourceFile: String
    /// nil when it passed; else why not.
    public var problem: TransplantModuleProblem?
    /// What was proved when it passed ("same output bit for bit, run alone", "no tensors to move", ...).
    public var note: String = ""
    public var passed: Bool { problem == nil }
}

/// Every transplant recorded in `checkpoint`'s metadata, checked: each moved tensor is still
/// there, and each module with a probe, run alone inside `checkpoint` on the probe's input,
/// gives exactly (bit for bit) the output the module gave inside its source.
public func verifyTransplants(of checkpoint: Checkpoint, backend: Backend = CPUBackend()) throws -> [TransplantModuleReport] {
    let grafts = try TransplantProvenance.all(in: checkpoint.metadata)
    guard !grafts.isEmpty else { return [] }
    guard let architecture = checkpoint.architecture else { throw EngineError.transplantWithoutArchitecture }
    let document = try resolve(architecture.moduleTree(for: "verifying transplants"), checkpoint)
    var reports: [TransplantModuleReport] = []
    for graft in grafts {
        for module in graft.modules {
            var report = TransplantModuleReport(source: module.source, target: module.target, sourceFile: graft.source, problem: nil)
            if let missing = module.tensors.first(where: { checkpoint.tensor(named: $0.target) == nil }) {
                report.problem = .missingTensor(missing.target)
            } else if let probe = module.probe {
                do {
                    let network = try ModuleRunner.network(document: document, path: module.target, tensor: checkpoint.tensor(named:), backend: backend)
                    let output = try network.run(probe.input)
                    if output.shape != probe.output.shape {
                        report.problem = .outputShape(actual: output.shape, expected: probe.output.shape)
                    } else if output.data != probe.output.data {
                        let comparison = try compareOutput(output, expected: probe.output, rtol: 0, atol: 0)
                        report.problem = .outputDiffers(maxAbsoluteError: comparison.maxAbsoluteError)
                    }
                } catch {
                    report.problem = .cannotRun("\(error)")
                }
            }
            if report.problem == nil {
                if !module.skipped.isEmpty {
                    report.note = "\(module.tensors.count) tensor\(module.tensors.count == 1 ? "" : "s") present, \(module.skipped.count) mismatch\(module.skipped.count == 1 ? "" : "es") skipped (the destination's kept)"
                } else if module.probe != nil {
                    report.note = "\(module.tensors.count) tensor\(module.tensors.count == 1 ? "" : "s"), same output bit for bit, run alone"
                } else if module.tensors.isEmpty {
                    report.note = "no tensors to move"
                } else {
                    report.note = "\(module.tensors.count) tensor\(module.tensors.count == 1 ? "" : "s") present; no probe (cannot run alone)"
                }
            }
            reports.append(report)
        }
    }
    return reports
}
