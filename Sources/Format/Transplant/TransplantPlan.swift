import Foundation

/// One difference between a selected source module and its target, found before anything is written.
public struct TransplantMismatch: Equatable, Sendable, CustomStringConvertible {
    /// The target tensor name, or the target module path for a type/configuration difference.
    public var path: String
    public var sourcePath: String
    public var sourceShape: [Int]?
    public var targetShape: [Int]?
    /// What differs, in words ("shape", "dtype f16 vs f32", "missing in source", "type Linear vs Conv2d").
    public var detail: String

    public init(path: String, sourcePath: String, sourceShape: [Int]?, targetShape: [Int]?, detail: String) {
        self.path = path; self.sourcePath = sourcePath; self.sourceShape = sourceShape; self.targetShape = targetShape; self.detail = detail
    }

    /// A difference of module type, configuration or children (not of one tensor).
    public var isStructural: Bool { ["type", "configuration", "children"].contains { detail.hasPrefix($0) } }

    public var description: String {
        if isStructural { return "\(path): \(detail) (source module '\(sourcePath.isEmpty ? "(root)" : sourcePath)')" }
        let source = sourceShape.map(Tensor.describe) ?? "absent"
        let target = targetShape.map(Tensor.describe) ?? "absent"
        return "\(path): source '\(sourcePath)' \(source), target \(target) (\(detail))"
    }
}

/// One tensor that moves: its name in the (mapped) source and in the result.
public struct TransplantMove: Equatable, Sendable {
    public var source: String
    public var target: String

    public init(source: String, target: String) { self.source = source; self.target = target }
}

/// One selected pair of modules and what happens to its tensors.
public struct TransplantModulePlan: Sendable {
    public var sourcePath: String
    public var targetPath: String
    public var moves: [TransplantMove]
    public var mismatches: [TransplantMismatch]
}

/// Which tensors of a source go where in a destination, checked module by module.
/// Built from the destination's (resolved) document and tensors, and the source's tensors
/// (names already rewritten by `--map`) plus its document when it has one.
public struct TransplantPlan: Sendable {
    public var modules: [TransplantModulePlan]
    public var mismatches: [TransplantMismatch] { modules.flatMap(\.mismatches) }
    public var moves: [TransplantMove] { modules.flatMap(\.moves) }

    /// Pairs the selected modules and compares each: type and configuration (when the
    /// source has a document), then every parameter and buffer by name, shape and dtype.
    public init(pairs: [(source: String, target: String)], sourceTree: ModuleTree?, source: Checkpoint,
                targetTree: ModuleTree, target: Checkpoint) throws {
        let targetSpecs = try targetTree.tensorSpecs()
        var modules: [TransplantModulePlan] = []
        for (sourcePath, targetPath) in pairs {
            guard let targetModule = targetTree.module(at: targetPath) else {
                throw FormatError(.notFound(kind: "module in the destination", name: targetPath))
            }
            var mismatches: [TransplantMismatch] = []
            var moves: [TransplantMove] = []
            if let sourceTree {
                guard let sourceModule = sourceTree.module(at: sourcePath) else {
                    throw FormatError(.notFound(kind: "module in the source", name: sourcePath))
                }
                mismatches += TransplantPlan.structuralDifferences(sourceModule, targetModule, sourceBase: sourcePath, targetBase: targetPath)
            }
            let specs = targetSpecs.filter { TransplantPlan.isInside($0.name, targetPath) }
            var claimed = Set<String>()
            for spec in specs {
                let relative = TransplantPlan.relative(spec.name, to: targetPath)
                let sourceName = joinPath(sourcePath, relative)
                claimed.insert(sourceName)
                guard let tensor = source.tensor(named: sourceName) else {
                    mismatches.append(TransplantMismatch(path: spec.name, sourcePath: sourceName, sourceShape: nil, targetShape: spec.shape,
                                                         detail: "missing in source"))
                    continue
                }
                let targetDType = target.tensor(named: spec.name)?.dtype ?? spec.dtype
                if tensor.shape != spec.shape {
                    mismatches.append(TransplantMismatch(path: spec.name, sourcePath: sourceName, sourceShape: tensor.shape, targetShape: spec.shape,
                                                         detail: "shape"))
                } else if tensor.dtype != targetDType {
                    mismatches.append(TransplantMismatch(path: spec.name, sourcePath: sourceName, sourceShape: tensor.shape, targetShape: spec.shape,
                                                         detail: "dtype \(tensor.dtype.rawValue) vs \(targetDType.rawValue)"))
                } else {
                    moves.append(TransplantMove(source: sourceName, target: spec.name))
                }
            }
            for named in source.tensors where TransplantPlan.isInside(named.name, sourcePath) && !named.allNames.contains(where: claimed.contains) {
                mismatches.append(TransplantMismatch(path: joinPath(targetPath, TransplantPlan.relative(named.name, to: sourcePath)),
                                                     sourcePath: named.name, sourceShape: named.tensor.shape, targetShape: nil,
                                                     detail: "not in target"))
            }
            // A module whose type or configuration differs moves nothing.
            if mismatches.contains(where: \.isStructural) {
                moves = []
            }
            modules.append(TransplantModulePlan(sourcePath: sourcePath, targetPath: targetPath, moves: moves, mismatches: mismatches))
        }
        self.modules = modules
    }

    /// The destination with every move applied: the destination's tensors, with the moved
    /// ones replaced by the source's (each kept under the destination's name and aliases).
    public func apply(source: Checkpoint, to target: Checkpoint) -> Checkpoint {
        var bySource: [String: Tensor] = [:]
        for move in moves { bySource[move.target] = source.tensor(named: move.source) }
        var result = target
        result.tensors = target.tensors.map { named in
            guard let name = named.allNames.first(where: { bySource[$0] != nil }), let tensor = bySource[name] else { return named }
            return NamedTensor(name: named.name, aliases: named.aliases, tensor: tensor)
        }
        return result
    }

    static func isInside(_ name: String, _ path: String) -> Bool {
        path.isEmpty || name == path || name.hasPrefix(path + ".")
    }

    static func relative(_ name: String, to path: String) -> String {
        path.isEmpty ? name : (name == path ? "" : String(name.dropFirst(path.count + 1)))
    }

    /// Type, configuration and child names of two module subtrees, compared recursively.
    static func structuralDifferences(_ a: ExpandedModule, _ b: ExpandedModule, sourceBase: String, targetBase: String) -> [TransplantMismatch] {
        let display = b.path.isEmpty ? "(root)" : b.path
        if a.layer.type != b.layer.type {
            return [TransplantMismatch(path: display, sourcePath: a.path, sourceShape: nil, targetShape: nil,
                                       detail: "type: source \(a.layer.type.rawValue), target \(b.layer.type.rawValue)")]
        }
        var out: [TransplantMismatch] = []
        if a.layer != b.layer {
            out.append(TransplantMismatch(path: display, sourcePath: a.path, sourceShape: nil, targetShape: nil,
                                          detail: "configuration: source \(ArchitecturePrinter.repr(a.layer)), target \(ArchitecturePrinter.repr(b.layer))"))
        }
        if a.children.map(\.name) != b.children.map(\.name) {
            out.append(TransplantMismatch(path: display, sourcePath: a.path, sourceShape: nil, targetShape: nil,
                                          detail: "children: source [\(a.children.map(\.name).joined(separator: ", "))], target [\(b.children.map(\.name).joined(separator: ", "))]"))
            return out
        }
        for (x, y) in zip(a.children, b.children) {
            out += structuralDifferences(x, y, sourceBase: sourceBase, targetBase: targetBase)
        }
        return out
    }
}
