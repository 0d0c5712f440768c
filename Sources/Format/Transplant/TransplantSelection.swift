import Foundation

/// Which modules a transplant moves: `--layers SEL` and `--to SEL`.
///
/// A selection is a comma-separated list of items; each item is a dotted module path
/// (`0`, `0.net`, `encoder.layer.3`), an index range of a Sequential (`0:3`,
/// `encoder.layer.1:3`, end excluded as in Python), or a glob over module paths
/// (`encoder.layer.[0-1]`, `*` `?` `[...]`). Paths are resolved against a module tree, in order.
public enum TransplantSelection {
    /// The module paths `selection` names in `tree`, in the order given (globs and ranges
    /// expand in tree order). Throws naming the item that matches nothing.
    public static func resolve(_ selection: String, in tree: ModuleTree) throws -> [String] {
        let items = selection.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard !items.isEmpty, !items.contains(where: \.isEmpty) else {
            throw FormatError(.invalidValue(field: "selection", value: "'\(selection)'", expected: "a comma-separated list without empty items"))
        }
        var paths: [String] = []
        for item in items {
            let found = try resolveItem(item, in: tree)
            guard !found.isEmpty else { throw FormatError(.notFound(kind: "module for the selection", name: item)) }
            for path in found where !paths.contains(path) { paths.append(path) }
        }
        return paths
    }

    static func resolveItem(_ item: String, in tree: ModuleTree) throws -> [String] {
        if item.contains(where: { "*?[".contains($0) }) {
            let glob = NameGlob(item)
            return tree.allModules().map(\.path).filter { !$0.isEmpty && glob.matches($0) }
        }
        let parts = item.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        if let last = parts.last, last.contains(":") {
            let bounds = last.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard bounds.count == 2, let start = bounds[0].isEmpty ? 0 : Int(bounds[0]), start >= 0 else {
                throw FormatError(.invalidValue(field: "selection", value: "'\(item)'", expected: "a range START:END with integer bounds"))
            }
            let parentPath = parts.dropLast().joined(separator: ".")
            guard let parent = tree.module(at: parentPath) else { throw FormatError(.context("selection '\(item)'", .notFound(kind: "module", name: parentPath))) }
            let end: Int
            if bounds[1].isEmpty { end = parent.children.count } else {
                guard let value = Int(bounds[1]) else {
                    throw FormatError(.invalidValue(field: "selection", value: "'\(item)'", expected: "a range START:END with integer bounds"))
                }
                end = value
            }
            guard start < end else { throw FormatError(.invalidValue(field: "selection", value: "'\(item)'", expected: "a range that is not empty")) }
            return (start ..< end).compactMap { index in tree.module(at: joinPath(parentPath, String(index)))?.path }
        }
        return tree.module(at: item).map { [$0.path] } ?? []
    }

    /// Applies `--map FROM=TO` rewrites to a name: the first rule whose FROM is a prefix wins.
    public static func mapped(_ name: String, rules: [(from: String, to: String)]) -> String {
        for rule in rules where name.hasPrefix(rule.from) {
            return rule.to + name.dropFirst(rule.from.count)
        }
        return name
    }

    /// Parses `FROM=TO` (TO may be empty: `module.=` strips a prefix).
    public static func parseRule(_ text: String) throws -> (from: String, to: String) {
        guard let equals = text.firstIndex(of: "="), equals != text.startIndex else {
            throw FormatError(.invalidValue(field: "--map", value: "'\(text)'", expected: "FROM=TO (e.g. module.=)"))
        }
        return (String(text[..<equals]), String(text[text.index(after: equals)...]))
    }
}
