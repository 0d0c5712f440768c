import Foundation
import Format

extension VersionDiff {
    /// Compares two whole checkpoints (files, or a file and a stored version) as
    /// `Store.diff` compares versions: tensors by name (same bytes, dtype, shape and aliases
    /// is `same`), changed ones measured by the same `TensorDifference`; architecture,
    /// metadata and structure as JSON; probes by name, tensors and tolerances.
    public static func between(_ a: Checkpoint, _ b: Checkpoint, labels: (String, String)) -> VersionDiff {
        let after = Dictionary(b.tensors.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let before = Set(a.tensors.map(\.name))
        var changes: [TensorChange] = []
        for old in a.tensors {
            let x = old.tensor
            guard let new = after[old.name] else {
                changes.append(TensorChange(name: old.name, status: .removed, dtype: [x.dtype.rawValue], shape: [x.shape]))
                continue
            }
            let y = new.tensor
            let equal = x.dtype == y.dtype && x.shape == y.shape && x.data == y.data
            var change = TensorChange(name: old.name, status: equal ? .same : .changed,
                                      dtype: [x.dtype.rawValue, y.dtype.rawValue], shape: [x.shape, y.shape])
            if old.aliases != new.aliases {
                change.aliases = [old.aliases, new.aliases]
                change.status = .changed
            }
            if !equal, x.dtype == y.dtype, x.shape == y.shape { Store.measure(x, y, into: &change) }
            changes.append(change)
        }
        for new in b.tensors where !before.contains(new.name) {
            changes.append(TensorChange(name: new.name, status: .added, dtype: [new.tensor.dtype.rawValue], shape: [new.tensor.shape]))
        }
        func document(_ data: Data?) -> JSONValue? {
            data.map { (try? JSONValue.parse($0)) ?? .string(String(decoding: $0, as: UTF8.self)) }
        }
        let newProbes = Dictionary(b.probes.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let oldNames = Set(a.probes.map(\.name))
        let changedProbes = a.probes.filter { probe in
            guard let other = newProbes[probe.name] else { return false }
            return probe.inputs.map(\.data) != other.inputs.map(\.data) || probe.outputs.map(\.data) != other.outputs.map(\.data)
                || probe.rtol != other.rtol || probe.atol != other.atol || probe.origin != other.origin
        }
        return VersionDiff(a: labels.0, b: labels.1, tensors: changes,
                           architecture: JSONDiff.diff(document(a.architecture?.text), document(b.architecture?.text)),
                           metadata: JSONDiff.diff(a.metadata, b.metadata),
                           structure: JSONDiff.diff(a.structure?.jsonValue, b.structure?.jsonValue),
                           probesAdded: b.probes.map(\.name).filter { !oldNames.contains($0) },
                           probesRemoved: a.probes.map(\.name).filter { newProbes[$0] == nil },
                           probesChanged: changedProbes.map(\.name))
    }
}
