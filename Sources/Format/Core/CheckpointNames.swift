import Foundation

/// The one rule for the names a checkpoint gives things: tensor names and aliases, probe
/// names, the names of a probe's tensors and section names.
///
/// A name is a non-empty string without U+0000. Empty names cannot be addressed on a
/// command line or in a state_dict; NUL ends a string in C, SQLite and most other readers,
/// so a second implementation would see a different name. Everything else is allowed
/// (PyTorch allows any key); control characters are escaped when names are displayed
/// (`String.escapedForDisplay`), never refused. Names within one scope are unique.
///
/// The container's writer and its reader's validator both apply this rule, so a file
/// that `verify` accepts can always be written again by `import`.
public enum CheckpointNames {
    /// Throws `invalidValue` for the field `<kind> name` (`tensor name`, `probe name`) when
    /// `name` breaks the rule.
    public static func check(_ name: String, kind: @autoclosure () -> String) throws {
        guard !name.isEmpty else {
            throw FormatError(.invalidValue(field: "\(kind()) name", value: "''", expected: "a non-empty name"))
        }
        guard !name.utf8.contains(0) else {
            throw FormatError(.invalidValue(field: "\(kind()) name", value: "'\(name)'", expected: "a name without NUL characters"))
        }
    }

    /// Checks `name` and adds it to `seen`, throwing `duplicateName` if it was there.
    public static func claim(_ name: String, kind: @autoclosure () -> String, in seen: inout Set<String>) throws {
        try check(name, kind: kind())
        guard seen.insert(name).inserted else { throw FormatError(.duplicateName(kind: kind(), name: name)) }
    }
}

extension Checkpoint {
    /// Checks every name against `CheckpointNames`: tensor names and aliases together
    /// unique, probe names unique. (Probe tensors are named by the writer.)
    public func validateNames() throws {
        var names = Set<String>()
        for tensor in tensors {
            try CheckpointNames.claim(tensor.name, kind: "tensor", in: &names)
            for alias in tensor.aliases { try CheckpointNames.claim(alias, kind: "tensor", in: &names) }
        }
        var probeNames = Set<String>()
        for probe in probes { try CheckpointNames.claim(probe.name, kind: "probe", in: &probeNames) }
    }
}
