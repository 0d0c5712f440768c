import Foundation

/// Which backends a network runs on: the CPU, one OpenCL device, the first OpenCL GPU, or
/// the CPU and every OpenCL device (to compare them with each other).
public enum DeviceSelection: Equatable, Sendable {
    case cpu
    /// `opencl:N`, numbered as `OpenCLDevices.list()` numbers them.
    case opencl(Int)
    /// The first OpenCL device whose type includes GPU.
    case gpu
    /// The CPU, then every OpenCL device (none when the machine has no OpenCL platform).
    case all

    /// Whether the CPU's result is the only one (messages then leave the device out).
    public var isCPUOnly: Bool { self == .cpu }

    /// The backends, in order. Throws `OpenCLError.noPlatform`, `.noDevice` or `.noGPU` when
    /// the machine lacks what was asked for (`isMissingDevice`): the machine's state, not a
    /// fault of any checkpoint.
    public func backends() throws -> [Backend] {
        switch self {
        case .cpu:
            return [CPUBackend()]
        case .opencl(let index):
            return [try OpenCLBackend(device: index)]
        case .gpu:
            guard OpenCLDevices.hasPlatform else { throw OpenCLError.noPlatform }
            let devices = try OpenCLDevices.list()
            guard let first = devices.first(where: { $0.type.split(separator: "+").contains("gpu") }) else {
                throw OpenCLError.noGPU(available: devices.count)
            }
            return [try OpenCLBackend(device: first.index)]
        case .all:
            return [CPUBackend()] + (try OpenCLDevices.list().map { try OpenCLBackend(device: $0.index) })
        }
    }
}
