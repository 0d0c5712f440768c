import COpenCL
import Foundation
import Format

/// One OpenCL device as `ckpt devices` shows it. `index` is N in `opencl:N`: devices are
/// numbered across all platforms in the order the ICD loader lists them.
public struct OpenCLDeviceInfo: Sendable, Encodable {
    public var index: Int
    public var platform: String
    public var platformVersion: String
    public var name: String
    public var vendor: String
    /// cpu, gpu, accelerator, ...
    public var type: String
    public var computeUnits: Int
    public var globalMemoryBytes: Int
    public var maxAllocationBytes: Int
    public var clockMHz: Int
    /// The device's OpenCL version string ("OpenCL 3.0 PoCL ...").
    public var version: String
    public var driver: String
    public var doublePrecision: Bool
}

/// Why OpenCL could not be used. `noPlatform`, `noDevice` and `noGPU` are the machine's
/// state (no driver installed, no such device), not a fault of any checkpoint: callers say
/// so and how to install a driver (`isMissingDevice`).
public enum OpenCLError: Error, Equatable, Sendable {
    /// The ICD loader finds no OpenCL platform: no driver is installed.
    case noPlatform
    /// `opencl:index` was asked for; the platforms list `available` devices.
    case noDevice(index: Int, available: Int)
    /// `gpu` was asked for; no OpenCL device of type GPU is listed (`available` devices of other types).
    case noGPU(available: Int)
    /// An OpenCL call returned `code` (`call` names it, with its arguments where they help).
    case callFailed(call: String, code: Int32)
    /// The engine's kernels did not compile on `device`; `log` is the build log.
    case programBuildFailed(device: String, log: String)
    /// A CLBlast routine returned `status`.
    case clblastFailed(call: String, status: Int32)
    /// A kernel argument does not fit the 32-bit integers the kernels take.
    case argumentTooWide(kernel: String, value: Int)

    /// True when the machine lacks the device asked for (no driver, no such device):
    /// a usage problem (exit 2), not a bad checkpoint.
    public var isMissingDevice: Bool {
        switch self {
        case .noPlatform, .noDevice, .noGPU: return true
        default: return false
        }
    }

    /// How to get an OpenCL driver, for the message of a missing platform.
    public static let installHint = "install an OpenCL driver: on Debian `apt-get install pocl-opencl-icd` for the CPU, or your GPU vendor's ICD"

    static func check(_ code: Int32, _ call: @autoclosure () -> String) throws {
        guard code == CL_SUCCESS else { throw OpenCLError.callFailed(call: call(), code: code) }
    }

    static func name(_ code: Int32) -> String {
        let names: [Int32: String] = [
            -1: "CL_DEVICE_NOT_FOUND", -2: "CL_DEVICE_NOT_AVAILABLE", -4: "CL_MEM_OBJECT_ALLOCATION_FAILURE",
            -5: "CL_OUT_OF_RESOURCES", -6: "CL_OUT_OF_HOST_MEMORY", -11: "CL_BUILD_PROGRAM_FAILURE",
            -30: "CL_INVALID_VALUE", -33: "CL_INVALID_DEVICE", -36: "CL_INVALID_COMMAND_QUEUE", -38: "CL_INVALID_MEM_OBJECT",
            -46: "CL_INVALID_KERNEL_NAME", -48: "CL_INVALID_KERNEL", -49: "CL_INVALID_ARG_INDEX", -50: "CL_INVALID_ARG_VALUE",
            -51: "CL_INVALID_ARG_SIZE", -52: "CL_INVALID_KERNEL_ARGS", -54: "CL_INVALID_WORK_GROUP_SIZE", -61: "CL_INVALID_BUFFER_SIZE",
            -1001: "CL_PLATFORM_NOT_FOUND_KHR",
        ]
        return names[code].map { "\($0), \(code)" } ?? "error \(code)"
    }
}

extension OpenCLError: CustomStringConvertible, LocalizedError {
    public var description: String {
        switch self {
        case .noPlatform:
            return "no OpenCL platform found (\(OpenCLError.installHint))"
        case let .noDevice(index, available):
            return "no OpenCL device opencl:\(index) (there \(available == 1 ? "is 1 device" : "are \(available) devices"): see `ckpt devices`)"
        case let .noGPU(available):
            return "no OpenCL GPU device (\(available == 1 ? "1 device" : "\(available) devices") of other types: see `ckpt devices`; install your GPU vendor's OpenCL ICD)"
        case let .callFailed(call, code):
            return "OpenCL: \(call) failed (\(OpenCLError.name(code)))"
        case let .programBuildFailed(device, log):
            return "OpenCL: the engine's kernels do not build on \(device.escapedForDisplay): \(log.escapedForDisplay)"
        case let .clblastFailed(call, status):
            return "OpenCL: \(call) failed (CLBlast status \(status))"
        case let .argumentTooWide(kernel, value):
            return "OpenCL: \(kernel) argument \(value) exceeds 32 bits"
        }
    }

    public var errorDescription: String? { description }
}

