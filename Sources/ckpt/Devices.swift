import ArgumentParser
import Engine
import Foundation
import Format

/// `ckpt devices`: the CPU backend's BLAS kernels, then the OpenCL devices, one row each,
/// as nvidia-smi would show them.
struct Devices: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the devices a network can run on: the CPU's BLAS kernels and the OpenCL devices (`--device opencl:N`).",
        discussion: "Exit status 0 also when there is no OpenCL platform: it says so.")

    @Flag(help: "Print JSON for scripts.")
    var json = false

    struct Listing: Encodable {
        /// The CPU backend: BLAS library, version, kernels (core) and how they were chosen.
        var cpu: CPUKernelInfo
        var platformFound: Bool
        var devices: [OpenCLDeviceInfo]
    }

    func run() throws {
        let cpu = CPUKernelInfo.current()
        if !json { Terminal.say("cpu: \(cpu.summary)") } // first, so that it shows even when OpenCL fails
        let devices: [OpenCLDeviceInfo]
        devices = try OpenCLDevices.list() // an OpenCLError names the call that failed
        let platformFound = !devices.isEmpty || OpenCLDevices.hasPlatform
        if json {
            print(try Terminal.json(Listing(cpu: cpu, platformFound: platformFound, devices: devices)))
            return
        }
        guard platformFound else { Terminal.say("no OpenCL platform found (cpu only: \(OpenCLError.installHint))"); return }
        guard !devices.isEmpty else { Terminal.say("no OpenCL device found (the platforms list none)"); return }
        let rows = devices.map { d in
            ["opencl:\(d.index)", d.platform, d.name, d.type, "\(d.computeUnits)", Terminal.bytes(d.globalMemoryBytes),
             d.clockMHz > 0 ? "\(d.clockMHz) MHz" : "-", d.version, d.driver, d.doublePrecision ? "yes" : "no"]
        }
        Terminal.say(block: Terminal.table(["device", "platform", "name", "type", "units", "memory", "clock", "OpenCL", "driver", "fp64"], rows,
                             rightAligned: [4, 5, 6]))
    }
}

/// Where a network runs, as `--device` spells it: `cpu`, `opencl` (the first OpenCL device),
/// `opencl:N`, `gpu` (the first OpenCL device of type GPU), or `all` (the CPU and every
/// OpenCL device; `verify` only). The backends themselves come from `DeviceSelection`.
enum DeviceChoice: ExpressibleByArgument, CustomStringConvertible, Equatable {
    case cpu
    case opencl(Int)
    case gpu
    case all

    /// The help line shared by `verify` and `run`.
    static let help = "cpu; opencl (the first OpenCL device) or opencl:N (see `ckpt devices`); gpu (the first OpenCL device of type GPU)"

    init?(argument: String) {
        switch argument.lowercased() {
        case "cpu": self = .cpu
        case "opencl": self = .opencl(0)
        case "gpu": self = .gpu
        case "all": self = .all
        default:
            let parts = argument.lowercased().split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0] == "opencl", let index = Int(parts[1]), index >= 0 else { return nil }
            self = .opencl(index)
        }
    }

    var description: String {
        switch self {
        case .cpu: return "cpu"
        case .opencl(let index): return "opencl:\(index)"
        case .gpu: return "gpu"
        case .all: return "all"
        }
    }

    static var allValueStrings: [String] { ["cpu", "opencl", "opencl:N", "gpu", "all"] }

    /// The library's selection this choice names.
    var selection: DeviceSelection {
        switch self {
        case .cpu: return .cpu
        case .opencl(let index): return .opencl(index)
        case .gpu: return .gpu
        case .all: return .all
        }
    }

    /// The backends this choice names; a device the machine lacks (no OpenCL driver, no such
    /// device, no GPU) is the machine's problem, a usage error (exit 2) saying how to get one.
    func backends() throws -> [Backend] {
        do {
            return try selection.backends()
        } catch let error as OpenCLError where error.isMissingDevice {
            throw CLIError.usage(error.description)
        }
    }

    /// The one backend `run` uses.
    func backend() throws -> Backend {
        guard self != .all else { throw CLIError.usage("one device is needed here: cpu, opencl, opencl:N or gpu (`all` is for verify)") }
        return try backends()[0]
    }
}
