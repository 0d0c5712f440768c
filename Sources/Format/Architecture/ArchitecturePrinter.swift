import Foundation

/// The module tree printed as PyTorch prints a module, with each module's output shape
/// (when an input shape is known) and parameter count beside it.
public enum ArchitecturePrinter {
    /// The tree as text, PyTorch's `repr` per module with output shapes (for `inputShape`
    /// or the document's own) and parameter counts; totals at the end.
    public static func render(_ document: ArchitectureDocument, inputShape: [Int]? = nil) throws -> String {
        let tree = try document.tree()
        let specs = (try? tree.tensorSpecs()) ?? []
        var trace: ShapeTrace?
        var shapeNote: String?
        if let input = inputShape ?? document.inputShape {
            do {
                let (partial, stop) = try tree.traceShapesUntilOpaque(input: input)
                trace = partial
                shapeNote = stop.map { "shapes: \($0)" }
            } catch { shapeNote = "shapes: \(error)" }
        }
        // Parameters counted at their owner; a Shared module adds none of its own. Each
        // spec is at most 2^48 elements and there are at most 2^16 modules, so counts fit in
        // 64 bits; they are still added with checks, as every size from a file is.
        var ownCount: [String: Int] = [:]
        for spec in specs where spec.role == .parameter {
            ownCount[spec.modulePath] = try Checked.sum([ownCount[spec.modulePath, default: 0], spec.elementCount])
        }

        var rows: [(left: String, shape: String, count: String)] = []
        var subtreeCounts: [String: Int] = [:]
        func countSubtree(_ module: ExpandedModule) throws -> Int {
            let total = try Checked.sum([ownCount[module.path, default: 0]] + module.children.map(countSubtree))
            subtreeCounts[module.path] = total
            return total
        }
        _ = try countSubtree(tree.root)
        func subtreeCount(_ module: ExpandedModule) -> Int { subtreeCounts[module.path, default: 0] }
        func visit(_ module: ExpandedModule, indent: String, label: String) {
            let shape = trace?.outputs[module.path].map(Tensor.describe) ?? ""
            if case .shared(let target) = module.layer, let found = tree.module(at: target) {
                rows.append((indent + label + repr(found.layer) + (found.children.isEmpty ? "" : "(...)"), shape, "shared with \(target)"))
                return
            }
            let count = subtreeCount(module)
            let countText = count > 0 ? grouped(count) + " params" : ""
            if module.children.isEmpty {
                rows.append((indent + label + repr(module.layer), shape, countText))
            } else {
                rows.append((indent + label + containerName(module.layer) + "(", shape, countText))
                for child in module.children { visit(child, indent: indent + "  ", label: "(\(child.name)): ") }
                rows.append((indent + ")", "", ""))
            }
        }
        visit(tree.root, indent: "", label: "")

        let width = min(rows.map(\.left.count).max() ?? 0, 80)
        let shapeWidth = rows.map(\.shape.count).max() ?? 0
        var out = ""
        for row in rows {
            var line = row.left
            if !row.shape.isEmpty || !row.count.isEmpty {
                line = line.padding(toLength: max(width, line.count), withPad: " ", startingAt: 0)
                line += "  " + row.shape.padding(toLength: shapeWidth, withPad: " ", startingAt: 0)
                line += "  " + row.count
            }
            out += line.trimmingCharacters(in: .whitespaces) == "" ? "\n" : line.replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression) + "\n"
        }
        let parameters = try Checked.sum(specs.filter { $0.role == .parameter }.map(\.elementCount))
        let buffers = try Checked.sum(specs.filter { $0.role == .buffer }.map(\.elementCount))
        let tied = specs.filter { !$0.aliases.isEmpty }.count
        out += "parameters: \(grouped(parameters))"
        if buffers > 0 { out += ", buffer elements: \(grouped(buffers))" }
        if tied > 0 { out += ", \(tied) tensor\(tied == 1 ? "" : "s") tied under several names" }
        out += "\n"
        if let input = trace?.input { out += "input: \(Tensor.describe(input))\n" }
        // Every Opaque module with its reason, as the engine's refusal lists them.
        for module in tree.allModules() {
            if case .opaque(let c) = module.layer {
                out += "cannot run: module '\(ArchitectureParser.displayPath(module.path))' is Opaque (class \(c.className)"
                    + (c.reason.map { ": \($0)" } ?? "") + ")\n"
            }
        }
        if let shapeNote { out += shapeNote + "\n" }
        return out
    }

    static func containerName(_ layer: Layer) -> String {
        switch layer {
        case .parallel(let axis): return "Parallel[dim=\(axis)]"
        case .opaque(let c): return "\(c.className) [Opaque]"
        default: return layer.type.rawValue
        }
    }

    /// PyTorch's `repr` of a leaf module.
    public static func repr(_ layer: Layer) -> String {
        func bool(_ flag: Bool) -> String { flag ? "True" : "False" }
        func size(_ value: Int?) -> String { value.map(String.init) ?? "?" }
        func number(_ value: Double) -> String {
            if value != 0, abs(value) < 1e-4 { return String(format: "%g", value) }
            return value.rounded() == value ? String(format: "%.1f", value) : "\(value)"
        }
        switch layer {
        case .linear(let c):
            return "Linear(in_features=\(size(c.inFeatures)), out_features=\(c.outFeatures), bias=\(bool(c.bias)))"
        case .conv2d(let c):
            var parts = ["\(size(c.inChannels))", "\(c.outChannels)", "kernel_size=\(c.kernelSize)", "stride=\(c.stride)"]
            if c.padding != Pair(0) { parts.append("padding=\(c.padding)") }
            if c.dilation != Pair(1) { parts.append("dilation=\(c.dilation)") }
            if c.groups != 1 { parts.append("groups=\(c.groups)") }
            if !c.bias { parts.append("bias=False") }
            return "Conv2d(" + parts.joined(separator: ", ") + ")"
        case .maxPool2d(let c):
            return "MaxPool2d(kernel_size=\(pair(c.kernelSize)), stride=\(pair(c.stride)), padding=\(pair(c.padding)), dilation=\(pair(c.dilation)), ceil_mode=\(bool(c.ceilMode)))"
        case .avgPool2d(let c):
            var text = "AvgPool2d(kernel_size=\(pair(c.kernelSize)), stride=\(pair(c.stride)), padding=\(pair(c.padding))"
            if c.ceilMode { text += ", ceil_mode=True" }
            if !c.countIncludePad { text += ", count_include_pad=False" }
            return text + ")"
        case .adaptiveAvgPool2d(let size):
            return "AdaptiveAvgPool2d(output_size=(\(size.map { $0.map(String.init) ?? "None" }.joined(separator: ", "))))"
        case .batchNorm1d(let c), .batchNorm2d(let c):
            return "\(layer.type.rawValue)(\(size(c.numFeatures)), eps=\(number(c.eps)), momentum=\(number(c.momentum)), affine=\(bool(c.affine)), track_running_stats=\(bool(c.trackRunningStats)))"
        case .layerNorm(let c):
            let shape = c.normalizedShape.count == 1 ? "(\(c.normalizedShape[0]),)" : "(" + c.normalizedShape.map(String.init).joined(separator: ", ") + ")"
            return "LayerNorm(\(shape), eps=\(number(c.eps)), elementwise_affine=\(bool(c.elementwiseAffine)))"
        case .dropout(let p): return "Dropout(p=\(number(p)), inplace=False)"
        case .flatten(let start, let end): return "Flatten(start_dim=\(start), end_dim=\(end))"
        case .identity: return "Identity()"
        case .activation(let activation):
            switch activation {
            case .relu: return "ReLU()"
            case .leakyReLU(let slope): return "LeakyReLU(negative_slope=\(number(slope)))"
            case .sigmoid: return "Sigmoid()"
            case .tanh: return "Tanh()"
            case .gelu: return "GELU(approximate='none')"
            case .geluTanh: return "GELU(approximate='tanh')"
            case .silu: return "SiLU()"
            }
        case .softmax(let dim): return "Softmax(dim=\(dim))"
        case .tensorReduction(let inFeatures, let outFeatures):
            return "TensorReduction(in_features=\(size(inFeatures)), out_features=\(outFeatures))"
        case .fourierHalf: return "FourierHalf()"
        case .opaque(let c): return "\(c.className)() [Opaque: cannot run]"
        case .shared(let target): return "Shared(\(target))"
        case .sequential, .parallel, .repeated: return containerName(layer) + "()"
        }
    }

    private static func pair(_ value: Pair) -> String { value.h == value.w ? "\(value.h)" : "\(value)" }

    /// 1234567 as "1,234,567".
    public static func grouped(_ value: Int) -> String {
        let digits = String(value)
        var out = ""
        for (index, character) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { out += "," }
            out.append(character)
        }
        return out
    }
}
