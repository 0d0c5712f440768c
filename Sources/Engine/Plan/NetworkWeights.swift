import Foundation
import Format

/// A network's tensors on the backend, converted to float32 once at load. Tied names share
/// one buffer. BatchNorm's four tensors are folded into a per-channel scale and shift here,
/// as PyTorch's own inference path does.
final class NetworkWeights {
    private var buffers: [String: DeviceBuffer] = [:]
    private var norms: [String: (scale: DeviceBuffer, shift: DeviceBuffer)] = [:]

    init(tree: ModuleTree, specs: [TensorSpec], tensor: (TensorSpec) -> Tensor?, backend: Backend) throws {
        var host: [String: [Float]] = [:]
        for spec in specs where spec.dtype.isFloatingPoint {
            guard let stored = tensor(spec) else { throw EngineError.missingTensor(name: spec.name) }
            let values = try FloatConversion.floats(stored)
            let buffer = try backend.makeBuffer(values)
            let isNorm: Bool
            switch spec.layer {
            case .batchNorm1d, .batchNorm2d: isNorm = true
            default: isNorm = false
            }
            for name in spec.allNames {
                buffers[name] = buffer
                if isNorm { host[name] = values } // kept on the host only to fold BatchNorm below
            }
        }
        for module in tree.allModules() {
            switch module.layer {
            case .batchNorm1d(let c), .batchNorm2d(let c):
                let features = c.numFeatures ?? 0
                guard let mean = host[joinPath(module.path, "running_mean")], let variance = host[joinPath(module.path, "running_var")] else {
                    throw EngineError.missingStatistics(module: module.path)
                }
                let weight = c.affine ? host[joinPath(module.path, "weight")] : nil
                let bias = c.affine ? host[joinPath(module.path, "bias")] : nil
                var scale = [Float](repeating: 0, count: features)
                var shift = [Float](repeating: 0, count: features)
                for i in 0 ..< features {
                    let inverse = 1 / (Double(variance[i]) + c.eps).squareRoot()
                    let a = inverse * Double(weight?[i] ?? 1)
                    scale[i] = Float(a)
                    shift[i] = Float(Double(bias?[i] ?? 0) - Double(mean[i]) * a)
                }
                norms[module.path] = (try backend.makeBuffer(scale), try backend.makeBuffer(shift))
            default:
                continue
            }
        }
    }

    func buffer(_ modulePath: String, _ local: String) throws -> DeviceBuffer {
        let name = joinPath(modulePath, local)
        guard let buffer = buffers[name] else { throw EngineError.missingTensor(name: name) }
        return buffer
    }

    func foldedNorm(_ modulePath: String) throws -> (DeviceBuffer, DeviceBuffer) {
        guard let pair = norms[modulePath] else { throw EngineError.missingStatistics(module: modulePath) }
        return pair
    }
}
