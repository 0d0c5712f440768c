import Foundation

/// The outline `ckpt inspect` prints for a torch file: one line per value, children indented.
struct TorchTree {
    let archive: TorchArchive
    /// Children shown per container before the rest is summarized.
    var maxChildren = 24
    var maxLines = 2000

    func render() throws -> String {
        let walk = PickleWalk()
        var lines: [String] = []
        let format = archive.kind == .zip ? "zip archive '\(archive.prefix ?? "")/'" : "legacy (pre-1.6) format"
        lines.append("torch.save \(format), pickle protocol \(archive.protocolVersion), \(archive.storages.count) storage(s)"
                     + (archive.bigEndian ? ", big-endian" : ""))
        var onPath = Set<ObjectIdentifier>()
        var shown: [ObjectIdentifier: String] = [:]
        try line(archive.root, label: "(root)", path: "", indent: "", into: &lines, walk: walk, onPath: &onPath, shown: &shown, depth: 0)
        // Names, keys, strings and class names come from the file: every line is escaped for
        // display here, once, so a newline or an ANSI escape in them cannot forge lines.
        return lines.map(\.escapedForDisplay).joined(separator: "\n")
    }

    private func line(_ value: PickleValue, label: String, path: String, indent: String, into lines: inout [String], walk: PickleWalk,
                      onPath: inout Set<ObjectIdentifier>, shown: inout [ObjectIdentifier: String], depth: Int) throws {
        try walk.count()
        guard lines.count < maxLines else { return }
        if lines.count == maxLines - 1 {
            lines.append("\(indent)... (outline cut at \(maxLines) lines)")
            return
        }
        guard depth <= walk.maxDepth else {
            lines.append("\(indent)\(label): ... (nested too deep)")
            return
        }
        if let id = value.identity, onPath.contains(id) {
            lines.append("\(indent)\(label): (cycle)")
            return
        }
        // A tensor or module met again (tied weights, a shared module) is named, not repeated.
        switch value {
        case .tensor, .object:
            if let id = value.identity {
                if let first = shown[id] {
                    lines.append("\(indent)\(label): same \(TorchModuleParts.of(value) == nil ? "tensor" : "module") as '\(first)'")
                    return
                }
                shown[id] = path
            }
        default: break
        }
        let children: [(String, PickleValue)]
        var summary = describe(value)
        if let (object, parts) = TorchModuleParts.of(value) {
            summary = moduleSummary(object, parts)
            children = parts.parameters + parts.buffers + parts.children
        } else {
            children = TorchPaths.children(of: value)
        }
        lines.append("\(indent)\(label): \(summary)")
        guard !children.isEmpty, let id = value.identity else { return }
        onPath.insert(id)
        defer { onPath.remove(id) }
        for (name, child) in children.prefix(maxChildren) {
            try line(child, label: name, path: joinPath(path, name), indent: indent + "  ", into: &lines, walk: walk, onPath: &onPath,
                     shown: &shown, depth: depth + 1)
        }
        if children.count > maxChildren {
            let rest = children.dropFirst(maxChildren)
            let tensors = rest.filter { if case .tensor = $0.1 { return true }; return false }.count
            lines.append("\(indent)  ... \(rest.count) more" + (tensors > 0 ? " (\(tensors) tensors)" : ""))
        }
    }

    private func describe(_ value: PickleValue) -> String {
        switch value {
        case .none: return "None"
        case .bool(let flag): return flag ? "True" : "False"
        case .int(let n): return String(n)
        case .bigInt(let bytes): return "int (\(bytes.count) bytes)"
        case .float(let x): return "\(x)"
        case .string(let text):
            let shown = text.count > 60 ? String(text.prefix(57)) + "..." : text
            return "'\(shown)'"
        case .bytes(let data): return "bytes[\(data.count)]"
        case .tuple(let tuple): return "tuple, \(tuple.items.count) items"
        case .list(let list): return "\(list.isSet ? "set" : "list"), \(list.items.count) items"
        case .dict(let dict): return "\(dict.className == nil ? "dict" : "OrderedDict"), \(dict.count) entries"
        case .global(let global): return "\(global.qualifiedName) (global, not resolved)"
        case .storage(let storage): return "storage '\(storage.key)'"
        case .tensor(let tensor):
            var text = "tensor \(tensor.summary)"
            if tensor.isParameter { text += " (parameter)" }
            text += ", storage '\(tensor.storage.key)'"
            if tensor.offset != 0 { text += " at \(tensor.offset)" }
            if !ElementBytes.isCContiguous(shape: tensor.shape, stride: tensor.stride) { text += ", strides \(Tensor.describe(tensor.stride))" }
            return text
        case .object(let object): return "object \(object.className)"
        }
    }

    private func moduleSummary(_ object: PickleObject, _ parts: TorchModuleParts) -> String {
        let short = object.className.split(separator: ".").last.map(String.init) ?? object.className
        var settings: [String] = []
        for (key, value) in parts.attributes.entries {
            guard let name = key.stringValue, !name.hasPrefix("_"), name != "training",
                  let json = TorchModuleDocument.simpleJSON(value),
                  let text = try? String(decoding: json.serialized(), as: UTF8.self) else { continue }
            settings.append("\(name)=\(text)")
        }
        return "module \(short)(\(settings.joined(separator: ", "))) [\(object.className)]"
    }
}
