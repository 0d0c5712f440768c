import ArgumentParser
import Engine
import Foundation
import Format

/// `ckpt devices`: the OpenCL devices, one row each, as nvidia-smi would show them.
struct Devices: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the OpenCL devices a network can run on (`--device opencl:N`).",
        discussion: "Exit status 0 also when there is no OpenCL platform: it says so.")

    @Flag(help: "Print JSON for scripts.")
    var json = false

    struct Listing: Encodable {
        var platformFound: Bool
        var devices: [OpenCLDeviceInfo]
    }

    func run() throws {
        let devices: [OpenCLDeviceInfo]
        do {
            devices = try OpenCLDevices.list()
        } catch {
            throw FormatError("cannot list OpenCL devices: \(error)", file: "OpenCL")
        }
        let platformFound = !devices.isEmpty || OpenCLDevices.hasPlatform
        if json {
            print(try Terminal.json(Listing(platformFound: platformFound, devices: devices)))
            return
        }
        guard platformFound else { Terminal.say("no OpenCL platform found (cpu only: install an OpenCL driver, e.g. pocl-opencl-icd)"); return }
        guard !devices.isEmpty else { Terminal.say("no OpenCL device found (the platforms list none)"); return }
        let rows = devices.map { d in
            ["opencl:\(d.index)", d.platform, d.name, d.type, "\(d.computeUnits)", Terminal.bytes(d.globalMemoryBytes),
             d.clockMHz > 0 ? "\(d.clockMHz) MHz" : "-", d.version, d.driver, d.doublePrecision ? "yes" : "no"]
        }
        Terminal.say(block: Terminal.table(["device", "platform", "name", "type", "units", "memory", "clock", "OpenCL", "driver", "fp64"], rows,
                             rightAligned: [4, 5, 6]))
    }
}

/// Where a network runs: `cpu`, `opencl` (the first OpenCL device), `opencl:N`, or `all`
/// (the CPU and every OpenCL device; `verify` only).
enum DeviceChoice: ExpressibleByArgument, CustomStringConvertible, Equatable {
    case cpu
    case opencl(Int)
    case all

    init?(argument: String) {
        switch argument.lowercased() {
        case "cpu": self = .cpu
        case "opencl", "gpu": self = .opencl(0)
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
        case .all: return "all"
        }
    }

    static var allValueStrings: [String] { ["cpu", "opencl", "opencl:N", "all"] }

    /// The backends this choice names, in order: `all` is the CPU then every OpenCL device.
    /// Throws EngineError ("no OpenCL platform found", "no OpenCL device opencl:3 ...").
    func backends() throws -> [Backend] {
        switch self {
        case .cpu: return [CPUBackend()]
        case .opencl(let index): return [try DeviceChoice.opencl(index)]
        case .all: return [CPUBackend()] + (try OpenCLDevices.list().map { try DeviceChoice.opencl($0.index) })
        }
    }

    /// The one backend `run` uses; a device that cannot be had is a failed command (exit 1).
    func backend() throws -> Backend {
        do {
            guard self != .all else { throw CLIError.usage("one device is needed here: cpu, opencl or opencl:N (`all` is for verify)") }
            return try backends()[0]
        } catch let error as EngineError {
            throw CLIError(message: error.message)
        }
    }

    private static func opencl(_ index: Int) throws -> Backend {
        do {
            return try OpenCLBackend(device: index)
        } catch let error as EngineError {
            throw error
        } catch {
            throw EngineError("\(error)")
        }
    }
}
