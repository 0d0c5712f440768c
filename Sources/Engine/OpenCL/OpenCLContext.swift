import COpenCL
import Foundation

/// One device's context and compiled program, shared by every backend on that device in
/// this process: PoCL compiles with LLVM at first use (seconds), so it happens once.
final class OpenCLDeviceContext {
    let info: OpenCLDeviceInfo
    let device: cl_device_id?
    let context: cl_context?
    let program: cl_program?

    private static let lock = NSLock()
    private static var contexts: [Int: OpenCLDeviceContext] = [:]

    /// The context of device `index` (`opencl:index`), made and compiled on first use.
    static func shared(index: Int) throws -> OpenCLDeviceContext {
        lock.lock()
        defer { lock.unlock() }
        if let context = contexts[index] { return context }
        let devices = try OpenCLDevices.deviceIDs()
        guard !devices.isEmpty else { throw OpenCLDevices.hasPlatform ? OpenCLError.noDevice(index: index, available: 0) : OpenCLError.noPlatform }
        guard devices.indices.contains(index) else {
            throw OpenCLError.noDevice(index: index, available: devices.count)
        }
        let (platform, device) = devices[index]
        let made = try OpenCLDeviceContext(info: OpenCLDevices.describe(index: index, platform: platform, device: device), device: device)
        contexts[index] = made
        return made
    }

    private init(info: OpenCLDeviceInfo, device: cl_device_id?) throws {
        self.info = info
        self.device = device
        var status: cl_int = 0
        var deviceList: [cl_device_id?] = [device]
        guard let context = clCreateContext(nil, 1, &deviceList, nil, nil, &status), status == CL_SUCCESS else {
            throw OpenCLError.callFailed(call: "clCreateContext", code: status)
        }
        self.context = context
        let source = OpenCLKernelSource.program
        let program: cl_program? = source.withCString { text in
            var pointer: UnsafePointer<CChar>? = text
            var length = strlen(text)
            return clCreateProgramWithSource(context, 1, &pointer, &length, &status)
        }
        guard let program, status == CL_SUCCESS else { clReleaseContext(context); throw OpenCLError.callFailed(call: "clCreateProgramWithSource", code: status) }
        let built = clBuildProgram(program, 1, &deviceList, "-cl-std=CL1.2", nil, nil)
        if built != CL_SUCCESS {
            var size = 0
            clGetProgramBuildInfo(program, device, cl_program_build_info(CL_PROGRAM_BUILD_LOG), 0, nil, &size)
            var log = [CChar](repeating: 0, count: size + 1)
            clGetProgramBuildInfo(program, device, cl_program_build_info(CL_PROGRAM_BUILD_LOG), size, &log, nil)
            clReleaseProgram(program)
            clReleaseContext(context)
            throw OpenCLError.programBuildFailed(device: info.name, log: String(cString: log))
        }
        self.program = program
    }
}

/// A buffer in an OpenCL context. Released when the last reference goes.
public final class OpenCLBuffer: DeviceBuffer {
    public let count: Int
    let memory: cl_mem?
    /// The context it lives in, kept alive as long as the buffer.
    let owner: OpenCLDeviceContext

    init(count: Int, owner: OpenCLDeviceContext) throws {
        var status: cl_int = 0
        guard let memory = clCreateBuffer(owner.context, cl_mem_flags(CL_MEM_READ_WRITE), max(count, 1) * MemoryLayout<Float>.stride, nil, &status),
              status == CL_SUCCESS else {
            throw OpenCLError.callFailed(call: "clCreateBuffer of \(count) floats", code: status)
        }
        self.count = count
        self.memory = memory
        self.owner = owner
    }

    deinit { clReleaseMemObject(memory) }
}
