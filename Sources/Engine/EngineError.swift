import Foundation
import Format

/// Why the engine refused or failed. Each case carries the facts (the module, the tensor,
/// the sizes); the one-line message is derived from them, with every name taken from a file
/// escaped for display. Callers and tests match cases, never the text.
public enum EngineError: Error, Equatable, Sendable {
    /// The network holds modules the engine cannot run: every one, in tree order, with its
    /// class and the reason the document gives (the message ends with how to export a `.pt2`).
    case opaqueModules([OpaqueModule])
    /// The checkpoint carries no architecture document, so there is no network to run.
    case noArchitecture
    /// A tensor the document names is not in the checkpoint (or was not loaded).
    case missingTensor(name: String)
    /// A BatchNorm module lacks its running statistics.
    case missingStatistics(module: String)
    /// No module at `path` in the document.
    case noModule(path: String)
    /// A module the plan builder cannot turn into kernels (`why` says what is wrong with it).
    case unsupportedLayer(module: String, type: String, why: String)
    /// The tensors do not fit the architecture document: every mismatch, name by name.
    case architectureMismatch([ArchitectureMismatch])
    /// An input shape the network cannot take (empty, or a size not positive).
    case invalidInputShape([Int])
    /// `Plan.run` was given buffers of the wrong sizes.
    case bufferSizeMismatch(expectedInput: Int, expectedOutput: Int, input: Int, output: Int)
    /// An upload or download past the end of a device buffer.
    case bufferOverrun(operation: String, count: Int, offset: Int, capacity: Int)
    /// A buffer made by one backend reached another.
    case foreignBuffer(backend: String)
    /// Values of a dtype the engine does not compute with.
    case unsupportedDType(DType)
    /// A probe with other than one input and one output (the network takes one, gives one).
    case probeArity(probe: String, inputs: Int, outputs: Int)
    /// A layer whose output (or an input) has a size that is not positive.
    case emptyOutput(what: String, shape: [Int])
    /// A size the plan computes (elements or bytes of `what`) does not fit in an Int.
    case arithmeticOverflow(what: String)
    /// A buffer of `bytes` for `what` is refused by the memory budget (`inUse` of `limit` already reserved).
    case allocationRefused(what: String, bytes: UInt64, inUse: UInt64, limit: UInt64)
    /// KissFFT could not plan a transform of this length.
    case fourierPlan(length: Int)
    /// A transplant is recorded in the metadata but the checkpoint has no architecture document.
    case transplantWithoutArchitecture
    /// An `--init` rule or initializer that does not parse (`text` as given).
    case invalidInitRule(text: String, problem: InitRuleProblem)
    /// An initializer that needs a matrix-like tensor met one of fewer than two axes.
    case initializerNeedsAxes(initializer: String, tensor: String, shape: [Int])
    /// A fan-based initializer met a tensor whose fan is zero.
    case zeroFan(initializer: String, tensor: String)
    /// An `--init` rule that matches no parameter (`example` is a real parameter name).
    case ruleMatchesNothing(rule: String, example: String)
    /// A graph document uses ops the engine cannot run: each op with how many nodes use it.
    case unsupportedOps([UnsupportedOp])
    /// A graph node the compiler cannot turn into kernels (`why` says what is wrong with it).
    case invalidNode(node: String, op: String, why: String)
    /// The graph takes `expected` user inputs; `given` were given.
    case graphInputCount(expected: Int, given: Int)
    /// Input `input` has a shape the graph does not accept: `declared` as the document
    /// writes it (symbols by name), `given` as given.
    case inputShapeMismatch(input: String, declared: String, given: [Int])
    /// Input `input` is of a dtype the graph does not take (`declared`).
    case inputDTypeMismatch(input: String, declared: DType, given: DType)
    /// Symbol `symbol` (a dynamic size) bound to `value`, outside the range the program was exported for.
    case symbolOutOfRange(symbol: String, value: Int, low: Int?, high: Int?)
    /// An integer value the engine holds as float32 is beyond ±2^24, where float32 stops being exact.
    case integerTooLarge(what: String, value: Int64)
    /// An index (an embedding id, a gathered position) outside an axis of `size`.
    case indexOutOfRange(index: Int, size: Int)
    /// A backend that does not implement a kernel the plan needs.
    case kernelUnavailable(backend: String, kernel: String)
    /// `inner`, raised while working on `file`.
    indirect case inFile(String, EngineError)