/// The machine's OpenCL platforms and devices.
public enum OpenCLDevices {
    /// The platforms' ids; empty when the ICD loader finds none (CL_PLATFORM_NOT_FOUND_KHR).
    static func platformIDs() throws -> [cl_platform_id?] {
        var count: cl_uint = 0
        let status = clGetPlatformIDs(0, nil, &count)
        if status == -1001 || count == 0 { return [] }
        try OpenCLError.check(status, "clGetPlatformIDs")
        var ids = [cl_platform_id?](repeating: nil, count: Int(count))
        try OpenCLError.check(clGetPlatformIDs(count, &ids, nil), "clGetPlatformIDs")
        return ids
    }

    /// Every device of every platform, in `opencl:N` order.
    static func deviceIDs() throws -> [(platform: cl_platform_id?, device: cl_device_id?)] {
        var result: [(cl_platform_id?, cl_device_id?)] = []
        for platform in try platformIDs() {
            var count: cl_uint = 0
            let status = clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), 0, nil, &count)
            if status == CL_DEVICE_NOT_FOUND || count == 0 { continue }
            try OpenCLError.check(status, "clGetDeviceIDs")
            var ids = [cl_device_id?](repeating: nil, count: Int(count))
            try OpenCLError.check(clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), count, &ids, nil), "clGetDeviceIDs")
            result += ids.map { (platform, $0) }
        }
        return result
    }

    /// Whether any OpenCL platform exists at all.
    public static var hasPlatform: Bool { ((try? platformIDs()) ?? []).isEmpty == false }

    /// Every device, described. Empty when there is no platform or no device.
    public static func list() throws -> [OpenCLDeviceInfo] {
        try deviceIDs().enumerated().map { index, pair in try describe(index: index, platform: pair.platform, device: pair.device) }
    }

    static func describe(index: Int, platform: cl_platform_id?, device: cl_device_id?) throws -> OpenCLDeviceInfo {
        let type: cl_device_type = try deviceValue(device, CL_DEVICE_TYPE)
        var types: [String] = []
        if type & cl_device_type(CL_DEVICE_TYPE_CPU) != 0 { types.append("cpu") }
        if type & cl_device_type(CL_DEVICE_TYPE_GPU) != 0 { types.append("gpu") }
        if type & cl_device_type(CL_DEVICE_TYPE_ACCELERATOR) != 0 { types.append("accelerator") }
        if type & cl_device_type(CL_DEVICE_TYPE_CUSTOM) != 0 { types.append("custom") }
        let units: cl_uint = try deviceValue(device, CL_DEVICE_MAX_COMPUTE_UNITS)
        let memory: cl_ulong = try deviceValue(device, CL_DEVICE_GLOBAL_MEM_SIZE)
        let allocation: cl_ulong = try deviceValue(device, CL_DEVICE_MAX_MEM_ALLOC_SIZE)
        let clock: cl_uint = try deviceValue(device, CL_DEVICE_MAX_CLOCK_FREQUENCY)
        let doubleConfig: cl_ulong = (try? deviceValue(device, CL_DEVICE_DOUBLE_FP_CONFIG)) ?? 0
        return OpenCLDeviceInfo(
            index: index, platform: try platformString(platform, CL_PLATFORM_NAME), platformVersion: try platformString(platform, CL_PLATFORM_VERSION),
            name: try deviceString(device, CL_DEVICE_NAME), vendor: try deviceString(device, CL_DEVICE_VENDOR),
            type: types.isEmpty ? "other" : types.joined(separator: "+"), computeUnits: Int(units), globalMemoryBytes: Int(memory),
            maxAllocationBytes: Int(allocation), clockMHz: Int(clock), version: try deviceString(device, CL_DEVICE_VERSION),
            driver: try deviceString(device, CL_DRIVER_VERSION), doublePrecision: doubleConfig != 0)
    }

    static func deviceString(_ device: cl_device_id?, _ parameter: Int32) throws -> String {
        var size = 0
        try OpenCLError.check(clGetDeviceInfo(device, cl_device_info(parameter), 0, nil, &size), "clGetDeviceInfo")
        var bytes = [CChar](repeating: 0, count: size + 1)
        try OpenCLError.check(clGetDeviceInfo(device, cl_device_info(parameter), size, &bytes, nil), "clGetDeviceInfo")
        return String(cString: bytes).trimmingCharacters(in: .whitespaces)
    }

    static func platformString(_ platform: cl_platform_id?, _ parameter: Int32) throws -> String {
        var size = 0
        try OpenCLError.check(clGetPlatformInfo(platform, cl_platform_info(parameter), 0, nil, &size), "clGetPlatformInfo")
        var bytes = [CChar](repeating: 0, count: size + 1)
        try OpenCLError.check(clGetPlatformInfo(platform, cl_platform_info(parameter), size, &bytes, nil), "clGetPlatformInfo")
        return String(cString: bytes).trimmingCharacters(in: .whitespaces)
    }

    static func deviceValue<T: FixedWidthInteger>(_ device: cl_device_id?, _ parameter: Int32) throws -> T {
        var value: T = 0
        try OpenCLError.check(clGetDeviceInfo(device, cl_device_info(parameter), MemoryLayout<T>.size, &value, nil), "clGetDeviceInfo")
        return value
    }
}
