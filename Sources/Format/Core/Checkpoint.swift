import Foundation

/// A named input with its reference outputs. `ckpt verify` runs the network on
/// `inputs` and compares with `outputs` within `rtol`/`atol`. A `sample` probe has inputs
/// only (an exporter's example inputs) until an expected output is given for it.
public struct Probe: Sendable {
    /// Where the reference outputs came from.
    public enum Origin: String, Codable, Sendable {
        /// Given by the user (`--expect`): ground truth from elsewhere, e.g. PyTorch.
        case expected
        /// Recorded from ckpt's own engine: guards against regressions, proves nothing more.
        case recorded
        /// Inputs only, with no outputs: the example inputs a torch.export program carries.
        /// Nothing to compare yet; `ckpt probe add` gives it an expected output.
        case sample
    }

    public var name: String
    public var inputs: [Tensor]
    public var outputs: [Tensor]
    public var rtol: Double
    public var atol: Double
    public var origin: Origin

    public init(name: String, inputs: [Tensor], outputs: [Tensor], rtol: Double = 1e-5, atol: Double = 1e-6, origin: Origin) {
        self.name = name
        self.inputs = inputs
        self.outputs = outputs
        self.rtol = rtol
        self.atol = atol
        self.origin = origin
    }
}

/// Everything a `.ckpt` holds, in memory: tensors (with aliases), the architecture
/// document, free-form metadata and probes. Importers produce one; exporters take one.
public struct Checkpoint: Sendable {
    public var tensors: [NamedTensor]
    /// The architecture document, parsed and validated (see `spec/ARCH.md`); its stored
    /// JSON text is `architecture.text`.
    public var architecture: Architecture?
    public var metadata: JSONValue?
    public var probes: [Probe]

    public init(tensors: [NamedTensor] = [], architecture: Architecture? = nil, metadata: JSONValue? = nil, probes: [Probe] = []) {
        self.tensors = tensors
        self.architecture = architecture
        self.metadata = metadata
        self.probes = probes
    }

    /// The tensor known by `name`, whether it is the stored name or an alias.
    public func tensor(named name: String) -> Tensor? {
        tensors.first(where: { $0.name == name || $0.aliases.contains(name) })?.tensor
    }

    /// Every name, aliases included, in storage order.
    public var allNames: [String] { tensors.flatMap(\.allNames) }
}

extension Probe {
    /// Whether the probe has outputs to compare against (every origin but `sample`).
    public var hasOutputs: Bool { origin != .sample && !outputs.isEmpty }
}
