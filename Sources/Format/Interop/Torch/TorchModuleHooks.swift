import Foundation

/// The hooks a pickled `nn.Module` carries in its `__dict__` that change its forward pass:
/// `_forward_pre_hooks` and `_forward_hooks` (OrderedDicts of handle id -> callable; a
/// function of the saving script is an unresolved global such as `__main__.scale_output`).
/// `_forward_hooks_with_kwargs`, `_forward_pre_hooks_with_kwargs` and
/// `_forward_hooks_always_called` only flag entries of those two, so they add no hook.
/// Backward hooks do not change what `forward` returns, and state_dict hooks act only when
/// a state_dict is built or loaded (ckpt reads the tensors from the pickle), so neither is
/// counted. Hooks registered globally (`register_module_forward_hook`) are not pickled.
struct TorchModuleHooks {
    /// Hooks of each kind, parametrisation hooks left out; kinds with none are absent.
    var counts: [HookCount] = []
    /// The parametrisation a pre-hook implements (pruning, the old weight_norm), if any.
    var parametrization: OpaqueReason?

    init(_ attributes: PickleDict) {
        for kind in HookKind.allCases {
            guard let value = attributes[kind.attribute] else { continue }
            var count = 0
            switch value {
            case .none: break
            case .dict(let hooks):
                for (_, hook) in hooks.entries {
                    if kind == .forwardPre, let found = TorchModuleHooks.parametrization(of: hook) {
                        parametrization = parametrization.map { TorchModuleHooks.merge($0, found) } ?? found
                    } else {
                        count += 1
                    }
                }
            default:
                // Not the OrderedDict torch writes: something is registered that ckpt cannot
                // read, so it counts as one hook rather than none.
                count = 1
            }
            if count > 0 { counts.append(HookCount(kind: kind, count: count)) }
        }
    }

    /// `torch.nn.utils.prune` registers its pruning method (an object with `_tensor_name`)
    /// as a forward pre-hook that recomputes `name` from `name_orig` x `name_mask`;
    /// `torch.nn.utils.weight_norm` registers a `WeightNorm` (with `name`) that recomputes
    /// `name` from `name_g` and `name_v`.
    static func parametrization(of hook: PickleValue) -> OpaqueReason? {
        guard case .object(let object) = hook else { return nil }
        let state = object.stateDict
        if object.className.hasPrefix("torch.nn.utils.prune.") {
            let tensor = state?["_tensor_name"]?.stringValue ?? "weight"
            return .parametrization(method: "pruning", tensors: [tensor + "_orig", tensor + "_mask"])
        }
        if object.className == "torch.nn.utils.weight_norm.WeightNorm" {
            let tensor = state?["name"]?.stringValue ?? "weight"
            return .parametrization(method: "weight_norm", tensors: [tensor + "_g", tensor + "_v"])
        }
        return nil
    }

    /// Two parametrisations of one module (pruning of weight and of bias): one reason listing both.
    static func merge(_ a: OpaqueReason, _ b: OpaqueReason) -> OpaqueReason {
        guard case .parametrization(let first, let tensorsA) = a, case .parametrization(let second, let tensorsB) = b else { return a }
        let method = first == second ? first : "\(first) and \(second)"
        return .parametrization(method: method, tensors: Array((tensorsA + tensorsB).prefix(OpaqueReason.maxNames)))
    }
}
