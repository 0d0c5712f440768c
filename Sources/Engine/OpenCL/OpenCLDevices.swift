import COpenCL
import Foundation

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

/// Any OpenCL call that failed, named with its call and error code.
public struct OpenCLError: Error, CustomStringConvertible {
    public var call: String
    public var code: Int32
    public var description: String { "OpenCL: \(call) failed (\(OpenCLError.name(code)))" }

    public init(_ call: String, _ code: Int32) { self.call = call; self.code = code }

    static func check(_ code: Int32, _ call: String) throws {
        guard code == CL_SUCCESS else { throw OpenCLError(call, code) }
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