    /// The error under any `inFile` wrapping.
    public var root: EngineError {
        if case .inFile(_, let inner) = self { return inner.root }
        return self
    }

    /// This error attributed to `file` (once: an error already naming a file keeps it).
    public func naming(_ file: String) -> EngineError {
        if case .inFile = self { return self }
        return .inFile(file, self)
    }
}

/// A module of a network that is Opaque: its dotted path, class and why (nil: the document does not say).
public struct OpaqueModule: Equatable, Sendable {
    public var path: String
    public var className: String
    public var reason: OpaqueReason?

    public init(path: String, className: String, reason: OpaqueReason? = nil) {
        self.path = path
        self.className = className
        self.reason = reason
    }

    /// How to give ckpt a network it can run instead: torch.export's program of the model.
    public static let exportHint = "export a .pt2 instead: torch.export.save(torch.export.export(model, (x,)), 'm.pt2') then ckpt import m.pt2"
}

/// An op of a graph document the engine cannot run, and how many nodes use it.
public struct UnsupportedOp: Equatable, Sendable {
    public var op: String
    public var count: Int

    public init(op: String, count: Int) {
        self.op = op
        self.count = count
    }
}

/// What is wrong with an `--init` rule.
public enum InitRuleProblem: Equatable, Sendable {
    /// No `=` with a pattern before it.
    case notPatternEqualsInitializer
    case missingClosingParenthesis
    case badMode
    case badNonlinearity(known: [String])
    case unknownInitializer(name: String, known: [String])
    case missingArgument(key: String)
    case notANumber(key: String, value: String)
    case unknownArgument(key: String)
    case tooManyArguments
}

