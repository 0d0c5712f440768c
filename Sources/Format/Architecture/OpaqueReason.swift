import Foundation

/// Why a module is Opaque: the fact that kept ckpt from describing it as a layer it runs.
/// A document without a reason (written by hand, or before reasons existed) still parses;
/// its module is Opaque for no stated reason (spec/ARCH.md "Opaque").
public enum OpaqueReason: Equatable, Sendable {
    /// A class ckpt has no layer for (`__main__.Scale`, `torch.nn.modules.sparse.Embedding`).
    case unknownClass(name: String)
    /// A known class with a setting ckpt does not compute: `padding_mode` = `'reflect'`
    /// (`value` is the setting as Python writes it).
    case unsupportedSetting(name: String, value: String)
    /// A tensor computed from others at every call (`torch.nn.utils.prune`, the old
    /// `torch.nn.utils.weight_norm`): `method` names the mechanism, `tensors` what is stored
    /// in place of the tensor (`weight_orig`, `weight_mask`).
    case parametrization(method: String, tensors: [String])
    /// Hooks that change what `forward` computes, every kind with how many are registered.
    case hooks([HookCount])
    /// A known class whose attributes are missing or of a kind ckpt does not read (`names`).
    case unreadableAttributes(names: [String])
    /// A known class whose own tensors are not the ones its layer has (`names` as stored).
    case unexpectedTensors(names: [String])
    /// A known leaf class that holds child modules (`names`), which its layer would not run.
    case unexpectedChildren(names: [String])
    /// An object in a module's place that is no `nn.Module` (no `_modules`, `_parameters`).
    case notAModule

    /// The JSON `kind` of each case, as spec/ARCH.md lists them.
    public var kind: String {
        switch self {
        case .unknownClass: return "unknown_class"
        case .unsupportedSetting: return "unsupported_setting"
        case .parametrization: return "parametrization"
        case .hooks: return "hooks"
        case .unreadableAttributes: return "unreadable_attributes"
        case .unexpectedTensors: return "unexpected_tensors"
        case .unexpectedChildren: return "unexpected_children"
        case .notAModule: return "not_a_module"
        }
    }

    /// Every `kind` a document may give.
    public static let kinds = ["unknown_class", "unsupported_setting", "parametrization", "hooks", "unreadable_attributes",
                               "unexpected_tensors", "unexpected_children", "not_a_module"]
}

/// The hooks of one kind a module has registered.
public struct HookCount: Equatable, Sendable {
    public var kind: HookKind
    public var count: Int

    public init(kind: HookKind, count: Int) {
        self.kind = kind
        self.count = count
    }
}

/// The kinds of `nn.Module` hook that change a forward pass. Backward hooks and state_dict
/// hooks do not (spec/ARCH.md "Opaque"), so they are not reasons.
public enum HookKind: String, Equatable, Sendable, CaseIterable {
    /// `register_forward_pre_hook`: may replace the input.
    case forwardPre = "forward_pre"
    /// `register_forward_hook`: may replace the output.
    case forward = "forward"

    /// The `nn.Module.__dict__` entry that holds hooks of this kind.
    public var attribute: String {
        switch self {
        case .forwardPre: return "_forward_pre_hooks"
        case .forward: return "_forward_hooks"
        }
    }

    /// How a message names it: "forward hook", "forward pre-hook".
    public var displayName: String {
        switch self {
        case .forwardPre: return "forward pre-hook"
        case .forward: return "forward hook"
        }
    }
}

extension OpaqueReason: CustomStringConvertible {
    /// One phrase for a message, names escaped for display: "forward hook registered",
    /// "padding_mode='reflect' is not supported".
    public var description: String {
        func names(_ list: [String]) -> String { list.map { $0.escapedForDisplay }.joined(separator: ", ") }
        switch self {
        case .unknownClass:
            // The class is named beside every reason already.
            return "a class ckpt does not know"
        case .unsupportedSetting(let name, let value):
            return "\(name.escapedForDisplay)=\(value.escapedForDisplay) is not supported"
        case .parametrization(let method, let tensors):
            return "\(method.escapedForDisplay) parametrisation (stores \(names(tensors)))"
        case .hooks(let hooks):
            return hooks.map { "\($0.count) \($0.kind.displayName)\($0.count == 1 ? "" : "s") registered" }.joined(separator: ", ")
        case .unreadableAttributes(let list):
            return "attributes ckpt cannot read: \(names(list))"
        case .unexpectedTensors(let list):
            return "tensors its layer does not have: \(names(list))"
        case .unexpectedChildren(let list):
            return "child modules its layer does not run: \(names(list))"
        case .notAModule:
            return "not an nn.Module"
        }
    }
}
