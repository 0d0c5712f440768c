import Foundation
import Format

/// One way a checkpoint's tensors disagree with its architecture document.
public enum ArchitectureMismatch: Equatable, Sendable, CustomStringConvertible {
    case missing(name: String, shape: [Int])
    case unexpected(name: String, shape: [Int])
    case wrongShape(name: String, stored: [Int], expected: [Int])
    case notFloatingPoint(name: String, dtype: DType)
    /// Two stored copies of one tied tensor whose values differ.
    case tiedCopiesDiffer(name: String, other: String)

    public var description: String {
        switch self {
        case .missing(let name, let shape): return "missing '\(name)' \(Tensor.describe(shape))"
        case .unexpected(let name, let shape): return "unexpected '\(name)' \(Tensor.describe(shape)) (no module of the document owns it)"
        case .wrongShape(let name, let stored, let expected):
            return "'\(name)' is \(Tensor.describe(stored)), the document says \(Tensor.describe(expected))"
        case .notFloatingPoint(let name, let dtype): return "'\(name)' is \(dtype.rawValue); the engine computes with floating-point weights"
        case .tiedCopiesDiffer(let name, let other): return "'\(other)' is tied to '\(name)' but holds different values"
        }
    }
}

/// Every mismatch between a document and a checkpoint, compared name by name.
/// Lazy sizes of the document are first read off the checkpoint's own tensor shapes.
public func architectureMismatches(_ document: ArchitectureDocument, against checkpoint: Checkpoint) throws -> [ArchitectureMismatch] {
    let specs = try resolve(document, checkpoint).tree().tensorSpecs()
    var mismatches: [ArchitectureMismatch] = []
    var claimed = Set<String>()
    var byName: [String: [Int]] = [:]
    for (index, named) in checkpoint.tensors.enumerated() {
        for name in named.allNames { byName[name, default: []].append(index) }
    }
    for spec in specs {
        // The stored tensors that answer to any of this spec's names (a tied tensor may be stored once or once per name).
        let indices = Set(spec.allNames.flatMap { byName[$0] ?? [] }).sorted()
        let stored = indices.map { checkpoint.tensors[$0] }
        claimed.formUnion(spec.allNames)
        guard let first = stored.first else {
            mismatches.append(.missing(name: spec.name, shape: spec.shape))
            continue
        }
        for named in stored where named.tensor.shape != spec.shape {
            mismatches.append(.wrongShape(name: named.name, stored: named.tensor.shape, expected: spec.shape))
        }
        if spec.dtype.isFloatingPoint, !first.tensor.dtype.isFloatingPoint {
            mismatches.append(.notFloatingPoint(name: first.name, dtype: first.tensor.dtype))
        }
        for other in stored.dropFirst() where other.tensor.shape == first.tensor.shape {
            if other.tensor.dtype != first.tensor.dtype || other.tensor.data != first.tensor.data {
                mismatches.append(.tiedCopiesDiffer(name: first.name, other: other.name))
            }
        }
    }
    for named in checkpoint.tensors where !named.allNames.contains(where: claimed.contains) {
        mismatches.append(.unexpected(name: named.name, shape: named.tensor.shape))
    }
    return mismatches
}

/// Throws one error listing every missing, unexpected or wrongly shaped tensor (and values
/// that cannot be computed with), or returns when the checkpoint fits the document.
public func checkArchitecture(_ document: ArchitectureDocument, against checkpoint: Checkpoint) throws {
    let mismatches = try architectureMismatches(document, against: checkpoint)
    guard !mismatches.isEmpty else { return }
    throw EngineError.architectureMismatch(mismatches)
}

/// The checkpoint with `document` attached: checked as `checkArchitecture` does, lazy sizes
/// filled in, tensors in state_dict order under their stored names, every tied name an
/// alias, and duplicate stored copies of a tied tensor (as .npz files keep them) dropped.
public func attachArchitecture(_ document: ArchitectureDocument, to checkpoint: Checkpoint) throws -> Checkpoint {
    try checkArchitecture(document, against: checkpoint)
    let resolved = try resolve(document, checkpoint)
    var result = checkpoint
    result.tensors = try resolved.tree().tensorSpecs().map { spec in
        let tensor = spec.allNames.lazy.compactMap { checkpoint.tensor(named: $0) }.first!
        return NamedTensor(name: spec.name, aliases: spec.aliases, tensor: tensor)
    }
    result.architecture = Architecture(resolved)
    return result
}

/// Lazy sizes filled in: from the document's own input shape first (so the document decides
/// and wrongly shaped tensors show up as mismatches), then from the stored tensors' shapes.
func resolve(_ document: ArchitectureDocument, _ checkpoint: Checkpoint) throws -> ArchitectureDocument {
    try document.resolvingLazySizes().resolved(tensorShapes: shapesByName(checkpoint))
}

private func shapesByName(_ checkpoint: Checkpoint) -> [String: [Int]] {
    var shapes: [String: [Int]] = [:]
    for named in checkpoint.tensors {
        for name in named.allNames where shapes[name] == nil { shapes[name] = named.tensor.shape }
    }
    return shapes
}