extension EngineError: CustomStringConvertible, LocalizedError {
    public var description: String {
        func name(_ path: String) -> String { path.isEmpty ? "(root)" : path.escapedForDisplay }
        switch self {
        case let .opaqueModules(modules):
            let listing = modules.map { module in
                "'\(name(module.path))' (\(module.className.escapedForDisplay)\(module.reason.map { ": \($0)" } ?? ""))"
            }.joined(separator: ", ")
            let count = modules.count
            return "cannot run: \(count) module\(count == 1 ? " is" : "s are") Opaque: \(listing); \(OpaqueModule.exportHint)"
        case .noArchitecture:
            return "cannot run: the checkpoint has no architecture document (give one with `ckpt import --arch`)"
        case let .missingTensor(tensor):
            return "tensor '\(tensor.escapedForDisplay)' is missing"
        case let .missingStatistics(module):
            return "module '\(name(module))' (BatchNorm): running statistics are missing"
        case let .noModule(path):
            return "no module '\(name(path))' to run"
        case let .unsupportedLayer(module, type, why):
            return "module '\(name(module))' (\(type.escapedForDisplay)): \(why)"
        case let .architectureMismatch(mismatches):
            let count = mismatches.count
            return "the tensors do not match the architecture (\(count) mismatch\(count == 1 ? "" : "es")):\n"
                + mismatches.map { "  " + $0.description.escapedForDisplay }.joined(separator: "\n")
        case let .invalidInputShape(shape):
            return "input shape \(Tensor.describe(shape)) must be one or more positive sizes"
        case let .bufferSizeMismatch(expectedInput, expectedOutput, input, output):
            return "the plan takes \(expectedInput) values and gives \(expectedOutput); got buffers of \(input) and \(output)"
        case let .bufferOverrun(operation, count, offset, capacity):
            return "\(operation) of \(count) values at \(offset) overruns a buffer of \(capacity)"
        case let .foreignBuffer(backend):
            return "a buffer of another backend reached \(backend)"
        case let .unsupportedDType(dtype):
            return "cannot compute with \(dtype.rawValue) values; the engine takes f32, f16, bf16 and f64"
        case let .probeArity(probe, inputs, outputs):
            return "probe '\(probe.escapedForDisplay)' has \(inputs) input\(inputs == 1 ? "" : "s") and \(outputs) output\(outputs == 1 ? "" : "s"); the network takes one and gives one"
        case let .emptyOutput(what, shape):
            return "\(what.escapedForDisplay): shape \(Tensor.describe(shape)) has a size that is not positive"
        case let .arithmeticOverflow(what):
            return "\(what.escapedForDisplay): the size overflows"
        case let .allocationRefused(what, bytes, inUse, limit):
            return "\(what.escapedForDisplay): refused to allocate \(bytes) bytes (\(inUse) of the \(limit)-byte memory budget in use; set CKPT_MEMORY_LIMIT to change it)"
        case let .fourierPlan(length):
            return "KissFFT cannot plan a transform of length \(length)"
        case .transplantWithoutArchitecture:
            return "transplant recorded but the checkpoint has no architecture document"
        case let .invalidInitRule(text, problem):
            let rule = text.escapedForDisplay
            switch problem {
            case .notPatternEqualsInitializer: return "init rule '\(rule)' must read PATTERN=INITIALIZER, e.g. '*.weight=xavier_uniform'"
            case .missingClosingParenthesis: return "initializer '\(rule)': missing ')'"
            case .badMode: return "initializer '\(rule)': mode must be fan_in or fan_out"
            case let .badNonlinearity(known): return "initializer '\(rule)': nonlinearity must be one of \(known.joined(separator: ", "))"
            case let .unknownInitializer(unknown, known):
                return "unknown initializer '\(unknown.escapedForDisplay)' (known: \(known.joined(separator: ", ")))"
            case let .missingArgument(key): return "initializer '\(rule)' needs \(key)"
            case let .notANumber(key, value): return "initializer '\(rule)': \(key.escapedForDisplay) must be a number, not '\(value.escapedForDisplay)'"
            case let .unknownArgument(key): return "initializer '\(rule)': unknown argument '\(key.escapedForDisplay)'"
            case .tooManyArguments: return "initializer '\(rule)': too many arguments"
            }
        case let .initializerNeedsAxes(initializer, tensor, shape):
            return "\(initializer) needs a tensor of 2 or more axes; '\(tensor.escapedForDisplay)' has shape \(Tensor.describe(shape))"
        case let .zeroFan(initializer, tensor):
            return "\(initializer): '\(tensor.escapedForDisplay)' has a zero fan"
        case let .ruleMatchesNothing(rule, example):
            return "init rule '\(rule.escapedForDisplay)' matches no parameter (names look like '\(example.escapedForDisplay)')"
        case let .unsupportedOps(ops):
            let listing = ops.map { "\($0.op.escapedForDisplay) (\($0.count) node\($0.count == 1 ? "" : "s"))" }.joined(separator: ", ")
            return "cannot run: the graph uses \(ops.count) op\(ops.count == 1 ? "" : "s") the engine does not implement: \(listing)"
        case let .invalidNode(node, op, why):
            return "node '\(node.escapedForDisplay)' (\(op.escapedForDisplay)): \(why.escapedForDisplay)"
        case let .graphInputCount(expected, given):
            return "the graph takes \(expected) input\(expected == 1 ? "" : "s"); \(given) given"
        case let .inputShapeMismatch(input, declared, given):
            return "input '\(input.escapedForDisplay)' must have shape \(declared.escapedForDisplay); got \(Tensor.describe(given))"
        case let .inputDTypeMismatch(input, declared, given):
            return "input '\(input.escapedForDisplay)' must be \(declared.rawValue); got \(given.rawValue)"
        case let .symbolOutOfRange(symbol, value, low, high):
            return "size \(symbol.escapedForDisplay) = \(value) is outside the exported range [\(low.map(String.init) ?? "-inf"), \(high.map(String.init) ?? "inf")]"
        case let .integerTooLarge(what, value):
            return "\(what.escapedForDisplay): integer \(value) is beyond ±2^24, which the engine cannot hold exactly"
        case let .indexOutOfRange(index, size):
            return "index \(index) is out of range for an axis of size \(size)"
        case let .kernelUnavailable(backend, kernel):
            return "\(backend) does not implement the \(kernel) kernel yet; run on cpu"
        case let .inFile(file, inner):
            return "\(file.escapedForDisplay): \(inner.description)"
        }
    }

    public var errorDescription: String? { description }
}
